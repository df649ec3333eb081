"""A fake Chat Completions backend: a real threaded HTTP server on a loopback port.

:class:`FakeChatServer` is a :class:`~tests.servers.scripted.ScriptedServer` that answers
``POST <base_path>/chat/completions`` from a FIFO of scripted answers (``server.script(...)``),
falling back to ``server.default_answer`` (an echo of the last user message) when the FIFO is empty.
Every request is recorded (``server.requests``, ``server.chat_bodies()``), and every answered
chat request leaves an :class:`Exchange` (``server.exchanges``) that tells whether, and when, the
client closed the connection, so cancellation tests can check that the connection was released.

A :class:`ChatAnswer` is a streamed answer: server-sent events, each written as its own HTTP
chunk, optionally paced, then ended cleanly, cut (the connection closes without the final
chunk), or stalled (the headers and some events are sent, then nothing until the client hangs
up). A plain :class:`~tests.servers.scripted.Reply` (e.g. a JSON error) is answered as is.

It also serves ``POST <base_path>/embeddings``, as OpenAI, Ollama and LiteLLM do beside their
chat completions: the vectors of the server's deterministic local embedder (so a test knows
what ranks first), after answering ``embeddings_rate_limited`` requests with ``429`` and
``Retry-After`` (a rate limit storm); with ``embeddings_served = False`` it answers 404, as a
backend without embeddings does. ``embedding_requests`` counts the requests answered.

Two more things for tests of a server in front of it: an answer can be held before any of its
frames until the test releases it (``ChatAnswer.hold_before``), so a test can check what a client
saw while the backend was still answering, without timing; and the server counts the answers it
is streaming at once (``in_flight``, ``peak_in_flight``), so a test can check a bound on the
requests made to it concurrently.

The builders at the bottom produce the chunk shapes of the recorded OpenAI streams in
``tests/fixtures/reference/chat-*.sse``: a first chunk with ``delta: {role, content: "",
refusal: null}``, content chunks, a finish chunk with an empty delta, a usage-only chunk with
``choices: []``, then ``data: [DONE]``.

Usage::

    with FakeChatServer() as backend:
        backend.script(text_answer("Hello!", chunks=3), *rate_limited(2, retry_after=1))
        ...  # point a responder at backend.base_url
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from assistants_client.server.retrieval import LocalEmbedder
from tests.servers.scripted import RecordedRequest, Reply, ScriptedServer, _RequestHandler

__all__ = [
    "CITED_SENTENCE",
    "DONE_FRAME",
    "MARKER_PATTERN",
    "REFERENCE_DIR",
    "ChatAnswer",
    "Exchange",
    "FakeChatServer",
    "ScriptedCall",
    "bad_request",
    "chunk",
    "citing_answer",
    "content_filter_answer",
    "cut_answer",
    "echo_answer",
    "every_position",
    "frame",
    "length_answer",
    "parallel_tool_calls_answer",
    "rate_limited",
    "recorded_frames",
    "replay_answer",
    "server_errors",
    "silent_answer",
    "stall_answer",
    "status_answer",
    "stream_error_answer",
    "text_answer",
    "tool_call_answer",
    "UNCITED_SENTENCE",
]

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "reference"
DONE_FRAME = b"data: [DONE]\n\n"
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
FAKE_MODEL = "gpt-4o-fake"
CITED_SENTENCE = "The answer is in the files."
UNCITED_SENTENCE = "The files say nothing about it."
# A citation marker, as the server labels search results for the model.
MARKER_PATTERN = re.compile(r"【\d+:\d+†[^】\n]+】")
EMBEDDING_DIMENSIONS = 64
_POLL = 0.01  # how often a waiting handler looks for a hang-up or a server stop


@dataclass
class Exchange:
    """One answered chat request, as the server saw it."""

    request: RecordedRequest
    frames_sent: int = 0
    client_closed: threading.Event = field(default_factory=threading.Event)
    """Set when the server noticed the client closed the connection before the answer ended."""
    closed_at: float | None = None
    """``time.monotonic()`` when the server noticed the hang-up."""
    answered: threading.Event = field(default_factory=threading.Event)
    """Set when the handler is done with this request (whatever the ending)."""

    def note_closed(self) -> None:
        if not self.client_closed.is_set():
            self.closed_at = time.monotonic()
            self.client_closed.set()


@dataclass
class ChatAnswer(Reply):
    """A streamed answer: ``frames`` (SSE events, each sent as one HTTP chunk).

    ``pacing`` is the wait before each frame (one value for all, or one per frame).
    ``ending``: ``complete`` sends the final zero-length chunk; ``cut`` closes the connection
    without it; ``stall`` sends nothing more and holds the connection until the client hangs up.
    ``silent``: never send even the status line, hold the connection until the client hangs up.
    ``hold_before``: frame index -> an event; the frame waits until the event is set (at most
    ``hold_limit`` seconds, so a test that never sets it still ends).
    """

    frames: list[bytes] = field(default_factory=list)
    pacing: float | Sequence[float] = 0.0
    ending: Literal["complete", "cut", "stall"] = "complete"
    silent: bool = False
    hold_before: Mapping[int, threading.Event] = field(default_factory=dict)
    hold_limit: float = 10.0
    exchange: Exchange | None = None

    def __post_init__(self) -> None:
        if not self.headers:
            self.headers = dict(SSE_HEADERS)

    def cut_after(self, frames: int) -> ChatAnswer:
        """This answer, with the connection closed after ``frames`` frames."""
        return dataclasses.replace(self, frames=self.frames[:frames], ending="cut")

    def stall_after(self, frames: int) -> ChatAnswer:
        """This answer, going silent (connection held open) after ``frames`` frames."""
        return dataclasses.replace(self, frames=self.frames[:frames], ending="stall")

    def paced(self, seconds: float | Sequence[float]) -> ChatAnswer:
        """This answer, waiting ``seconds`` before each frame."""
        return dataclasses.replace(self, pacing=seconds)

    def held_before(self, index: int, gate: threading.Event, limit: float = 10.0) -> ChatAnswer:
        """This answer, sending frame ``index`` only once ``gate`` is set (or ``limit`` passed)."""
        return dataclasses.replace(
            self, hold_before={**self.hold_before, index: gate}, hold_limit=limit
        )

    def without_done(self) -> ChatAnswer:
        """This answer without its ``data: [DONE]`` frame (the body still ends cleanly)."""
        return dataclasses.replace(self, frames=[f for f in self.frames if f != DONE_FRAME])

    def delay_before(self, index: int) -> float:
        if isinstance(self.pacing, (int, float)):
            return float(self.pacing)
        return float(self.pacing[index]) if index < len(self.pacing) else 0.0


Answer: TypeAlias = Reply | Callable[[RecordedRequest], Reply]


class _ChatHandler(_RequestHandler):
    server: Any
    _counted = False

    def _answer(self, reply: Reply) -> None:
        if not isinstance(reply, ChatAnswer):
            super()._answer(reply)
            return
        exchange = reply.exchange
        assert exchange is not None
        self.server.scripted._streaming(+1)
        self._counted = True
        try:
            self._stream(reply, exchange)
        except OSError:
            exchange.note_closed()
            self.close_connection = True
        finally:
            self._uncount()
            exchange.answered.set()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.server.scripted._streaming(-1)

    def _stream(self, answer: ChatAnswer, exchange: Exchange) -> None:
        if answer.silent:
            self._hold(None, exchange)
            self.close_connection = True
            return
        if answer.delay and self._hold(answer.delay, exchange):
            self.close_connection = True
            return
        self.send_response(answer.status, answer.reason)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for index, payload in enumerate(answer.frames):
            pause = answer.delay_before(index)
            if pause and self._hold(pause, exchange):
                self.close_connection = True
                return
            gate = answer.hold_before.get(index)
            if gate is not None and self._hold(answer.hold_limit, exchange, gate):
                self.close_connection = True
                return
            if index == len(answer.frames) - 1 and answer.ending == "complete":
                # No longer counted as streaming: a client may start its next request as soon
                # as it has read this frame, and that must not look like an overlap.
                self._uncount()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            self.wfile.flush()
            exchange.frames_sent += 1
        if answer.ending == "complete":
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        self.close_connection = True
        if answer.ending == "stall":
            self._hold(None, exchange)
            return
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _hold(
        self, seconds: float | None, exchange: Exchange, gate: threading.Event | None = None
    ) -> bool:
        """Wait ``seconds`` (None: until a hang-up), or until ``gate`` is set; True if the
        client hung up or the server is stopping meanwhile."""
        stopping = self.server.scripted._stopping
        deadline = None if seconds is None else time.monotonic() + seconds
        while not stopping.is_set():
            if gate is not None and gate.is_set():
                return False
            left = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
            if left <= 0:
                return False
            readable, _, _ = select.select([self.connection], [], [], left)
            if not readable:
                continue
            try:
                peeked = self.connection.recv(1, socket.MSG_PEEK)
            except OSError:
                peeked = b""
            if not peeked:
                exchange.note_closed()
                return True
            time.sleep(left)  # the client sent more bytes: not a hang-up, keep waiting
        return True


class FakeChatServer(ScriptedServer):
    """A loopback Chat Completions backend answering ``POST <base_path>/chat/completions``."""

    handler_class = _ChatHandler

    def __init__(self, host: str = "127.0.0.1", *, base_path: str = "/v1") -> None:
        super().__init__(host)
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.default_answer: Callable[[RecordedRequest], Reply] = echo_answer
        """What a chat request gets when no scripted answer is left."""
        self.exchanges: list[Exchange] = []
        self.in_flight = 0
        """Streamed answers being sent right now (until their last frame is about to go)."""
        self.peak_in_flight = 0
        """The most streamed answers ever sent at once."""
        self._answers: deque[Answer] = deque()
        self._answers_lock = threading.Lock()
        self.route("POST", re.escape(self.base_path) + "/chat/completions", self._next_answer)
        self.embeddings_served = True
        self.embeddings_rate_limited = 0
        """Answer this many more embeddings requests 429 (with ``Retry-After: 0``) first."""
        self.embedding_requests = 0
        self.embeddings_gate: threading.Event | None = None
        """When set to an Event, embeddings requests wait for it (at most 30 s) before their
        answer; ``embedding_arrived`` is set as one arrives."""
        self.embedding_arrived = threading.Event()
        self.embedder = LocalEmbedder(EMBEDDING_DIMENSIONS)
        self.route("POST", re.escape(self.base_path) + "/embeddings", self._embeddings)

    @property
    def base_url(self) -> str:
        """``<url><base_path>``: the ``base_url`` a responder should be given."""
        return f"{self.url}{self.base_path}"

    def script(self, *answers: Answer | Iterable[Answer]) -> None:
        """Answer the next chat requests with these, in order (lists are flattened)."""
        flat: list[Answer] = []
        for answer in answers:
            if isinstance(answer, Reply) or callable(answer):
                flat.append(answer)
            else:
                flat.extend(answer)
        with self._answers_lock:
            self._answers.extend(flat)

    @property
    def pending_answers(self) -> int:
        with self._answers_lock:
            return len(self._answers)

    def _streaming(self, change: int) -> None:
        with self._answers_lock:
            self.in_flight += change
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def exchange(self, number: int = -1, bound: float = 10.0) -> Exchange:
        """The ``number``-th exchange (default: the latest), waiting up to ``bound`` seconds
        for it to begin."""
        deadline = time.monotonic() + bound
        while True:
            with self._answers_lock:
                count = len(self.exchanges)
                if (number < 0 and count >= -number) or 0 <= number < count:
                    return self.exchanges[number]
            assert time.monotonic() < deadline, f"no exchange {number} within {bound} s"
            time.sleep(0.005)

    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded chat requests, in arrival order."""
        with self._lock:
            recorded = list(self.requests)
        suffix = self.base_path + "/chat/completions"
        return [r for r in recorded if r.method == "POST" and r.path == suffix]

    def chat_bodies(self) -> list[Any]:
        """The parsed JSON bodies of the recorded chat requests."""
        return [r.json() for r in self.chat_requests()]

    def last_body(self) -> Any:
        bodies = self.chat_bodies()
        assert bodies, "the backend received no chat request"
        return bodies[-1]

    def _embeddings(self, request: RecordedRequest) -> Reply:
        with self._answers_lock:
            self.embedding_requests += 1
            if not self.embeddings_served:
                return Reply.error(404, "Not Found", code="not_found")
            if self.embeddings_rate_limited > 0:
                self.embeddings_rate_limited -= 1
                return Reply.error(
                    429,
                    "Rate limit reached for embeddings",
                    type="rate_limit_exceeded",
                    headers={"Retry-After": "0"},
                )
        self.embedding_arrived.set()
        gate = self.embeddings_gate
        if gate is not None:
            gate.wait(30.0)
        body = request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = self.embedder.embed(inputs)
        return Reply.json(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": n, "embedding": vector}
                    for n, vector in enumerate(vectors)
                ],
                "model": body.get("model", "text-embedding-3-small"),
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            }
        )

    def _next_answer(self, request: RecordedRequest) -> Reply:
        with self._answers_lock:
            chosen: Answer = self._answers.popleft() if self._answers else self.default_answer
        reply = chosen if isinstance(chosen, Reply) else chosen(request)
        if not isinstance(reply, ChatAnswer):
            return reply
        exchange = Exchange(request)
        with self._answers_lock:
            self.exchanges.append(exchange)
        return dataclasses.replace(reply, exchange=exchange)


