"""What a server hands the application, and how it writes the answer back.

* A streamed answer to an HTTP/1.0 request is delimited by the end of the connection, never
  chunked (RFC 9112 section 6.1): an HTTP/1.0 client cannot read chunks.
* ``RAW_URI`` is the request target as it arrived, undecoded, as gunicorn sets it; ``PATH_INFO``
  is decoded once (PEP 3333), so ``%2F`` there is a slash and only ``RAW_URI`` can tell.
* Each piece the application yields reaches the client whole (chunk line, data, CRLF) before
  the application makes the next one.

Gunicorn holds all three; the absolute form is where it differs: it keeps the Host header
where the built-in server takes the target's authority (RFC 9112 section 3.2.2).
"""

from __future__ import annotations

import json
import socket

import requests

from tests.server.hostile.echo import piece

from .conftest import CLIENT_KEY, GUNICORN, Gate, Target, request

AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}


def test_a_streamed_answer_to_http_1_0_is_close_delimited(target: Target) -> None:
    assistant = requests.post(
        f"{target.base_url}/assistants", json={"model": "gpt-4o"}, headers=AUTH, timeout=10
    ).json()
    body = json.dumps(
        {
            "assistant_id": assistant["id"],
            "stream": True,
            "thread": {"messages": [{"role": "user", "content": "Say this back."}]},
        }
    ).encode()
    answer = target.exchange(
        request(
            "POST",
            "/v1/threads/runs",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            body=body,
            version="HTTP/1.0",
        )
    )
    assert answer.status == 200
    assert answer.header("Transfer-Encoding") is None
    assert answer.header("Content-Length") is None
    assert answer.ending == "closed"
    assert answer.body.startswith(b"event: thread.created\n")
    assert answer.body.endswith(b"event: done\ndata: [DONE]\n\n")
    events = [line for line in answer.body.split(b"\n") if line.startswith(b"event: ")]
    assert b"event: thread.message.delta" in events
    assert b"event: thread.run.completed" in events


def environ_of(target: Target, raw_target: str, *lines: str) -> dict[str, object]:
    answer = target.exchange(request("GET", raw_target, "Connection: close", *lines, key=None))
    assert answer.status == 200, answer.data[:300]
    return json.loads(answer.body)  # type: ignore[no-any-return]


def test_raw_uri_is_the_target_undecoded_and_path_info_is_decoded_once(
    echo_target: Target,
) -> None:
    seen = environ_of(echo_target, "/v1/threads/thread_x%2Fmessages/%2541?after=a%26b")
    assert seen["RAW_URI"] == "/v1/threads/thread_x%2Fmessages/%2541?after=a%26b"
    assert seen["PATH_INFO"] == "/v1/threads/thread_x/messages/%41"
    assert seen["QUERY_STRING"] == "after=a%26b"


def test_the_absolute_form_routes_on_its_path(echo_target: Target) -> None:
    seen = environ_of(echo_target, "http://api.example:8000/v1/threads%2Fx?q=1")
    assert seen["RAW_URI"] == "http://api.example:8000/v1/threads%2Fx?q=1"
    assert seen["PATH_INFO"] == "/v1/threads/x"
    assert seen["QUERY_STRING"] == "q=1"
    expected_host = "127.0.0.1" if echo_target.kind == GUNICORN else "api.example:8000"
    assert seen["HTTP_HOST"] == expected_host


def test_a_header_name_with_an_underscore_does_not_pass_for_a_dashed_one(
    echo_target: Target,
) -> None:
    seen = environ_of(echo_target, "/", "X_Forwarded_For: 10.0.0.1", "X-Real: 1")
    assert "HTTP_X_FORWARDED_FOR" not in seen["headers"]  # type: ignore[operator]
    assert "HTTP_X_REAL" in seen["headers"]  # type: ignore[operator]


def read_chunk(sock: socket.socket, pending: bytearray) -> bytes:
    """One whole chunk of a chunked answer (its data), reading only as much as it needs."""
    while b"\r\n" not in pending:
        pending += sock.recv(4096)
    line, _, rest = bytes(pending).partition(b"\r\n")
    size = int(line, 16)
    while len(rest) < size + 2:
        rest += sock.recv(4096)
    assert rest[size : size + 2] == b"\r\n"
    pending[:] = rest[size + 2 :]
    return rest[:size]


def test_each_piece_reaches_the_client_whole_before_the_next_is_made(
    echo_target: Target, gate: Gate
) -> None:
    count = 5
    with echo_target.connect(timeout=5) as sock:
        sock.sendall(request("GET", gate.path(count), key=None))
        pieces = gate.wait()
        pending = bytearray()
        for number in range(count):
            pieces.sendall(b"x")  # lets the application make the next piece
            if number == 0:
                while b"\r\n\r\n" not in pending:
                    pending += sock.recv(4096)
                head, _, rest = bytes(pending).partition(b"\r\n\r\n")
                assert b"transfer-encoding: chunked" in head.lower()
                pending[:] = rest
            assert read_chunk(sock, pending) == piece(number)
        assert read_chunk(sock, pending) == b""  # the last chunk
        assert not pending
