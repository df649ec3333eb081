"""A hostile or broken Chat Completions backend in front of the server.

The server runs as the README starts it (``assistants-server --backend-url URL``, a process of
its own, with its caps set small: ``--backend-max-text 100000 --backend-max-duration 2``) before
a backend on a raw loopback socket (``tests/reliability/rawserver.py``) that misbehaves on
purpose, in the way the model of the run names. What must hold:

* an answer has a size cap and a duration cap: an endless stream of text, of empty chunks, of
  keep-alive comments or of tool-call arguments, one endless event, a trickle, a backend that
  never sends its headers or sends them a byte at a time: each run fails with a reason that
  names the limit, keeps the text received before it, and the server lets go of the backend.
  The server's memory does not grow with what the backend sends (before: 231 MB after 6 s);
* ``[DONE]`` ends the turn at once, even when the backend then holds its connection open
  (before: the run completed only after ``--backend-timeout``);
* bytes that are not UTF-8, halves of surrogate pairs, ``NaN`` and ``Infinity``: the run goes
  on, and what the server answers stays standard JSON (U+FFFD stands for what is no character,
  null for what is no number);
* a 200 that is not an event stream fails the run, saying what it was;
* secrets: the backend's key never shows in a run's ``last_error``, in a log record or in any
  answer, wherever the backend puts it: in an error body, in request headers it echoes, in an
  ``error`` inside its stream, straddling the cut of the 1,000-character excerpt or of the
  64 KiB read of an error body at every offset (those run in this process, for the log
  records).

Under gunicorn the same application holds the same caps, set by environment variables.
"""

from __future__ import annotations

import json
import logging
import string
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.reliability.rawserver import RawServer, chunk, head
from tests.server.support import BOUND, RunningServer, start_server
from tests.servers.fake_chat import DONE_FRAME, frame
from tests.servers.fake_chat import chunk as completion_chunk

from .conftest import CLIENT_KEY, GUNICORN, OURS, Target, serving_gunicorn, serving_ours

AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}
MAX_TEXT = 100_000
MAX_BODY = MAX_TEXT * 64
MAX_DURATION = 2
CAPS = ("--backend-max-text", str(MAX_TEXT), "--backend-max-duration", str(MAX_DURATION))
WORDS = "all work and no play makes a dull answer "

Send = Callable[[bytes], None]


# -- the backend -------------------------------------------------------------------------------


def sse(content: str | None = None, *, finish: str | None = None, **delta: Any) -> bytes:
    """One completion chunk as an event."""
    if content is not None:
        delta["content"] = content
    return frame(completion_chunk(delta, finish, completion_id="chatcmpl-hostile"))


OPENING = sse("", role="assistant")
SSE_CHUNKED = head(
    200, {"Content-Type": "text/event-stream; charset=utf-8", "Transfer-Encoding": "chunked"}
)


def hold(conn: Any, stopping: threading.Event) -> None:
    """Send nothing more; return once the client hangs up (or the backend stops)."""
    conn.settimeout(0.05)
    while not stopping.is_set():
        try:
            if not conn.recv(65536):
                return
        except TimeoutError:
            continue


def forever(send: Send, piece: bytes, stopping: threading.Event, pause: float = 0.0) -> None:
    while not stopping.is_set():
        send(piece)
        if pause:
            stopping.wait(pause)


def endless_text(send: Send, conn: Any, stopping: threading.Event) -> None:
    send(SSE_CHUNKED + chunk(OPENING))
    forever(send, chunk(sse(WORDS) * 32), stopping)


def endless_empty_chunks(send: Send, conn: Any, stopping: threading.Event) -> None:
    send(SSE_CHUNKED + chunk(OPENING))
    empty = frame(completion_chunk(None, completion_id="chatcmpl-hostile"))
    forever(send, chunk((empty + b": keep-alive\n\n") * 64), stopping)


def pings(send: Send, conn: Any, stopping: threading.Event) -> None:
    send(SSE_CHUNKED + chunk(OPENING + sse("Thinking")))
    forever(send, chunk(b": ping\n\n"), stopping, pause=0.05)


def trickle(send: Send, conn: Any, stopping: threading.Event) -> None:
    send(SSE_CHUNKED + chunk(OPENING))
    forever(send, chunk(sse("more ")), stopping, pause=0.05)