# -- chunk and frame builders -------------------------------------------------------------------

_ids = itertools.count(1)


def frame(payload: Any) -> bytes:
    """One SSE event: ``data: <compact JSON>`` and a blank line."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def chunk(
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    *,
    completion_id: str,
    model: str = FAKE_MODEL,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; ``delta=None`` makes the usage-only chunk (``choices: []``)."""
    payload: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": 1727346171,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [],
    }
    if delta is not None:
        payload["choices"] = [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ]
    if usage is not None:
        payload["usage"] = usage
    return payload


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    """Usage as the recorded streams report it (``completion_tokens_details`` included)."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _split_text(text: str, chunks: int) -> list[str]:
    chunks = max(1, min(chunks, len(text) or 1))
    size, extra = divmod(len(text), chunks)
    pieces, start = [], 0
    for number in range(chunks):
        end = start + size + (1 if number < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _split_at(text: str, positions: Iterable[int]) -> list[str]:
    cuts = sorted({p for p in positions if 0 < p < len(text)})
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def every_position(text: str) -> list[int]:
    """Split positions that put every character in its own fragment."""
    return list(range(1, len(text)))


def _ending(
    completion_id: str, finish_reason: str, usage: tuple[int, int] | None, done: bool
) -> list[bytes]:
    frames = [frame(chunk({}, finish_reason, completion_id=completion_id))]
    if usage is not None:
        frames.append(frame(chunk(None, completion_id=completion_id, usage=_usage(*usage))))
    if done:
        frames.append(DONE_FRAME)
    return frames


def text_answer(
    text: str,
    *,
    chunks: int | None = None,
    pieces: Sequence[str] | None = None,
    pacing: float | Sequence[float] = 0.0,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (11, 7),
    done: bool = True,
) -> ChatAnswer:
    """A streamed text reply: the role chunk, ``text`` in ``chunks`` pieces (or the given
    ``pieces``), the finish chunk, the usage-only chunk (unless ``usage`` is None), ``[DONE]``."""
    completion_id = f"chatcmpl-fake{next(_ids)}"
    parts = list(pieces) if pieces is not None else _split_text(text, chunks or 1)
    frames = [
        frame(
            chunk(
                {"role": "assistant", "content": "", "refusal": None}, completion_id=completion_id
            )
        )
    ]
    frames += [frame(chunk({"content": part}, completion_id=completion_id)) for part in parts]
    frames += _ending(completion_id, finish_reason, usage, done)
    return ChatAnswer(frames=frames, pacing=pacing)


def length_answer(text: str, *, chunks: int = 2) -> ChatAnswer:
    """A text reply cut by the token limit (``finish_reason: length``)."""
    return text_answer(text, chunks=chunks, finish_reason="length")


def content_filter_answer(text: str = "", *, chunks: int = 1) -> ChatAnswer:
    """A reply stopped by the content filter (``finish_reason: content_filter``)."""
    return text_answer(text, chunks=chunks, finish_reason="content_filter")


@dataclass(frozen=True)
class ScriptedCall:
    """One function call to stream: its arguments are split at ``splits`` (positions)."""

    id: str
    name: str
    arguments: str
    splits: Sequence[int] = ()


def _call_frames(
    completion_id: str, index: int, call: ScriptedCall, opening: dict[str, Any] | None = None
) -> list[bytes]:
    """The chunks of one call: its index/id/type/name (with ``opening`` fields merged into
    that first delta), then one chunk per argument fragment."""
    head = {
        "index": index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    first_delta = {**(opening or {}), "tool_calls": [head]}
    if opening and "refusal" in opening:
        # the recorded first chunk puts `refusal` after `tool_calls`
        first_delta["refusal"] = first_delta.pop("refusal")
    frames = [frame(chunk(first_delta, completion_id=completion_id))]
    for fragment in _split_at(call.arguments, call.splits):
        delta = {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
        frames.append(frame(chunk(delta, completion_id=completion_id)))
    return frames


def tool_call_answer(
    name: str,
    arguments: str,
    *,
    call_id: str = "call_fake_1",
    splits: Sequence[int] = (),
    text_before: str | None = None,
    usage: tuple[int, int] | None = (40, 12),
) -> ChatAnswer:
    """One streamed function call, as in ``chat-tool-call.sse``: the first chunk carries the
    role, ``content: null`` and the call's index/id/type/name with empty arguments; then one
    chunk per argument fragment (split at ``splits``); ``finish_reason: tool_calls``.
    ``text_before``: a content chunk first (the call's first chunk then has no role)."""
    completion_id = f"chatcmpl-fake{next(_ids)}"
    call = ScriptedCall(call_id, name, arguments, splits)
    frames: list[bytes] = []
    opening: dict[str, Any] | None = {"role": "assistant", "content": None, "refusal": None}
    if text_before is not None:
        role_and_text = {"role": "assistant", "content": text_before, "refusal": None}
        frames.append(frame(chunk(role_and_text, completion_id=completion_id)))
        opening = None
    frames += _call_frames(completion_id, 0, call, opening)
    frames += _ending(completion_id, "tool_calls", usage, True)
    return ChatAnswer(frames=frames)


def parallel_tool_calls_answer(
    calls: Sequence[ScriptedCall], *, interleave: bool = False
) -> ChatAnswer:
    """Several function calls in one answer (indices 0, 1, ...), as in
    ``chat-parallel-tool-calls.sse``: each call opens with its own id/name chunk, then its
    argument fragments. ``interleave`` alternates the calls' chunks instead."""
    completion_id = f"chatcmpl-fake{next(_ids)}"
    frames = [frame(chunk({"role": "assistant", "content": None}, completion_id=completion_id))]
    per_call = [_call_frames(completion_id, i, call) for i, call in enumerate(calls)]
    if interleave:
        for group in itertools.zip_longest(*per_call):
            frames += [f for f in group if f is not None]
    else:
        for call_frames in per_call:
            frames += call_frames
    frames += _ending(completion_id, "tool_calls", (60, 30), True)
    return ChatAnswer(frames=frames)


def stream_error_answer(
    message: str,
    *,
    text_before: str = "",
    type: str = "server_error",
    code: str | None = None,
) -> ChatAnswer:
    """Some text, then ``data: {"error": {...}}`` in the stream (and no finish)."""
    completion_id = f"chatcmpl-fake{next(_ids)}"
    frames = [
        frame(
            chunk(
                {"role": "assistant", "content": "", "refusal": None}, completion_id=completion_id
            )
        )
    ]
    if text_before:
        frames.append(frame(chunk({"content": text_before}, completion_id=completion_id)))
    error = {"message": message, "type": type, "param": None, "code": code}
    frames.append(frame({"error": error}))
    return ChatAnswer(frames=frames)


def cut_answer(text: str, *, chunks: int, after: int) -> ChatAnswer:
    """A text reply whose connection closes after ``after`` frames (the role chunk counts)."""
    return text_answer(text, chunks=chunks).cut_after(after)


def stall_answer(text_before: str = "", *, chunks: int = 1) -> ChatAnswer:
    """Headers (and ``text_before`` in ``chunks`` chunks, if any), then silence."""
    if not text_before:
        return ChatAnswer(frames=[], ending="stall")
    answer = text_answer(text_before, chunks=chunks)
    return answer.stall_after(1 + chunks)


def silent_answer() -> ChatAnswer:
    """No status line at all: the backend reads the request and says nothing."""
    return ChatAnswer(silent=True)


def status_answer(
    status: int,
    message: str = "error",
    *,
    retry_after: float | str | None = None,
    retry_after_ms: float | None = None,
    type: str = "server_error",
    code: str | None = None,
) -> Reply:
    """An error status with an OpenAI-style JSON body and optional retry headers."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Reply.error(status, message, type=type, code=code, headers=headers)


def rate_limited(
    times: int, *, retry_after: float | str | None = None, retry_after_ms: float | None = None
) -> list[Reply]:
    """``times`` answers 429 (``rate_limit_exceeded``), with the given retry headers."""
    return [
        status_answer(
            429,
            "Rate limit reached for requests",
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
            type="requests",
            code="rate_limit_exceeded",
        )
        for _ in range(times)
    ]


def server_errors(
    times: int, *, status: int = 500, retry_after: float | str | None = None
) -> list[Reply]:
    """``times`` answers with a 5xx status."""
    return [
        status_answer(
            status,
            "The server had an error while processing your request.",
            retry_after=retry_after,
        )
        for _ in range(times)
    ]


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> Reply:
    """A 400 with an OpenAI-style error body."""
    return Reply.error(400, message, type="invalid_request_error", code=code, param=param)


def recorded_frames(path: Path | str) -> list[bytes]:
    """The SSE events of a recorded ``.sse`` file (leading ``#`` lines dropped), byte for byte."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = REFERENCE_DIR / path
    lines = path.read_bytes().splitlines(keepends=True)
    while lines and lines[0].startswith(b"#"):
        lines.pop(0)
    body = b"".join(lines)
    frames = [part + b"\n\n" for part in body.split(b"\n\n") if part.strip()]
    assert b"".join(frames) == body, "recording is not a plain sequence of \\n\\n-ended events"
    return frames


def replay_answer(path: Path | str, *, pacing: float | Sequence[float] = 0.0) -> ChatAnswer:
    """A recorded stream (a name in ``tests/fixtures/reference`` or a path), one event per
    HTTP chunk."""
    return ChatAnswer(frames=recorded_frames(path), pacing=pacing)


def _last_user_text(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "".join(p.get("text", "") for p in content or [] if p.get("type") == "text")
    return ""


def echo_answer(request: RecordedRequest) -> ChatAnswer:
    """The default answer: the last user message's text, streamed back in up to four chunks."""
    try:
        body = request.json()
    except ValueError:
        body = None
    text = _last_user_text(body) or "Hello from the fake backend."
    return text_answer(text, chunks=4)


def _offers_file_search(body: Any) -> bool:
    tools = body.get("tools") if isinstance(body, dict) else None
    return any(
        isinstance(tool, dict) and (tool.get("function") or {}).get("name") == "file_search"
        for tool in tools or []
    )


def citing_answer(request: RecordedRequest) -> ChatAnswer:
    """A model that searches and cites (usable as ``FakeChatServer.default_answer``).

    Offered the ``file_search`` function, with a last message that is not a tool message: it
    calls ``file_search`` with the last user text as its one query, the arguments streamed in
    several chunks. After a tool message: ``CITED_SENTENCE`` and the first marker found in that
    message, the marker cut across chunks (``UNCITED_SENTENCE`` alone when it holds none).
    Otherwise: the echo answer.
    """
    try:
        body = request.json()
    except ValueError:
        body = None
    messages = body.get("messages") if isinstance(body, dict) else None
    last = messages[-1] if messages else {}
    if isinstance(last, dict) and last.get("role") == "tool":
        found = MARKER_PATTERN.search(str(last.get("content") or ""))
        if found is None:
            return text_answer(UNCITED_SENTENCE, chunks=3)
        cited = found.group(0)
        half = len(cited) // 2
        pieces = [
            CITED_SENTENCE[:4],
            CITED_SENTENCE[4:],
            cited[:2],
            cited[2:half],
            cited[half:],
        ]
        return text_answer(CITED_SENTENCE + cited, pieces=pieces)
    if _offers_file_search(body):
        arguments = json.dumps({"queries": [_last_user_text(body)]}, ensure_ascii=False)
        third = max(1, len(arguments) // 3)
        return tool_call_answer(
            "file_search",
            arguments,
            call_id=f"call_search{next(_ids)}",
            splits=(third, 2 * third),
        )
    return echo_answer(request)
