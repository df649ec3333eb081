"""Idempotency keys kept in the store: what a process that stops, or a client that leaves before
reading a byte, leaves behind.

The WSGI application is called directly (with the emulator's scripted responder on a memory
store), so that a test can drop an answer before iterating it, as a server does when its client
has gone; the behaviour across real processes is tested in ``tests/postgres``.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from assistants_client.emulator.replies import default_reply
from assistants_client.server.engine import Engine
from assistants_client.server.http import ApiApp
from assistants_client.server.responders.script import Script
from assistants_client.server.responders.scripted import ScriptedResponder
from assistants_client.server.stores.memory import MemoryStore
from tests.server.support import wait_until


@pytest.fixture
def app() -> Iterator[ApiApp]:
    engine = Engine(MemoryStore(), ScriptedResponder(Script(), default_reply=default_reply))
    yield ApiApp(engine)
    engine.close()


def call(
    app: ApiApp, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[str, Iterable[bytes]]:
    """The status line and the (not yet iterated) body of one request."""
    raw = b"" if body is None else json.dumps(body).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/v1" + path,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    if key is not None:
        environ["HTTP_IDEMPOTENCY_KEY"] = key
    status: list[str] = []
    answer = app(environ, lambda line, headers: status.append(line))
    return status[0], answer


def json_of(app: ApiApp, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
    status, answer = call(app, method, path, body, key)
    assert status.startswith("200"), status
    return json.loads(b"".join(answer))


def test_a_stream_dropped_unread_still_runs_and_its_key_answers_the_whole_stream(
    app: ApiApp,
) -> None:
    assistant = json_of(app, "POST", "/assistants", {"model": "gpt-4o"})
    thread = json_of(app, "POST", "/threads", {"messages": [{"role": "user", "content": "Hi"}]})
    body = {"assistant_id": assistant["id"], "stream": True}
    status, answer = call(app, "POST", f"/threads/{thread['id']}/runs", body, key="k-1")
    assert status.startswith("200")
    close = getattr(answer, "close", None)
    assert close is not None
    close()  # the client went away before a byte was sent

    status, replayed = call(app, "POST", f"/threads/{thread['id']}/runs", body, key="k-1")
    text = b"".join(replayed).decode()
    assert status.startswith("200")
    assert text.startswith("event: thread.run.created")
    assert "event: thread.run.completed" in text
    assert text.endswith("event: done\ndata: [DONE]\n\n")
    runs = json_of(app, "GET", f"/threads/{thread['id']}/runs")["data"]
    assert [run["status"] for run in runs] == ["completed"]


def test_a_key_left_pending_by_a_stopped_process_is_taken_over_once_it_lapses(
    app: ApiApp,
) -> None:
    store = app.engine.store
    key = "POST /v1/threads k-2"
    with store.transaction():
        assert store.claim_key(key, "a-process-that-stopped", 0.0, project="") is None

    first = json_of(app, "POST", "/threads", {}, key="k-2")
    second = json_of(app, "POST", "/threads", {}, key="k-2")

    assert first == second
    assert [parent for parent, _ in store.iter_kind("thread", project="")] == [""]


def test_a_duplicate_of_a_stream_still_going_waits_for_its_whole_answer(app: ApiApp) -> None:
    assistant = json_of(app, "POST", "/assistants", {"model": "gpt-4o"})
    thread = json_of(app, "POST", "/threads", {"messages": [{"role": "user", "content": "Hi"}]})
    body = {"assistant_id": assistant["id"], "stream": True}
    _, live = call(app, "POST", f"/threads/{thread['id']}/runs", body, key="k-3")
    events = iter(live)
    first_piece = next(events)  # the stream has begun, and is not over

    replay: list[bytes] = []

    def duplicate() -> None:
        _, answer = call(app, "POST", f"/threads/{thread['id']}/runs", body, key="k-3")
        replay.append(b"".join(answer))

    waiting = threading.Thread(target=duplicate)
    waiting.start()
    rest = b"".join(events)
    waiting.join(10)
    wait_until(lambda: bool(replay), what="the duplicate's answer")
    assert replay[0] == first_piece + rest
