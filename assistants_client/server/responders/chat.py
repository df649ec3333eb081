"""The Chat Completions backend: one turn of a run, answered by an OpenAI-compatible server.

:class:`ChatCompletionsResponder` turns a :class:`~assistants_client.server.responders.Turn`
into one streamed ``POST {base_url}/chat/completions`` and the backend's server-sent events
into increments. It works with OpenAI, Azure OpenAI (``https://<resource>.openai.azure.com/
openai/v1``), Ollama, vLLM, llama.cpp's server and LiteLLM.

What the backend receives:

* ``stream: true`` and ``stream_options: {"include_usage": true}``, always;
* a system message made of the run's ``instructions`` and ``additional_instructions`` (joined
  by a blank line; none when both are empty), the thread's messages in order (text parts, and
  ``image_url`` parts as Chat image parts), then each earlier tool round of the run as an
  assistant message with ``tool_calls`` followed by one ``tool`` message per call;
* function tools as ``tools``; ``tool_choice`` and ``parallel_tool_calls`` only with tools
  (backends refuse them otherwise); ``response_format`` when it is ``json_object`` or
  ``json_schema``; ``temperature`` and ``top_p`` when set; the run's ``max_completion_tokens``
  under the field named by ``completion_tokens_field``.

Truncation: ``last_messages`` sends the last N thread messages; ``auto`` with
``max_prompt_tokens`` drops the oldest thread messages until the estimated prompt fits. The
estimate is deliberately simple: a message costs 4 tokens plus one token per 4 characters of
its text (tool call names and arguments and tool outputs included), plus 765 tokens per image;
the tool definitions cost one token per 4 characters of their JSON. The system message, the
run's own tool rounds and the last user message are never dropped.

What the engine gets: a :class:`TextDelta` per content piece and a :class:`ToolCallDelta` per
tool-call piece, each as soon as its event is parsed (a ``refusal`` is passed on as text;
reasoning fields some local servers add, ``reasoning_content`` or ``reasoning``, are not part of
the answer and are left out); :class:`Usage` when the backend reports
it (including the usage-only last chunk); and as the last increment either :class:`Finish` or
:class:`Failure`. Tool calls are numbered 0, 1, ... in the order they first appear, whatever
indices the backend used; a call's first piece carries its id (one is made up when the backend
sends none) and name. A turn that produced tool calls but whose backend reported ``stop`` (some
local servers do) finishes with ``tool_calls``.

Faults: 429 and 5xx answers and connection errors before the answer's headers are retried up
to ``max_retries`` times, waiting as ``retry-after-ms`` / ``Retry-After`` say (capped at
``max_retry_wait``) or else an exponential backoff with jitter; then the turn fails with
``rate_limit_exceeded`` (429) or ``server_error``. Any other 4xx fails at once with
``invalid_prompt`` and the backend's message. Failures during the stream are never retried,
since increments were already handed out: a cut stream, silence longer than the read timeout,
an ``error`` object in the stream, an event larger than ``max_event_bytes`` or one that is not
JSON all end the turn with ``server_error`` after what was already yielded.

Cancellation: once ``cancelled`` is set, :meth:`~ChatCompletionsResponder.respond` stops within
a second and closes the backend connection, even while it is blocked reading a silent backend.
A blocking socket read does not notice an event, so every connection the responder opens is
registered (through its own connection pool classes) with a watcher thread shared by all
responders, which polls the cancel events of the calls in flight every 50 ms and shuts down the
socket of a cancelled call; the blocked read then returns at once. The same watcher enforces
``total_timeout``. A call cancelled while its TCP or TLS handshake is under way stops when the
handshake ends, at the latest after the connect timeout.

The API key is sent only as ``Authorization: Bearer``. It never appears in a log line, a
failure message or a repr, and it is removed from any text a backend sends back.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import math
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
import sseclient
import urllib3
import urllib3.connection
import urllib3.exceptions

from assistants_client.server.responders import (
    Failure,
    FailureCode,
    Finish,
    FinishReason,
    Increment,
    TextDelta,
    ToolCallDelta,
    Turn,
    UnsupportedInput,
    Usage,
)

__all__ = ["ChatCompletionsResponder"]

logger = logging.getLogger("assistants_client.server")

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
IMAGE_TOKENS: Final = 765
MESSAGE_OVERHEAD_TOKENS: Final = 4
_READ_SIZE: Final = 64 * 1024
_ERROR_BODY_LIMIT: Final = 64 * 1024
_DRAIN_LIMIT: Final = 64 * 1024
_DRAIN_TIMEOUT: Final = 0.25
_WATCH_INTERVAL: Final = 0.05
_MESSAGE_EXCERPT: Final = 1000
_SSE_TERMINATORS: Final = (b"\r\r", b"\n\n", b"\r\n\r\n")
_FINISH_REASONS: Final[Mapping[str, FinishReason]] = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "length",
    "content_filter": "content_filter",
}

Sleep = Callable[[float, threading.Event], object]
"""Waits ``seconds`` or until the event is set, whichever comes first."""


def _wait(seconds: float, cancelled: threading.Event) -> None:
    cancelled.wait(seconds)


# -- cancellation: a watcher that can shut down the socket a call is blocked on ------------------


def _shutdown(sock: Any) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if isinstance(sock, socket.socket):
            # The plain-socket method also for TLS sockets: it leaves the TLS state alone, the
            # blocked read just sees the end of the stream.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        else:
            sock.shutdown(socket.SHUT_RDWR)


class _Scope:
    """The sockets of one respond() call, and why it must stop (cancelled, out of time)."""

    def __init__(self, cancelled: threading.Event, deadline: float | None) -> None:
        self.cancelled = cancelled
        self.deadline = deadline
        self.reason: Literal["cancelled", "deadline"] | None = None
        self._sockets: list[Any] = []
        self._lock = threading.Lock()

    def attach(self, sock: Any) -> None:
        if sock is None:
            return
        with self._lock:
            if any(known is sock for known in self._sockets):
                return
            self._sockets.append(sock)
            if self.reason is not None:
                _shutdown(sock)

    def release(self) -> bool:
        """Forget the sockets (their owner is about to reuse or close them); True if the call
        was never stopped, i.e. the connection is intact."""
        with self._lock:
            self._sockets.clear()
            return self.reason is None

    def poll(self, now: float) -> None:
        if self.reason is not None:
            return
        if self.cancelled.is_set():
            reason: Literal["cancelled", "deadline"] = "cancelled"
        elif self.deadline is not None and now >= self.deadline:
            reason = "deadline"
        else:
            return
        with self._lock:
            self.reason = reason
            for sock in self._sockets:
                _shutdown(sock)

    @property
    def stopped(self) -> bool:
        return self.reason is not None or self.cancelled.is_set()


class _Watcher:
    """One daemon thread for the whole process: polls the calls in flight, idle otherwise."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._scopes: set[_Scope] = set()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, scope: _Scope) -> None:
        with self._condition:
            self._scopes.add(scope)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="chat-responder-watcher", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def unwatch(self, scope: _Scope) -> None:
        with self._condition:
            self._scopes.discard(scope)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._scopes:
                    self._condition.wait()
                scopes = list(self._scopes)
            now = time.monotonic()
            for scope in scopes:
                scope.poll(now)
            time.sleep(self._interval)


