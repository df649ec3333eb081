"""Hostile requests get OpenAI-shaped errors from the emulator, never a 500 or a dropped line.

Complements ``tests/emulator/test_robustness.py`` (one endpoint, well-formed framing) with:
every POST endpoint fed malformed JSON, a wrong content type or a non-object; every path with
a method it does not allow; request framing that lies (bad or negative Content-Length, broken
chunked encoding, a body shorter than announced, a body far over the limit); binary garbage,
unknown methods, huge URLs and header floods; and bodies that are valid JSON but nested
deeply enough to exhaust a recursive parser or validator.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from assistants_client.emulator import Emulator
from tests.emulator.spec_tools import assert_valid

POST_PATHS = [
    "/assistants",
    "/assistants/asst_x",
    "/threads",
    "/threads/thread_x",
    "/threads/thread_x/messages",
    "/threads/thread_x/messages/msg_x",
    "/threads/runs",
    "/threads/thread_x/runs",
    "/threads/thread_x/runs/run_x",
    "/threads/thread_x/runs/run_x/cancel",
    "/threads/thread_x/runs/run_x/submit_tool_outputs",
]
BODY_PATHS = [p for p in POST_PATHS if not p.endswith("/cancel")]  # cancel takes no body
GET_ONLY_PATHS = [
    "/threads/thread_x/runs/run_x/steps",
    "/threads/thread_x/runs/run_x/steps/step_x",
]
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(max_body_bytes=64 * 1024) as emu:
        yield emu


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as made:
        yield made


def api_error(status: int, headers: Any, body: bytes, expected: int) -> dict[str, Any]:
    """The error object of an answer, after checking it has the API's shape."""
    assert status == expected, body[:300]
    assert headers["Content-Type"] == "application/json"
    assert headers["x-request-id"].startswith("req_")
    payload = json.loads(body)
    assert_valid("ErrorResponse", payload)
    return payload["error"]  # type: ignore[no-any-return]


def checked(response: requests.Response, expected: int) -> dict[str, Any]:
    return api_error(response.status_code, response.headers, response.content, expected)


