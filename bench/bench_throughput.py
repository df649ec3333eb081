"""6. Emulator throughput: ``create_message`` requests per second with 1, 4 and 16 threads.

The emulator runs in its own process. Each thread posts to a thread id of its own (so no
two share a thread) through one shared client, for a fixed window; the figure is the
median over several windows, contenders taking turns.

* ours: one shared ``AssistantsClient``, ``client.create_message(thread_id, "user", text)``.
  Every POST carries an ``Idempotency-Key``, which the emulator records.
* openai-python: one shared ``OpenAI``, ``client.beta.threads.messages.create(...)`` (it sends
  no idempotency key).
* floor: one shared bare ``requests.Session`` posting the same JSON body, with an
  ``Idempotency-Key`` as ours does, so the emulator does the same work for both.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

from bench.common import Row, client_class, emulator, floor_row, median

warnings.filterwarnings("ignore", category=DeprecationWarning)

THREADS = (1, 4, 16)
WINDOW = 1.0
REPEATS = 3
TEXT = "What was the revenue growth in the cloud segment last quarter?"


def posters(base_url: str) -> dict[str, Callable[[str], Any]]:
    import openai
    import requests

    ours = client_class()(base_url=base_url, api_key="sk-x")
    theirs = openai.OpenAI(base_url=base_url, api_key="sk-x")
    session = requests.Session()
    body = json.dumps({"role": "user", "content": TEXT}).encode()

    def floor(thread_id: str) -> Any:
        response = session.post(
            f"{base_url}/threads/{thread_id}/messages",
            data=body,
            headers={
                "Authorization": "Bearer sk-x",
                "OpenAI-Beta": "assistants=v2",
                "Content-Type": "application/json",
                "Idempotency-Key": f"bench-{uuid.uuid4()}",
            },
        )
        response.raise_for_status()
        return json.loads(response.content)

    return {
        "ours": lambda thread_id: ours.create_message(thread_id, "user", TEXT),
        "openai": lambda thread_id: theirs.beta.threads.messages.create(
            thread_id, role="user", content=TEXT
        ),
        "floor": floor,
    }


def window(post: Callable[[str], Any], thread_ids: list[str], seconds: float) -> float:
    """Requests per second of ``len(thread_ids)`` threads posting for ``seconds``."""
    stop = threading.Event()
    start = threading.Barrier(len(thread_ids) + 1)
    counts = [0] * len(thread_ids)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        thread_id = thread_ids[index]
        start.wait()
        done = 0
        try:
            while not stop.is_set():
                post(thread_id)
                done += 1
        except BaseException as exc:  # reported after the window
            errors.append(exc)
        counts[index] = done

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(len(thread_ids))]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return sum(counts) / elapsed


def run() -> list[Row]:
    with emulator() as emu:
        base_url = emu["base_url"]
        client = client_class()(base_url=base_url, api_key="sk-x")
        thread_ids = [client.create_thread().id for _ in range(max(THREADS))]
        posts = posters(base_url)
        for post in posts.values():  # warm-up, and every contender works
            for thread_id in thread_ids[:2]:
                post(thread_id)
        rates: dict[int, dict[str, float]] = {}
        for n in THREADS:
            samples: dict[str, list[float]] = {name: [] for name in posts}
            for _ in range(REPEATS):
                for name, post in posts.items():
                    samples[name].append(window(post, thread_ids[:n], WINDOW))
            rates[n] = {name: median(values) for name, values in samples.items()}
    rows: list[Row] = []
    for n in THREADS:
        label = f"6. create_message, {n} thread{'s' if n > 1 else ''}, req/s"
        rows.append(floor_row(label, "req/s", rates[n]))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
