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
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

from bench.bench_server_backend import server
from tests.support.postgres import PostgresServer

# The backend is never called: these benchmarks create messages and list them.
UNUSED_BACKEND = "http://127.0.0.1:9/v1"


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
