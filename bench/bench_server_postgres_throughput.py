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
import resource
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import ExitStack

from bench.bench_server_backend import server
from bench.common import Row
from bench.postgres import UNUSED_BACKEND, create_messages, database, servers

CONCURRENCY = (8, 16, 32)
SECONDS = 2.0
ROUNDS = 2
# Command lines (pgrep -f) of the server processes, and of PostgreSQL's (its postmaster, and
# one backend per connection, "postgres: <user> <db> ...").
SERVERS = "-m assistants_client.server"
POSTGRES = "^postgres: |/bin/postgres "


def _cpu_seconds(pattern: str) -> float:
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


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measured(run: Callable[[], float]) -> tuple[float, dict[str, float]]:
    """Requests per second, and CPU milliseconds per request by whom."""
    before = (_cpu_seconds(SERVERS), _cpu_seconds(POSTGRES), _own_cpu())
    rate = run()
    after = (_cpu_seconds(SERVERS), _cpu_seconds(POSTGRES), _own_cpu())
    requests = rate * (SECONDS + 0.5)  # the warm-up's requests count too
    spent = [(b - a) * 1000 / requests for a, b in zip(before, after, strict=True)]
    return rate, dict(zip(("server", "postgres", "load"), spent, strict=True))


def run() -> list[Row]:
    names = ("pg2", "pg1", "sqlite")
    rates: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[dict[str, float]]] = {}
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

                    rate, spent = _measured(load)
                    rates.setdefault((name, threads), []).append(rate)
                    cpu.setdefault((name, threads), []).append(spent)
    median = {key: statistics.median(values) for key, values in rates.items()}
    # Each configuration at the concurrency where it does best: its capacity.
    best = {name: max(CONCURRENCY, key=lambda n, name=name: median[(name, n)]) for name in names}
    rate = {name: median[(name, best[name])] for name in names}
    ratio = rate["pg2"] / rate["pg1"]

    def split(name: str) -> str:
        spent = cpu[(name, best[name])]
        return ", ".join(
            f"{who} {statistics.median(s[who] for s in spent):.2f}" for who in spent[0]
        )

    def curve(name: str) -> str:
        return " / ".join(f"{median[(name, n)]:,.0f}" for n in CONCURRENCY)

    clients = "/".join(str(n) for n in CONCURRENCY)
    return [
        {
            "benchmark": "12. create_message on PostgreSQL, 2 processes, req/s",
            "unit": "req/s",
            "ours": rate["pg2"],
            "peers": {},
            "floor": rate["pg1"],
            "ratio": f"2 processes/1 process {ratio:.2f}x",
            "ratio_value": ratio,
            "target": ">= 1.5x 1 process",
            "met": ratio >= 1.5,
            "note": f"each at its best of {clients} client threads (2 processes: "
            f"{curve('pg2')}; 1 process: {curve('pg1')}); {os.cpu_count()} cores shared by the "
            f"servers, PostgreSQL and the load generator; CPU ms per request, 1 process: "
            f"{split('pg1')}; 2 processes: {split('pg2')}",
        },
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