_WATCHER = _Watcher(_WATCH_INTERVAL)
_current = threading.local()


def _attach_to_current_scope(sock: Any) -> None:
    scope: _Scope | None = getattr(_current, "scope", None)
    if scope is not None:
        scope.attach(sock)


class _Scoped:
    """Registers the connection's socket with the respond() call that uses it (new or reused)."""

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _attach_to_current_scope(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_to_current_scope(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _ScopedHTTPConnection(_Scoped, urllib3.connection.HTTPConnection):
    pass


class _ScopedHTTPSConnection(_Scoped, urllib3.connection.HTTPSConnection):
    pass


class _ScopedHTTPConnectionPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _ScopedHTTPConnection


class _ScopedHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _ScopedHTTPSConnection


_SCOPED_POOLS: Final[dict[str, type[urllib3.HTTPConnectionPool]]] = {
    "http": _ScopedHTTPConnectionPool,
    "https": _ScopedHTTPSConnectionPool,
}


class _ScopedAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections can be shut down by the watcher."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_SCOPED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # SOCKS managers have their own pool classes
            manager.pool_classes_by_scheme = dict(_SCOPED_POOLS)
        return manager


# -- request translation -------------------------------------------------------------------------


def _text_of(part: Mapping[str, Any]) -> str:
    text = part.get("text")
    if isinstance(text, Mapping):
        value = text.get("value")
        return value if isinstance(value, str) else ""
    return text if isinstance(text, str) else ""


def _check_message(index: int, message: Mapping[str, Any]) -> None:
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise UnsupportedInput(
            f"messages of role {role!r} cannot be sent to a Chat Completions backend",
            param=f"messages[{index}].role",
        )
    content = message.get("content")
    if content is None or isinstance(content, str):
        return
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        where = f"messages[{index}].content[{number}]"
        if kind == "text":
            continue
        if kind == "image_url" and role == "user":
            continue
        if kind == "image_url":
            raise UnsupportedInput(
                "a Chat Completions backend takes images only in user messages", param=where
            )
        if kind == "image_file":
            raise UnsupportedInput(
                "image_file content (an uploaded file) cannot be sent to a Chat Completions "
                "backend; use an image_url part",
                param=where,
            )
        raise UnsupportedInput(
            f"content of type {kind!r} cannot be sent to a Chat Completions backend", param=where
        )


def _chat_message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message["role"]
    content = message.get("content")
    if content is None or isinstance(content, str):
        return {"role": role, "content": content or ""}
    if not any(part.get("type") == "image_url" for part in content):
        # Plain text as a string: every backend takes it, some take nothing else.
        return {"role": role, "content": "\n".join(_text_of(part) for part in content)}
    parts: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            parts.append({"type": "text", "text": _text_of(part)})
        else:
            source = part.get("image_url") or {}
            image = {"url": source.get("url")}
            if source.get("detail") is not None:
                image["detail"] = source["detail"]
            parts.append({"type": "image_url", "image_url": image})
    return {"role": role, "content": parts}


def _tool_round_messages(turn: Turn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for round_ in turn.tool_rounds:
        calls = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
            for call in round_.calls
        ]
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        for call in round_.calls:
            output = round_.outputs.get(call["id"], "")
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
    return messages


def _estimate_tokens(message: Mapping[str, Any]) -> int:
    """The prompt-size estimate used by ``auto`` truncation (see the module docstring)."""
    chars = 0
    images = 0
    content = message.get("content")
    if isinstance(content, str):
        chars += len(content)
    elif isinstance(content, list):
        for part in content:
            if part.get("type") == "image_url":
                images += 1
            else:
                chars += len(part.get("text") or "")
    for call in message.get("tool_calls") or ():
        chars += len(call["function"]["name"]) + len(call["function"]["arguments"])
    return MESSAGE_OVERHEAD_TOKENS + math.ceil(chars / 4) + IMAGE_TOKENS * images


def _kept_indexes(
    messages: Sequence[Mapping[str, Any]], turn: Turn, fixed_tokens: int
) -> list[int]:
    everything = list(range(len(messages)))
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    strategy = turn.truncation_strategy or {"type": "auto"}
    if strategy.get("type") == "last_messages":
        count = strategy.get("last_messages")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return everything
        first = len(messages) - count
        return [i for i in everything if i >= first or i == last_user]
    if strategy.get("type") != "auto" or turn.max_prompt_tokens is None:
        return everything
    costs = [_estimate_tokens(m) for m in messages]
    total = fixed_tokens + sum(costs)
    kept = []
    for index in everything:
        if total > turn.max_prompt_tokens and index != last_user:
            total -= costs[index]
            continue
        kept.append(index)
    return kept


def _plain(value: Any) -> Any:
    """``value`` with every Mapping made a dict and every other sequence a list (for JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _function_tools(turn: Turn) -> list[dict[str, Any]]:
    tools = []
    for tool in turn.tools:
        function = {k: v for k, v in (tool.get("function") or {}).items() if v is not None}
        if function.get("strict") is False:
            # The API shows the default on every stored tool; a backend is sent only what
            # was asked (some refuse the field).
            del function["strict"]
        tools.append({"type": "function", "function": function})
    return tools


def _response_format(value: str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping) and value.get("type") in ("json_object", "json_schema"):
        return value
    return None


# -- response translation ------------------------------------------------------------------------


class _EventTooLarge(Exception):
    pass


def _read_pieces(raw: Any) -> Iterator[bytes]:
    """The body as it arrives, at most ``_READ_SIZE`` bytes a piece, whatever the peer's
    chunk sizes (a huge HTTP chunk must not be read into memory at once)."""
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # urllib3 before read1(): pieces arrive in blocks, not as sent
        yield from raw.stream(_READ_SIZE, decode_content=True)
        return
    while True:
        piece = read1(_READ_SIZE, decode_content=True)
        if not piece:
            return
        yield piece


def _bounded_events(pieces: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """``pieces``, refusing to let one SSE event grow past ``limit`` bytes.

    It follows sseclient's own framing (lines appended to a pending event until the pending
    bytes end with a blank line), so its count is exactly what sseclient holds in memory.
    """
    pending = 0
    tail = b""
    for piece in pieces:
        for line in piece.splitlines(True):
            pending += len(line)
            tail = (tail + line)[-4:]
            if tail.endswith(_SSE_TERMINATORS):
                pending = 0
                tail = b""
        if pending > limit:
            raise _EventTooLarge
        yield piece


def _is_timeout(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            (socket.timeout, TimeoutError, urllib3.exceptions.TimeoutError, requests.Timeout),
        ):
            return True
        for arg in current.args:
            if isinstance(arg, BaseException) and _is_timeout(arg):
                return True
        current = current.__cause__ or current.__context__
    return False


def _error_failure(error: Any, redact: Callable[[str], str]) -> Failure:
    """A Failure from a backend's ``error`` (a JSON object or a string)."""
    if isinstance(error, Mapping):
        message = error.get("message")
        text = message if isinstance(message, str) else json.dumps(error)[:_MESSAGE_EXCERPT]
        code = str(error.get("code") or "")
        kind = str(error.get("type") or "")
    else:
        text, code, kind = str(error), "", ""
    failure_code: FailureCode = "server_error"
    if code == "rate_limit_exceeded" or kind in ("rate_limit_error", "rate_limit_exceeded"):
        failure_code = "rate_limit_exceeded"
    elif kind == "invalid_request_error" or code in ("invalid_prompt", "context_length_exceeded"):
        failure_code = "invalid_prompt"
    return Failure(failure_code, "the backend reported an error: " + redact(text))


class _Call:
    __slots__ = ("backend_index", "id", "index", "name", "opened", "pending")

    def __init__(self, index: int, backend_index: int | None) -> None:
        self.index = index
        self.backend_index = backend_index
        self.id: str | None = None
        self.name: str | None = None
        self.opened = False
        self.pending: list[str] = []


class _ToolCalls:
    """Tool-call pieces in, ToolCallDeltas out.

    Pieces belong to the call with the same ``index`` (several pieces of one call may share a
    chunk). A backend that omits ``index`` is followed by ``id``: a new id opens a new call, a
    piece without one continues the last call. A piece whose index is taken by a call with a
    different id opens a new call (some servers number every call 0). A call opens (first
    delta, with id and name) once its name is known; arguments that came before are sent with
    it.
    """

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self._by_backend_index: dict[int, _Call] = {}

    def _call_for(self, backend_index: int | None, call_id: str | None) -> _Call:
        if backend_index is not None:
            known = self._by_backend_index.get(backend_index)
            if known is not None and not (call_id and known.id and call_id != known.id):
                return known
        elif call_id:
            for call in self.calls:
                if call.id == call_id:
                    return call
        elif self.calls:
            return self.calls[-1]
        call = _Call(len(self.calls), backend_index)
        self.calls.append(call)
        if backend_index is not None:
            self._by_backend_index[backend_index] = call
        return call

    def feed(self, piece: Any, backend_index: int | None = None) -> Iterator[ToolCallDelta]:
        if not isinstance(piece, Mapping):
            return
        index = piece.get("index", backend_index)
        if not isinstance(index, int) or isinstance(index, bool):
            index = None
        call_id = piece.get("id") if isinstance(piece.get("id"), str) and piece.get("id") else None
        function = piece.get("function")
        function = function if isinstance(function, Mapping) else {}
        name = function.get("name") if isinstance(function.get("name"), str) else None
        arguments = function.get("arguments")
        if isinstance(arguments, Mapping):  # some servers send the arguments as an object
            arguments = json.dumps(arguments)
        fragment = arguments if isinstance(arguments, str) else ""
        call = self._call_for(index, call_id)
        if call.opened:
            if fragment:
                yield ToolCallDelta(index=call.index, arguments=fragment)
            return
        call.id = call.id or call_id
        call.name = call.name or name or None
        if fragment:
            call.pending.append(fragment)
        if call.name:
            call.opened = True
            call.id = call.id or f"call_{uuid.uuid4().hex[:24]}"
            yield ToolCallDelta(
                index=call.index, id=call.id, name=call.name, arguments="".join(call.pending)
            )
            call.pending.clear()

    @property
    def any_opened(self) -> bool:
        return any(call.opened for call in self.calls)

    @property
    def unnamed(self) -> bool:
        return any(not call.opened for call in self.calls)


class _ChunkReader:
    """Chat completion chunks in, increments out; remembers the finish reason."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact
        self.tools = _ToolCalls()
        self.finish_reason: str | None = None
        self.failure: Failure | None = None
        self._usage: Usage | None = None

    def feed(self, name: str, data: str) -> Iterator[Increment]:
        try:
            payload = json.loads(data)
        except ValueError:
            self.failure = Failure("server_error", "the backend sent an event that is not JSON")
            yield self.failure
            return
        if not isinstance(payload, Mapping):
            self.failure = Failure(
                "server_error", "the backend sent an event that is not an object"
            )
            yield self.failure
            return
        error = payload.get("error")
        if error or name == "error":
            self.failure = _error_failure(error or payload, self.redact)
            yield self.failure
            return
        if payload.get("object") == "":
            return  # Azure's asynchronous content-filter annotations, not part of the answer
        yield from self._choices(payload.get("choices"))
        usage = self._read_usage(payload.get("usage"))
        if usage is not None and usage != self._usage:
            self._usage = usage
            yield usage

    def whole(self, payload: Mapping[str, Any]) -> Iterator[Increment]:
        """The increments of a complete (non-streamed) chat completion."""
        choices = payload.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            message = choice.get("message")
            if isinstance(message, Mapping):
                yield from self._delta(message)
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
        usage = self._read_usage(payload.get("usage"))
        if usage is not None:
            yield usage

    def _choices(self, choices: Any) -> Iterator[Increment]:
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue  # n > 1 is never asked for; only the first choice is the answer
            delta = choice.get("delta")
            if isinstance(delta, Mapping):
                yield from self._delta(delta)
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]

    def _delta(self, delta: Mapping[str, Any]) -> Iterator[Increment]:
        for key in ("content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                yield TextDelta(text)
        tool_calls = delta.get("tool_calls")
        for piece in tool_calls if isinstance(tool_calls, list) else ():
            yield from self.tools.feed(piece)
        legacy = delta.get("function_call")
        if isinstance(legacy, Mapping):
            yield from self.tools.feed(legacy, backend_index=-1)

    @staticmethod
    def _read_usage(usage: Any) -> Usage | None:
        if not isinstance(usage, Mapping):
            return None
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        return Usage(
            prompt_tokens=prompt if isinstance(prompt, int) else 0,
            completion_tokens=completion if isinstance(completion, int) else 0,
        )

    def finish(self) -> Finish:
        reason = _FINISH_REASONS.get(self.finish_reason or "stop", "stop")
        if reason == "stop" and self.tools.any_opened:
            reason = "tool_calls"
        return Finish(reason)


# -- the responder -------------------------------------------------------------------------------


class _Retry(Exception):
    """An attempt that may be repeated: its failure, and how long the backend asked to wait."""

    def __init__(self, failure: Failure, wait: float | None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.wait = wait


class ChatCompletionsResponder:
    """Answers turns of runs through an OpenAI-compatible Chat Completions backend.

    :param base_url: the backend's OpenAI-compatible base URL, e.g. ``https://api.openai.com/v1``,
        ``http://localhost:11434/v1`` (Ollama), ``http://localhost:8000/v1`` (vLLM),
        ``https://<resource>.openai.azure.com/openai/v1``; requests go to
        ``{base_url}/chat/completions`` (a query string in ``base_url`` is kept).
    :param api_key: sent as ``Authorization: Bearer <key>``; None sends no Authorization.
    :param model_map: renames a run's model for the backend (``{"gpt-4o": "llama3.1:8b"}``);
        models not in it are sent as they are.
    :param connect_timeout: seconds to establish a connection (TCP and TLS).
    :param read_timeout: the longest silence accepted from the backend, in seconds, before the
        answer's headers and between any two reads of the stream.
    :param total_timeout: an upper bound in seconds for a whole :meth:`respond` call, retries
        and waits included; None (default) sets none.
    :param max_retries: how many times a 429, a 5xx or a connection error is retried.
    :param backoff_initial: the first backoff in seconds when the backend gives no retry
        header; it doubles at each retry up to ``backoff_max``. A random jitter takes up to
        half of each backoff away.
    :param backoff_max: the longest backoff, in seconds.
    :param max_retry_wait: the cap, in seconds, on a wait asked for by ``Retry-After`` or
        ``retry-after-ms``.
    :param completion_tokens_field: the request field that carries the run's
        ``max_completion_tokens``. ``"max_completion_tokens"`` (default) is OpenAI's current
        field, the only one its reasoning models and Azure OpenAI's accept; vLLM and LiteLLM
        take it too, and llama.cpp's server since early 2026. Use ``"max_tokens"`` for Ollama,
        whose compatibility layer reads only ``max_tokens``, and for older llama.cpp builds:
        both ignore the newer field silently, which leaves the answer unbounded.
    :param max_event_bytes: the largest server-sent event accepted (default 16 MiB); a larger
        one ends the turn with ``server_error`` instead of exhausting memory.
    :param max_connections: connections kept open to the backend for reuse; size it to the
        number of runs answered at once (more still work, over connections not kept).
    :param extra_headers: headers added to every request (e.g. Azure's ``api-key``); their
        values are treated as secrets, like the key.
    :param extra_body: fields added to every request body (e.g. Ollama's ``options``); they
        never replace a field the responder sets.
    :param session: a ``requests.Session`` to use (its proxies, certificates and headers
        apply). The responder mounts its own adapter on it for ``base_url`` (its connection
        classes are what cancellation needs). Without one, the responder makes its own and
        closes it in :meth:`close`.
    :param sleep: how retries wait: ``sleep(seconds, cancelled)`` must return after
        ``seconds`` or as soon as ``cancelled`` is set; tests pass one that only records.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model_map: Mapping[str, str] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
        total_timeout: float | None = None,
        max_retries: int = 3,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_wait: float = 60.0,
        completion_tokens_field: Literal[
            "max_completion_tokens", "max_tokens"
        ] = "max_completion_tokens",
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_connections: int = 64,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: requests.Session | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if completion_tokens_field not in ("max_completion_tokens", "max_tokens"):
            raise ValueError("completion_tokens_field must be max_completion_tokens or max_tokens")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL")
        path = parts.path.rstrip("/") + "/chat/completions"
        self._url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        host += f":{parts.port}" if parts.port else ""
        # What logs may show: no user info, no query (either may hold a credential).
        self._log_url = urlunsplit((parts.scheme, host, path, "", ""))
        self._api_key = api_key
        self._secrets = [s for s in (api_key, parts.password) if s]
        self._secrets += [v for v in (extra_headers or {}).values() if len(v) >= 8]
        self._secrets.sort(key=len, reverse=True)
        self._model_map = dict(model_map or {})
        self._timeout = (connect_timeout, read_timeout)
        self._read_timeout = read_timeout
        self._total_timeout = total_timeout
        self._max_retries = max_retries
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._max_retry_wait = max_retry_wait
        self._tokens_field = completion_tokens_field
        self._max_event_bytes = max_event_bytes
        self._extra_body = dict(extra_body or {})
        self._sleep: Sleep = sleep or _wait
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            **dict(extra_headers or {}),
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._adapter = _ScopedAdapter(pool_connections=4, pool_maxsize=max_connections)
        prefix = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/", "", ""))
        self._session.mount(prefix, self._adapter)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"ChatCompletionsResponder(url={self._log_url!r}, api_key={key})"

    def close(self) -> None:
        """Close the connections (and the session, when the responder made it)."""
        self._adapter.close()
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ChatCompletionsResponder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the port ----------------------------------------------------------------------------

    def prepare(self, turn: Turn) -> Mapping[str, Any] | None:
        """Nothing: the answer comes live from the backend, and cannot outlive a restart."""
        return None

    def check(self, turn: Turn) -> None:
        """Raise UnsupportedInput for tools other than functions, a tool_choice naming one,
        image_file content, images in assistant messages and unknown content types."""
        for index, tool in enumerate(turn.tools):
            kind = tool.get("type")
            if kind != "function":
                raise UnsupportedInput(
                    f"tools of type {kind!r} cannot be used with a Chat Completions backend; "
                    "only function tools can",
                    param=f"tools[{index}]",
                )
        choice = turn.tool_choice
        if isinstance(choice, Mapping) and choice.get("type") != "function":
            raise UnsupportedInput(
                f"tool_choice of type {choice.get('type')!r} cannot be used with a Chat "
                "Completions backend",
                param="tool_choice",
            )
        for index, message in enumerate(turn.messages):
            _check_message(index, message)

    def respond(self, turn: Turn, cancelled: threading.Event) -> Iterator[Increment]:
        """The increments of one turn (see the module docstring); never raises for a fault of
        the backend, stops within a second once ``cancelled`` is set."""
        if cancelled.is_set():
            return
        try:
            body = self.request_body(turn)
            payload = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnsupportedInput as exc:
            yield Failure("invalid_prompt", f"{exc.message} ({exc.param})")
            return
        except (TypeError, ValueError) as exc:
            yield Failure("invalid_prompt", f"the run cannot be sent as JSON ({exc})")
            return
        deadline = None
        if self._total_timeout is not None:
            deadline = time.monotonic() + self._total_timeout
        scope = _Scope(cancelled, deadline)
        _WATCHER.watch(scope)
        try:
            yield from self._attempts(turn, payload, scope)
        finally:
            _WATCHER.unwatch(scope)

    # -- translation -------------------------------------------------------------------------

    def request_body(self, turn: Turn) -> dict[str, Any]:
        """The JSON body sent to the backend for ``turn`` (raises UnsupportedInput)."""
        self.check(turn)
        system = "\n\n".join(
            text for text in (turn.instructions, turn.additional_instructions) if text
        )
        head = [{"role": "system", "content": system}] if system else []
        thread = [_chat_message(message) for message in turn.messages]
        rounds = _tool_round_messages(turn)
        tools = _function_tools(turn)
        fixed = sum(_estimate_tokens(m) for m in head + rounds)
        if tools:
            fixed += math.ceil(len(json.dumps(tools)) / 4)
        kept = [thread[i] for i in _kept_indexes(thread, turn, fixed)]
        body: dict[str, Any] = {
            "model": self._model_map.get(turn.model, turn.model),
            "messages": head + kept + rounds,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = tools
            if turn.tool_choice is not None:
                body["tool_choice"] = turn.tool_choice
            if turn.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = turn.parallel_tool_calls
        response_format = _response_format(turn.response_format)
        if response_format is not None:
            body["response_format"] = response_format
        if turn.temperature is not None:
            body["temperature"] = turn.temperature
        if turn.top_p is not None:
            body["top_p"] = turn.top_p
        if turn.max_completion_tokens is not None:
            body[self._tokens_field] = turn.max_completion_tokens
        plain: dict[str, Any] = _plain({**self._extra_body, **body})
        return plain

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    # -- transport ---------------------------------------------------------------------------

    def _attempts(self, turn: Turn, payload: bytes, scope: _Scope) -> Iterator[Increment]:
        retries = 0
        while True:
            try:
                outcome = self._send(payload, scope, retries + 1)
            except _Retry as retry:
                failure, asked = retry.failure, retry.wait
            else:
                if isinstance(outcome, requests.Response):
                    yield from self._answer(turn, outcome, scope)
                elif isinstance(outcome, Failure):
                    logger.warning("run %s: %s", turn.run_id, outcome.message)
                    yield outcome
                else:
                    yield from self._stopped(turn, scope)
                return
            if scope.stopped:
                yield from self._stopped(turn, scope)
                return
            wait = asked if asked is not None else self._backoff(retries)
            too_late = scope.deadline is not None and time.monotonic() + wait >= scope.deadline
            if retries >= self._max_retries or too_late:
                logger.warning("run %s: %s; no retry left", turn.run_id, failure.message)
                yield failure
                return
            retries += 1
            logger.warning(
                "run %s: %s; retry %d of %d in %.2f s",
                turn.run_id,
                failure.message,
                retries,
                self._max_retries,
                wait,
            )
            self._sleep(wait, scope.cancelled)
            if scope.stopped:
                yield from self._stopped(turn, scope)
                return

    def _send(
        self, payload: bytes, scope: _Scope, attempt: int
    ) -> requests.Response | Failure | None:
        """POST the request. Returns the 2xx response (headers read), the Failure of an answer
        not worth retrying, or None when the call was stopped meanwhile; raises _Retry."""
        started = time.monotonic()
        previous = getattr(_current, "scope", None)
        _current.scope = scope
        try:
            response = self._session.post(
                self._url,
                data=payload,
                headers=self._headers,
                timeout=self._timeout,
                stream=True,
                allow_redirects=False,
            )
        except Exception as exc:
            logger.debug(
                "POST %s failed after %.3f s (attempt %d): %s",
                self._log_url,
                time.monotonic() - started,
                attempt,
                self._redact(f"{type(exc).__name__}: {exc}"),
            )
            if scope.stopped:
                return None
            if isinstance(exc, requests.ReadTimeout):
                # Not retried: the backend may still be working on it; a retry doubles the wait.
                return self._silence_failure()
            if isinstance(exc, requests.ConnectionError):
                failure = Failure(
                    "server_error", f"could not reach the backend ({type(exc).__name__})"
                )
                raise _Retry(failure, None) from None
            # Anything else (a bad header value, a malformed URL...) would fail again.
            return Failure(
                "server_error", f"the request to the backend failed ({type(exc).__name__})"
            )
        finally:
            _current.scope = previous
        scope.attach(getattr(getattr(response.raw, "connection", None), "sock", None))
        status = response.status_code
        logger.debug(
            "POST %s -> %d in %.3f s (attempt %d)",
            self._log_url,
            status,
            time.monotonic() - started,
            attempt,
        )
        if 200 <= status < 300:
            return response
        message = self._error_message(response, scope)
        if scope.stopped:
            return None
        if status == 429:
            failure = Failure(
                "rate_limit_exceeded", f"the backend is rate limiting (429): {message}"
            )
            raise _Retry(failure, self._retry_after(response.headers))
        if status >= 500:
            failure = Failure("server_error", f"the backend failed ({status}): {message}")
            raise _Retry(failure, self._retry_after(response.headers))
        if 400 <= status < 500:
            return Failure(
                "invalid_prompt", f"the backend refused the request ({status}): {message}"
            )
        return Failure("server_error", f"the backend answered with status {status}: {message}")

    def _answer(
        self, turn: Turn, response: requests.Response, scope: _Scope
    ) -> Iterator[Increment]:
        """The increments of a 2xx response: a stream, or a whole completion as JSON."""
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json" or content_type.endswith("+json"):
            yield from self._whole_answer(turn, response, scope)
            return
        if content_type == "text/html":
            self._close(response, scope, reusable=False)
            failure = Failure(
                "server_error", "the backend answered with an HTML page, not an event stream"
            )
            logger.warning("run %s: %s", turn.run_id, failure.message)
            yield failure
            return
        yield from self._stream(turn, response, scope)

    def _stream(
        self, turn: Turn, response: requests.Response, scope: _Scope
    ) -> Iterator[Increment]:
        reader = _ChunkReader(self._redact)
        started = time.monotonic()
        done = False
        broken: Failure | None = None
        closed = False
        try:
            pieces = _bounded_events(_read_pieces(response.raw), self._max_event_bytes)
            events = sseclient.SSEClient(pieces).events()
            while True:
                try:
                    event = next(events)
                except StopIteration:
                    break
                except _EventTooLarge:
                    broken = Failure(
                        "server_error",
                        f"the backend sent an event larger than {self._max_event_bytes} bytes",
                    )
                    break
                except UnicodeDecodeError:
                    broken = Failure("server_error", "the backend sent an event that is not UTF-8")
                    break
                except Exception as exc:  # a transport error, whatever layer raised it
                    logger.debug(
                        "run %s: reading the stream failed: %s",
                        turn.run_id,
                        self._redact(f"{type(exc).__name__}: {exc}"),
                    )
                    if _is_timeout(exc):
                        broken = self._silence_failure()
                    else:
                        broken = Failure(
                            "server_error",
                            "the connection to the backend broke before the answer was complete",
                        )
                    break
                if scope.stopped:
                    break
                if event.data.strip() == "[DONE]":
                    done = True
                    break
                for increment in reader.feed(event.event, event.data):
                    yield increment
                    if scope.stopped:
                        break
                if reader.failure is not None or scope.stopped:
                    break
            if scope.stopped:
                yield from self._stopped(turn, scope)
                return
            if reader.failure is not None:
                logger.warning("run %s: %s", turn.run_id, reader.failure.message)
                return
            if not done and reader.finish_reason is None:
                broken = broken or Failure(
                    "server_error", "the backend closed the stream before the answer was complete"
                )
                logger.warning("run %s: %s", turn.run_id, broken.message)
                yield broken
                return
            if reader.tools.unnamed:
                failure = Failure("server_error", "the backend sent a tool call without a name")
                logger.warning("run %s: %s", turn.run_id, failure.message)
                yield failure
                return
            # The connection goes back to the pool before the last increment, which a consumer
            # may take as the end and stop iterating at.
            self._close(response, scope, reusable=done and self._drain(response))
            closed = True
            finish = reader.finish()
            logger.debug(
                "run %s: the backend finished (%s) in %.3f s",
                turn.run_id,
                finish.reason,
                time.monotonic() - started,
            )
            yield finish
        finally:
            if not closed:
                self._close(response, scope, reusable=False)

    def _whole_answer(
        self, turn: Turn, response: requests.Response, scope: _Scope
    ) -> Iterator[Increment]:
        """A backend that ignored ``stream`` and sent the whole completion as JSON."""
        try:
            raw = response.raw.read(self._max_event_bytes + 1, decode_content=True)
        except Exception:
            raw = None
        finally:
            self._close(response, scope, reusable=False)
        if scope.stopped:
            yield from self._stopped(turn, scope)
            return
        try:
            payload = json.loads(raw or b"") if raw and len(raw) <= self._max_event_bytes else None
        except ValueError:
            payload = None
        reader = _ChunkReader(self._redact)
        if isinstance(payload, Mapping) and payload.get("error"):
            failure = _error_failure(payload["error"], self._redact)
        elif isinstance(payload, Mapping) and isinstance(payload.get("choices"), list):
            yield from reader.whole(payload)
            if reader.tools.unnamed:
                failure = Failure("server_error", "the backend sent a tool call without a name")
            else:
                yield reader.finish()
                return
        else:
            failure = Failure(
                "server_error", "the backend answered with JSON that is not a completion"
            )
        logger.warning("run %s: %s", turn.run_id, failure.message)
        yield failure

    def _stopped(self, turn: Turn, scope: _Scope) -> Iterator[Increment]:
        if scope.reason == "deadline" and not scope.cancelled.is_set():
            failure = Failure(
                "server_error", f"the backend did not finish within {self._total_timeout:g} s"
            )
            logger.warning("run %s: %s", turn.run_id, failure.message)
            yield failure
        else:
            logger.debug("run %s: cancelled; the backend connection is closed", turn.run_id)

    def _silence_failure(self) -> Failure:
        return Failure("server_error", f"the backend sent nothing for {self._read_timeout:g} s")

    def _drain(self, response: requests.Response) -> bool:
        """Read what follows ``[DONE]`` (normally only the end of the body) so the connection
        can be reused; False when that does not finish at once."""
        raw = response.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        try:
            if sock is not None:
                sock.settimeout(_DRAIN_TIMEOUT)
            left = _DRAIN_LIMIT
            for piece in _read_pieces(raw):
                left -= len(piece)
                if left < 0:
                    return False
            return True
        except Exception:
            return False

    def _close(self, response: requests.Response, scope: _Scope, *, reusable: bool) -> None:
        intact = scope.release()
        if reusable and intact:
            response.raw.release_conn()  # back to the pool, for the next turn
        else:
            response.close()

    def _error_message(self, response: requests.Response, scope: _Scope) -> str:
        """The backend's error message (redacted, shortened); the response is closed."""
        try:
            raw = response.raw.read(_ERROR_BODY_LIMIT, decode_content=True) or b""
        except Exception:
            raw = b""
        finally:
            self._close(response, scope, reusable=False)
        text = raw.decode("utf-8", errors="replace")
        message: str | None = None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, Mapping):
            error = data.get("error")
            if isinstance(error, Mapping) and isinstance(error.get("message"), str):
                message = error["message"]
            elif isinstance(error, str):
                message = error
            else:
                for key in ("message", "detail"):
                    if isinstance(data.get(key), str):
                        message = data[key]
                        break
        if message is None:
            message = " ".join(text.split()) or "(no message)"
        if len(message) > _MESSAGE_EXCERPT:
            message = message[:_MESSAGE_EXCERPT] + "..."
        return self._redact(message)

    def _retry_after(self, headers: Mapping[str, str]) -> float | None:
        """The wait the backend asked for, capped at max_retry_wait; None when it asked none."""
        seconds: float | None = None
        millis = headers.get("retry-after-ms")
        if millis:
            with contextlib.suppress(ValueError):
                seconds = float(millis) / 1000
        value = headers.get("retry-after")
        if seconds is None and value:
            try:
                seconds = float(value)
            except ValueError:
                with contextlib.suppress(TypeError, ValueError, IndexError):
                    when = email.utils.parsedate_to_datetime(value)
                    if when.tzinfo is None:
                        when = when.replace(tzinfo=timezone.utc)
                    seconds = (when - datetime.now(timezone.utc)).total_seconds()
        if seconds is None or not math.isfinite(seconds):
            return None
        return min(max(seconds, 0.0), self._max_retry_wait)

    def _backoff(self, retries: int) -> float:
        base = min(self._backoff_initial * 2.0**retries, self._backoff_max)
        return base * (1 - random.random() / 2)
