"""12-13. ``create_message`` throughput: 1 and 2 server processes on PostgreSQL, 1 on SQLite.

Each configuration runs ``assistants-server`` processes (``--db postgresql://...``, or a SQLite
file) and is driven by 8, 16 and 32 threads of keep-alive ``http.client`` connections, each
thread adding messages to a thread of its own, spread evenly over the processes
(``bench/postgres.py``). The configurations take turns, two rounds of each, and the median is
kept; each configuration is then compared at the concurrency where it does best (its capacity:
one Python process slows down as more clients share its interpreter lock, which two processes
split).

* row 12: 2 processes on one PostgreSQL database, against 1 process on it (the floor; target:
  2 processes >= 1.5x);
* row 13: 1 process on PostgreSQL, against 1 process on SQLite (the embedded store), for scale.

The note says where the machine's CPU time went per request (server processes, PostgreSQL, the
load generator): on a machine the servers share with PostgreSQL and the load, a second process
only helps while the first leaves cores idle.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack

from bench.bench_server_backend import server
from bench.common import Row
from bench.postgres import (
    POSTGRES,
    SERVERS,
    UNUSED_BACKEND,
    Capacity,
    create_messages,
    database,
    processes_row,
    servers,
)

CONCURRENCY = (8, 16, 32)
SECONDS = 2.0
WARM_UP = 0.5
ROUNDS = 2


def run() -> list[Row]:
    names = ("pg2", "pg1", "sqlite")
    capacity = Capacity(CONCURRENCY, {"server": SERVERS, "postgres": POSTGRES})
    with ExitStack() as stack:
        db = stack.enter_context(database())
        on_postgres = stack.enter_context(servers(2, db))
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        on_sqlite = stack.enter_context(
            server(UNUSED_BACKEND, "--db", os.path.join(folder, "bench.db"))
        )
        configurations = {"pg2": on_postgres, "pg1": on_postgres[:1], "sqlite": [on_sqlite]}
        for threads in CONCURRENCY:
            for _ in range(ROUNDS):
                for name in names:

                    def load(urls: list[str] = configurations[name], n: int = threads) -> float:
                        return create_messages(urls, threads=n, seconds=SECONDS)

                    # The warm-up's requests count in the CPU time too.
                    capacity.measure(name, threads, load, SECONDS + WARM_UP)
    rate = {name: capacity.rate(name) for name in names}
    split, curve = capacity.split_text, capacity.curve

    clients = "/".join(str(n) for n in CONCURRENCY)
    return [
        processes_row(
            "12. create_message on PostgreSQL, 2 processes, req/s",
            capacity,
            target=1.5,
            note=f"each at its best of {clients} client threads (2 processes: "
            f"{curve('pg2')}; 1 process: {curve('pg1')}); {os.cpu_count()} cores shared by the "
            f"servers, PostgreSQL and the load generator; CPU ms per request, 1 process: "
            f"{split('pg1')}; 2 processes: {split('pg2')}",
        ),
        {
            "benchmark": "13. create_message, 1 process on PostgreSQL, req/s",
            "unit": "req/s",
            "ours": rate["pg1"],
            "peers": {},
            "floor": rate["sqlite"],
            "ratio": f"PostgreSQL/SQLite {rate['pg1'] / rate['sqlite']:.2f}x",
            "ratio_value": rate["pg1"] / rate["sqlite"],
            "target": "-",
            "met": None,
            "note": f"floor: 1 process on SQLite (the embedded store: {curve('sqlite')} with "
            f"{clients} client threads), for scale",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
