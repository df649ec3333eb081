"""What the PostgreSQL benchmarks share: a throwaway database, server processes on it, and a
light load generator.

:func:`database` starts the throwaway PostgreSQL server of the test suite
(``tests/support/postgres.py``: Debian's packages, installed when missing; ``initdb`` in a temp
dir, a free loopback port, durability off) and yields the URL of a new database on it.

:func:`servers` starts ``assistants-server`` processes on one ``--db`` (see
:func:`bench.bench_server_backend.server`). :func:`create_messages` drives them with
``create_message`` calls from many threads over keep-alive connections of ``http.client``: the
lightest client there is, so that the measuring process takes as little as it can of the
machine the servers share with it.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

from bench.bench_server_backend import server
from tests.support.postgres import PostgresServer

# The backend is never called: these benchmarks create messages and list them.
UNUSED_BACKEND = "http://127.0.0.1:9/v1"
# Command lines (pgrep -f) of the server processes, and of PostgreSQL's (its postmaster, and
# one backend per connection, "postgres: <user> <db> ...").
SERVERS = "-m assistants_client.server"
POSTGRES = "^postgres: |/bin/postgres "


@contextmanager
def database() -> Iterator[str]:
    """The URL of a new database on a throwaway PostgreSQL server."""
    with PostgresServer() as postgres:
        yield postgres.dsn(postgres.create_database("bench"))


@contextmanager
def servers(
    count: int, db: str, *flags: str, backend_url: str = UNUSED_BACKEND
) -> Iterator[list[str]]:
    """The base URLs of ``count`` server processes on ``db`` (started one after the other,
    so that the first creates the schema)."""
    with ExitStack() as stack:
        yield [stack.enter_context(server(backend_url, "--db", db, *flags)) for _ in range(count)]


class Connection:
    """One keep-alive connection to one server's API."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.prefix = parts.path
        self.http = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)

    def call(self, method: str, path: str, body: object | None = None) -> dict[str, object]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.http.request(method, self.prefix + path, body=data, headers=headers)
        response = self.http.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
        found: dict[str, object] = json.loads(payload)
        return found

    def close(self) -> None:
        self.http.close()


def create_messages(urls: Sequence[str], *, threads: int, seconds: float) -> float:
    """``create_message`` calls per second, from ``threads`` threads spread over ``urls`` (each
    thread on a thread of its own), counted over ``seconds`` after a short warm-up."""
    connections = [Connection(urls[n % len(urls)]) for n in range(threads)]
    thread_ids = [str(c.call("POST", "/threads", {})["id"]) for c in connections]
    start = threading.Barrier(threads + 1)
    counts = [0] * threads
    window: list[float] = []
    stop = threading.Event()
    counting = threading.Event()

    def work(n: int) -> None:
        connection, path = connections[n], f"/threads/{thread_ids[n]}/messages"
        body = {"role": "user", "content": "A message of a benchmark."}
        start.wait()
        while not stop.is_set():
            connection.call("POST", path, body)
            if counting.is_set():
                counts[n] += 1

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    time.sleep(0.5)  # warm-up: connections, prepared statements
    counting.set()
    window.append(time.perf_counter())
    time.sleep(seconds)
    counting.clear()
    window.append(time.perf_counter())
    stop.set()
    for worker in workers:
        worker.join()
    for connection in connections:
        connection.close()
    return sum(counts) / (window[1] - window[0])


def cpu_seconds_of(pattern: str) -> float:
    """CPU time used so far by the processes whose command line matches ``pattern``."""
    found = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True).stdout
    total = 0
    for pid in found.split():
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def processes_row(
    benchmark: str, capacity: Capacity, *, target: float | None, note: str
) -> dict[str, Any]:
    """The table row of 2 server processes (``pg2``) against 1 (``pg1``), each at its best."""
    ratio = capacity.rate("pg2") / capacity.rate("pg1")
    return {
        "benchmark": benchmark,
        "unit": "req/s",
        "ours": capacity.rate("pg2"),
        "peers": {},
        "floor": capacity.rate("pg1"),
        "ratio": f"2 processes/1 process {ratio:.2f}x",
        "ratio_value": ratio,
        "target": f">= {target:g}x 1 process" if target is not None else "-",
        "met": ratio >= target if target is not None else None,
        "note": note,
    }


class Capacity:
    """Rates of several configurations at several concurrencies, each kept at its best.

    One Python process slows down as more clients share its interpreter lock, which two
    processes split: each configuration is compared at the concurrency where it does best.
    :meth:`measure` also splits the CPU time spent per unit of work between whoever matches
    ``processes`` (name -> command-line pattern) and this process (``load``).
    """

    def __init__(self, concurrency: Sequence[int], processes: dict[str, str]) -> None:
        self.concurrency = tuple(concurrency)
        self.processes = processes
        self._rates: dict[tuple[str, int], list[float]] = {}
        self._cpu: dict[tuple[str, int], list[dict[str, float]]] = {}

    def measure(self, name: str, threads: int, run: Callable[[], float], seconds: float) -> None:
        """``run()`` (a rate, measured over ``seconds`` after its warm-up) for ``name``."""
        patterns = list(self.processes.values())
        before = [*(cpu_seconds_of(p) for p in patterns), own_cpu()]
        rate = run()
        after = [*(cpu_seconds_of(p) for p in patterns), own_cpu()]
        done = rate * seconds
        spent = [(b - a) * 1000 / done for a, b in zip(before, after, strict=True)]
        self._rates.setdefault((name, threads), []).append(rate)
        who = [*self.processes, "load"]
        self._cpu.setdefault((name, threads), []).append(dict(zip(who, spent, strict=True)))

    def median(self, name: str, threads: int) -> float:
        return statistics.median(self._rates[(name, threads)])

    def best(self, name: str) -> int:
        return max(self.concurrency, key=lambda n: self.median(name, n))

    def rate(self, name: str) -> float:
        return self.median(name, self.best(name))

    def curve(self, name: str) -> str:
        """The median rate at each concurrency, ``a / b / c``."""
        return " / ".join(f"{self.median(name, n):,.0f}" for n in self.concurrency)

    def split(self, name: str) -> dict[str, float]:
        """Median CPU milliseconds per unit of work, by whom, at ``name``'s best."""
        spent = self._cpu[(name, self.best(name))]
        return {who: statistics.median(s[who] for s in spent) for who in spent[0]}

    def split_text(self, name: str) -> str:
        return ", ".join(f"{who} {ms:.2f}" for who, ms in self.split(name).items())
