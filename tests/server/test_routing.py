"""Paths are routed as they were sent: split on ``/``, each segment decoded once.

Over a real socket (the built-in server sets ``RAW_URI``), and as a WSGI server
without it passes the request (``PATH_INFO`` only, which is already decoded).
"""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from assistants_client.emulator import Emulator
from assistants_client.emulator.replies import default_reply
from assistants_client.server.engine import Engine
from assistants_client.server.http import ApiApp
from assistants_client.server.responders.script import Script
from assistants_client.server.responders.scripted import ScriptedResponder
from assistants_client.server.stores.memory import MemoryStore


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


def send(emulator: Emulator, method: str, target: str, body: Any = None) -> tuple[int, Any]:
    """``method`` on ``target`` exactly as written (no client normalises it)."""
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        connection.request(method, target, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def new_thread(emulator: Emulator) -> str:
    status, thread = send(emulator, "POST", "/v1/threads", {"messages": []})
    assert status == 200
    return str(thread["id"])


def test_an_encoded_slash_in_an_id_is_part_of_the_id_not_a_path(emulator: Emulator) -> None:
    thread_id = new_thread(emulator)
    assert send(emulator, "GET", f"/v1/threads/{thread_id}/messages")[0] == 200

    status, answer = send(emulator, "GET", f"/v1/threads/{thread_id}%2Fmessages")

    assert status == 404
    assert answer["error"]["message"] == f"No thread found with id '{thread_id}/messages'."
    assert answer["error"]["param"] == "thread_id"


def test_an_escape_in_an_id_is_decoded_once(emulator: Emulator) -> None:
    status, answer = send(emulator, "GET", "/v1/threads/thread_%2541")

    assert status == 404
    assert answer["error"]["message"] == "No thread found with id 'thread_%41'."


def test_escaped_letters_of_a_path_still_name_its_route(emulator: Emulator) -> None:
    thread_id = new_thread(emulator)

    status, thread = send(emulator, "GET", f"/v1/thr%65ads/{thread_id}")

    assert (status, thread["id"]) == (200, thread_id)


def test_one_trailing_slash_is_the_same_path_and_an_empty_id_is_no_id(emulator: Emulator) -> None:
    thread_id = new_thread(emulator)

    assert send(emulator, "GET", f"/v1/threads/{thread_id}/")[0] == 200
    assert send(emulator, "GET", "/v1/threads//messages")[0] == 404


def test_a_query_string_is_not_part_of_the_path(emulator: Emulator) -> None:
    thread_id = new_thread(emulator)

    status, page = send(emulator, "GET", f"/v1/threads/{thread_id}/messages?limit=1&order=asc")

    assert (status, page["object"]) == (200, "list")


# -- under a WSGI server that passes PATH_INFO alone ----------------------------------------------


@pytest.fixture
def app() -> Iterator[ApiApp]:
    engine = Engine(MemoryStore(), ScriptedResponder(Script(), default_reply=default_reply))
    yield ApiApp(engine)
    engine.close()


def call(app: ApiApp, method: str, environ: dict[str, Any]) -> tuple[str, Any]:
    status: list[str] = []
    raw = b"{}" if method == "POST" else b""
    environ = {
        "REQUEST_METHOD": method,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        **environ,
    }
    answer = app(environ, lambda line, headers: status.append(line))
    return status[0], json.loads(b"".join(answer))


def test_without_raw_uri_the_decoded_path_is_quoted_again_and_decoded_once(app: ApiApp) -> None:
    _, thread = call(app, "POST", {"PATH_INFO": "/v1/threads"})

    # PATH_INFO as PEP 3333 gives it: the bytes of the path, decoded, as latin-1 text.
    found, same = call(app, "GET", {"PATH_INFO": f"/v1/threads/{thread['id']}"})
    missing, answer = call(app, "GET", {"PATH_INFO": "/v1/threads/thread_%41"})

    assert found.startswith("200") and same["id"] == thread["id"]
    assert missing.startswith("404")
    assert answer["error"]["message"] == "No thread found with id 'thread_%41'."


def test_raw_uri_wins_over_path_info_and_below_script_name(app: ApiApp) -> None:
    _, thread = call(app, "POST", {"PATH_INFO": "/v1/threads"})
    thread_id = thread["id"]

    mounted, same = call(
        app,
        "GET",
        {
            "SCRIPT_NAME": "/api",
            "PATH_INFO": f"/v1/threads/{thread_id}",
            "RAW_URI": f"/api/v1/threads/{thread_id}?x=1",
        },
    )
    encoded, answer = call(
        app,
        "GET",
        {
            "PATH_INFO": f"/v1/threads/{thread_id}/messages",
            "RAW_URI": f"/v1/threads/{thread_id}%2Fmessages",
        },
    )

    assert mounted.startswith("200") and same["id"] == thread_id
    assert encoded.startswith("404")
    assert answer["error"]["param"] == "thread_id"
