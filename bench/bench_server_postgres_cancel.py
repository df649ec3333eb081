"""15. A cancel sent through one server process stops a run another process streams: how soon.

Two ``assistants-server`` processes on one PostgreSQL database, in front of the fake Chat
Completions backend of the test suite, in this process (``tests/servers/fake_chat.py``), which
streams a first piece of text and then holds the connection open. A run is streamed through
process A; at its first text delta, ``cancel_run`` goes to process B, and the time is taken from
just before that request to the moment the backend sees A close its connection. Ten runs; the
slowest counts (target: under a second).

Process A learns of the cancel from PostgreSQL's ``NOTIFY`` (each process also polls its runs'
statuses every second, which bounds the delay should a notification be lost).
"""

from __future__ import annotations

import json
import statistics
import time
from contextlib import ExitStack

import requests

from bench.common import Row
from bench.postgres import database, servers
from tests.servers.fake_chat import FakeChatServer, stall_answer

RUNS = 10
BOUND = 10.0


def _one(backend: FakeChatServer, streaming: str, other: str, assistant_id: str) -> float:
    thread_id = requests.post(f"{other}/threads", json={}, timeout=BOUND).json()["id"]
    backend.script(stall_answer("Once upon a time", chunks=2))
    before = len(backend.exchanges)
    sent: list[float] = []
    response = requests.post(
        f"{streaming}/threads/{thread_id}/runs",
        json={"assistant_id": assistant_id, "stream": True},
        stream=True,
        timeout=BOUND,
    )
    run_id = None
    try:
        for line in response.iter_lines():
            if line.startswith(b"data: {") and run_id is None:
                run_id = json.loads(line[6:])["id"]
            if line == b"event: thread.message.delta" and not sent:
                sent.append(time.monotonic())
                cancelled = requests.post(
                    f"{other}/threads/{thread_id}/runs/{run_id}/cancel", timeout=BOUND
                )
                assert cancelled.json()["status"] == "cancelling", cancelled.text
    finally:
        response.close()
    exchange = backend.exchanges[before]
    assert exchange.client_closed.wait(BOUND), "the backend connection stayed open"
    assert exchange.closed_at is not None
    return exchange.closed_at - sent[0]


def run() -> list[Row]:
    with ExitStack() as stack:
        backend = stack.enter_context(FakeChatServer())
        url = stack.enter_context(database())
        streaming, other = stack.enter_context(servers(2, url, "--backend-url", backend.base_url))
        assistant_id = requests.post(
            f"{other}/assistants", json={"model": "gpt-4o"}, timeout=BOUND
        ).json()["id"]
        delays = [_one(backend, streaming, other, assistant_id) for _ in range(RUNS)]
    slowest = max(delays) * 1000
    return [
        {
            "benchmark": "15. cancel through another process to backend closed, slowest ms",
            "unit": "ms",
            "ours": slowest,
            "peers": {},
            "floor": None,
            "ratio": f"median {statistics.median(delays) * 1000:.0f} ms",
            "ratio_value": None,
            "target": "< 1,000 ms",
            "met": slowest < 1000,
            "note": f"{RUNS} runs streamed by one process, cancelled through the other "
            "(PostgreSQL NOTIFY; a 1 s status poll behind it)",
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
