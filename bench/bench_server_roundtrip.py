"""9. The server's own request overhead: one ``get_thread`` round trip, against the emulator's.

``assistants-server`` (its backend is never called here) and the emulator
(``bench/emulator_process.py``) each run in their own process on loopback; the same client
reads a thread from each over a keep-alive connection, turn about.

* ours: ``AssistantsClient(base_url=<server>).get_thread(thread_id)``;
* floor: the same call against the emulator, the server's reference for request overhead.
* openai-python: ``beta.threads.retrieve`` against the server, for scale.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from bench.bench_server_backend import server
from bench.common import Row, client_class, emulator, interleaved

warnings.filterwarnings("ignore", category=DeprecationWarning)

UNUSED_BACKEND = "http://127.0.0.1:9/v1"


def contenders(server_url: str, emulator_url: str) -> dict[str, Callable[[], Any]]:
    import openai

    ours = client_class()(base_url=server_url, api_key="sk-x")
    on_emulator = client_class()(base_url=emulator_url, api_key="sk-x")
    theirs = openai.OpenAI(base_url=server_url, api_key="sk-x")
    thread_id = ours.create_thread(metadata={"bench": "server-roundtrip"}).id
    emulator_thread_id = on_emulator.create_thread(metadata={"bench": "server-roundtrip"}).id
    return {
        "ours": lambda: ours.get_thread(thread_id),
        "floor": lambda: on_emulator.get_thread(emulator_thread_id),
        "openai": lambda: theirs.beta.threads.retrieve(thread_id),
    }


def run() -> list[Row]:
    with emulator() as emu, server(UNUSED_BACKEND) as server_url:
        calls = contenders(server_url, emu["base_url"])
        assert calls["ours"]().object == calls["floor"]().object == "thread"
        seconds = interleaved(calls, repeats=7, target=0.3, warmup=20)
    ms = {name: value * 1000 for name, value in seconds.items()}
    ratio = ms["ours"] / ms["floor"]
    return [
        {
            "benchmark": "9. server get_thread round trip, ms",
            "unit": "ms",
            "ours": ms["ours"],
            "peers": {"openai": ms["openai"]},
            "floor": ms["floor"],
            "ratio": f"server/emulator {ratio:.2f}x",
            "ratio_value": ratio,
            "target": "<= 1.2x the emulator",
            "met": ratio <= 1.2,
            "note": "floor: the same client against the emulator; openai: beta.threads.retrieve "
            "against the server",
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
