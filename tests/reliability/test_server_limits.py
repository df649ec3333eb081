"""Misbehaving clients cannot exhaust the emulator's (and the server's) memory or threads.

The emulator and the server share the WSGI application (``server/http.py``) and the HTTP
server (``server/httpd.py``); these attacks go through both, over real sockets. Where memory
is the point, the emulator runs in a process of its own that reports its peak resident
memory (``VmHWM``) before and after.

Scenarios:

1. 40 unauthenticated POSTs of 4 MiB: all 401, the emulator grows by less than 20 MB (before:
   160 MB). The key is checked before a byte of the body is read: the 401 comes back while
   the body has not even been sent.
2. 40 authenticated POSTs of 4 MiB: the request log keeps a bounded part of each, the emulator
   grows by less than 80 MB (before: 185 MB, and more with every request).
3. The request log keeps the last ``request_log`` requests, and of a large body its first
   ``RECORDED_BODY_BYTES`` only; the server keeps no log at all.
4. Request smuggling: ``Content-Length`` with ``Transfer-Encoding``, two different
   ``Content-Length`` values, or another transfer coding than chunked: 400, the connection is
   closed, and the bytes after the first body are never served as a second request.
5. A burst of 64 connections while nobody accepts: the listen queue (128) takes them all;
   with Python's default of 5, the others would wait a second for a SYN retry.
6. Past ``max_connections``, a connection is answered 503 with ``Retry-After`` at once, and a
   client's retry gets through once a connection is free.
7. An idle connection is closed after ``idle_timeout``, freeing its slot.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from assistants_client import AssistantsClient, RetryPolicy
from assistants_client.emulator import Emulator
from assistants_client.emulator.server import RECORDED_BODY_BYTES
from assistants_client.server import ServerConfig, build_app
from assistants_client.server.httpd import DEFAULT_BACKLOG, WSGIServer

from .isolated import ROOT

MiB = 1 << 20
BIG_BODY = b'{"metadata": {"a": "' + b"x" * (4 * MiB - 64) + b'"}}'

EMULATOR_PROCESS = """
import sys
from assistants_client.emulator import Emulator

def mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024

key = sys.argv[1] if sys.argv[1] != "-" else None
with Emulator(api_key=key) as emu:
    print(emu.port, mb("VmHWM:"), flush=True)
    sys.stdin.readline()
    print(mb("VmHWM:"), flush=True)
"""


@contextmanager
def emulator_process(api_key: str | None) -> Iterator[tuple[int, list[float]]]:
    """An emulator in a process of its own: its port, and [base, peak] MB once the block ends."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", EMULATOR_PROCESS, api_key or "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        port, base = child.stdout.readline().split()
        memory = [float(base)]
        yield int(port), memory
        child.stdin.write("\n")
        child.stdin.flush()
        memory.append(float(child.stdout.readline()))
    finally:
        child.kill()
        child.wait(10)


def post_head(length: int, *, key: str | None, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST /v1/threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
        f"Content-Length: {length}\r\nConnection: close\r\n{extra}\r\n"
    ).encode()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def big_post(port: int, key: str | None) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post_head(len(BIG_BODY), key=key))
        with contextlib.suppress(OSError):  # answered and closed before the body was all sent
            sock.sendall(BIG_BODY)
        return status_of(sock.recv(100))


# -- memory ------------------------------------------------------------------------------------


def test_forty_unauthenticated_4_mib_posts_do_not_grow_the_emulator() -> None:
    with emulator_process("right-key") as (port, memory):
        statuses = {big_post(port, None) for _ in range(40)} | {big_post(port, "wrong")}
    assert statuses == {401}
    base, peak = memory
    assert peak - base < 20, memory


def test_the_key_is_checked_before_the_body_is_read() -> None:
    with Emulator(api_key="right-key") as emu:
        with socket.create_connection((emu.host, emu.port), timeout=5) as sock:
            sock.sendall(post_head(4 * MiB, key="wrong"))  # and no body at all
            answer = sock.recv(65536)
        assert status_of(answer) == 401
        assert emu.requests == []


def test_forty_authenticated_4_mib_posts_grow_the_emulator_by_a_bounded_amount() -> None:
    with emulator_process("right-key") as (port, memory):
        statuses = {big_post(port, "right-key") for _ in range(40)}
    assert statuses == {400}  # metadata values are at most 512 characters
    base, peak = memory
    assert peak - base < 80, memory


def test_the_request_log_keeps_the_last_requests_and_a_bounded_part_of_large_bodies() -> None:
    with Emulator(request_log=3) as emu, requests.Session() as http:
        for n in range(10):
            http.post(f"{emu.base_url}/threads", json={"metadata": {"n": str(n)}})
        assert emu.request_count == 10
        assert [r.body["metadata"]["n"] for r in emu.requests] == ["7", "8", "9"]
        http.post(
            f"{emu.base_url}/threads", data=BIG_BODY, headers={"Content-Type": "application/json"}
        )
        large = emu.requests[-1]
        assert len(large.raw_body) == RECORDED_BODY_BYTES
        assert large.raw_body == BIG_BODY[:RECORDED_BODY_BYTES]
        assert large.body is None
        assert len(emu.requests) == 3


