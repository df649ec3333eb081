"""19. SQLite's durability: writes with ``synchronous=FULL`` (the server's) against ``NORMAL``.

Under WAL, ``NORMAL`` syncs the log only at checkpoints, so a power loss or a system crash may
roll back transactions the server already answered for; ``FULL`` syncs it at every commit. This
measures what that costs, the two settings taking turns in the same run, on files in a folder
of this checkout (a temporary folder may live in memory, where a sync costs nothing):

* ``create_message`` through the server, req/s: two servers built as
  ``assistants-server --db FILE`` builds itself, each in a process of its own, one per setting,
  driven as row 13 is (8 client threads, keep-alive connections); 3 rounds, the median;
* 64 streamed runs at once through the same servers, as row 8 runs them (the fake backend at
  20 ms per chunk, 50 chunks): a streamed run writes as it goes (its text every 0.25 s), and
  SQLite commits one transaction at a time;
* ``create_message`` on the engine alone, one thread, no HTTP: what a write transaction costs,
  the rest of a request left out.

``python -m bench.bench_server_sqlite_sync --serve FILE SETTING BACKEND_URL`` is the server
process: it prints its base URL and serves until its standard input closes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

from bench.bench_server_backend import backend
from bench.bench_server_concurrency import PACING, TOKENS, Runner, one_round
from bench.common import BENCH_DIR, Row, first_line, running, wait_for_stdin_close
from bench.postgres import create_messages

SETTINGS = ("FULL", "NORMAL")
STREAMS = 64
THREADS = 8
SECONDS = 2.0
ROUNDS = 3
COMMIT_SECONDS = 1.0


def serve(location: str, synchronous: str, backend_url: str) -> None:
    from assistants_client.server import build_app, parse_config
    from assistants_client.server.httpd import WSGIServer
    from assistants_client.server.stores.sqlite import SqliteStore

    config = parse_config(["--backend-url", backend_url, "--db", location, "--port", "0"], {})
    app = build_app(config, SqliteStore(location, synchronous=synchronous))
    server = WSGIServer(app, config.host, 0).start()
    try:
        print(f"{server.url}/v1", flush=True)
        wait_for_stdin_close()
    finally:
        server.stop()
        app.engine.close()
        app.engine.store.close()


@contextmanager
def server(location: str, synchronous: str, backend_url: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANTS_")}
    env["ASSISTANTS_LOG_LEVEL"] = "ERROR"
    argv = [sys.executable, "-m", "bench.bench_server_sqlite_sync", "--serve", location]
    argv += [synchronous, backend_url]
    with running(
        argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as proc:
        yield first_line(proc, f"the SQLite server ({synchronous})")


def commits_per_second(location: str, synchronous: str) -> Callable[[], float]:
    """A measure of ``create_message`` on an engine over a store of ``synchronous``."""
    from assistants_client.server.engine import Engine
    from assistants_client.server.stores.sqlite import SqliteStore

    class Silent:
        def check(self, turn: object) -> None: ...

        def prepare(self, turn: object) -> None: ...

        def respond(self, turn: object, cancelled: threading.Event) -> Iterator[object]:
            return iter(())

    engine = Engine(SqliteStore(location, synchronous=synchronous), Silent(), workers=1)  # type: ignore[arg-type]
    thread_id = engine.create_thread({}, project="")["id"]
    body = {"role": "user", "content": "A message of a benchmark."}

    def measure() -> float:
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < COMMIT_SECONDS:
            engine.create_message(thread_id, body, project="")
            count += 1
        return count / elapsed

    return measure


def run() -> list[Row]:
    requests: dict[str, list[float]] = {name: [] for name in SETTINGS}
    streams: dict[str, list[float]] = {name: [] for name in SETTINGS}
    commits: dict[str, list[float]] = {name: [] for name in SETTINGS}
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(dir=BENCH_DIR))
        backend_url = stack.enter_context(backend(PACING, TOKENS))
        urls = {
            name: stack.enter_context(
                server(os.path.join(folder, f"http-{name}.db"), name, backend_url)
            )
            for name in SETTINGS
        }
        runners = {name: Runner(url) for name, url in urls.items()}
        pool = stack.enter_context(ThreadPoolExecutor(STREAMS))
        for name in SETTINGS:
            one_round(runners[name], pool, STREAMS)  # warm-up: threads, connections
        for _ in range(ROUNDS):
            for name in SETTINGS:
                requests[name].append(
                    create_messages([urls[name]], threads=THREADS, seconds=SECONDS)
                )
                streams[name].append(one_round(runners[name], pool, STREAMS)[0])
        measures = {
            name: commits_per_second(os.path.join(folder, f"engine-{name}.db"), name)
            for name in SETTINGS
        }
        for _ in range(ROUNDS):
            for name in SETTINGS:
                commits[name].append(measures[name]())
    rate = {name: statistics.median(found) for name, found in requests.items()}
    streamed = {name: statistics.median(found) for name, found in streams.items()}
    commit = {name: statistics.median(found) for name, found in commits.items()}
    extra_ms = 1000 / commit["FULL"] - 1000 / commit["NORMAL"]
    return [
        {
            "benchmark": "19. create_message on SQLite, synchronous=FULL, req/s",
            "unit": "req/s",
            "ours": rate["FULL"],
            "peers": {},
            "floor": rate["NORMAL"],
            "ratio": f"FULL/NORMAL {rate['FULL'] / rate['NORMAL']:.2f}x",
            "ratio_value": rate["FULL"] / rate["NORMAL"],
            "target": "-",
            "met": None,
            "note": f"floor: the same server with synchronous=NORMAL, {THREADS} client threads, "
            f"median of {ROUNDS} rounds each, taking turns; files on this checkout's disk",
        },
        {
            "benchmark": f"19. {STREAMS} streamed runs at once on SQLite, synchronous=FULL, s",
            "unit": "s",
            "ours": streamed["FULL"],
            "peers": {},
            "floor": streamed["NORMAL"],
            "ratio": f"FULL/NORMAL {streamed['FULL'] / streamed['NORMAL']:.2f}x",
            "ratio_value": streamed["FULL"] / streamed["NORMAL"],
            "target": "-",
            "met": None,
            "note": f"floor: the same with synchronous=NORMAL; {TOKENS} chunks "
            f"{PACING * 1000:g} ms apart, every text checked, as in row 8",
        },
        {
            "benchmark": "19. create_message on SQLite, engine alone, commits/s",
            "unit": "req/s",
            "ours": commit["FULL"],
            "peers": {},
            "floor": commit["NORMAL"],
            "ratio": f"FULL/NORMAL {commit['FULL'] / commit['NORMAL']:.2f}x",
            "ratio_value": commit["FULL"] / commit["NORMAL"],
            "target": "-",
            "met": None,
            "note": f"one thread, no HTTP: a synced commit costs {extra_ms:+.2f} ms",
        },
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        for row in run():
            print(row)
