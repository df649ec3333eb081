"""Requests framed in a way a proxy could read differently get a 400 (or 501, 505), and the
connection is closed: the bytes after them are never served as a second request.

Each case is sent with a second, smuggled request behind it. Against gunicorn the same cases
run, and where gunicorn answers otherwise the case says so (``gunicorn=``): it accepts
``gzip, chunked`` (and hands the application a body still gzip-encoded), a fragment, and an
HTTP/1.1 request without Host, and it refuses an identical repeated Content-Length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from .conftest import GUNICORN, OURS, Target, request

SMUGGLED = b"GET /v1/threads/thread_smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
JSON = "Content-Type: application/json"
REFUSALS = {400, 501, 505}


def post(*lines: str, body: bytes = b"{}") -> bytes:
    return request("POST", "/v1/threads", JSON, *lines, body=body)


def chunked(size_line: bytes, data: bytes = b"{}") -> bytes:
    return post("Transfer-Encoding: chunked", body=size_line + b"\r\n" + data + b"\r\n0\r\n\r\n")


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    status: int = 400
    gunicorn: int | None = None  # where gunicorn answers otherwise

    def expected(self, kind: str) -> int:
        return self.gunicorn if kind == GUNICORN and self.gunicorn is not None else self.status


REFUSED = [
    Case("whitespace before the colon", post("Content-Length : 2")),
    Case("a header line without a colon", request("GET", "/v1/assistants", "NoColonHere")),
    Case(
        "a bare CR inside a header value",
        request("GET", "/v1/assistants", "X-Note: a\rAuthorization: Bearer K"),
    ),
    Case("an obs-fold continuation line", request("GET", "/v1/assistants", "X-Note: a", " b")),
    Case("a control character in a value", request("GET", "/v1/assistants", "X-Note: a\x01b")),
    Case("a bare LF ending a line", b"GET /v1/assistants HTTP/1.1\nHost: x\n\n"),
    Case("chunk size 0x2", chunked(b"0x2")),
    Case("chunk size +2", chunked(b"+2")),
    Case("chunk size 0_2", chunked(b"0_2")),
    Case("chunk size with a leading space", chunked(b" 2")),
    Case("chunk size with a trailing space", chunked(b"2 ")),
    Case("a chunk extension that is not name=value", chunked(b"2;a b")),
    Case("a bare CR in a chunk extension", chunked(b"2;a\rb")),
    Case("chunk data not followed by CRLF", post("Transfer-Encoding: chunked", body=b"2\r\n{}XX")),
    # The byte 0xB2 is '²' in Latin-1, which str.isdigit() calls a digit and int() refuses.
    Case("Content-Length in superscript digits", post("Content-Length: \u00b2")),
    Case("Content-Length with a sign", post("Content-Length: +2")),
    Case(
        "Content-Length and Transfer-Encoding",
        post("Content-Length: 2", "Transfer-Encoding: chunked", body=b"2\r\n{}\r\n0\r\n\r\n"),
    ),
    Case(
        "two different Content-Length values",
        post("Content-Length: 2", f"Content-Length: {2 + len(SMUGGLED)}"),
    ),
    Case(
        "Content-Length as a list of different values",
        post(f"Content-Length: 2, {2 + len(SMUGGLED)}"),
    ),
    Case(
        "an unknown transfer coding before chunked",
        post("Transfer-Encoding: foo, chunked", body=b"2\r\n{}\r\n0\r\n\r\n"),
        status=501,
    ),
    Case(
        "gzip before chunked",
        post("Transfer-Encoding: gzip, chunked", body=b"2\r\n{}\r\n0\r\n\r\n"),
        gunicorn=200,
    ),
    Case(
        "chunked not the last coding",
        post("Transfer-Encoding: chunked, gzip", body=b"2\r\n{}\r\n0\r\n\r\n"),
    ),
    Case("a transfer coding without chunked", post("Transfer-Encoding: foo"), gunicorn=501),
    Case(
        "chunked twice",
        post("Transfer-Encoding: chunked", "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    ),
    Case(
        "Transfer-Encoding in HTTP/1.0",
        request(
            "POST",
            "/v1/threads",
            JSON,
            "Transfer-Encoding: chunked",
            body=b"2\r\n{}\r\n0\r\n\r\n",
            version="HTTP/1.0",
        ),
    ),
    Case("two spaces in the request line", request("GET", " /v1/assistants")),
    Case("a tab in the request line", b"GET\t/v1/assistants HTTP/1.1\r\nHost: x\r\n\r\n"),
    Case("a lower-case version", request("GET", "/v1/assistants", version="http/1.1")),
    Case("a fourth word in the request line", request("GET", "/v1/assistants HTTP/1.1 x")),
    Case("a target without a slash", request("GET", "v1/assistants")),
    Case("a target with a fragment", request("GET", "/v1/assistants#top"), gunicorn=200),
    Case("a version 2.0 request", request("GET", "/v1/assistants", version="HTTP/2.0"), 505, 400),
    # gunicorn serves it: the application answers 401, as no key came either.
    Case("HTTP/1.1 without Host", b"GET /v1/assistants HTTP/1.1\r\n\r\n", gunicorn=401),
    Case("two Host headers", request("GET", "/v1/assistants", "Host: elsewhere")),
    Case("binary instead of a request", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[case.name for case in REFUSED])
def test_an_ambiguous_request_is_refused_and_the_connection_closed(
    target: Target, case: Case
) -> None:
    answer = target.exchange(case.data + SMUGGLED)
    expected = case.expected(target.kind)
    assert answer.status == expected, answer.data[:300]
    if expected in REFUSALS:
        assert answer.ending in ("closed", "reset"), answer  # no second request is read
        assert len(answer.body) == int(answer.header("Content-Length") or -1)  # one answer
        assert b"thread_smuggled" not in answer.data
    if target.kind == OURS:
        error = json.loads(answer.body)["error"]
        assert error["type"] == "invalid_request_error" or expected >= 500
        assert answer.header("Connection") == "close"


def test_content_length_in_other_digits_is_a_400_not_a_traceback(ours: Target) -> None:
    for digits in ("\u00b2", "\u00b9\u00b2", "\u00bd"):  # as Latin-1 bytes: ², ¹², ½
        answer = ours.exchange(post(f"Content-Length: {digits}"))
        assert answer.status == 400
        assert json.loads(answer.body)["error"]["param"] == "Content-Length"
    assert "Traceback" not in ours.log_text()


ACCEPTED = [
    Case(
        "a repeated identical Content-Length",
        post("Content-Length: 2", "Content-Length: 2"),
        status=200,
        gunicorn=400,
    ),
    Case(
        "chunk extensions, quoted and not, and a trailer",
        post(
            "Transfer-Encoding: chunked",
            body=b'2 ; name=value;other="a \\"quoted\\" one"\r\n{}\r\n0;last\r\nX-Trailer: t\r\n\r\n',
        ),
        status=200,
    ),
    Case(
        "an upper-case hex chunk size with leading zeros",
        post(
            "Transfer-Encoding: chunked",
            body=b'0002F\r\n{"metadata": {"a": "bcdefghijklmnopqrstuvwxy"}}\r\n0\r\n\r\n',
        ),
        status=200,
    ),
    Case("an empty line before the request line", b"\r\n" + request(), status=200),
    Case("the absolute form", request("GET", "http://127.0.0.1/v1/assistants"), status=200),
    Case(
        "HTTP/1.0 without Host",
        b"GET /v1/assistants HTTP/1.0\r\nAuthorization: Bearer sk-wrong\r\n\r\n",
        status=401,
    ),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.name for case in ACCEPTED])
def test_what_the_grammar_allows_is_served(target: Target, case: Case) -> None:
    data = case.data.replace(b"\r\nHost:", b"\r\nConnection: close\r\nHost:", 1)
    answer = target.exchange(data)
    assert answer.status == case.expected(target.kind), answer.data[:300]
    assert answer.ending == "closed"
