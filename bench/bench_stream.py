"""2. Stream a run of 10,000 ``thread.message.delta`` events, accumulating the final message.

All three read the same bytes from the same loopback server (``bench/sse_server.py``, in its
own process): the full event sequence of a run, ``thread.run.created`` ...
``thread.message.created``, 10,000 deltas, ``thread.message.completed`` ...
``thread.run.completed``, ``done``; one HTTP chunk per event.

* ours: :func:`ours_stream` - the library's streaming API: ``client.stream_run(...)`` as a
  context manager, ``until_done()``, then ``final_messages`` (the deltas' accumulation is
  checked against the server's final message).
* openai-python: ``client.beta.threads.runs.stream(...)`` (``AssistantStreamManager`` with the
  default ``AssistantEventHandler``), ``until_done()`` then ``get_final_messages()``.
* floor: ``requests`` + ``sseclient.SSEClient`` + ``json.loads`` of every event, nothing else.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable

from bench.common import Row, client_class, helper_process, interleaved
from bench.payloads import ASSISTANT_ID, THREAD_ID, run_stream

warnings.filterwarnings("ignore", category=DeprecationWarning)

DELTAS = 10_000


def ours_stream(base_url: str) -> Callable[[], str] | None:
    """One streamed run through the library; returns the final message text.

    ``client.stream_run(...)`` opens the stream; ``until_done()`` reads it to ``done``,
    accumulating every delta into the message snapshot; ``final_messages`` is the result.
    None while the library has no streaming API (the rows then say so).
    """
    client = client_class()(base_url=base_url, api_key="sk-x")
    if not hasattr(client, "stream_run"):
        return None

    def run() -> str:
        with client.stream_run(THREAD_ID, ASSISTANT_ID) as stream:
            stream.until_done()
            message = stream.final_messages[-1]
            accumulated = stream.snapshot.accumulated_message(message.id)
        text = str(message.content[0].text.value)
        if accumulated is not None:  # what the deltas added up to, before the final version
            assert accumulated["content"][0]["text"]["value"] == text
        return text

    return run


def openai_stream(base_url: str) -> Callable[[], str]:
    import openai

    client = openai.OpenAI(api_key="sk-x", base_url=base_url)

    def run() -> str:
        with client.beta.threads.runs.stream(
            thread_id=THREAD_ID, assistant_id=ASSISTANT_ID
        ) as stream:
            stream.until_done()
            message = stream.get_final_messages()[-1]
        block = message.content[0]
        assert block.type == "text"
        return block.text.value

    return run


def floor_stream(base_url: str) -> Callable[[], int]:
    import requests
    from sseclient import SSEClient

    session = requests.Session()
    url = f"{base_url}/threads/{THREAD_ID}/runs"

    def run() -> int:
        response = session.post(url, json={"assistant_id": ASSISTANT_ID}, stream=True)
        count = 0
        for event in SSEClient(response.iter_content(chunk_size=None)).events():
            if event.data != "[DONE]":
                json.loads(event.data)
            count += 1
        response.close()
        return count

    return run


def run() -> list[Row]:
    text, frames = run_stream(DELTAS)
    events = len(frames)
    with helper_process("bench.sse_server", str(DELTAS)) as server:
        base_url = server["base_url"]
        contenders: dict[str, Callable[[], object]] = {
            "openai": openai_stream(base_url),
            "floor": floor_stream(base_url),
        }
        ours = ours_stream(base_url)
        if ours is not None:
            contenders["ours"] = ours
        # Every contender must read the whole stream before it is timed.
        for name, fn in contenders.items():
            result = fn()
            if name == "floor":
                assert result == events, (name, result, events)
            else:
                assert result == text, f"{name}: the final message text differs"
        seconds = interleaved(contenders, repeats=5, warmup=0, number=1)
    rate = {name: events / value for name, value in seconds.items()}
    ours_s = seconds.get("ours")
    vs_openai = None if ours_s is None else seconds["openai"] / ours_s
    name = f"2. stream {DELTAS // 1000}k deltas ({events:,} events), ms"
    note = "" if ours_s is not None else "the library has no stream_run yet"
    ms = {key: value * 1000 for key, value in seconds.items()}
    return [
        {
            "benchmark": name,
            "unit": "ms",
            "ours": ms.get("ours"),
            "peers": {"openai": ms["openai"]},
            "floor": ms["floor"],
            "ratio": "n/a" if vs_openai is None else f"openai/ours {vs_openai:.1f}x",
            "ratio_value": vs_openai,
            "target": ">= 5x faster than openai",
            "met": None if vs_openai is None else vs_openai >= 5,
            "note": note,
        },
        {
            "benchmark": "2. stream, events/s",
            "unit": "events/s",
            "ours": rate.get("ours"),
            "peers": {"openai": rate["openai"]},
            "floor": rate["floor"],
            "ratio": "n/a" if ours_s is None else f"ours/floor {rate['ours'] / rate['floor']:.2f}x",
            "ratio_value": None if ours_s is None else rate["ours"] / rate["floor"],
            "target": ">= 60,000 events/s",
            "met": None if ours_s is None else rate["ours"] >= 60_000,
            "note": note,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
