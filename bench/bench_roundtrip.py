"""4. One ``get_thread`` round trip against the emulator on loopback, keep-alive connections.

The emulator runs in its own process (``bench/emulator_process.py``).

* ours: ``AssistantsClient(base_url=...).get_thread(thread_id)``.
* openai-python: ``OpenAI(base_url=..., api_key="x").beta.threads.retrieve(thread_id)``.
* floor: a bare ``requests.Session().get(url, headers=...)`` then ``json.loads(body)``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

from bench.common import Row, client_class, emulator, interleaved

warnings.filterwarnings("ignore", category=DeprecationWarning)


def contenders(base_url: str, thread_id: str) -> dict[str, Callable[[], Any]]:
    import openai
    import requests

    ours = client_class()(base_url=base_url, api_key="sk-x")
    theirs = openai.OpenAI(base_url=base_url, api_key="sk-x")
    session = requests.Session()
    url = f"{base_url}/threads/{thread_id}"
    headers = {"Authorization": "Bearer sk-x", "OpenAI-Beta": "assistants=v2"}

    def floor() -> Any:
        response = session.get(url, headers=headers)
        response.raise_for_status()
        return json.loads(response.content)

    return {
        "ours": lambda: ours.get_thread(thread_id),
        "openai": lambda: theirs.beta.threads.retrieve(thread_id),
        "floor": floor,
    }


def run() -> list[Row]:
    with emulator() as emu:
        base_url = emu["base_url"]
        client = client_class()(base_url=base_url, api_key="sk-x")
        thread_id = client.create_thread(metadata={"bench": "roundtrip"}).id
        calls = contenders(base_url, thread_id)
        assert calls["ours"]().id == calls["openai"]().id == calls["floor"]()["id"] == thread_id
        seconds = interleaved(calls, repeats=7, target=0.3, warmup=20)
    ms = {name: value * 1000 for name, value in seconds.items()}
    ratio = ms["ours"] / ms["floor"]
    return [
        {
            "benchmark": "4. get_thread round trip, ms",
            "unit": "ms",
            "ours": ms["ours"],
            "peers": {"openai": ms["openai"]},
            "floor": ms["floor"],
            "ratio": f"ours/bare session {ratio:.2f}x",
            "ratio_value": ratio,
            "target": "<= 1.15x bare session",
            "met": ratio <= 1.15,
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
