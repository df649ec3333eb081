"""The worker pools of the async client: work never waits behind busy workers below the limit,
no event loop ever starts a thread, and idle workers end on their own."""

from __future__ import annotations

import threading

import pytest

from assistants_client import _workers
from assistants_client._workers import Workers

WAIT = 10.0  # seconds: a bound on a hang, not a speed claim


def test_work_submitted_while_every_worker_is_busy_gets_a_new_worker() -> None:
    pool = Workers("test-workers-busy")
    release = threading.Event()
    started = [threading.Event() for _ in range(3)]
    for event in started:
        pool.submit(lambda event=event: (event.set(), release.wait(WAIT)))
        assert event.wait(WAIT)  # each ran at once, though the ones before still block
    assert pool.count == 3
    release.set()


def test_a_finished_worker_takes_the_next_work_instead_of_a_new_one() -> None:
    pool = Workers("test-workers-reuse")
    threads: list[int] = []
    for _ in range(5):
        done = threading.Event()
        pool.submit(lambda done=done: (threads.append(threading.get_ident()), done.set()))
        assert done.wait(WAIT)
        while pool._idle._value == 0:  # the worker is back and counted idle
            threading.Event().wait(0.001)
    assert len(set(threads)) == 1
    assert pool.count == 1


def test_the_limit_holds_and_queued_work_waits_for_a_busy_worker() -> None:
    pool = Workers("test-workers-limit", limit=2)
    release = threading.Event()
    ran: list[int] = []
    for index in range(5):
        pool.submit(lambda index=index: (release.wait(WAIT), ran.append(index)))
    assert pool.count == 2
    release.set()
    deadline = threading.Event()
    for _ in range(1000):
        if len(ran) == 5:
            break
        deadline.wait(0.01)
    assert sorted(ran) == [0, 1, 2, 3, 4] and pool.count <= 2


def test_idle_workers_end_after_the_idle_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_workers, "IDLE_SECONDS", 0.05)
    pool = Workers("test-workers-idle")
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(WAIT)
    for _ in range(500):
        if pool.count == 0:
            break
        threading.Event().wait(0.01)
    assert pool.count == 0
    again = threading.Event()
    pool.submit(again.set)  # a pool whose workers ended starts new ones
    assert again.wait(WAIT)
