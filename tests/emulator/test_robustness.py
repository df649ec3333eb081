"""Bad requests get OpenAI-shaped JSON errors, never a 500 or a dropped connection."""

from __future__ import annotations

import socket
from typing import Any

import requests

from assistants_client.emulator import Emulator

from .conftest import Api
from .spec_tools import assert_valid


def _error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert_valid("ErrorResponse", body)
    return body["error"]  # type: ignore[no-any-return]


def test_malformed_json_is_a_400(api: Api) -> None:
    response = api.session.post(
        api.base + "/threads", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert _error(response, 400)["code"] == "invalid_json"


def test_a_non_json_content_type_is_a_415(api: Api) -> None:
    response = api.session.post(
        api.base + "/threads",
        data=b"a=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert _error(response, 415)["code"] == "unsupported_media_type"


def test_a_json_body_that_is_not_an_object_is_a_400(api: Api) -> None:
    response = api.session.post(api.base + "/threads", json=[1, 2])
    assert _error(response, 400)["param"] == "body"


def test_a_body_over_the_limit_is_a_413_and_the_connection_stays_usable(api: Api) -> None:
    big = b'{"metadata": {"a": "' + b"x" * (4 * 1024 * 1024) + b'"}}'
    response = api.session.post(
        api.base + "/threads", data=big, headers={"Content-Type": "application/json"}
    )
    assert _error(response, 413)["code"] == "request_too_large"
    assert api.session.get(api.base + "/assistants").status_code == 200


def test_the_body_limit_is_configurable() -> None:
    with Emulator(max_body_bytes=100) as emu:
        response = requests.post(
            emu.base_url + "/threads", json={"metadata": {"a": "x" * 200}}, timeout=5
        )
        assert _error(response, 413)["message"].endswith("limit of 100 bytes.")


def test_unknown_paths_are_404_and_wrong_methods_are_405(api: Api) -> None:
    assert _error(api.session.get(api.base + "/fine_tuning/jobs"), 404)["code"] == "unknown_url"
    assert _error(api.session.get(api.emulator.url + "/"), 404)["code"] == "unknown_url"
    wrong = api.session.put(api.base + "/assistants", json={})
    assert _error(wrong, 405)["code"] == "method_not_allowed"
    assert wrong.headers["Allow"] == "GET, POST"
    assert _error(api.session.delete(api.base + "/threads"), 405)["code"] == "method_not_allowed"


def test_a_chunked_request_body_is_accepted(api: Api) -> None:
    def parts() -> Any:
        yield b'{"metadata": '
        yield b'{"k": "v"}}'

    response = api.session.post(
        api.base + "/threads", data=parts(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["metadata"] == {"k": "v"}


def test_keep_alive_reuses_one_connection_for_many_requests(api: Api) -> None:
    with socket.create_connection((api.emulator.host, api.emulator.port), timeout=5) as sock:
        stream = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(b"GET /v1/assistants HTTP/1.1\r\nHost: x\r\n\r\n")
            status = stream.readline()
            assert status.startswith(b"HTTP/1.1 200")
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert stream.read(length).startswith(b'{"object": "list"')


def test_a_garbage_request_line_gets_a_json_error(api: Api) -> None:
    with socket.create_connection((api.emulator.host, api.emulator.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = sock.makefile("rb").read()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") or head.startswith(b"HTTP/1.0 400")
    assert b'"error"' in body


def test_many_sequential_requests_are_served_quickly(api: Api) -> None:
    import time

    started = time.perf_counter()
    for _ in range(300):
        assert api.session.get(api.base + "/assistants").status_code == 200
    assert time.perf_counter() - started < 3