def raw_exchange(emulator: Emulator, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, half-close, and parse the one answer (it must be complete)."""
    with socket.create_connection((emulator.host, emulator.port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, separator, body = reply.partition(b"\r\n\r\n")
    assert separator, f"no complete answer: {reply[:200]!r}"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    length = int(headers["Content-Length"])
    assert len(body) == length, "the answer was cut off"
    return int(status_line.split()[1]), headers, body


def post_raw(path: str, extra_headers: str, body: bytes = b"") -> bytes:
    return (
        f"POST /v1{path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{extra_headers}\r\n"
    ).encode() + body


# -- every endpoint ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", POST_PATHS)
def test_every_post_endpoint_answers_malformed_json_with_a_400(
    emulator: Emulator, session: requests.Session, path: str
) -> None:
    response = session.post(emulator.base_url + path, data=b'{"metadata": {', headers=JSON)
    assert checked(response, 400)["code"] == "invalid_json"


@pytest.mark.parametrize("path", POST_PATHS)
def test_every_post_endpoint_answers_a_form_body_with_a_415(
    emulator: Emulator, session: requests.Session, path: str
) -> None:
    response = session.post(emulator.base_url + path, data={"model": "gpt-4o"})
    assert checked(response, 415)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", BODY_PATHS)
@pytest.mark.parametrize(
    "body", [b"[]", b'"text"', b"42", b"true"], ids=["list", "str", "int", "bool"]
)
def test_every_post_endpoint_answers_a_non_object_body_with_a_400(
    emulator: Emulator, session: requests.Session, path: str, body: bytes
) -> None:
    response = session.post(emulator.base_url + path, data=body, headers=JSON)
    assert checked(response, 400)["param"] == "body"


@pytest.mark.parametrize("path", POST_PATHS + GET_ONLY_PATHS)
def test_every_path_answers_a_method_it_does_not_allow_with_a_405(
    emulator: Emulator, session: requests.Session, path: str
) -> None:
    response = session.patch(emulator.base_url + path, json={})
    assert checked(response, 405)["code"] == "method_not_allowed"
    assert response.headers["Allow"]


# -- lying framing -----------------------------------------------------------------------------


@pytest.mark.parametrize("length", ["abc", "-5", "1e3"])
def test_an_unreadable_content_length_is_a_400(emulator: Emulator, length: str) -> None:
    status, headers, body = raw_exchange(
        emulator, post_raw("/threads", f"Content-Length: {length}\r\n", b"{}")
    )
    assert api_error(status, headers, body, 400)["param"] == "Content-Length"


def test_broken_chunked_framing_is_a_400(emulator: Emulator) -> None:
    request = post_raw("/threads", "Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n")
    status, headers, body = raw_exchange(emulator, request)
    api_error(status, headers, body, 400)


def test_a_chunked_body_over_the_limit_is_a_413(
    emulator: Emulator, session: requests.Session
) -> None:
    pieces = iter([b'{"metadata": {"a": "', b"x" * (128 * 1024), b'"}}'])
    response = session.post(emulator.base_url + "/threads", data=pieces, headers=JSON)
    assert checked(response, 413)["code"] == "request_too_large"


def test_a_content_length_far_over_the_limit_is_answered_before_the_body_is_sent(
    emulator: Emulator,
) -> None:
    request = post_raw("/threads", "Content-Length: 1000000000\r\n", b'{"meta')
    status, headers, body = raw_exchange(emulator, request)
    assert api_error(status, headers, body, 413)["code"] == "request_too_large"


def test_a_body_shorter_than_its_content_length_is_not_run(emulator: Emulator) -> None:
    before = len(list(emulator.store.iter_kind("thread", project="")))
    request = post_raw("/threads", "Content-Length: 50\r\n", b"{}")
    status, headers, body = raw_exchange(emulator, request)
    assert len(list(emulator.store.iter_kind("thread", project=""))) == before
    api_error(status, headers, body, 400)


# -- garbage -----------------------------------------------------------------------------------


def test_binary_garbage_instead_of_a_request_gets_a_json_400(emulator: Emulator) -> None:
    tls_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64)
    status, headers, body = raw_exchange(emulator, tls_hello)
    api_error(status, headers, body, 400)


def test_an_unknown_http_method_gets_a_json_501(
    emulator: Emulator, session: requests.Session
) -> None:
    checked(session.request("BREW", emulator.base_url + "/assistants"), 501)


def test_a_huge_url_gets_a_json_414(emulator: Emulator, session: requests.Session) -> None:
    checked(session.get(emulator.base_url + "/assistants/" + "a" * 70_000), 414)


def test_a_flood_of_headers_gets_a_json_431(emulator: Emulator, session: requests.Session) -> None:
    headers = {f"X-Flood-{i}": "v" for i in range(150)}
    checked(session.get(emulator.base_url + "/assistants", headers=headers), 431)


@pytest.mark.parametrize(
    "body",
    [b'{"metadata": {"a": "\xff\xfe"}}', b'{"metadata": {"a": ' + b"9" * 5000 + b"}}"],
    ids=["invalid-utf8", "5000-digit-int"],
)
def test_json_that_python_cannot_decode_is_a_400(
    emulator: Emulator, session: requests.Session, body: bytes
) -> None:
    checked(session.post(emulator.base_url + "/threads", data=body, headers=JSON), 400)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/threads", b"[" * 20_000),
        ("/threads", b'{"metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001),
        ("/assistants", b'{"model": "gpt-4o", "tools": ' + b"[" * 900 + b"]" * 900 + b"}"),
    ],
    ids=["parser", "parser-objects", "validator"],
)
def test_deeply_nested_json_is_a_400(
    emulator: Emulator, session: requests.Session, path: str, body: bytes
) -> None:
    checked(session.post(emulator.base_url + path, data=body, headers=JSON), 400)


def test_the_emulator_still_answers_normally_after_all_this(
    emulator: Emulator, session: requests.Session
) -> None:
    response = session.post(emulator.base_url + "/threads", json={"metadata": {"k": "v"}})
    assert response.status_code == 200
    assert response.json()["metadata"] == {"k": "v"}
