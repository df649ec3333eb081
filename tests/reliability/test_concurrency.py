"""Many threads, one client, an emulator: nothing lost, nothing duplicated.

- 32 threads share one client and create 100 messages each on one thread: afterwards exactly
  3,200 messages exist (counted through list pagination), with 3,200 distinct contents.
- The same while the emulator fails 10% of the POSTs with 503 (``Retry-After: 0``), at random
  before or after storing the message: still exactly 3,200, because every retry carries the
  Idempotency-Key of its first attempt.
- 8 clients stream runs concurrently for ``RELIABILITY_SOAK_SECONDS`` (30 by default): every
  run ends in a terminal status, and every streamed text equals the message stored for it.

Each test prints what it measured (run pytest with ``-s`` to see it).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistants_client._client import AssistantsClient
from assistants_client._mixins import TERMINAL_RUN_STATUSES
from assistants_client.emulator import Emulator

THREADS = 32
PER_THREAD = 100
SOAK_SECONDS = float(os.environ.get("RELIABILITY_SOAK_SECONDS", "30"))
STREAMING_CLIENTS = 8


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def create_all(client: AssistantsClient, thread_id: str) -> float:
    """32 threads x 100 create_message on one shared client; the elapsed seconds."""

    def worker(worker_id: int) -> None:
        for i in range(PER_THREAD):
            client.create_message(thread_id, "user", f"worker {worker_id} message {i}")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for future in [pool.submit(worker, n) for n in range(THREADS)]:
            future.result()  # re-raises the first exception of that worker
    return time.monotonic() - started


def stored_contents(client: AssistantsClient, thread_id: str) -> list[str]:
    return [message.text for message in client.list_messages(thread_id, limit=100)]


def assert_exactly_once(contents: list[str]) -> None:
    expected = {f"worker {w} message {i}" for w in range(THREADS) for i in range(PER_THREAD)}
    duplicated = [text for text, count in Counter(contents).items() if count > 1]
    assert duplicated == []
    assert len(contents) == THREADS * PER_THREAD
    assert set(contents) == expected


def test_32_threads_sharing_one_client_create_exactly_3200_messages(
    emulator: Emulator,
) -> None:
    with AssistantsClient("sk-test", base_url=emulator.base_url, timeout=30) as client:
        thread_id = client.create_thread().id
        elapsed = create_all(client, thread_id)
        contents = stored_contents(client, thread_id)
    assert_exactly_once(contents)
    posts = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(posts) == THREADS * PER_THREAD  # no fault, so no retry
    print(f"\n3200 messages by 32 threads in {elapsed:.1f}s ({len(posts) / elapsed:.0f} req/s)")


def test_3200_messages_survive_503s_on_a_tenth_of_the_posts(emulator: Emulator) -> None:
    with AssistantsClient(
        "sk-test", base_url=emulator.base_url, timeout=30, max_retries=10
    ) as client:
        thread_id = client.create_thread().id
        emulator.faults.fail_posts(rate=0.1, status=503, retry_after=0, when="random", seed=1234)
        elapsed = create_all(client, thread_id)
        injected = emulator.faults.injected
        emulator.faults.clear()
        contents = stored_contents(client, thread_id)
    assert_exactly_once(contents)
    posts = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(posts) == THREADS * PER_THREAD + injected  # one retry per injected fault
    keys = Counter(r.headers["Idempotency-Key"] for r in posts)
    assert len(keys) == THREADS * PER_THREAD
    assert THREADS * PER_THREAD * 0.05 < injected < THREADS * PER_THREAD * 0.2
    print(f"\n3200 messages, {injected} injected 503s, {len(posts)} POSTs in {elapsed:.1f}s")


def test_eight_clients_streaming_runs_see_every_run_end_and_every_text_stored(
    emulator: Emulator,
) -> None:
    deadline = time.monotonic() + SOAK_SECONDS
    runs: list[tuple[str, str]] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with AssistantsClient("sk-test", base_url=emulator.base_url, timeout=30) as client:
            assistant = client.create_assistant("gpt-4o", name=f"soak {n}")
            round_ = 0
            while time.monotonic() < deadline:
                thread = client.create_thread()
                client.create_message(thread.id, "user", f"client {n} round {round_}: hello")
                with client.stream_run(thread.id, assistant.id) as stream:
                    streamed = "".join(stream.text_deltas())
                run = stream.final_run
                assert stream.done
                assert run is not None and run.status in TERMINAL_RUN_STATUSES, run
                stored = list(client.list_messages(thread.id, run_id=run.id))
                assert len(stored) == 1
                assert stored[0].role == "assistant"
                assert stored[0].text == streamed
                assert streamed
                with lock:
                    runs.append((run.id, run.status))
                round_ += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=STREAMING_CLIENTS) as pool:
        for future in [pool.submit(worker, n) for n in range(STREAMING_CLIENTS)]:
            future.result(timeout=SOAK_SECONDS + 60)
    elapsed = time.monotonic() - started
    assert len({run_id for run_id, _ in runs}) == len(runs) >= STREAMING_CLIENTS
    statuses = Counter(status for _, status in runs)
    print(f"\n{len(runs)} streamed runs by 8 clients in {elapsed:.1f}s: {dict(statuses)}")
