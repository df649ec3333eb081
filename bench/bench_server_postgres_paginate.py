"""14. Listing a 100,000-message thread, 100 messages a page: the last pages as fast as the first.

A thread of 100,000 messages is put into the server's store directly (PostgreSQL: one
``INSERT ... SELECT`` over ``generate_series``; SQLite: the store's own ``insert``, in one
transaction), then ``assistants-server`` lists it page by page (``limit=100``, ``order=asc``,
``after=<last id>``) for one client over a keep-alive connection: a first walk collects the
cursors of all 1,000 pages, then pages 1-10 and 991-1000 are read in turns, five times, and the
median time per page of each end is kept.

* ours: a page at the end (991-1000) on PostgreSQL; floor: a page at the start (1-10), target
  within 1.2x of it (a page is an indexed range read of 101 rows, wherever it is);
* the same on SQLite, in the note.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from contextlib import ExitStack

import psycopg

from assistants_client.server import objects
from assistants_client.server.stores.sqlite import SqliteStore
from bench.bench_server_backend import server
from bench.common import Row
from bench.postgres import UNUSED_BACKEND, Connection, database, servers

MESSAGES = 100_000
PAGE = 100
ENDS = 10  # pages timed at each end
REPEATS = 5
THREAD_ID = "thread_bench_100k"


def _template() -> str:
    message = objects.message(THREAD_ID, {"role": "user", "content": "A message in a long thread."})
    message["id"] = "__ID__"
    return json.dumps(message, separators=(",", ":"))


def _message_id(number: int) -> str:
    return f"msg_{number:024d}"


def seed_postgres(url: str) -> None:
    thread = {"id": THREAD_ID, "object": "thread", "created_at": 0, "metadata": {}}
    thread["tool_resources"] = {}
    with psycopg.connect(url) as connection:
        connection.execute(
            "INSERT INTO assistants_objects (kind, id, parent, seq, data) "
            "VALUES ('thread', %s, '', nextval('assistants_seq'), %s)",
            (THREAD_ID, json.dumps(thread)),
        )
        connection.execute(
            "INSERT INTO assistants_objects (kind, id, parent, seq, data) "
            "SELECT 'message', 'msg_' || lpad(n::text, 24, '0'), %s, nextval('assistants_seq'), "
            "replace(%s, '__ID__', 'msg_' || lpad(n::text, 24, '0'))::json "
            "FROM generate_series(0, %s) AS n ORDER BY n",
            (THREAD_ID, _template(), MESSAGES - 1),
        )
        connection.execute("ANALYZE assistants_objects")


def seed_sqlite(path: str) -> None:
    store = SqliteStore(path)
    template = _template()
    try:
        with store.transaction():
            thread = {"id": THREAD_ID, "object": "thread", "created_at": 0, "metadata": {}}
            store.insert("thread", THREAD_ID, {**thread, "tool_resources": {}}, project="")
            for number in range(MESSAGES):
                message_id = _message_id(number)
                store.insert(
                    "message",
                    message_id,
                    json.loads(template.replace("__ID__", message_id)),
                    THREAD_ID,
                    project="",
                )
    finally:
        store.close()


def _pages(base_url: str) -> tuple[float, float]:
    """Median seconds per page at the start and at the end of the thread."""
    connection = Connection(base_url)
    path = f"/threads/{THREAD_ID}/messages?limit={PAGE}&order=asc"
    cursors: list[str | None] = [None]
    while True:
        after = cursors[-1]
        page = connection.call("GET", path + (f"&after={after}" if after else ""))
        data = page["data"]
        assert isinstance(data, list) and len(data) == PAGE
        if not page["has_more"]:
            break
        cursors.append(str(page["last_id"]))
    assert len(cursors) == MESSAGES // PAGE

    def timed(after: str | None) -> float:
        started = time.perf_counter()
        connection.call("GET", path + (f"&after={after}" if after else ""))
        return time.perf_counter() - started

    first: list[float] = []
    last: list[float] = []
    for _ in range(REPEATS):
        first += [timed(cursor) for cursor in cursors[:ENDS]]
        last += [timed(cursor) for cursor in cursors[-ENDS:]]
    connection.close()
    return statistics.median(first), statistics.median(last)


def run() -> list[Row]:
    with ExitStack() as stack:
        url = stack.enter_context(database())
        (on_postgres,) = stack.enter_context(servers(1, url))
        seed_postgres(url)
        postgres_first, postgres_last = _pages(on_postgres)
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        path = os.path.join(folder, "bench.db")
        seed_sqlite(path)
        on_sqlite = stack.enter_context(server(UNUSED_BACKEND, "--db", path))
        sqlite_first, sqlite_last = _pages(on_sqlite)
    ratio = postgres_last / postgres_first
    sqlite_ratio = sqlite_last / sqlite_first
    return [
        {
            "benchmark": "14. list 100-message pages of 100,000 on PostgreSQL, last page ms",
            "unit": "ms",
            "ours": postgres_last * 1000,
            "peers": {},
            "floor": postgres_first * 1000,
            "ratio": f"last/first page {ratio:.2f}x",
            "ratio_value": ratio,
            "target": "<= 1.2x the first page",
            "met": ratio <= 1.2,
            "note": f"floor: pages 1-10, ours: pages 991-1000; on SQLite "
            f"{sqlite_first * 1000:.2f} ms first, {sqlite_last * 1000:.2f} ms last "
            f"({sqlite_ratio:.2f}x)",
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
