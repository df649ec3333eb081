"""The emulator in its own process, optionally seeded with large threads (a helper process).

``python -m bench.emulator_process [COUNT ...]`` starts ``assistants_client.emulator.Emulator``
on a free loopback port, puts one thread of COUNT messages into its store for each COUNT
(through the store's own ``put``, under its lock: seconds instead of minutes of
``create_message`` calls), prints ``{"base_url": ..., "threads": {"COUNT": thread_id}}`` and
serves until its standard input closes.

Running the emulator in another process keeps its work off the measured process: off its GIL,
its CPU time and its ``tracemalloc`` figures.
"""

from __future__ import annotations

import json
import random
import sys

from assistants_client.emulator import Emulator
from bench.common import wait_for_stdin_close
from bench.payloads import EPOCH, message


def seed_thread(emu: Emulator, count: int, seed: int) -> str:
    rng = random.Random(seed)
    thread_id = f"thread_{rng.getrandbits(96):024x}"
    thread = {
        "id": thread_id,
        "object": "thread",
        "created_at": EPOCH,
        "tool_resources": {},
        "metadata": {},
    }
    with emu.store.lock:
        emu.store.put("thread", thread_id, thread, project="")
        for index in range(count):
            item = message(rng, index, thread_id)
            emu.store.put("message", item["id"], item, thread_id, project="")
    return thread_id


def main() -> None:
    counts = [int(arg) for arg in sys.argv[1:]]
    emu = Emulator().start()
    try:
        threads = {str(count): seed_thread(emu, count, seed) for seed, count in enumerate(counts)}
        print(json.dumps({"base_url": emu.base_url, "threads": threads}))
        sys.stdout.flush()
        wait_for_stdin_close()
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
