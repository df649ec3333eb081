"""18. Background runs on PostgreSQL: 1 and 2 server processes, and what saturates.

``assistants-server`` processes on one PostgreSQL database, in front of the fake Chat
Completions backend (``bench/bench_server_backend.py``, 20 content chunks at zero delay). Client
threads each loop: ``createThreadAndRun`` without streaming (the run is stored ``queued``), then
``getRun`` every 50 ms until it is ``completed``, spread evenly over the processes. Any process
with a free worker claims a queued run (``FOR UPDATE SKIP LOCKED``), so a run created through one
process may be answered by the other. The two configurations take turns; each is measured at
16 and 64 client threads, and kept at its best.

The note splits the machine's CPU time per run between the server processes, PostgreSQL, the
fake backend and the load generator: on 2 cores shared by all of them, a second server process
can only use what the first leaves idle.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack

from bench.bench_server_backend import backend
from bench.common import Row
from bench.postgres import (
    POSTGRES,
    SERVERS,
    Capacity,
    Connection,
    database,
    processes_row,
    servers,
)

CONCURRENCY = (16, 64)
SECONDS = 3.0
WARM_UP = 0.5
ROUNDS = 2
TOKENS = 20
POLL = 0.050
BACKEND = "-m bench.bench_server_backend"


def background_runs(urls: Sequence[str], assistant_ids: Sequence[str], *, threads: int) -> float:
    """Runs completed per second by ``threads`` client threads spread over ``urls``."""
    connections = [Connection(urls[n % len(urls)]) for n in range(threads)]
    start = threading.Barrier(threads + 1)
    counts = [0] * threads
    failures: list[str] = []
    stop = threading.Event()
    counting = threading.Event()

    def work(n: int) -> None:
        connection = connections[n]
        body = {
            "assistant_id": assistant_ids[n % len(urls)],
            "thread": {"messages": [{"role": "user", "content": "Count."}]},
        }
        start.wait()
        while not stop.is_set():
            run = connection.call("POST", "/threads/runs", body)
            path = f"/threads/{run['thread_id']}/runs/{run['id']}"
            while run["status"] in ("queued", "in_progress"):
                time.sleep(POLL)
                run = connection.call("GET", path)
            if run["status"] != "completed":
                failures.append(str(run["status"]))
            elif counting.is_set():
                counts[n] += 1

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    time.sleep(WARM_UP)
    counting.set()
    began = time.perf_counter()
    time.sleep(SECONDS)
    counting.clear()
    ended = time.perf_counter()
    stop.set()
    for worker in workers:
        worker.join()
    for connection in connections:
        connection.close()
    assert not failures, f"{len(failures)} runs did not complete, e.g. {failures[0]}"
    return sum(counts) / (ended - began)


def run() -> list[Row]:
    names = ("pg2", "pg1")
    capacity = Capacity(CONCURRENCY, {"server": SERVERS, "postgres": POSTGRES, "backend": BACKEND})
    with ExitStack() as stack:
        backend_url = stack.enter_context(backend(0.0, TOKENS))
        db = stack.enter_context(database())
        urls = stack.enter_context(servers(2, db, backend_url=backend_url))
        assistant_ids = [
            str(Connection(url).call("POST", "/assistants", {"model": "gpt-4o"})["id"])
            for url in urls
        ]
        configurations = {"pg2": urls, "pg1": urls[:1]}
        for threads in CONCURRENCY:
            for _ in range(ROUNDS):
                for name in names:

                    def load(chosen: list[str] = configurations[name], n: int = threads) -> float:
                        return background_runs(chosen, assistant_ids, threads=n)

                    capacity.measure(name, threads, load, SECONDS + WARM_UP)
    rate = {name: capacity.rate(name) for name in names}

    def split(name: str) -> str:
        total = sum(capacity.split(name).values())
        busy = rate[name] * total / 1000
        return f"{capacity.split_text(name)} (in all {total:.2f} ms, {busy:.2f} cores busy)"

    curve = capacity.curve
    clients = "/".join(str(n) for n in CONCURRENCY)
    return [
        processes_row(
            "18. background runs on PostgreSQL, 2 processes, runs/s",
            capacity,
            target=None,
            note=f"createThreadAndRun, then getRun every {POLL * 1000:g} ms until completed "
            f"({TOKENS} chunks from the backend at zero delay); each at its best of {clients} "
            f"client threads (2 processes: {curve('pg2')}; 1 process: {curve('pg1')}); "
            f"{os.cpu_count()} cores; CPU ms per run, 1 process: {split('pg1')}; "
            f"2 processes: {split('pg2')}",
        )
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