def endless_event(send: Send, conn: Any, stopping: threading.Event) -> None:
    send(SSE_CHUNKED + chunk(OPENING))
    send(chunk(b'data: {"choices":[{"index":0,"delta":{"content":"'))
    forever(send, chunk(b"x" * 65536), stopping)


def endless_arguments(send: Send, conn: Any, stopping: threading.Event) -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    send(SSE_CHUNKED + chunk(sse(None, role="assistant", tool_calls=[call])))
    fragment = sse(None, tool_calls=[{"index": 0, "function": {"arguments": '"ab", '}}])
    forever(send, chunk(fragment * 32), stopping)


def done_then_held_closing(send: Send, conn: Any, stopping: threading.Event) -> None:
    """``Connection: close``, a body that ends with the connection, which stays open."""
    send(head(200, {"Content-Type": "text/event-stream", "Connection": "close"}))
    send(OPENING + sse("Hello!") + sse(finish="stop") + DONE_FRAME)
    hold(conn, stopping)


def done_then_held_chunked(send: Send, conn: Any, stopping: threading.Event) -> None:
    """A chunked body whose last chunk never comes."""
    send(SSE_CHUNKED + chunk(OPENING + sse("Hello!") + sse(finish="stop") + DONE_FRAME))
    hold(conn, stopping)


def no_headers(send: Send, conn: Any, stopping: threading.Event) -> None:
    hold(conn, stopping)


def headers_a_byte_at_a_time(send: Send, conn: Any, stopping: threading.Event) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 10_000:
        send(bytes([byte]))
        if stopping.wait(0.05):
            return


def not_utf8(send: Send, conn: Any, stopping: threading.Event) -> None:
    broken = b'data: {"choices":[{"index":0,"delta":{"content":"caf\xe9 \xff!"}}]}\n\n'
    half = b'data: {"choices":[{"index":0,"delta":{"content":" \\ud83d half"}}]}\n\n'
    send(SSE_CHUNKED + chunk(OPENING + broken + half + sse(finish="stop") + DONE_FRAME))
    send(chunk(b""))


def not_finite(send: Send, conn: Any, stopping: threading.Event) -> None:
    odd = (
        b'data: {"choices":[{"index":0,"delta":{"content":"fine"},"logprobs":NaN,'
        b'"finish_reason":null}],"x":-Infinity,"y":1e999}\n\n'
    )
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":Infinity,"completion_tokens":NaN}}\n\n'
    send(SSE_CHUNKED + chunk(OPENING + odd + sse(finish="stop") + usage + DONE_FRAME))
    send(chunk(b""))


def plain_text(send: Send, conn: Any, stopping: threading.Event) -> None:
    body = b"Hello, I am a web server, not a model."
    send(head(200, {"Content-Type": "text/plain", "Content-Length": str(len(body))}) + body)


BEHAVIOURS: dict[str, Callable[[Send, Any, threading.Event], None]] = {
    "endless-text": endless_text,
    "endless-empty-chunks": endless_empty_chunks,
    "pings": pings,
    "trickle": trickle,
    "endless-event": endless_event,
    "endless-arguments": endless_arguments,
    "done-then-held-closing": done_then_held_closing,
    "done-then-held-chunked": done_then_held_chunked,
    "no-headers": no_headers,
    "headers-a-byte-at-a-time": headers_a_byte_at_a_time,
    "not-utf8": not_utf8,
    "not-finite": not_finite,
    "plain-text": plain_text,
}


