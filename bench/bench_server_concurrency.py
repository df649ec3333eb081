"""8. 64 and 256 streamed runs at once through the server, against a backend paced at 20 ms
per chunk.

The fake Chat Completions backend (``bench/bench_server_backend.py``) answers every request
with 50 chunks, 20 ms apart (about a second); ``assistants-server`` runs in front of it, each
in its own process. N threads each stream a run on a thread of its own (``requests`` +
``sseclient.SSEClient``, the text from the ``thread.message.delta`` events), all started
together; every text must be complete and every run completed.

* ours: the wall time of the N runs at once;
* floor: the wall time of one run alone (the backend's pace sets it).

The goal is that 64 runs take at most 1.3 times as long as one, and 256 at most 1.5 times:
the server streams them side by side instead of one after another. The note gives the slowest
first delta of the N runs (from the moment they were all started): what a run waits for while
the others start.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from sseclient import SSEClient

from bench.bench_server_backend import backend, expected_text, server
from bench.common import Row

PACING = 0.020
TOKENS = 50
RUNS = {64: 1.3, 256: 1.5}  # runs at once -> the target, a multiple of one run's time
ROUNDS = 3


class Runner:
    """Streams runs on prepared threads, one ``requests.Session`` per worker thread."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._local = threading.local()
        setup = requests.Session()
        self.assistant_id = setup.post(f"{base_url}/assistants", json={"model": "gpt-4o"}).json()[
            "id"
        ]

    def new_thread(self) -> str:
        thread = {"messages": [{"role": "user", "content": "Count."}]}
        return str(requests.post(f"{self.base_url}/threads", json=thread).json()["id"])

    def stream(self, thread_id: str) -> tuple[str, str, float]:
        """The run's text, its last status, and when its first delta came (perf_counter)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        body = {"assistant_id": self.assistant_id, "stream": True}
        parts: list[str] = []
        status = "?"
        first = 0.0
        url = f"{self.base_url}/threads/{thread_id}/runs"
        with session.post(url, json=body, stream=True) as response:
            for event in SSEClient(response.iter_content(chunk_size=None)).events():
                if event.event == "done":
                    break
                data = json.loads(event.data)
                if event.event == "thread.message.delta":
                    first = first or time.perf_counter()
                    parts.append(data["delta"]["content"][0]["text"]["value"])
                elif event.event.startswith("thread.run.") and "step" not in event.event:
                    status = data["status"]
        return "".join(parts), status, first


def one_round(runner: Runner, pool: ThreadPoolExecutor, count: int) -> tuple[float, float]:
    """Seconds for ``count`` streamed runs started together (each checked), and the slowest
    wait for a first delta."""
    thread_ids = [runner.new_thread() for _ in range(count)]
    started = time.perf_counter()
    results = list(pool.map(runner.stream, thread_ids))
    elapsed = time.perf_counter() - started
    expected = (expected_text(TOKENS), "completed")
    wrong = [result[:2] for result in results if result[:2] != expected]
    assert not wrong, f"{len(wrong)} of {count} runs went wrong, e.g. {wrong[0][1]}"
    return elapsed, max(result[2] for result in results) - started


def run() -> list[Row]:
    largest = max(RUNS)
    # Room for every stream, and for the keep-alive connections of the other requests.
    with (
        backend(PACING, TOKENS) as backend_url,
        server(backend_url, "--max-connections", str(2 * largest)) as base_url,
    ):
        runner = Runner(base_url)
        with ThreadPoolExecutor(largest) as pool:
            one_round(runner, pool, largest)  # warm-up: threads, connections
            alone = [one_round(runner, pool, 1)[0] for _ in range(ROUNDS)]
            together = {
                count: [one_round(runner, pool, count) for _ in range(ROUNDS)] for count in RUNS
            }
    one = statistics.median(alone)
    rows: list[Row] = []
    for count, target in RUNS.items():
        many = statistics.median(elapsed for elapsed, _ in together[count])
        first = statistics.median(slowest for _, slowest in together[count])
        ratio = many / one
        rows.append(
            {
                "benchmark": f"8. server: {count} streamed runs at once "
                f"({PACING * 1000:g} ms/chunk), s",
                "unit": "s",
                "ours": many,
                "peers": {},
                "floor": one,
                "ratio": f"{count} runs/one run {ratio:.2f}x",
                "ratio_value": ratio,
                "target": f"<= {target:g}x one run",
                "met": ratio <= target,
                "note": f"floor: one run alone ({TOKENS} chunks); every text checked; the "
                f"slowest first delta came {first:.3f} s after the start",
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
