"""16. Idle connections: what clients that connect and send nothing cost the server.

``assistants-server`` (its backend is never called) runs in its own process, and gunicorn
(gthread, 32 threads, as docs/server.md runs it) in another, for scale. This process opens
connections that send nothing, then makes requests through a keep-alive connection.

* round trip: ``get_thread`` while 1,000 idle connections are open; floor: the same server with
  none open, in alternate rounds. gunicorn, with 1,000 open, is shown as n/a when it did not
  answer within 2 s.
* memory: what the server's resident memory grew by, per idle connection, for 4,000 of them
  opened in a server that just started.
* capacity: the most idle connections (of 16, 32... 4,000) with which a request is still
  answered within 2 s.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import requests

from assistants_client.server.httpd import raise_open_file_limit
from bench.common import (
    Row,
    client_class,
    first_answer,
    first_line,
    free_port,
    running,
    time_per_call,
)

warnings.filterwarnings("ignore", category=DeprecationWarning)

UNUSED_BACKEND = "http://127.0.0.1:9/v1"
IDLE = 1000
LADDER = (16, 32, 64, 125, 250, 500, 1000, 2000, 4000)
# Memory is measured once, with this many, in a server that has not held so many before (a
# server reuses the memory of connections it closed).
FOR_MEMORY = 4000
ANSWER_WITHIN = 2.0
ROUNDS = 5
CALLS = 200


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANTS_")}
    env["ASSISTANTS_LOG_LEVEL"] = "ERROR"
    env["ASSISTANTS_BACKEND_URL"] = UNUSED_BACKEND
    return env


@contextlib.contextmanager
def ours() -> Iterator[tuple[str, int]]:
    """(base URL, pid) of ``assistants-server``."""
    argv = [sys.executable, "-m", "assistants_client.server", "--port", "0"]
    with running(argv, env=environ(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        yield first_line(proc, "assistants-server"), proc.pid


@contextlib.contextmanager
def gunicorn() -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "32"]
    argv += ["-b", f"127.0.0.1:{port}", "assistants_client.server:wsgi_app()"]
    with running(argv, env=environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as p:
        first_answer(p, f"http://127.0.0.1:{port}/v1/assistants", within=20)
        yield f"http://127.0.0.1:{port}/v1"


@contextlib.contextmanager
def idle(base_url: str, count: int) -> Iterator[list[socket.socket]]:
    host, port = base_url.split("//")[1].split("/")[0].rsplit(":", 1)
    opened = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((host, int(port)))
            opened.append(sock)
        time.sleep(0.5)  # accepted (or queued) by now
        yield opened
    finally:
        for sock in opened:
            sock.close()


def answers(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/assistants", timeout=ANSWER_WITHIN).ok
    except requests.RequestException:
        return False


def capacity(base_url: str) -> int:
    held = 0
    for count in LADDER:
        with idle(base_url, count):
            if not answers(base_url):
                break
        held = count
        deadline = time.monotonic() + 30
        while not answers(base_url) and time.monotonic() < deadline:
            time.sleep(0.2)
    return held


def round_trip(base_url: str) -> Callable[[], Any]:
    client = client_class()(base_url=base_url, api_key="sk-x", timeout=ANSWER_WITHIN)
    thread_id = client.create_thread(metadata={"bench": "server-idle"}).id
    return lambda: client.get_thread(thread_id)


def run() -> list[Row]:
    raise_open_file_limit(2 * max(LADDER) + 1024)
    with ours() as (url, pid):
        call = round_trip(url)
        for _ in range(20):
            call()
        before = rss_kb(pid)
        with idle(url, FOR_MEMORY):
            per_connection = (rss_kb(pid) - before) / FOR_MEMORY
        quiet: list[float] = []
        busy: list[float] = []
        for _ in range(ROUNDS):
            quiet.append(time_per_call(call, number=CALLS))
            with idle(url, IDLE):
                busy.append(time_per_call(call, number=CALLS))
        ours_capacity = capacity(url)
    with gunicorn() as peer_url:
        with idle(peer_url, IDLE):
            peer_ms = None
            if answers(peer_url):
                peer_ms = time_per_call(round_trip(peer_url), number=CALLS) * 1000
        deadline = time.monotonic() + 30
        while not answers(peer_url) and time.monotonic() < deadline:
            time.sleep(0.2)
        peer_capacity = capacity(peer_url)
    ms, floor = min(busy) * 1000, min(quiet) * 1000
    ratio = ms / floor
    return [
        {
            "benchmark": f"16. server get_thread with {IDLE:,} idle connections open, ms",
            "unit": "ms",
            "ours": ms,
            "peers": {"openai": None, "gunicorn": peer_ms},
            "floor": floor,
            "ratio": f"ours/none open {ratio:.2f}x",
            "ratio_value": ratio,
            "target": "<= 1.5x none open",
            "met": ratio <= 1.5,
            "note": "floor: the same server with no idle connection; gunicorn gthread 32 threads "
            f"(n/a: no answer within {ANSWER_WITHIN:.0f} s)",
        },
        {
            "benchmark": "16. server memory per idle connection, KB",
            "unit": "KB",
            "ours": per_connection,
            "peers": {},
            "floor": None,
            "ratio": "-",
            "ratio_value": None,
            "target": "<= 16 KB",
            "met": per_connection <= 16,
            "note": f"resident memory grown with {FOR_MEMORY:,} idle connections open, per "
            "connection (the kernel's socket buffers are not in it)",
        },
        {
            "benchmark": "16. server idle connections held while answering within 2 s",
            "unit": "connections",
            "ours": ours_capacity,
            "peers": {"openai": None, "gunicorn": peer_capacity},
            "floor": None,
            "ratio": "-",
            "ratio_value": None,
            "target": f">= {IDLE:,}",
            "met": ours_capacity >= IDLE,
            "note": "the largest number tried (" + ", ".join(f"{n:,}" for n in LADDER) + ")",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