class Backend:
    """The raw backend, and what it did per model: bytes sent, and when its client let go."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = defaultdict(int)
        self.let_go: dict[str, threading.Event] = defaultdict(threading.Event)
        self.server = RawServer(self._handle)

    def _handle(self, conn: Any, request: bytes) -> None:
        if request.startswith(b"GET "):  # the command's start-up check: GET /models
            conn.sendall(error_answer(200, b'{"object": "list", "data": []}'))
            return
        model = json.loads(request.partition(b"\r\n\r\n")[2])["model"]
        self.let_go[model].clear()  # an earlier request of the same model let go already

        def send(data: bytes) -> None:
            conn.sendall(data)
            self.sent[model] += len(data)

        try:
            BEHAVIOURS[model](send, conn, self.server.stopping)
        finally:
            self.let_go[model].set()


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    made = Backend()
    with made.server:
        yield made


@pytest.fixture(scope="module")
def capped(
    open_files: int, backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """``assistants-server`` with small caps, and a read timeout longer than all the tests."""
    tmp = tmp_path_factory.mktemp("capped")
    flags = (*CAPS, "--backend-timeout", "60")
    with serving_ours(backend.server.base_url, tmp, *flags) as target:
        yield target


@pytest.fixture(scope="module")
def capped_gunicorn(
    open_files: int, backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    with serving_gunicorn(
        "assistants_client.server:wsgi_app()",
        tmp_path_factory.mktemp("capped-gunicorn"),
        backend_url=backend.server.base_url,
        ASSISTANTS_BACKEND_MAX_TEXT=str(MAX_TEXT),
        ASSISTANTS_BACKEND_MAX_DURATION=str(MAX_DURATION),
        ASSISTANTS_BACKEND_TIMEOUT="60",
    ) as target:
        yield target


@pytest.fixture(params=[OURS, GUNICORN])
def capped_target(request: pytest.FixtureRequest) -> Target:
    return request.getfixturevalue("capped" if request.param == OURS else "capped_gunicorn")


# -- runs --------------------------------------------------------------------------------------


def strict_json(text: str | bytes) -> Any:
    """JSON as RFC 8259 has it: NaN and Infinity refused."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


class Outcome:
    """A streamed run to its end: its events, the run as it ended, its assistant message."""

    def __init__(self, target: Target, model: str, *, bound: float = BOUND) -> None:
        self.target = target
        assistant = self.call("POST", "/assistants", {"model": "gpt-4o"})
        body = {
            "assistant_id": assistant["id"],
            "model": model,
            "stream": True,
            "thread": {"messages": [{"role": "user", "content": "Say something."}]},
        }
        started = time.monotonic()
        self.events: list[tuple[str, Any]] = []
        with requests.post(
            f"{target.base_url}/threads/runs", json=body, headers=AUTH, stream=True, timeout=BOUND
        ) as response:
            assert response.status_code == 200, response.text
            name = ""
            for line in response.iter_lines():
                assert time.monotonic() - started < bound, f"the run went on past {bound} s"
                if line.startswith(b"event: "):
                    name = line[7:].decode()
                elif line.startswith(b"data: ") and name != "done":
                    self.events.append((name, strict_json(line[6:])))
        self.seconds = time.monotonic() - started
        runs = [data for name, data in self.events if name.startswith("thread.run.")]
        runs = [data for data in runs if data["object"] == "thread.run"]
        assert runs, self.events[:5]
        self.run = self.call("GET", f"/threads/{runs[-1]['thread_id']}/runs/{runs[-1]['id']}")
        listed = self.call("GET", f"/threads/{self.run['thread_id']}/messages")
        mine = [m for m in listed["data"] if m["role"] == "assistant"]
        self.message: dict[str, Any] | None = mine[0] if mine else None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = requests.request(
            method, f"{self.target.base_url}{path}", json=body, headers=AUTH, timeout=BOUND
        )
        assert answer.status_code == 200, answer.text
        return strict_json(answer.text)

    @property
    def error(self) -> str:
        assert self.run["status"] == "failed", self.run["status"]
        return str(self.run["last_error"]["message"])

    @property
    def text(self) -> str:
        assert self.message is not None
        return "".join(part["text"]["value"] for part in self.message["content"])


def peak_memory_mb(pid: int | None) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    assert pid is not None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


# -- caps ---------------------------------------------------------------------------------------


