"""Projects: a key of one project never sees, changes, runs or deletes another project's objects.

The WSGI application is called in-process, over each store (memory, SQLite, PostgreSQL), with
keys of two projects (``team-a``, ``team-b``) and one of the shared namespace. Project A holds a
world of objects: an assistant, a thread with a message and a completed run (with its step), a
run waiting for tool outputs, and a file in a vector store (ingested, and in a file batch) beside
a file deleted; project B holds its own.

The isolation matrix runs every operation of the generated operations table, from project B,
with A's ids (alone, or mixed with B's own), and requires the answer to be exactly the answer
for ids that name nothing: same status, same body (its message naming the same id), and A's
objects unchanged. An operation the engine serves without a check in :data:`ISOLATION` fails by
name, as does one whose engine method does not take a ``project``.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistants_client._operation import Operation
from assistants_client.emulator.replies import default_reply
from assistants_client.models.operations import OPERATIONS
from assistants_client.server.engine import Engine, Timing
from assistants_client.server.http import ApiApp, Credentials
from assistants_client.server.responders import Increment, Responder, TextDelta, Turn
from assistants_client.server.responders.script import Script
from assistants_client.server.responders.scripted import ScriptedResponder
from assistants_client.server.store import Store
from assistants_client.server.stores import SqliteStore
from tests.server.support import BOUND, missing_id, wait_until

KEYS = {"sk-a1": "team-a", "sk-a2": "team-a", "sk-b1": "team-b", "sk-shared": ""}
A, A2, B, SHARED = "sk-a1", "sk-a2", "sk-b1", "sk-shared"
ID = re.compile(r"\b(?:asst|thread|msg|run|step|call)_[0-9a-f]{16,}\b")
BOUNDARY = "project-boundary"
SEARCH = {"type": "file_search"}


def attached(file_id: str) -> dict[str, Any]:
    """A message attachment of ``file_id`` for file_search."""
    return {"file_id": file_id, "tools": [SEARCH]}


@dataclass
class Answer:
    status: int
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


class Api:
    """The application over ``store`` with :data:`KEYS`, called as a WSGI server would call
    it."""

    def __init__(
        self, store: Store, timing: Timing | None = None, responder: Responder | None = None
    ) -> None:
        self.script = Script()
        if responder is None:
            responder = ScriptedResponder(self.script, default_reply=default_reply)
        self.engine = Engine(store, responder, timing=timing)
        self.app = ApiApp(self.engine, credentials=Credentials(keys=KEYS))

    def call(
        self,
        key: str,
        method: str,
        target: str,
        body: Any = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        path, _, query = target.partition("?")
        raw = b"" if body is None else json.dumps(body).encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": "/v1" + path,
            "RAW_URI": "/v1" + target,
            "QUERY_STRING": query,
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(raw)),
            "HTTP_AUTHORIZATION": f"Bearer {key}",
            "wsgi.input": io.BytesIO(raw),
        }
        if idempotency_key is not None:
            environ["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        status: list[str] = []
        answer = self.app(environ, lambda line, headers: status.append(line))
        try:
            text = b"".join(answer).decode()
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        return Answer(int(status[0].split()[0]), text)

    def upload(self, key: str, filename: str, content: bytes) -> Answer:
        """``POST /files`` with ``content`` as a ``multipart/form-data`` upload."""
        raw = (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
                f'assistants\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'
            ).encode()
            + content
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/v1/files",
            "RAW_URI": "/v1/files",
            "QUERY_STRING": "",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "CONTENT_LENGTH": str(len(raw)),
            "HTTP_AUTHORIZATION": f"Bearer {key}",
            "wsgi.input": io.BytesIO(raw),
        }
        status: list[str] = []
        answer = self.app(environ, lambda line, headers: status.append(line))
        return Answer(int(status[0].split()[0]), b"".join(answer).decode())

    def ok(self, key: str, method: str, target: str, body: Any = None) -> Any:
        answer = self.call(key, method, target, body)
        assert answer.status == 200, answer.text
        return answer.json

    def close(self) -> None:
        self.engine.close()


@dataclass
class World:
    """Project A's objects and project B's, made through the API."""

    api: Api
    a: dict[str, str] = field(default_factory=dict)
    b: dict[str, str] = field(default_factory=dict)

    def make(self, key: str, ids: dict[str, str], *, waiting: bool) -> None:
        api = self.api
        ids["gone"] = api.ok(key, "POST", "/assistants", {"model": "gpt-4o"})["id"]
        api.ok(key, "DELETE", f"/assistants/{ids['gone']}")  # its id still names a position
        ids["asst"] = api.ok(key, "POST", "/assistants", {"model": "gpt-4o"})["id"]
        thread = api.ok(
            key, "POST", "/threads", {"messages": [{"role": "user", "content": "Hello"}]}
        )
        ids["thread"] = thread["id"]
        ids["msg"] = api.ok(key, "GET", f"/threads/{thread['id']}/messages")["data"][0]["id"]
        streamed = api.call(
            key,
            "POST",
            f"/threads/{thread['id']}/runs",
            {"assistant_id": ids["asst"], "stream": True},
        )
        assert "thread.run.completed" in streamed.text, streamed.text
        (run,) = api.ok(key, "GET", f"/threads/{thread['id']}/runs")["data"]
        ids["run"] = run["id"]
        steps = api.ok(key, "GET", f"/threads/{thread['id']}/runs/{run['id']}/steps")["data"]
        ids["step"] = steps[0]["id"]
        self.make_files(key, ids)
        if not waiting:
            return
        other = api.ok(key, "POST", "/threads", {"messages": [{"role": "user", "content": "Hi"}]})
        api.script.queue_tool_calls([{"name": "get_weather", "arguments": {"city": "Paris"}}])
        api.call(
            key,
            "POST",
            f"/threads/{other['id']}/runs",
            {"assistant_id": ids["asst"], "stream": True},
        )
        (held,) = api.ok(key, "GET", f"/threads/{other['id']}/runs")["data"]
        assert held["status"] == "requires_action", held
        ids["waiting_thread"] = other["id"]
        ids["waiting_run"] = held["id"]
        ids["call"] = held["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]

    def make_files(self, key: str, ids: dict[str, str]) -> None:
        """A file in a vector store (ingested), in a batch; and a file deleted."""
        api = self.api
        gone = api.upload(key, "gone.txt", b"a file that was deleted")
        ids["gone_file"] = gone.json["id"]
        api.ok(key, "DELETE", f"/files/{ids['gone_file']}")
        made = api.upload(key, "notes.md", f"# Notes of {KEYS[key]}\n\nERR-4411: disk.".encode())
        assert made.status == 200, made.text
        ids["file"] = made.json["id"]
        store = api.ok(key, "POST", "/vector_stores", {"name": "notes", "file_ids": [ids["file"]]})
        ids["vs"] = store["id"]
        target = f"/vector_stores/{ids['vs']}/file_batches"
        ids["batch"] = api.ok(key, "POST", target, {"file_ids": [ids["file"]]})["id"]
        wait_until(
            lambda: api.ok(key, "GET", f"/vector_stores/{ids['vs']}")["status"] == "completed",
            what="the file ingested",
        )

    def snapshot(self) -> Any:
        """Everything project A's key sees of A's objects."""
        api, a = self.api, self.a
        seen: dict[str, Any] = {"assistants": api.ok(A, "GET", "/assistants?limit=100")}
        vs, file, batch = a["vs"], a["file"], a["batch"]
        seen["files"] = [
            api.ok(A, "GET", "/files"),
            api.ok(A, "GET", f"/files/{file}"),
            api.call(A, "GET", f"/files/{file}/content").text,
            api.ok(A, "GET", "/vector_stores"),
            api.ok(A, "GET", f"/vector_stores/{vs}"),
            api.ok(A, "GET", f"/vector_stores/{vs}/files"),
            api.ok(A, "GET", f"/vector_stores/{vs}/files/{file}"),
            api.ok(A, "GET", f"/vector_stores/{vs}/files/{file}/content"),
            api.ok(A, "GET", f"/vector_stores/{vs}/file_batches/{batch}"),
            api.ok(A, "GET", f"/vector_stores/{vs}/file_batches/{batch}/files"),
        ]
        seen["assistant"] = api.ok(A, "GET", f"/assistants/{a['asst']}")
        for thread, run in ((a["thread"], a["run"]), (a["waiting_thread"], a["waiting_run"])):
            seen[thread] = [
                api.ok(A, "GET", f"/threads/{thread}"),
                api.ok(A, "GET", f"/threads/{thread}/messages?limit=100"),
                api.ok(A, "GET", f"/threads/{thread}/runs?limit=100"),
                api.ok(A, "GET", f"/threads/{thread}/runs/{run}"),
                api.ok(A, "GET", f"/threads/{thread}/runs/{run}/steps?limit=100"),
            ]
        return seen


@pytest.fixture
def world(store: Store) -> Iterator[World]:
    api = Api(store)
    made = World(api)
    try:
        made.make(A, made.a, waiting=True)
        made.make(B, made.b, waiting=False)
        yield made
    finally:
        api.close()


def assert_unseen(
    world: World,
    key: str,
    method: str,
    target: str,
    body: Any = None,
    *,
    hidden: list[str],
    status: int = 404,
) -> Answer:
    """``key``'s request naming ``hidden`` (ids of another project) is answered exactly as the
    same request naming ids that name nothing, and changes nothing project A sees."""
    before = world.snapshot()
    answer = world.api.call(key, method, target, body)
    swap = {real: missing_id(real) for real in hidden}

    def swapped(text: str) -> str:
        for real, fake in swap.items():
            text = text.replace(real, fake)
        return text

    raw_body = None if body is None else json.loads(swapped(json.dumps(body)))
    absent = world.api.call(key, method, swapped(target), raw_body)
    assert absent.status == status, absent.text
    expected = absent.text
    for real, fake in swap.items():
        expected = expected.replace(fake, real)
    assert (answer.status, answer.json) == (status, json.loads(expected))
    assert world.snapshot() == before
    return answer


# -- the isolation matrix --------------------------------------------------------------------------


def list_assistants(w: World) -> None:
    assert [x["id"] for x in w.api.ok(B, "GET", "/assistants")["data"]] == [w.b["asst"]]
    assert [x["id"] for x in w.api.ok(A, "GET", "/assistants")["data"]] == [w.a["asst"]]
    assert w.api.ok(SHARED, "GET", "/assistants")["data"] == []
    for cursor in ("after", "before"):
        for named in (w.a["asst"], w.a["gone"]):  # present or deleted
            target = f"/assistants?{cursor}={named}"
            assert_unseen(w, B, "GET", target, hidden=[named], status=400)
    found = w.api.ok(A, "GET", f"/assistants?after={w.a['gone']}&order=asc")["data"]
    assert [x["id"] for x in found] == [w.a["asst"]]


def create_assistant(w: World) -> None:
    before = w.snapshot()
    made = w.api.ok(B, "POST", "/assistants", {"model": "gpt-4o", "name": "B's"})["id"]
    assert w.snapshot() == before
    assert_unseen(w, A, "GET", f"/assistants/{made}", hidden=[made])
    assert w.api.ok(B, "GET", f"/assistants/{made}")["name"] == "B's"
    # A's vector store, for B's assistant to search: as a store that does not exist.
    body = {
        "model": "gpt-4o",
        "tools": [SEARCH],
        "tool_resources": {"file_search": {"vector_store_ids": [w.a["vs"]]}},
    }
    refused = assert_unseen(w, B, "POST", "/assistants", body, hidden=[w.a["vs"]])
    assert refused.json["error"]["param"] == "body.tool_resources.file_search.vector_store_ids[0]"


def get_assistant(w: World) -> None:
    assert_unseen(w, B, "GET", f"/assistants/{w.a['asst']}", hidden=[w.a["asst"]])
    assert_unseen(w, SHARED, "GET", f"/assistants/{w.a['asst']}", hidden=[w.a["asst"]])


def modify_assistant(w: World) -> None:
    target = f"/assistants/{w.a['asst']}"
    assert_unseen(w, B, "POST", target, {"name": "taken"}, hidden=[w.a["asst"]])


def delete_assistant(w: World) -> None:
    assert_unseen(w, B, "DELETE", f"/assistants/{w.a['asst']}", hidden=[w.a["asst"]])


def create_thread(w: World) -> None:
    before = w.snapshot()
    made = w.api.ok(B, "POST", "/threads", {"messages": [{"role": "user", "content": "B"}]})
    assert w.snapshot() == before
    assert_unseen(w, A, "GET", f"/threads/{made['id']}", hidden=[made["id"]])
    body = {"role": "user", "content": "A writes"}
    assert_unseen(w, A, "POST", f"/threads/{made['id']}/messages", body, hidden=[made["id"]])
    # A's file, attached or in an inline vector store of B's thread: as a file that does not
    # exist, and nothing is left of the refused thread (nor of its store).
    stores = w.api.ok(B, "GET", "/vector_stores")
    for body in (
        {"messages": [{"role": "user", "content": "B", "attachments": [attached(w.a["file"])]}]},
        {"tool_resources": {"file_search": {"vector_stores": [{"file_ids": [w.a["file"]]}]}}},
    ):
        assert_unseen(w, B, "POST", "/threads", body, hidden=[w.a["file"]])
    assert w.api.ok(B, "GET", "/vector_stores") == stores


def create_thread_and_run(w: World) -> None:
    body = {"assistant_id": w.a["asst"], "thread": {"messages": [{"role": "user", "content": "x"}]}}
    refused = assert_unseen(w, B, "POST", "/threads/runs", body, hidden=[w.a["asst"]])
    assert refused.json["error"]["param"] == "body.assistant_id"
    run = w.api.ok(B, "POST", "/threads/runs", {**body, "assistant_id": w.b["asst"]})
    wait_until(
        lambda: (
            w.api.ok(B, "GET", f"/threads/{run['thread_id']}/runs/{run['id']}")["status"]
            == "completed"
        ),
        what="B's run completed",
    )
    hidden = [run["thread_id"], run["id"]]
    assert_unseen(w, A, "GET", f"/threads/{run['thread_id']}/runs/{run['id']}", hidden=hidden)
    assert_unseen(w, A, "GET", f"/threads/{run['thread_id']}/messages", hidden=hidden[:1])
    # A run of B that searches finds B's notes only (both projects' notes answer it).
    searching = {
        "assistant_id": w.b["asst"],
        "tools": [SEARCH],
        "thread": {
            "messages": [{"role": "user", "content": "What is ERR-4411?"}],
            "tool_resources": {"file_search": {"vector_store_ids": [w.b["vs"]]}},
        },
    }
    run = w.api.ok(B, "POST", "/threads/runs", searching)
    where = f"/threads/{run['thread_id']}/runs/{run['id']}"
    wait_until(
        lambda: w.api.ok(B, "GET", where)["status"] == "completed", what="B's search completed"
    )
    step = w.api.ok(B, "GET", f"{where}/steps?order=asc")["data"][0]
    results = step["step_details"]["tool_calls"][0]["file_search"]["results"]
    assert [result["file_id"] for result in results] == [w.b["file"]]
    (reply,) = w.api.ok(B, "GET", f"/threads/{run['thread_id']}/messages?run_id={run['id']}")[
        "data"
    ]
    (annotation,) = reply["content"][0]["text"]["annotations"]
    assert annotation["file_citation"]["file_id"] == w.b["file"]
    thread = {
        **searching["thread"],
        "tool_resources": {"file_search": {"vector_store_ids": [w.a["vs"]]}},
    }
    assert_unseen(
        w, B, "POST", "/threads/runs", {**searching, "thread": thread}, hidden=[w.a["vs"]]
    )


def get_thread(w: World) -> None:
    assert_unseen(w, B, "GET", f"/threads/{w.a['thread']}", hidden=[w.a["thread"]])


def modify_thread(w: World) -> None:
    body = {"metadata": {"owner": "B"}}
    assert_unseen(w, B, "POST", f"/threads/{w.a['thread']}", body, hidden=[w.a["thread"]])
    body = {"tool_resources": {"file_search": {"vector_store_ids": [w.a["vs"]]}}}
    assert_unseen(w, B, "POST", f"/threads/{w.b['thread']}", body, hidden=[w.a["vs"]])


def delete_thread(w: World) -> None:
    assert_unseen(w, B, "DELETE", f"/threads/{w.a['thread']}", hidden=[w.a["thread"]])
    target = f"/threads/{w.a['waiting_thread']}"
    assert_unseen(w, B, "DELETE", target, hidden=[w.a["waiting_thread"]])


def list_messages(w: World) -> None:
    a, b = w.a, w.b
    assert_unseen(w, B, "GET", f"/threads/{a['thread']}/messages", hidden=[a["thread"]])
    for cursor in ("after", "before"):
        target = f"/threads/{b['thread']}/messages?{cursor}={a['msg']}"
        assert_unseen(w, B, "GET", target, hidden=[a["msg"]], status=400)
    # Filtered by another project's run: as by a run that does not exist, nothing.
    target = f"/threads/{b['thread']}/messages?run_id={a['run']}"
    assert assert_unseen(w, B, "GET", target, hidden=[a["run"]], status=200).json["data"] == []


def create_message(w: World) -> None:
    body = {"role": "user", "content": "B writes"}
    target = f"/threads/{w.a['thread']}/messages"
    assert_unseen(w, B, "POST", target, body, hidden=[w.a["thread"]])
    # B's thread, A's file attached for file_search: as a file that does not exist.
    body = {**body, "attachments": [attached(w.a["file"])]}
    target = f"/threads/{w.b['thread']}/messages"
    assert_unseen(w, B, "POST", target, body, hidden=[w.a["file"]])


def _message_of_a(w: World, method: str, body: Any = None) -> None:
    a, b = w.a, w.b
    target = f"/threads/{a['thread']}/messages/{a['msg']}"
    assert_unseen(w, B, method, target, body, hidden=[a["thread"], a["msg"]])
    # B's own thread, A's message: the message is not found.
    target = f"/threads/{b['thread']}/messages/{a['msg']}"
    assert_unseen(w, B, method, target, body, hidden=[a["msg"]])


def get_message(w: World) -> None:
    _message_of_a(w, "GET")


def modify_message(w: World) -> None:
    _message_of_a(w, "POST", {"metadata": {"owner": "B"}})


def delete_message(w: World) -> None:
    _message_of_a(w, "DELETE")


def list_runs(w: World) -> None:
    a, b = w.a, w.b
    assert_unseen(w, B, "GET", f"/threads/{a['thread']}/runs", hidden=[a["thread"]])
    for cursor in ("after", "before"):
        target = f"/threads/{b['thread']}/runs?{cursor}={a['run']}"
        assert_unseen(w, B, "GET", target, hidden=[a["run"]], status=400)


def create_run(w: World) -> None:
    a, b = w.a, w.b
    target = f"/threads/{a['thread']}/runs"
    assert_unseen(w, B, "POST", target, {"assistant_id": b["asst"]}, hidden=[a["thread"]])
    # B's thread with A's assistant: a run of B never reads A's assistant.
    target = f"/threads/{b['thread']}/runs"
    for stream in (False, True):
        body = {"assistant_id": a["asst"], "stream": stream}
        refused = assert_unseen(w, B, "POST", target, body, hidden=[a["asst"]])
        assert refused.json["error"]["param"] == "body.assistant_id"
    assert [run["id"] for run in w.api.ok(B, "GET", target)["data"]] == [b["run"]]


def _run_of_a(
    w: World, method: str, suffix: str = "", body: Any = None, *, waiting: bool = False
) -> None:
    a, b = w.a, w.b
    thread, run = (a["waiting_thread"], a["waiting_run"]) if waiting else (a["thread"], a["run"])
    target = f"/threads/{thread}/runs/{run}{suffix}"
    assert_unseen(w, B, method, target, body, hidden=[thread, run])
    target = f"/threads/{b['thread']}/runs/{run}{suffix}"
    assert_unseen(w, B, method, target, body, hidden=[run])


def get_run(w: World) -> None:
    _run_of_a(w, "GET")
    _run_of_a(w, "GET", waiting=True)


def modify_run(w: World) -> None:
    _run_of_a(w, "POST", body={"metadata": {"owner": "B"}})
    _run_of_a(w, "POST", body={"metadata": {"owner": "B"}}, waiting=True)


def cancel_run(w: World) -> None:
    _run_of_a(w, "POST", "/cancel", waiting=True)
    assert w.api.ok(A, "GET", f"/threads/{w.a['waiting_thread']}/runs/{w.a['waiting_run']}")[
        "status"
    ] == ("requires_action")


def list_run_steps(w: World) -> None:
    a, b = w.a, w.b
    _run_of_a(w, "GET", "/steps")
    for cursor in ("after", "before"):
        target = f"/threads/{b['thread']}/runs/{b['run']}/steps?{cursor}={a['step']}"
        assert_unseen(w, B, "GET", target, hidden=[a["step"]], status=400)


def get_run_step(w: World) -> None:
    a, b = w.a, w.b
    _run_of_a(w, "GET", f"/steps/{a['step']}")
    target = f"/threads/{b['thread']}/runs/{b['run']}/steps/{a['step']}"
    assert_unseen(w, B, "GET", target, hidden=[a["step"]])


def submit_tool_outputs(w: World) -> None:
    body = {"tool_outputs": [{"tool_call_id": w.a["call"], "output": "sunny"}]}
    _run_of_a(w, "POST", "/submit_tool_outputs", body, waiting=True)
    _run_of_a(w, "POST", "/submit_tool_outputs", {**body, "stream": True}, waiting=True)


def list_files(w: World) -> None:
    assert [f["id"] for f in w.api.ok(B, "GET", "/files")["data"]] == [w.b["file"]]
    assert [f["id"] for f in w.api.ok(A, "GET", "/files")["data"]] == [w.a["file"]]
    assert w.api.ok(SHARED, "GET", "/files")["data"] == []
    for named in (w.a["file"], w.a["gone_file"]):
        assert_unseen(w, B, "GET", f"/files?after={named}", hidden=[named], status=400)


def create_file(w: World) -> None:
    before = w.snapshot()
    made = w.api.upload(B, "b.txt", b"B's file").json["id"]
    assert w.snapshot() == before
    assert_unseen(w, A, "GET", f"/files/{made}", hidden=[made])
    body = {"file_ids": [made]}
    assert_unseen(w, A, "POST", f"/vector_stores/{w.a['vs']}/file_batches", body, hidden=[made])


def retrieve_file(w: World) -> None:
    assert_unseen(w, B, "GET", f"/files/{w.a['file']}", hidden=[w.a["file"]])
    assert_unseen(w, SHARED, "GET", f"/files/{w.a['file']}", hidden=[w.a["file"]])


def delete_file(w: World) -> None:
    assert_unseen(w, B, "DELETE", f"/files/{w.a['file']}", hidden=[w.a["file"]])


def download_file(w: World) -> None:
    assert_unseen(w, B, "GET", f"/files/{w.a['file']}/content", hidden=[w.a["file"]])


def list_vector_stores(w: World) -> None:
    assert [s["id"] for s in w.api.ok(B, "GET", "/vector_stores")["data"]] == [w.b["vs"]]
    assert w.api.ok(SHARED, "GET", "/vector_stores")["data"] == []
    for cursor in ("after", "before"):
        target = f"/vector_stores?{cursor}={w.a['vs']}"
        assert_unseen(w, B, "GET", target, hidden=[w.a["vs"]], status=400)


def create_vector_store(w: World) -> None:
    body = {"name": "B's", "file_ids": [w.a["file"]]}
    refused = assert_unseen(w, B, "POST", "/vector_stores", body, hidden=[w.a["file"]])
    assert refused.json["error"]["param"] == "body.file_ids"
    made = w.api.ok(B, "POST", "/vector_stores", {"name": "B's"})["id"]
    assert_unseen(w, A, "GET", f"/vector_stores/{made}", hidden=[made])


def _store_of_a(w: World, method: str, suffix: str = "", body: Any = None) -> None:
    target = f"/vector_stores/{w.a['vs']}{suffix}"
    assert_unseen(w, B, method, target, body, hidden=[w.a["vs"]])


def get_vector_store(w: World) -> None:
    _store_of_a(w, "GET")


def modify_vector_store(w: World) -> None:
    _store_of_a(w, "POST", body={"name": "taken"})


def delete_vector_store(w: World) -> None:
    _store_of_a(w, "DELETE")


def search_vector_store(w: World) -> None:
    _store_of_a(w, "POST", "/search", {"query": "ERR-4411"})
    found = w.api.ok(B, "POST", f"/vector_stores/{w.b['vs']}/search", {"query": "ERR-4411"})
    assert {hit["file_id"] for hit in found["data"]} == {w.b["file"]}


def list_vector_store_files(w: World) -> None:
    _store_of_a(w, "GET", "/files")
    for cursor in ("after", "before"):
        target = f"/vector_stores/{w.b['vs']}/files?{cursor}={w.a['file']}"
        assert_unseen(w, B, "GET", target, hidden=[w.a["file"]], status=400)


def create_vector_store_file(w: World) -> None:
    _store_of_a(w, "POST", "/files", {"file_id": w.b["file"]})
    # B's store, A's file: the file is not found.
    target = f"/vector_stores/{w.b['vs']}/files"
    refused = assert_unseen(w, B, "POST", target, {"file_id": w.a["file"]}, hidden=[w.a["file"]])
    assert refused.json["error"]["param"] == "body.file_id"


def _store_file_of_a(w: World, method: str, suffix: str = "", body: Any = None) -> None:
    a, b = w.a, w.b
    target = f"/vector_stores/{a['vs']}/files/{a['file']}{suffix}"
    assert_unseen(w, B, method, target, body, hidden=[a["vs"], a["file"]])
    target = f"/vector_stores/{b['vs']}/files/{a['file']}{suffix}"
    assert_unseen(w, B, method, target, body, hidden=[a["file"]])


def get_vector_store_file(w: World) -> None:
    _store_file_of_a(w, "GET")


def update_vector_store_file(w: World) -> None:
    _store_file_of_a(w, "POST", body={"attributes": {"owner": "B"}})


def delete_vector_store_file(w: World) -> None:
    _store_file_of_a(w, "DELETE")


def vector_store_file_content(w: World) -> None:
    _store_file_of_a(w, "GET", "/content")


def create_file_batch(w: World) -> None:
    _store_of_a(w, "POST", "/file_batches", {"file_ids": [w.b["file"]]})
    target = f"/vector_stores/{w.b['vs']}/file_batches"
    body = {"files": [{"file_id": w.a["file"]}]}
    assert_unseen(w, B, "POST", target, body, hidden=[w.a["file"]])


def _batch_of_a(w: World, method: str, suffix: str = "") -> None:
    a, b = w.a, w.b
    target = f"/vector_stores/{a['vs']}/file_batches/{a['batch']}{suffix}"
    assert_unseen(w, B, method, target, hidden=[a["vs"], a["batch"]])
    target = f"/vector_stores/{b['vs']}/file_batches/{a['batch']}{suffix}"
    assert_unseen(w, B, method, target, hidden=[a["batch"]])


def get_file_batch(w: World) -> None:
    _batch_of_a(w, "GET")


def cancel_file_batch(w: World) -> None:
    _batch_of_a(w, "POST", "/cancel")


def list_file_batch_files(w: World) -> None:
    _batch_of_a(w, "GET", "/files")


# operationId -> the check that the operation, from another project, finds nothing of A's.
ISOLATION: dict[str, Callable[[World], None]] = {
    "listAssistants": list_assistants,
    "createAssistant": create_assistant,
    "getAssistant": get_assistant,
    "modifyAssistant": modify_assistant,
    "deleteAssistant": delete_assistant,
    "createThread": create_thread,
    "createThreadAndRun": create_thread_and_run,
    "getThread": get_thread,
    "modifyThread": modify_thread,
    "deleteThread": delete_thread,
    "listMessages": list_messages,
    "createMessage": create_message,
    "getMessage": get_message,
    "modifyMessage": modify_message,
    "deleteMessage": delete_message,
    "listRuns": list_runs,
    "createRun": create_run,
    "getRun": get_run,
    "modifyRun": modify_run,
    "cancelRun": cancel_run,
    "listRunSteps": list_run_steps,
    "getRunStep": get_run_step,
    "submitToolOuputsToRun": submit_tool_outputs,
    "listFiles": list_files,
    "createFile": create_file,
    "retrieveFile": retrieve_file,
    "deleteFile": delete_file,
    "downloadFile": download_file,
    "listVectorStores": list_vector_stores,
    "createVectorStore": create_vector_store,
    "getVectorStore": get_vector_store,
    "modifyVectorStore": modify_vector_store,
    "deleteVectorStore": delete_vector_store,
    "searchVectorStore": search_vector_store,
    "listVectorStoreFiles": list_vector_store_files,
    "createVectorStoreFile": create_vector_store_file,
    "getVectorStoreFile": get_vector_store_file,
    "updateVectorStoreFileAttributes": update_vector_store_file,
    "deleteVectorStoreFile": delete_vector_store_file,
    "retrieveVectorStoreFileContent": vector_store_file_content,
    "createVectorStoreFileBatch": create_file_batch,
    "getVectorStoreFileBatch": get_file_batch,
    "cancelVectorStoreFileBatch": cancel_file_batch,
    "listFilesInVectorStoreBatch": list_file_batch_files,
}


def _placeholder_target(operation: Operation[Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda found: f"{found.group(1)}_1", operation.path)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.id for operation in OPERATIONS])
def test_an_operation_from_another_project_finds_nothing_of_this_one(
    operation: Operation[Any], world: World
) -> None:
    (route,) = [r for r in world.api.app.router.routes if r.operation is operation]
    if route.handler is None:
        # Not served: a 501 for every project, which shows nothing of anyone's.
        for key in (A, B):
            answer = world.api.call(key, operation.method, _placeholder_target(operation))
            assert answer.status == 501, answer.text
        return
    project = inspect.signature(route.handler).parameters.get("project")
    assert project is not None, f"Engine.{operation.name} takes no project"
    assert project.kind is inspect.Parameter.KEYWORD_ONLY, operation.name
    assert project.default is inspect.Parameter.empty, f"Engine.{operation.name}: a default"
    check = ISOLATION.get(operation.id)
    assert check is not None, (
        f"{operation.id} is served but has no isolation check: add one to ISOLATION"
    )
    check(world)


def test_every_check_of_the_matrix_is_for_an_operation_of_the_table() -> None:
    assert set(ISOLATION) <= {operation.id for operation in OPERATIONS}


# -- keys, the shared namespace, idempotency ---------------------------------------------------


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    made = Api(store)
    yield made
    made.close()


def test_both_keys_of_a_project_see_and_change_the_same_objects(api: Api) -> None:
    assistant = api.ok(A, "POST", "/assistants", {"model": "gpt-4o"})
    thread = api.ok(A2, "POST", "/threads", {})
    api.ok(A2, "POST", f"/assistants/{assistant['id']}", {"name": "renamed"})
    api.ok(A, "POST", f"/threads/{thread['id']}/messages", {"role": "user", "content": "Hi"})
    assert api.ok(A, "GET", f"/assistants/{assistant['id']}")["name"] == "renamed"
    assert [x["id"] for x in api.ok(A2, "GET", "/assistants")["data"]] == [assistant["id"]]
    messages = api.ok(A2, "GET", f"/threads/{thread['id']}/messages")["data"]
    assert [m["content"][0]["text"]["value"] for m in messages] == ["Hi"]


def test_keys_without_a_project_share_a_namespace_apart_from_every_project(api: Api) -> None:
    shared = api.ok(SHARED, "POST", "/assistants", {"model": "gpt-4o"})["id"]
    mine = api.ok(A, "POST", "/assistants", {"model": "gpt-4o"})["id"]
    assert [x["id"] for x in api.ok(SHARED, "GET", "/assistants")["data"]] == [shared]
    assert [x["id"] for x in api.ok(A, "GET", "/assistants")["data"]] == [mine]
    assert api.call(A, "GET", f"/assistants/{shared}").status == 404
    assert api.call(SHARED, "GET", f"/assistants/{mine}").status == 404


def test_an_idempotency_key_reused_by_another_project_runs_the_operation_again(
    api: Api,
) -> None:
    first = api.call(A, "POST", "/threads", {"metadata": {"by": "A"}}, idempotency_key="k-1")
    other = api.call(B, "POST", "/threads", {"metadata": {"by": "B"}}, idempotency_key="k-1")
    again = api.call(A2, "POST", "/threads", {"metadata": {"by": "A"}}, idempotency_key="k-1")
    assert first.status == other.status == again.status == 200
    assert other.json["id"] != first.json["id"]
    assert other.json["metadata"] == {"by": "B"}
    assert again.json == first.json  # the same project's retry: its first answer
    assert api.call(B, "GET", f"/threads/{first.json['id']}").status == 404
    assert api.ok(B, "GET", f"/threads/{other.json['id']}")["metadata"] == {"by": "B"}


def test_a_streamed_answer_kept_for_a_key_is_replayed_to_its_project_only(api: Api) -> None:
    streams = {}
    for key in (A, B):
        assistant = api.ok(key, "POST", "/assistants", {"model": "gpt-4o"})
        body = {
            "assistant_id": assistant["id"],
            "thread": {"messages": [{"role": "user", "content": f"From {KEYS[key]}"}]},
            "stream": True,
        }
        streams[key] = api.call(key, "POST", "/threads/runs", body, idempotency_key="k-stream")
        assert streams[key].status == 200
        assert f"From {KEYS[key]}" in streams[key].text
    assert set(ID.findall(streams[A].text)).isdisjoint(ID.findall(streams[B].text))
    replayed = api.call(A2, "POST", "/threads/runs", {}, idempotency_key="k-stream")
    assert replayed == streams[A]


# -- the run machinery ------------------------------------------------------------------------------


def test_background_runs_are_executed_in_their_own_project(api: Api) -> None:
    made = {}
    for key in (A, B, SHARED):
        assistant = api.ok(key, "POST", "/assistants", {"model": "gpt-4o"})
        thread = api.ok(key, "POST", "/threads", {"messages": [{"role": "user", "content": key}]})
        run = api.ok(
            key, "POST", f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]}
        )
        made[key] = (thread["id"], run["id"])

    def ended() -> bool:
        return all(
            api.ok(key, "GET", f"/threads/{thread}/runs/{run}")["status"] == "completed"
            for key, (thread, run) in made.items()
        )

    wait_until(ended, what="every background run completed")
    for key, (thread, run) in made.items():
        messages = api.ok(key, "GET", f"/threads/{thread}/messages?order=asc")["data"]
        # Each answer echoes its own project's message, and lands in its own thread.
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert key in messages[1]["content"][0]["text"]["value"]
        steps = api.ok(key, "GET", f"/threads/{thread}/runs/{run}/steps")["data"]
        assert [step["status"] for step in steps] == ["completed"]
        for other in set(made) - {key}:
            assert api.call(other, "GET", f"/threads/{thread}/runs/{run}").status == 404


def test_runs_expired_by_the_sweep_end_with_their_steps_in_their_own_project(
    store: Store,
) -> None:
    api = Api(store, Timing(run_expires_after=0.5))
    try:
        waiting = {}
        for key in (A, B):
            assistant = api.ok(key, "POST", "/assistants", {"model": "gpt-4o"})
            thread = api.ok(
                key, "POST", "/threads", {"messages": [{"role": "user", "content": "x"}]}
            )
            api.script.queue_tool_calls([{"name": "lookup", "arguments": {}}])
            body = {"assistant_id": assistant["id"], "stream": True}
            api.call(key, "POST", f"/threads/{thread['id']}/runs", body)
            (run,) = api.ok(key, "GET", f"/threads/{thread['id']}/runs")["data"]
            assert run["status"] == "requires_action"
            waiting[key] = (thread["id"], run["id"])
        # Read through the store, as the sweep leaves it (a read of the run would expire it).
        wait_until(
            lambda: all(
                (row := store.get_run(run, project=KEYS[key])) is not None
                and row.record["run"]["status"] == "expired"
                for key, (_, run) in waiting.items()
            ),
            what="both runs expired by the sweep",
        )
        for key, (thread, run) in waiting.items():
            steps = api.ok(key, "GET", f"/threads/{thread}/runs/{run}/steps")["data"]
            assert [step["status"] for step in steps] == ["expired"]
    finally:
        api.close()


class Stalling:
    """A responder whose answers begin, then wait to be cancelled (a live answer)."""

    def check(self, turn: Turn) -> None:
        pass

    def prepare(self, turn: Turn) -> Mapping[str, Any] | None:
        return None

    def respond(self, turn: Turn, cancelled: threading.Event) -> Iterator[Increment]:
        yield TextDelta(f"Begun for {turn.project}")
        cancelled.wait(BOUND)


def test_runs_under_way_when_the_server_stopped_fail_in_their_own_project(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "state.db")
    store = SqliteStore(path)
    stopping = Api(store, responder=Stalling())
    made = {}
    for key in (A, B):
        assistant = stopping.ok(key, "POST", "/assistants", {"model": "gpt-4o"})
        run = stopping.ok(key, "POST", "/threads/runs", {"assistant_id": assistant["id"]})
        made[key] = (run["thread_id"], run["id"])

    def begun(key: str, thread: str) -> bool:
        messages = stopping.ok(key, "GET", f"/threads/{thread}/messages")["data"]
        return [m["content"][0]["text"]["value"] for m in messages if m["content"]] == [
            f"Begun for {KEYS[key]}"
        ]

    wait_until(
        lambda: all(begun(key, thread) for key, (thread, _) in made.items()),
        what="both answers begun and stored",
    )
    stopping.close()
    store.close()

    store = SqliteStore(path)
    restarted = Api(store)
    try:
        for key, (thread, run) in made.items():
            found = restarted.ok(key, "GET", f"/threads/{thread}/runs/{run}")
            assert (found["status"], found["last_error"]["code"]) == ("failed", "server_error")
            (message,) = restarted.ok(key, "GET", f"/threads/{thread}/messages")["data"]
            assert message["content"][0]["text"]["value"] == f"Begun for {KEYS[key]}"
            stored = store.get("message", message["id"], project=KEYS[key])
            assert stored is not None and stored["status"] == "incomplete"
            steps = restarted.ok(key, "GET", f"/threads/{thread}/runs/{run}/steps")["data"]
            assert [step["status"] for step in steps] == ["failed"]
    finally:
        restarted.close()
        store.close()