def test_the_server_keeps_no_request_log() -> None:
    app = build_app(ServerConfig(backend_url="http://127.0.0.1:9/v1"))
    try:
        assert app.recorder is None
    finally:
        app.engine.close()


# -- smuggling -------------------------------------------------------------------------------

SMUGGLED = b"GET /v1/threads/thread_smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    "framing",
    [
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n",
        f"Content-Length: 2\r\nContent-Length: {2 + len(SMUGGLED)}\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
    ],
    ids=["length-and-chunked", "chunked-and-length", "two-lengths", "gzip-chunked"],
)
def test_a_request_framed_two_ways_is_a_400_and_the_connection_is_closed(framing: str) -> None:
    with Emulator() as emu, socket.create_connection((emu.host, emu.port), timeout=5) as sock:
        head = "POST /v1/threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        body = b"2\r\n{}\r\n0\r\n\r\n" if "chunked" in framing else b"{}"
        sock.sendall(head.encode() + framing.encode() + b"\r\n" + body + SMUGGLED)
        answer = read_answer(sock)  # ends: the server closed the connection
        assert status_of(answer) == 400
        assert answer.count(b"HTTP/1.1 ") == 1
        assert b"thread_smuggled" not in answer
        assert [r.path for r in emu.requests] == []


def test_a_repeated_identical_content_length_is_one_request() -> None:
    with Emulator() as emu, socket.create_connection((emu.host, emu.port), timeout=5) as sock:
        sock.sendall(post_head(2, key=None, extra="Content-Length: 2\r\n") + b"{}")
        answer = read_answer(sock)
        assert status_of(answer) == 200
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["object"] == "thread"


# -- connections -----------------------------------------------------------------------------


def test_a_burst_of_64_connections_is_queued_at_once_while_nobody_accepts() -> None:
    assert DEFAULT_BACKLOG >= 128
    emu = Emulator()
    server = WSGIServer(emu.app, "127.0.0.1", 0)  # listening, not accepting
    sockets = []
    try:
        for _ in range(64):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
            sockets.append(sock)
        # A connection the queue had no room for waits for a SYN retry, a second later.
        pending = set(sockets)
        wait_until = time.monotonic() + 0.5
        while pending and time.monotonic() < wait_until:
            _, writable, _ = select.select([], list(pending), [], 0.05)
            pending -= set(writable)
        assert not pending, f"{len(pending)} of 64 connections were not queued"
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for s in sockets)
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
        emu.api.close()
        emu.store.close()


def test_past_max_connections_a_connection_gets_a_503_and_the_client_retry_gets_through() -> None:
    with Emulator(max_connections=2) as emu:
        idle = [socket.create_connection((emu.host, emu.port)) for _ in range(2)]
        try:
            wait_until = time.monotonic() + 5
            while emu._server is not None and emu._server.active_connections < 2:
                assert time.monotonic() < wait_until
                time.sleep(0.01)
            response = requests.get(f"{emu.base_url}/assistants", timeout=5)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            assert response.headers["Connection"] == "close"

            def free_one(seconds: float) -> None:  # the client's wait before its retry
                idle.pop().close()
                time.sleep(0.2)

            client = AssistantsClient(
                base_url=emu.base_url, retry_policy=RetryPolicy(sleep=free_one), max_retries=2
            )
            with client:
                assert client.list_assistants().data == []
            assert emu.request_count == 1  # the 503s were answered before the application
        finally:
            for sock in idle:
                sock.close()


def test_an_idle_connection_is_closed_after_the_idle_timeout() -> None:
    emu = Emulator()
    server = WSGIServer(emu.app, "127.0.0.1", 0, idle_timeout=0.5).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""  # closed by the server
            assert time.monotonic() - started < 0.5 + 1
        wait_until = time.monotonic() + 2
        while server.active_connections and time.monotonic() < wait_until:
            time.sleep(0.01)
        assert server.active_connections == 0
    finally:
        server.stop()
        emu.api.close()
        emu.store.close()


def test_threads_held_by_idle_connections_are_bounded_by_max_connections() -> None:
    with Emulator(max_connections=8) as emu:
        before = threading.active_count()
        idle = [socket.create_connection((emu.host, emu.port)) for _ in range(40)]
        try:
            time.sleep(0.3)
            assert emu._server is not None and emu._server.active_connections == 8
            assert threading.active_count() - before <= 8
        finally:
            for sock in idle:
                sock.close()