def test_an_endless_stream_of_text_fails_at_the_text_cap_keeping_the_text(
    capped_target: Target, backend: Backend
) -> None:
    before = peak_memory_mb(capped_target.pid) if capped_target.kind == OURS else 0.0

    outcome = Outcome(capped_target, "endless-text")

    assert outcome.error == (
        f"the backend's answer passed the limit of {MAX_TEXT} characters of text and tool "
        "calls; the text before it is kept"
    )
    assert outcome.run["last_error"]["code"] == "server_error"
    assert outcome.message is not None
    assert outcome.message["status"] == "incomplete"
    assert outcome.message["incomplete_details"] == {"reason": "run_failed"}
    assert MAX_TEXT - 2 * len(WORDS) * 32 < len(outcome.text) <= MAX_TEXT
    assert (WORDS * (MAX_TEXT // len(WORDS) + 1)).startswith(outcome.text)
    assert backend.let_go["endless-text"].wait(BOUND)
    if capped_target.kind == OURS:
        assert peak_memory_mb(capped_target.pid) - before < 50


def test_endless_empty_chunks_and_comments_fail_at_the_size_cap(
    capped: Target, backend: Backend
) -> None:
    outcome = Outcome(capped, "endless-empty-chunks")

    assert outcome.error == (
        f"the backend's answer passed the limit of {MAX_BODY} bytes; the text before it is kept"
    )
    assert backend.let_go["endless-empty-chunks"].wait(BOUND)
    # What was read, and what the sockets held: the backend could not send much more.
    assert backend.sent["endless-empty-chunks"] < MAX_BODY + 16 * 1024 * 1024


def test_one_endless_event_fails_at_a_cap_without_growing(capped: Target, backend: Backend) -> None:
    before = peak_memory_mb(capped.pid)

    outcome = Outcome(capped, "endless-event")

    assert "passed the limit of" in outcome.error or "larger than" in outcome.error
    assert backend.let_go["endless-event"].wait(BOUND)
    assert peak_memory_mb(capped.pid) - before < 50


def test_endless_tool_call_arguments_fail_at_the_text_cap(capped: Target, backend: Backend) -> None:
    outcome = Outcome(capped, "endless-arguments")

    assert outcome.error.startswith(f"the backend's answer passed the limit of {MAX_TEXT} ")
    assert outcome.run["required_action"] is None
    steps = outcome.call(
        "GET", f"/threads/{outcome.run['thread_id']}/runs/{outcome.run['id']}/steps"
    )
    (step,) = steps["data"]
    assert step["type"] == "tool_calls" and step["status"] == "failed"
    assert backend.let_go["endless-arguments"].wait(BOUND)


@pytest.mark.parametrize("model", ["pings", "trickle"])
def test_a_stream_that_never_ends_fails_at_the_duration_cap_keeping_the_text(
    capped: Target, backend: Backend, model: str
) -> None:
    outcome = Outcome(capped, model)

    assert outcome.error == f"the backend did not finish within {MAX_DURATION} s"
    assert outcome.text.startswith("Thinking" if model == "pings" else "more more ")
    assert outcome.message is not None and outcome.message["status"] == "incomplete"
    assert backend.let_go[model].wait(BOUND)


@pytest.mark.parametrize("model", ["no-headers", "headers-a-byte-at-a-time"])
def test_a_backend_that_never_finishes_its_headers_fails_at_the_duration_cap(
    capped: Target, backend: Backend, model: str
) -> None:
    outcome = Outcome(capped, model)

    assert outcome.error == f"the backend did not finish within {MAX_DURATION} s"
    assert outcome.message is None
    assert backend.let_go[model].wait(BOUND)


# -- ends ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["done-then-held-closing", "done-then-held-chunked"])
def test_done_ends_the_turn_at_once_while_the_backend_holds_its_connection(
    capped: Target, backend: Backend, model: str
) -> None:
    outcome = Outcome(capped, model)

    # At once: before the duration cap (2 s) and the read timeout (60 s).
    assert outcome.run["status"] == "completed"
    assert outcome.text == "Hello!"
    assert outcome.message is not None and outcome.message["status"] == "completed"
    assert backend.let_go[model].wait(BOUND)


def test_a_200_that_is_not_an_event_stream_fails_saying_what_it_was(capped: Target) -> None:
    outcome = Outcome(capped, "plain-text")

    assert outcome.error == "the backend's answer held no server-sent event (text/plain)"


# -- what is no JSON ----------------------------------------------------------------------------


def test_bytes_that_are_not_utf8_and_halves_of_surrogate_pairs_become_replacement_characters(
    capped: Target,
) -> None:
    outcome = Outcome(capped, "not-utf8")

    assert outcome.run["status"] == "completed"
    assert outcome.text == "caf\ufffd \ufffd! \ufffd half"
    deltas = "".join(
        data["delta"]["content"][0]["text"]["value"]
        for name, data in outcome.events
        if name == "thread.message.delta"
    )
    assert deltas == outcome.text


def test_nan_and_infinity_from_the_backend_never_reach_an_answer(capped: Target) -> None:
    outcome = Outcome(capped, "not-finite")  # every answer read refusing NaN and Infinity

    assert outcome.run["status"] == "completed"
    assert outcome.text == "fine"
    assert outcome.run["usage"]["prompt_tokens"] == 0
    assert outcome.run["usage"]["completion_tokens"] == 0


# -- secrets ------------------------------------------------------------------------------------

EXCERPT = 1000
READ_LIMIT = 64 * 1024
ALPHABET = string.ascii_letters + string.digits
KEY = "sk-" + "".join(ALPHABET[(7 * i + 3) % len(ALPHABET)] for i in range(43))
assert len(KEY) == 46
SHOWN = "Authorization: Bearer "


def leaks(text: str) -> bool:
    """Whether ``text`` holds any five characters in a row of the key's secret part."""
    secret = KEY[3:]
    return any(secret[i : i + 5] in text for i in range(len(secret) - 4))


def error_answer(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    return head(status, headers) + body


def secret_answer(model: str, request: bytes) -> bytes:
    """What the backend of the secrets tests answers for ``model`` (``<where>-<offset>``)."""
    where, _, offset_text = model.rpartition("-")
    at = int(offset_text)
    if where == "error-body":  # the key in an error's message, starting at `at`
        message = "x" * at + KEY + " was refused."
        return error_answer(400, json.dumps({"error": {"message": message}}).encode())
    if where == "echoed-headers":  # the request's own headers, echoed back
        headers = request.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
        (authorization,) = [h for h in headers if h.lower().startswith("authorization:")]
        echoed = "y" * (at - len(SHOWN)) + authorization + "; " + "; ".join(headers)
        return error_answer(401, json.dumps({"error": {"message": echoed}}).encode())
    if where == "stream-error":  # an error object inside a 200 stream, after some text
        error = {"error": {"message": "z" * at + KEY, "type": "server_error"}}
        return SSE_CHUNKED + chunk(OPENING + sse("Par") + frame(error)) + chunk(b"")
    if where == "long-body":  # a body past the read limit, the key straddling it
        body = b" " * at + KEY.encode() + b" " * 100
        return error_answer(400, body, "text/plain")
    raise AssertionError(model)


@pytest.fixture(scope="module")
def secret_backend() -> Iterator[RawServer]:
    def handle(conn: Any, request: bytes) -> None:
        conn.sendall(secret_answer(json.loads(request.partition(b"\r\n\r\n")[2])["model"], request))

    with RawServer(handle) as server:
        yield server


@pytest.fixture(scope="module")
def keyed(secret_backend: RawServer) -> Iterator[RunningServer]:
    """The server in this process (its log records can be read), with the backend key."""
    server = start_server(
        secret_backend.base_url,
        "--backend-retries",
        "0",
        environ={"ASSISTANTS_BACKEND_API_KEY": KEY},
    )
    yield server
    server.stop()


# The key starts so that the cut falls before it, in it at every offset, and after it.
AROUND_THE_EXCERPT = range(EXCERPT - len(KEY) - 2, EXCERPT + 2)
AROUND_THE_READ_LIMIT = range(READ_LIMIT - len(KEY) - 2, READ_LIMIT + 2)
CASES = [
    *(f"error-body-{at}" for at in AROUND_THE_EXCERPT),
    *(f"echoed-headers-{at}" for at in AROUND_THE_EXCERPT),
    *(f"stream-error-{at}" for at in AROUND_THE_EXCERPT),
    *(f"long-body-{at}" for at in AROUND_THE_READ_LIMIT),
]


def test_the_key_shows_in_no_error_log_record_or_answer_wherever_the_backend_cuts_it(
    keyed: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = Target(OURS, keyed.http.port)
    errors = {model: Outcome(target, model).error for model in CASES}

    for model, error in errors.items():
        assert not leaks(error), f"{model}: {error[-120:]}"
    # Redacted where the whole key was there; a cut key is never shown in part.
    assert errors[f"error-body-{EXCERPT - len(KEY)}"].endswith("x[redacted] was refused.")
    assert errors[f"error-body-{EXCERPT - 1}"].endswith("x[redacted]...")
    assert errors[f"long-body-{READ_LIMIT - 10}"].endswith("(400): (no message)")
    assert "[redacted]" in errors[f"stream-error-{EXCERPT - 10}"]
    assert "[redacted]" in errors[f"echoed-headers-{EXCERPT - 10}"]
    formatter = logging.Formatter()
    records = [formatter.format(record) for record in caplog.records]
    assert any("[redacted]" in record for record in records)
    assert not [record for record in records if leaks(record)]
    assert not leaks(keyed.answers.decode("utf-8", "replace"))
