"""The built-in server's side of WSGI, with small applications, over real sockets.

The hostile suite (``tests/server/hostile``) attacks it from outside; these check what it owes
an application and a well-behaved client: requests sent back to back are answered in order,
``Expect: 100-continue`` is answered only when the body is wanted, the head waits for the first
bytes of the body, an application that breaks its own framing or fails cannot leave a client
waiting, and ``stop()`` lets go of everything.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from assistants_client.server.httpd import WSGIServer

App = Callable[[dict[str, Any], Callable[..., Any]], Any]
BOUND = 5.0


def echo_body(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Answers with the body it read, and the method and path."""
    body = environ["wsgi.input"].read()
    answer = json.dumps(
        {"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"], "body": body.decode()}
    ).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))]
    )
    return [answer]


@pytest.fixture
def serve() -> Iterator[Callable[[App], WSGIServer]]:
    started: list[WSGIServer] = []

    def start(app: App) -> WSGIServer:
        server = WSGIServer(app, "127.0.0.1", 0).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def connect(server: WSGIServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=BOUND)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_requests_sent_back_to_back_are_answered_in_order(serve) -> None:
    server = serve(echo_body)
    with connect(server) as sock:
        sock.sendall(
            b"POST /one HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n"
            b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ndef"
            b"GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = read_all(sock)
    bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in data.split(b"HTTP/1.1 ")[1:]]
    assert [(b["path"], b["body"]) for b in bodies] == [
        ("/one", "abc"),
        ("/two", "def"),
        ("/three", ""),
    ]


def test_100_continue_is_sent_when_the_application_reads_the_body(serve) -> None:
    server = serve(echo_body)
    with connect(server) as sock:
        sock.sendall(
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b'"body": "hello"}')


def test_no_100_continue_when_the_application_answers_without_the_body(serve) -> None:
    def refuse(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("401 Unauthorized", [("Content-Length", "0")])
        return []

    server = serve(refuse)
    with connect(server) as sock:
        sock.sendall(
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = read_all(sock)  # and the server closes: the body will not be read
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b"100 Continue" not in answer
    assert b"\r\nConnection: close\r\n" in answer


def test_the_head_waits_for_the_first_bytes_of_the_body(serve) -> None:
    go = threading.Event()

    def late(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        go.wait(BOUND)
        yield b"now"

    server = serve(late)
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        go.set()
        sock.settimeout(BOUND)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"3\r\nnow\r\n0\r\n\r\n")


def test_an_answer_shorter_than_its_content_length_ends_the_connection(serve) -> None:
    def short(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "10")])
        return [b"abc"]

    server = serve(short)
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_all(sock)  # does not wait for 7 more bytes: the server closed
    assert answer.endswith(b"\r\n\r\nabc")


@pytest.mark.parametrize(
    "header",
    [("X-Split", "a\r\nSet-Cookie: stolen=1"), ("Bad Name", "v"), ("X-Nul", "a\0b")],
    ids=["crlf in a value", "space in a name", "nul in a value"],
)
def test_a_header_that_would_split_the_answer_is_a_500(serve, header: tuple[str, str]) -> None:
    def splitting(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [header, ("Content-Length", "0")])
        return []

    server = serve(splitting)
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 500 ")
    assert b"stolen" not in answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["type"] == "server_error"


def test_an_application_failing_mid_answer_ends_the_connection(serve) -> None:
    def failing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise RuntimeError("broken")

    server = serve(failing)
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_all(sock)
    assert b"7\r\npartial\r\n" in answer
    assert not answer.endswith(b"0\r\n\r\n")  # no last chunk: the client sees it was cut


def test_head_answers_carry_no_body(serve) -> None:
    server = serve(echo_body)
    with connect(server) as sock:
        sock.sendall(b"HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: " in head
    assert body == b""


def test_stop_closes_idle_connections_and_releases_the_port(serve) -> None:
    server = serve(echo_body)
    idle = connect(server)
    idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(65536).startswith(b"HTTP/1.1 200 ")
    server.stop()
    assert idle.recv(1) == b""
    with socket.create_server(("127.0.0.1", server.port)):  # the port is free to listen on
        pass
    idle.close()
