"""5. Auto-pagination over 5,000 and 20,000 messages on the emulator: time and peak memory.

The emulator runs in its own process, seeded with one thread of 5,000 and one of 20,000
messages (``bench/emulator_process.py``). Each contender walks every message, 100 per page,
keeping none:

* ours: ``for message in client.list_messages(thread_id, limit=100)``.
* openai-python: ``for message in client.beta.threads.messages.list(thread_id, limit=100)``.
* floor: a bare ``requests.Session`` loop over the pages (``after=<last_id>``) with
  ``json.loads``.

Time is the median of several passes. Memory is the peak of ``tracemalloc`` during one pass
(which starts after a warm-up pass, so connection pools and caches already exist), minus
what was traced when the pass began; it must not grow with the number of items. The
emulator's page cost grows with the thread's size (it filters the whole thread for every
cursor), so time per item is not expected to be flat.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
import warnings
from collections.abc import Callable

from bench.common import Row, client_class, emulator, floor_row, median

warnings.filterwarnings("ignore", category=DeprecationWarning)

SIZES = (5_000, 20_000)
REPEATS = 3


def walkers(base_url: str) -> dict[str, Callable[[str], int]]:
    import openai
    import requests

    ours = client_class()(base_url=base_url, api_key="sk-x")
    theirs = openai.OpenAI(base_url=base_url, api_key="sk-x")
    session = requests.Session()
    headers = {"Authorization": "Bearer sk-x", "OpenAI-Beta": "assistants=v2"}

    def walk_ours(thread_id: str) -> int:
        count = 0
        for _ in ours.list_messages(thread_id, limit=100):
            count += 1
        return count

    def walk_openai(thread_id: str) -> int:
        count = 0
        for _ in theirs.beta.threads.messages.list(thread_id, limit=100):
            count += 1
        return count

    def walk_floor(thread_id: str) -> int:
        url = f"{base_url}/threads/{thread_id}/messages"
        params = {"limit": "100"}
        count = 0
        while True:
            response = session.get(url, params=params, headers=headers)
            response.raise_for_status()
            page = json.loads(response.content)
            count += len(page["data"])
            if not page["has_more"]:
                return count
            params = {"limit": "100", "after": page["last_id"]}

    return {"ours": walk_ours, "openai": walk_openai, "floor": walk_floor}


def peak_growth(walk: Callable[[str], int], thread_id: str) -> tuple[float, float]:
    """(peak growth, memory left behind) of one pass, in MB."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        walk(thread_id)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - base) / 2**20, (current - base) / 2**20


def run() -> list[Row]:
    with emulator(*map(str, SIZES)) as emu:
        threads = {int(k): v for k, v in emu["threads"].items()}
        walks = walkers(emu["base_url"])
        seconds: dict[int, dict[str, float]] = {}
        memory: dict[int, dict[str, tuple[float, float]]] = {}
        for walk in walks.values():  # warm-up: connections, caches, code paths
            walk(threads[SIZES[0]])
        for size in SIZES:
            thread_id = threads[size]
            samples: dict[str, list[float]] = {name: [] for name in walks}
            for _ in range(REPEATS):
                for name, walk in walks.items():
                    gc.collect()
                    started = time.perf_counter()
                    count = walk(thread_id)
                    samples[name].append(time.perf_counter() - started)
                    assert count == size, (name, count, size)
            seconds[size] = {name: median(values) for name, values in samples.items()}
            memory[size] = {name: peak_growth(walk, thread_id) for name, walk in walks.items()}
    rows: list[Row] = []
    for size in SIZES:
        s = seconds[size]
        rows.append(
            floor_row(
                f"5. paginate {size:,} msgs, s",
                "s",
                s,
                items_per_s={name: size / value for name, value in s.items()},
            )
        )
    small, large = SIZES
    for size in SIZES:
        peak = {name: value[0] for name, value in memory[size].items()}
        row: Row = {
            "benchmark": f"5. paginate {size:,} msgs, peak mem, MB",
            "unit": "MB",
            "ours": peak["ours"],
            "peers": {"openai": peak["openai"]},
            "floor": peak["floor"],
            "ratio": "-",
            "ratio_value": None,
            "target": "-",
            "met": None,
            "retained_mb": {name: value[1] for name, value in memory[size].items()},
        }
        if size == large:
            growth = peak["ours"] / memory[small]["ours"][0]
            row.update(
                ratio=f"{large // 1000}k/{small // 1000}k {growth:.2f}x",
                ratio_value=growth,
                target="flat: <= 1.25x",
                met=growth <= 1.25,
            )
        rows.append(row)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
