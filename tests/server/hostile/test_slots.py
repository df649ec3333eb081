"""Connections and threads cannot be taken by clients that send nothing, or send slowly.

Against the built-in server, and what gunicorn (gthread) does with the same clients:

* 1,000 idle connections: a request is still answered at once; gunicorn gives each new
  connection a thread for up to 5 s while it waits for data, so the request waits behind them.
* a head trickled a byte every 2 s is cut off (408) at the header deadline; gunicorn waits.
* a head over 32 KiB is a 431; gunicorn takes up to 100 fields of 8 KiB each.
* an unauthenticated 64 MiB body is not read: 401, then the connection closes (gunicorn too).
* past ``--max-connections`` the connection idle for longest makes room, and a connection
  refused meanwhile gets a 503 it can retry; gunicorn stops accepting.
* past ``--threads`` a request gets a 503 at once; gunicorn queues it until a thread is free.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from assistants_client.server.httpd import EVICTABLE_AFTER, WSGIServer
from tests.server.hostile import echo

from .conftest import (
    CLIENT_KEY,
    GUNICORN,
    OURS,
    Gate,
    Target,
    read_answer,
    request,
    serving_gunicorn,
    serving_ours,
    wait_for,
)

AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}
# The bound the issue sets for an answer while the idle connections are open.
ANSWER_WITHIN = 2.0
MiB = 1 << 20


@contextlib.contextmanager
def idle_connections(target: Target, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that never send a byte."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((target.host, target.port))
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def answers(target: Target) -> bool:
    try:
        return requests.get(f"{target.base_url}/assistants", headers=AUTH, timeout=1).ok
    except requests.RequestException:
        return False


def test_a_request_is_answered_while_a_thousand_idle_connections_are_open(
    target: Target,
) -> None:
    url = f"{target.base_url}/assistants"
    with idle_connections(target, 1000) as idle:
        time.sleep(0.5)  # they are accepted (or queued) by now
        if target.kind == GUNICORN:
            with pytest.raises(requests.Timeout):
                requests.get(url, headers=AUTH, timeout=ANSWER_WITHIN)
        else:
            assert requests.get(url, headers=AUTH, timeout=ANSWER_WITHIN).status_code == 200
            assert not any(closed_by_server(sock) for sock in idle)
    wait_for(lambda: answers(target))


def test_a_head_trickled_a_byte_every_two_seconds_is_cut_off_at_the_deadline(
    ours: Target, gunicorn: Target
) -> None:
    data = request()
    outcomes: dict[str, tuple[int, bytes, str]] = {}

    def trickle(target: Target, until: threading.Event) -> None:
        with target.connect(timeout=2.0) as sock:
            sent = 0
            while sent < len(data) and not until.is_set():
                sock.sendall(data[sent : sent + 1])
                sent += 1
                answer = read_answer(sock)  # 2 s of silence, or the server's answer and close
                if answer.ending != "open" or answer.data:
                    outcomes[target.kind] = (sent, answer.data, answer.ending)
                    return
            outcomes[target.kind] = (sent, b"", "open")

    ours_done, gunicorn_done = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=trickle, args=(ours, ours_done)),
        threading.Thread(target=trickle, args=(gunicorn, gunicorn_done)),
    ]
    for thread in threads:
        thread.start()
    threads[0].join(timeout=30)
    time.sleep(4)  # gunicorn gets twice as long again as the deadline it was not held to
    gunicorn_done.set()
    threads[1].join(timeout=30)

    sent, answer, ending = outcomes[OURS]
    assert sent < len(data) // 4, "the head was read to its end"
    assert answer.startswith(b"HTTP/1.1 408 ") and ending == "closed"
    sent, answer, ending = outcomes[GUNICORN]
    assert (answer, ending) == (b"", "open")  # still reading the head, a byte at a time
    assert sent > outcomes[OURS][0]


def big_head(size: int) -> bytes:
    lines = [f"X-Filler-{n}: {'a' * 1000}" for n in range(size // 1016)]
    return request("GET", "/v1/assistants", "Connection: close", *lines)


def test_a_head_over_32_kib_is_a_431(target: Target) -> None:
    assert target.exchange(big_head(30 * 1024)).status == 200
    refused = target.exchange(big_head(40 * 1024))
    if target.kind == GUNICORN:
        assert refused.status == 200  # its bound: 100 fields of up to 8 KiB each
        return
    assert refused.status == 431
    assert refused.ending == "closed"


def test_an_unauthenticated_64_mib_body_is_answered_401_and_not_read(target: Target) -> None:
    length = 64 * MiB
    head = request("POST", "/v1/threads", "Content-Type: application/json", key=None)
    head = head.replace(b"\r\n\r\n", f"\r\nContent-Length: {length}\r\n\r\n".encode())
    with target.connect(timeout=5) as sock:
        sock.sendall(head)
        pushed = 0
        piece = b"x" * MiB
        with contextlib.suppress(OSError):  # the server closed the connection
            while pushed < length:
                sock.sendall(piece)
                pushed += len(piece)
        answer = read_answer(sock)
    assert answer.status == 401
    assert pushed < length // 4, f"{pushed >> 20} MiB of the body were taken"
    assert answer.ending in ("closed", "reset")
    if target.kind == OURS:
        assert answer.header("Connection") == "close"


@pytest.fixture
def small_ours(hostile_backend, tmp_path: Path) -> Iterator[Target]:
    with serving_ours(hostile_backend.base_url, tmp_path, "--max-connections", "32") as target:
        yield target


@pytest.fixture
def small_gunicorn(hostile_backend, tmp_path: Path) -> Iterator[Target]:
    app = "assistants_client.server:wsgi_app()"
    # More threads than connections: what stops it is the connection bound, not the threads.
    flags = ("--worker-connections", "32", "--threads", "64")
    with serving_gunicorn(app, tmp_path, *flags, backend_url=hostile_backend.base_url) as target:
        yield target


def test_past_max_connections_the_longest_idle_one_makes_room(small_ours: Target) -> None:
    with idle_connections(small_ours, 32) as idle:
        time.sleep(0.2)
        busy = requests.get(f"{small_ours.base_url}/assistants", headers=AUTH, timeout=5)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        time.sleep(EVICTABLE_AFTER + 0.2)
        served = requests.get(f"{small_ours.base_url}/assistants", headers=AUTH, timeout=5)
        assert served.status_code == 200
        assert sum(closed_by_server(sock) for sock in idle) == 1


def test_past_worker_connections_gunicorn_stops_accepting(small_gunicorn: Target) -> None:
    with idle_connections(small_gunicorn, 32):
        time.sleep(0.2)
        with pytest.raises(requests.Timeout):
            requests.get(f"{small_gunicorn.base_url}/assistants", headers=AUTH, timeout=3)
    wait_for(lambda: answers(small_gunicorn))


def hold_a_thread(target: Target, gate: Gate) -> tuple[socket.socket, socket.socket]:
    """A request that holds a thread until a byte is sent on the gate it returns."""
    sock = target.connect()
    sock.sendall(request("GET", gate.path(1), "Connection: close", key=None))
    return sock, gate.wait()


def test_past_threads_a_request_is_answered_503_at_once(gate: Gate) -> None:
    server = WSGIServer(echo.app, "127.0.0.1", 0, threads=2).start()
    target = Target(OURS, server.port)
    try:
        held = [hold_a_thread(target, gate), hold_a_thread(target, gate)]
        refused = target.exchange(request("GET", "/environ", key=None))
        assert refused.status == 503
        assert refused.header("Retry-After") == "1"
        held[0][1].sendall(b"x")  # its answer ends, and the thread is free again
        assert read_answer(held[0][0]).body == b"8\r\npiece 0\n\r\n0\r\n\r\n"
        again = request("GET", "/environ", "Connection: close", key=None)
        wait_for(lambda: target.exchange(again).status == 200)
        for sock, _ in held:
            sock.close()
    finally:
        server.stop()


def test_past_threads_gunicorn_queues_the_request(tmp_path: Path, gate: Gate) -> None:
    with serving_gunicorn("tests.server.hostile.echo:app", tmp_path, "--threads", "2") as target:
        held = [hold_a_thread(target, gate), hold_a_thread(target, gate)]
        with target.connect(timeout=1) as waiting:
            waiting.sendall(request("GET", "/environ", "Connection: close", key=None))
            assert read_answer(waiting).data == b""  # no thread: no answer yet
            held[0][1].sendall(b"x")
            waiting.settimeout(5)
            assert read_answer(waiting).status == 200
        for sock, _ in held:
            sock.close()


def test_keep_alive_connections_waiting_for_a_request_hold_no_thread() -> None:
    server = WSGIServer(echo.app, "127.0.0.1", 0, threads=2).start()
    target = Target(OURS, server.port)
    kept = []
    try:
        for _ in range(20):
            sock = target.connect()
            sock.sendall(request("GET", "/environ", key=None))
            head = sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 ")
            kept.append(sock)
        assert server.active_connections == 20
        answer = target.exchange(request("GET", "/environ", "Connection: close", key=None))
        assert answer.status == 200
    finally:
        for sock in kept:
            sock.close()
        server.stop()
