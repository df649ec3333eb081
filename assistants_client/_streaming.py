"""Streamed runs: server-sent events in, typed events and accumulated snapshots out.

An :class:`AssistantStream` reads the body of a ``stream: true`` request through sseclient-py
as its bytes arrive, turns each event into its generated event class
(``ThreadMessageDeltaEvent``, ``ThreadRunCompletedEvent``...), and folds the deltas into
snapshots of the run, its messages and its run steps.

Guarantees:

- A stream never ends as if it had completed: if the connection closes before ``done`` (or an
  event is cut in the middle), :class:`StreamInterruptedError` is raised with what was
  accumulated so far in ``partial``; no bytes within the read timeout, no event within
  ``stream_idle`` or no end within ``stream_total`` raise :class:`APITimeoutError`.
- Bounded: events are framed by ``_sse.EventFramer`` (linear time, at most
  ``max_event_bytes`` each, else :class:`ResponseTooLargeError`) before sseclient-py parses
  them.
- :meth:`AssistantStream.close` works from any thread: the connection's :class:`Deadline` is
  fired, so a reader blocked on the socket wakes and raises :class:`StreamClosedError`.
- An ``error`` event reaches the handler, then is raised as :class:`StreamError` with the
  server's message and code.
- Unknown event names arrive as ``UnknownAssistantStreamEvent``, never as a crash.
- Accumulation is linear in the streamed size: appended text is kept as a list of parts and
  joined once when a snapshot is read.

Events are told apart by their generated classes, never by the prefix of their name: what an
event does to the snapshot is in ``_ACCUMULATE`` and which handler callback it reaches is in
``_CALLBACKS``. A callable given as ``on_event`` is adapted here to a handler
(:func:`callback_handler`).
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, Union, cast

import attrs
import requests
import sseclient

from assistants_client._config import DEFAULT_MAX_EVENT_BYTES, Timeout
from assistants_client._converter import structure_hook
from assistants_client._deadline import Deadline
from assistants_client._exceptions import (
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AssistantsError,
    InvalidArgumentError,
    ResponseTooLargeError,
    StreamClosedError,
    StreamError,
    StreamInterruptedError,
)
from assistants_client._plan import Blocking, Plan, is_async_callable
from assistants_client._sse import EventFramer, EventTooLarge
from assistants_client._sse_relay import DEFAULT_HEARTBEAT, SSERelay, text_pieces
from assistants_client._transport import (
    CallOptions,
    QueryValue,
    Transport,
    TransportResponse,
    caused_by_timeout,
)
from assistants_client.models import (
    AssistantStreamEvent,
    AssistantStreamEventBase,
    ErrorDetail,
    ErrorEvent,
    MessageContentDelta,
    MessageContentTextDelta,
    RequiredToolCall,
    RunResponse,
    RunStep,
    RunStepDelta,
    RunStreamEvent,
    ThreadCreatedEvent,
    ThreadMessage,
    ThreadMessageCompletedEvent,
    ThreadMessageCreatedEvent,
    ThreadMessageDeltaEvent,
    ThreadMessageIncompleteEvent,
    ThreadMessageInProgressEvent,
    ThreadRunStepCancelledEvent,
    ThreadRunStepCompletedEvent,
    ThreadRunStepCreatedEvent,
    ThreadRunStepDeltaEvent,
    ThreadRunStepExpiredEvent,
    ThreadRunStepFailedEvent,
    ThreadRunStepInProgressEvent,
    ToolCallsStepDetails,
    UnknownAssistantStreamEvent,
)

__all__ = [
    "AssistantEventHandler",
    "AssistantStream",
    "EventCallback",
    "StreamSnapshot",
    "callback_handler",
    "check_handler",
    "discard_awaitable",
    "open_stream_plan",
]

logger = logging.getLogger("assistants_client")

DONE = "done"


@functools.cache
def _event_data_types(strict: bool) -> dict[str, tuple[type[Any], Callable[[Any], Any]]]:
    """Event name -> (event class, parser of its `data`), for one reading (tolerant or strict)."""
    table: dict[str, tuple[type[Any], Callable[[Any], Any]]] = {}
    for name, cls in AssistantStreamEventBase._json_variants.items():
        data_type = attrs.fields(cls).data.type
        if data_type is str:  # `done`: its data is the literal [DONE], not JSON
            continue
        table[name] = (cls, structure_hook(data_type, strict=strict))
    return table


_event_data_types(False)  # built at import: the tolerant reading is the default


# -- accumulation ----------------------------------------------------------------------------


class _Text:
    """A string being appended to: parts are joined once, when read."""

    __slots__ = ("parts",)

    def __init__(self, first: str) -> None:
        self.parts = [first]

    def join(self) -> str:
        if len(self.parts) > 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0]


# Keys that identify an item rather than carry content: a delta replaces them.
_REPLACED_KEYS = frozenset({"index", "type", "id", "name", "file_id", "object"})


def _merge(snapshot: dict[str, Any], delta: dict[str, Any]) -> None:
    """Fold a delta object into a snapshot object in place (strings append, lists by index)."""
    for key, value in delta.items():
        current = snapshot.get(key)
        if current is None or key in _REPLACED_KEYS:
            snapshot[key] = _copy(value)
        elif value.__class__ is str:
            if current.__class__ is _Text:
                current.parts.append(value)
            elif current.__class__ is str:
                snapshot[key] = text = _Text(current)
                text.parts.append(value)
            else:
                snapshot[key] = _Text(value)
        elif value.__class__ is dict and current.__class__ is dict:
            _merge(current, value)
        elif value.__class__ is list and current.__class__ is list:
            _merge_list(current, value)
        else:
            snapshot[key] = _copy(value)


def _merge_list(snapshot: list[Any], delta: list[Any]) -> None:
    for item in delta:
        index = item.get("index") if item.__class__ is dict else None
        if index.__class__ is not int:
            snapshot.append(_copy(item))
            continue
        while len(snapshot) <= index:
            snapshot.append(None)
        if snapshot[index].__class__ is dict:
            _merge(snapshot[index], item)
        else:
            snapshot[index] = _copy(item)


def _copy(value: Any) -> Any:
    if value.__class__ is dict:
        return {k: _copy(v) for k, v in value.items()}
    if value.__class__ is list:
        return [_copy(v) for v in value]
    return value


def _materialize(value: Any) -> Any:
    """The plain JSON of a snapshot: text parts joined, merge-only `index` keys dropped."""
    if value.__class__ is _Text:
        return value.join()
    if value.__class__ is dict:
        return {k: _materialize(v) for k, v in value.items()}
    if value.__class__ is list:
        return [
            _materialize({k: v for k, v in item.items() if k != "index"})
            if item.__class__ is dict and "index" in item
            else _materialize(item)
            for item in value
            if item is not None
        ]
    return value


# What a complete tool call requires that its deltas may never send, by call type.
_CALL_DEFAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "function": ("function", {"name": "", "arguments": ""}),
    "code_interpreter": ("code_interpreter", {"input": "", "outputs": []}),
    "file_search": ("file_search", {}),
}


def _complete_call(call: dict[str, Any]) -> None:
    """Fill in, on a tool call accumulated from deltas, what its deltas left out."""
    found = _CALL_DEFAULTS.get(call.get("type", ""))
    if found is None:
        return
    key, defaults = found
    body = call.get(key)
    if not isinstance(body, dict):
        body = call[key] = {}
    for name, value in defaults.items():
        if name not in body:
            body[name] = value.copy() if isinstance(value, list) else value


def _drop_empty_quote(annotation: Any) -> None:
    """api.openai.com streams a citation with ``"quote": ""``, a field its stored messages no
    longer carry (tests/fixtures/reference/assistants-file-search-run.sse): an empty quote is
    dropped, so that the message built from the deltas is the one the server stores."""
    if annotation.__class__ is dict:
        citation = annotation.get("file_citation")
        if citation.__class__ is dict and citation.get("quote") == "":
            del citation["quote"]


def _carries_details(details: Any) -> bool:
    """Whether step details say more than their type (``tool_calls: []`` says nothing yet)."""
    return isinstance(details, dict) and any(v for k, v in details.items() if k != "type")


class StreamSnapshot:
    """What a stream has accumulated so far: the run, its messages and its run steps."""

    def __init__(self) -> None:
        self.run: RunResponse | None = None
        self.thread_id: str | None = None
        self._messages: dict[str, dict[str, Any]] = {}
        self._message_objects: dict[str, ThreadMessage] = {}
        self._steps: dict[str, dict[str, Any]] = {}
        self._step_objects: dict[str, RunStep] = {}
        self._accumulated: dict[str, dict[str, Any]] = {}

    # Messages and steps are kept as JSON while deltas arrive, and typed when read.

    def start_message(self, message: ThreadMessage, raw: dict[str, Any]) -> None:
        self._messages[message.id] = _copy(raw)
        self._message_objects[message.id] = message

    def _owner(self) -> dict[str, Any]:
        """What a message or step streamed without its ``created`` event inherits from the run."""
        run = self.run
        return {
            "created_at": run.created_at if run else 0,
            "thread_id": run.thread_id if run else (self.thread_id or ""),
            "assistant_id": run.assistant_id if run else None,
            "run_id": run.id if run else None,
            "status": "in_progress",
        }

    def add_message_delta(self, message_id: str, raw_delta: dict[str, Any]) -> None:
        snapshot = self._messages.get(message_id)
        if snapshot is None:
            snapshot = self._messages[message_id] = {
                "id": message_id,
                "object": "thread.message",
                **self._owner(),
                "role": "assistant",
                "content": [],
            }
        _merge(snapshot, raw_delta)
        for part in raw_delta.get("content") or ():
            if part.__class__ is not dict:
                continue
            index = part.get("index")
            if part.get("type") == "text" and index.__class__ is int:
                # A delta may leave out what a complete text part requires.
                text = snapshot["content"][index].setdefault("text", {})
                text.setdefault("value", "")
                text.setdefault("annotations", [])
                streamed = part.get("text")
                if streamed.__class__ is dict and streamed.get("annotations"):
                    for annotation in text["annotations"]:
                        _drop_empty_quote(annotation)
        self._message_objects.pop(message_id, None)

    def complete_message(self, message: ThreadMessage, raw: dict[str, Any]) -> None:
        if message.id in self._messages:
            self._accumulated[message.id] = _materialize(self._messages[message.id])
        self._messages[message.id] = _copy(raw)
        self._message_objects[message.id] = message

    def update_message(self, message: ThreadMessage, raw: dict[str, Any]) -> None:
        """A status event of a message (``in_progress``): its fields, keeping the text so far."""
        current = self._messages.get(message.id)
        if current is None:
            self.start_message(message, raw)
            return
        for key, value in raw.items():
            if key != "content" or value:
                current[key] = _copy(value)
        self._message_objects.pop(message.id, None)

    def message(self, message_id: str) -> ThreadMessage:
        cached = self._message_objects.get(message_id)
        if cached is None:
            cached = ThreadMessage.from_dict(_materialize(self._messages[message_id]))
            self._message_objects[message_id] = cached
        return cached

    def text_of(self, message_id: str, index: int) -> str:
        """The text of one content part of a message so far."""
        value = self._messages[message_id]["content"][index]["text"]["value"]
        return value.join() if value.__class__ is _Text else str(value)

    def accumulated_message(self, message_id: str) -> dict[str, Any] | None:
        """The message as accumulated from its deltas, before the server's final version."""
        return self._accumulated.get(message_id)

    def start_step(self, step: RunStep, raw: dict[str, Any]) -> None:
        self._steps[step.id] = _copy(raw)
        self._step_objects[step.id] = step

    def update_step(self, step: RunStep, raw: dict[str, Any]) -> None:
        """A status event of a step (``in_progress``): its fields, keeping the calls so far."""
        current = self._steps.get(step.id)
        if current is None:
            self.start_step(step, raw)
            return
        for key, value in raw.items():
            if key != "step_details" or _carries_details(value):
                current[key] = _copy(value)
        self._step_objects.pop(step.id, None)

    def add_step_delta(self, step_id: str, raw_delta: dict[str, Any]) -> None:
        snapshot = self._steps.get(step_id)
        if snapshot is None:
            details = raw_delta.get("step_details")
            kind = details.get("type") if isinstance(details, dict) else None
            snapshot = self._steps[step_id] = {
                "id": step_id,
                "object": "thread.run.step",
                **self._owner(),
                "type": kind if isinstance(kind, str) else "tool_calls",
            }
        _merge(snapshot, raw_delta)
        details = snapshot.get("step_details")
        if isinstance(details, dict):
            for call in details.get("tool_calls") or ():
                if isinstance(call, dict):
                    _complete_call(call)
        self._step_objects.pop(step_id, None)

    def step(self, step_id: str) -> RunStep:
        cached = self._step_objects.get(step_id)
        if cached is None:
            cached = RunStep.from_dict(_materialize(self._steps[step_id]))
            self._step_objects[step_id] = cached
        return cached

    @property
    def messages(self) -> list[ThreadMessage]:
        return [self.message(message_id) for message_id in self._messages]

    @property
    def run_steps(self) -> list[RunStep]:
        return [self.step(step_id) for step_id in self._steps]

    @property
    def text(self) -> str:
        """All text of the assistant messages so far, in order."""
        parts: list[str] = []
        for message_id in self._messages:
            for item in self._messages[message_id].get("content", []):
                if item and item.get("type") == "text":
                    value = item.get("text", {}).get("value")
                    if value is not None:
                        parts.append(value.join() if value.__class__ is _Text else value)
        return "".join(parts)

    def __repr__(self) -> str:
        status = self.run.status if self.run else None
        return (
            f"StreamSnapshot(run_status={status!r}, messages={len(self._messages)}, "
            f"run_steps={len(self._steps)})"
        )


# -- handler ---------------------------------------------------------------------------------


class AssistantEventHandler:
    """Subclass and override the ``on_*`` methods you need; every one is optional.

    A handler holds no state of its own, so a subclass does not need to call
    ``super().__init__()`` and one handler can serve any number of streams.
    """

    def on_event(self, event: AssistantStreamEvent) -> None:
        """Every event, first, before the specific callbacks below."""

    def on_run_status(self, run: RunResponse) -> None:
        """A ``thread.run.*`` event: the run's status changed (queued, in_progress...)."""

    def on_message_created(self, message: ThreadMessage) -> None:
        """An assistant message started."""

    def on_message_delta(self, delta: Any, snapshot: ThreadMessage) -> None:
        """Part of a message arrived; ``snapshot`` is the message so far."""

    def on_message_done(self, message: ThreadMessage) -> None:
        """A message is complete (or incomplete): the server's final version."""

    def on_text_created(self, text: str) -> None:
        """A text content part started (with its first characters, often empty)."""

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        """Text arrived; ``snapshot`` is the text of that content part so far."""

    def on_text_done(self, text: str) -> None:
        """A text content part is complete."""

    def on_run_step_created(self, run_step: RunStep) -> None:
        """A run step started."""

    def on_run_step_delta(self, delta: RunStepDelta, snapshot: RunStep) -> None:
        """A run step changed; ``snapshot`` is the step so far."""

    def on_run_step_done(self, run_step: RunStep) -> None:
        """A run step completed, failed, was cancelled or expired."""

    def on_tool_call_created(self, tool_call: Any) -> None:
        """A tool call started (function, code_interpreter or file_search)."""

    def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
        """A tool call changed; ``snapshot`` is the call so far."""

    def on_tool_call_done(self, tool_call: Any) -> None:
        """A tool call is complete."""

    def on_error(self, error: ErrorDetail) -> None:
        """An ``error`` event; the stream raises StreamError after this returns."""

    def on_end(self) -> None:
        """The stream reached ``done``."""


# -- the stream ------------------------------------------------------------------------------


class _Overrides:
    """Which snapshot-taking callbacks a handler overrides: snapshots are built only for those."""

    def __init__(self, handler: AssistantEventHandler | None) -> None:
        def overrides(name: str) -> bool:
            if handler is None:
                return False
            return getattr(type(handler), name) is not getattr(AssistantEventHandler, name)

        self.message_delta = overrides("on_message_delta")
        self.text_delta = overrides("on_text_delta")
        self.step_delta = any(
            overrides(n)
            for n in ("on_run_step_delta", "on_tool_call_created", "on_tool_call_delta")
        )


class _ChunkSource:
    """The body chunks; closing it closes the iterator that reads them."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class AssistantStream:
    """An open event stream of one run. Iterate it, or call :meth:`until_done`.

    Use it as a context manager: leaving the block early closes the connection.
    :meth:`close` may be called from any thread: a thread blocked reading the stream then
    raises StreamClosedError at once, even if the server sends nothing.
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        *,
        close: Callable[[], None] | None = None,
        status_code: int | None = None,
        headers: Any = None,
        request_id: str | None = None,
        handler: AssistantEventHandler | None = None,
        method: str | None = None,
        url: str | None = None,
        redact: Callable[[str], str] | None = None,
        strict: bool = False,
        deadline: Deadline | None = None,
        timeout: Timeout | None = None,
        started: float | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._source = _ChunkSource(chunks)
        self._events_table = _event_data_types(strict)
        self._redact: Callable[[str], str] = redact or _same
        # A stream dropped unclosed (after a `break` outside a `with` block) is garbage together
        # with its suspended reader, the response and its socket, finalized in no set order: the
        # socket could be finalized first and warn. A finalizer runs before any of them.
        self._release_connection = weakref.finalize(
            self, _close_connection, self._source, close, deadline
        )
        # The deadline is bound to the connection: it fires when no event came within
        # `stream_idle`, when `stream_total` ends, or when another thread closes the stream.
        self._deadline = deadline
        self._idle = timeout.stream_idle if timeout is not None else None
        self._total = timeout.stream_total if timeout is not None else None
        self._total_at = (
            (started if started is not None else time.monotonic()) + self._total
            if self._total is not None
            else None
        )
        self._max_event_bytes = max_event_bytes
        self._lock = threading.Lock()
        self._reader: int | None = None  # the thread inside next(), if any
        self._closed_by: int | None = None  # the thread that called close()
        self._finished = False  # the reader ended (done, an error, or the end of the body)
        self.status_code = status_code
        self.headers = headers
        self.request_id = request_id
        self.handler = handler
        self.snapshot = StreamSnapshot()
        self._method = method
        self._url = url
        self._iterator: Iterator[AssistantStreamEvent] | None = None
        self._done = False
        self._closed = False
        self._texts_started: set[tuple[str, int]] = set()
        self._wants = _Overrides(handler)
        self.events_seen = 0
        if deadline is not None:
            deadline.arm(self._next_deadline())

    # -- context management ------------------------------------------------------------------

    def __enter__(self) -> AssistantStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; safe to call more than once, and from any thread.

        In the thread that closed it, iterating the stream ends at once. A thread that was
        reading it, or iterates it later, gets StreamClosedError (with the partial snapshot),
        at once even when the server is silent. ``done`` stays False unless ``done`` was read.
        """
        with self._lock:
            if self._closed_by is not None:
                return
            self._closed_by = threading.get_ident()
            reading = self._reader is not None
            iterator = self._iterator
        if reading:
            # A thread is inside next(), maybe blocked on the socket: shutting the connection
            # down wakes it, and it releases the connection itself on its way out.
            if self._deadline is not None:
                self._deadline.fire()
            return
        if iterator is not None:
            iterator.close()  # type: ignore[attr-defined]  # suspended: nobody can enter now
        self._release()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._release_connection()

    # -- reading -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[AssistantStreamEvent]:
        return self

    def __next__(self) -> AssistantStreamEvent:
        me = threading.get_ident()
        with self._lock:
            if self._reader is not None:
                raise AssistantsError("the stream is already being read by another thread")
            closed_by = self._closed_by
            ending = closed_by is not None or self._finished
            if ending:
                was_finished, self._finished = self._finished, True
                leftover = self._iterator
            else:
                self._reader = me
                if self._iterator is None:
                    self._iterator = self._events()
                iterator = self._iterator
        if ending:
            # Closed while suspended between two events (from a callback of this thread, or
            # by another): end the reader here, which releases the connection.
            if leftover is not None:
                leftover.close()  # type: ignore[attr-defined]
            self._release()
            if closed_by is not None and closed_by != me and not was_finished:
                raise self._closed_error()  # once; then the iteration just ends
            raise StopIteration
        try:
            return next(iterator)
        except BaseException:  # StopIteration at the end, or the error that ended it
            self._finished = True
            raise
        finally:
            with self._lock:
                self._reader = None

    def until_done(self) -> AssistantStream:
        """Read the stream to its end (``done``), calling the handler on the way."""
        for _ in self:
            pass
        return self

    def text_deltas(self) -> Iterator[str]:
        """The text of the assistant's messages, as it arrives."""
        for event in self:
            yield from text_pieces(event)

    def to_sse(
        self,
        *,
        events: Iterable[str] = (),
        heartbeat: float = DEFAULT_HEARTBEAT,
        on_disconnect: Callable[[RunResponse], object] | None = None,
    ) -> SSERelay:
        """This stream as server-sent events for a browser: a closable iterator of bytes.

        It sends a comment at once, then ``text`` events, the events named in ``events``, a
        ``: ping`` comment after every ``heartbeat`` seconds of quiet, and ends with a ``done``
        or an ``error`` event (without secret or stack). Closing it closes this stream, even if
        it was never iterated; closed before the end, it calls ``on_disconnect(run)`` (e.g.
        ``lambda run: client.cancel_run(run.thread_id, run.id)``). See
        ``assistants_client.django.sse_response`` for Django.
        """
        return SSERelay(self, events=events, heartbeat=heartbeat, on_disconnect=on_disconnect)

    @property
    def done(self) -> bool:
        """True once the server's ``done`` event was read."""
        return self._done

    @property
    def ended(self) -> bool:
        """True once the stream was read to ``done``, or closed (early, or by an error)."""
        return self._done or self._closed or self._closed_by is not None

    def _check_ended(self, name: str) -> None:
        if not self.ended:
            raise AssistantsError(
                f"{name} is read once the stream has ended: call until_done(), iterate it to the "
                "end, or leave its `with` block (the snapshot so far is in `snapshot`)"
            )

    @property
    def final_run(self) -> RunResponse:
        """The run as of its last ``thread.run.*`` event, once the stream has ended.

        After ``done`` that is the run's final state; after leaving a ``with`` block early, the
        state of the last run event read (often ``queued`` or ``in_progress``). Raises
        AssistantsError while the stream is open, and when it ended without any run event.
        """
        self._check_ended("final_run")
        run = self.snapshot.run
        if run is None:
            raise AssistantsError("the stream ended without any thread.run.* event: no run")
        return run

    @property
    def final_messages(self) -> list[ThreadMessage]:
        """The messages of this stream, once it has ended (the server's final version of each
        message that completed). Raises AssistantsError while the stream is open."""
        self._check_ended("final_messages")
        return self.snapshot.messages

    @property
    def final_run_steps(self) -> list[RunStep]:
        """The run steps of this stream, once it has ended. Raises AssistantsError while the
        stream is open."""
        self._check_ended("final_run_steps")
        return self.snapshot.run_steps

    @property
    def required_tool_calls(self) -> list[RequiredToolCall]:
        """The tool calls the run waits for, when it ended in ``requires_action``."""
        run = self.snapshot.run
        if run is None or run.status != "requires_action" or run.required_action is None:
            return []
        return list(run.required_action.submit_tool_outputs.tool_calls)

    # -- internals ---------------------------------------------------------------------------

    def _error_kwargs(self) -> dict[str, Any]:
        return {
            "partial": self.snapshot,
            "method": self._method,
            "url": self._url,
            "status_code": self.status_code,
            "request_id": self.request_id,
        }

    def _interrupted(self, reason: str, cause: BaseException | None = None) -> APIError:
        message = f"the event stream ended before `done` ({reason})"
        return StreamInterruptedError(message, **self._error_kwargs())

    def _closed_error(self) -> APIError:
        return StreamClosedError(
            "the stream was closed (close() was called) while it was being read",
            **self._error_kwargs(),
        )

    def _next_deadline(self) -> float | None:
        """When the reader is cut off if no event arrives: `stream_idle`, `stream_total`."""
        if self._idle is None:
            return self._total_at
        idle_at = time.monotonic() + self._idle
        return idle_at if self._total_at is None else min(idle_at, self._total_at)

    def _stopped(self) -> APIError | None:
        """Why the connection was cut under the reader, if it was (None: the peer did it)."""
        if self._closed_by is not None:
            return self._closed_error()
        deadline = self._deadline
        if deadline is None or not deadline.fired:
            return None
        if self._total_at is not None and time.monotonic() >= self._total_at:
            return APITimeoutError(
                f"the stream did not end within its stream_total timeout ({self._total} s)",
                **self._error_kwargs(),
            )
        return APITimeoutError(
            f"no event arrived within the stream_idle timeout ({self._idle} s); comments and "
            "pings do not count",
            **self._error_kwargs(),
        )

    def _events(self) -> Iterator[AssistantStreamEvent]:
        try:
            for sse in self._frames():
                event = self._process(sse)
                if event is None:
                    return
                yield event
        finally:
            self._release()

    def _frames(self) -> Generator[Any, None, None]:
        """The server-sent events of the body as they arrive, up to ``done`` (blocking).

        The reading half of the stream: the idle deadline is re-armed at each event, and a body
        that ends before ``done`` raises. The async stream runs it on its reader thread and
        :meth:`_process` on the loop.
        """
        framer = EventFramer(self._max_event_bytes)
        client = sseclient.SSEClient(framer.frames(self._source))
        deadline = self._deadline if self._idle is not None else None
        for sse in _read_events(client, self):
            if deadline is not None:
                deadline.arm(self._next_deadline())
            yield sse
            if sse.event == DONE:
                return
        stopped = self._stopped()
        if stopped is not None:
            raise stopped
        raise self._interrupted(
            "the last event was cut off" if framer.pending else "the connection closed"
        )

    def _process(self, sse: Any) -> AssistantStreamEvent | None:
        """One server-sent event: parsed, folded into the snapshot and passed to the handler
        (an ``error`` event raises StreamError); None for ``done``."""
        name = sse.event
        if name == DONE:
            self._done = True
            if self.handler is not None:
                self.handler.on_end()
            return None
        event = self._parse(name, sse.data)
        self.events_seen += 1
        self._dispatch(event)
        return event

    def _parse(self, name: str, data: str) -> AssistantStreamEvent:
        try:
            payload = json.loads(data)
        except (ValueError, RecursionError) as exc:
            reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise APIResponseValidationError(
                self._redact(f"event {name!r} carries data that is not JSON: {reason}"),
                body=self._redact(data),
                **self._error_kwargs(),
            ) from None
        known = self._events_table.get(name)
        if known is None:
            logger.debug("stream event %r is not known to this version; passed on as is", name)
            # The event keeps its name as sent; type checkers see it as no known name.
            return UnknownAssistantStreamEvent(
                event=cast(Any, name), raw={"event": name, "data": payload}
            )
        cls, parse_data = known
        try:
            event = cast(AssistantStreamEvent, cls(data=parse_data(payload)))
        except Exception as exc:
            raise APIResponseValidationError(
                self._redact(f"event {name!r} does not fit its schema: {exc}"),
                body=self._redact(data),
                **self._error_kwargs(),
            ) from None
        try:
            self._accumulate(name, event, payload)
        except RecursionError:
            raise APIResponseValidationError(
                f"event {name!r} is nested too deeply to be accumulated",
                body=self._redact(data),
                **self._error_kwargs(),
            ) from None
        return event

    def _accumulate(self, name: str, event: Any, payload: dict[str, Any]) -> None:
        fold = _ACCUMULATE.get(type(event))
        if fold is not None:
            fold(self.snapshot, event, payload)
        elif isinstance(event, RunStreamEvent):
            # Every variant of the union carries the run (the spec's RunObject) as its data.
            self.snapshot.run = cast(Any, event).data

    def _dispatch(self, event: Any) -> None:
        if isinstance(event, ErrorEvent):
            self._raise_error_event(event)
        handler = self.handler
        if handler is None:
            return
        handler.on_event(event)
        callback = _CALLBACKS.get(type(event))
        if callback is not None:
            callback(self, handler, event)
        elif isinstance(event, RunStreamEvent):
            handler.on_run_status(cast(Any, event).data)

    def _raise_error_event(self, event: ErrorEvent) -> None:
        if self.handler is not None:
            self.handler.on_event(event)
            self.handler.on_error(event.data)
        detail: ErrorDetail = event.data
        redact = self._redact
        error = {
            "message": detail.message,
            "type": detail.type,
            "param": detail.param,
            "code": detail.code,
        }
        error = {k: redact(v) if isinstance(v, str) else v for k, v in error.items()}
        raise StreamError(error["message"] or "error event", error=error, **self._error_kwargs())

    def _dispatch_message_delta(self, handler: AssistantEventHandler, event: Any) -> None:
        message_id = event.data.id
        if self._wants.message_delta:
            handler.on_message_delta(event.data.delta, self.snapshot.message(message_id))
        parts: list[MessageContentDelta] = event.data.delta.content or []
        for part in parts:
            if not isinstance(part, MessageContentTextDelta) or not part.text:
                continue
            piece = part.text.value or ""
            key = (message_id, part.index)
            if key not in self._texts_started:
                self._texts_started.add(key)
                handler.on_text_created(piece)
            if self._wants.text_delta:
                handler.on_text_delta(piece, self.snapshot.text_of(message_id, part.index))

    def _dispatch_step_delta(self, handler: AssistantEventHandler, event: Any) -> None:
        if not self._wants.step_delta:
            return
        step_id = event.data.id
        snapshot = self.snapshot.step(step_id)
        handler.on_run_step_delta(event.data, snapshot)
        details = event.data.delta.step_details
        if details and details.type == "tool_calls":
            calls = (
                snapshot.step_details.tool_calls
                if isinstance(snapshot.step_details, ToolCallsStepDetails)
                else []
            )
            for call in details.tool_calls or []:
                index = call.index
                whole = calls[index] if 0 <= index < len(calls) else call
                if getattr(call, "id", None):
                    handler.on_tool_call_created(whole)
                handler.on_tool_call_delta(call, whole)


# -- what each event does ------------------------------------------------------------------

Fold = Callable[[StreamSnapshot, Any, dict[str, Any]], None]


def _thread_created(snapshot: StreamSnapshot, event: Any, raw: dict[str, Any]) -> None:
    snapshot.thread_id = event.data.id


def _message_started(snapshot: StreamSnapshot, event: Any, raw: dict[str, Any]) -> None:
    snapshot.start_message(event.data, raw)


def _message_updated(snapshot: StreamSnapshot, event: Any, raw: dict[str, Any]) -> None:
    snapshot.update_message(event.data, raw)


def _message_delta(snapshot: StreamSnapshot, event: Any, raw: dict[str, Any]) -> None:
    snapshot.add_message_delta(raw["id"], raw.get("delta", {}))


def _message_ended(snapshot: StreamSnapshot, event: Any, raw: dict[str, Any]) -> None:
    snapshot.complete_message(event.data, raw)


def _step_started(snapshot: StreamSnapshot, event: Any, raw: dict[str, Any]) -> None:
    snapshot.start_step(event.data, raw)


def _step_updated(snapshot: StreamSnapshot, event: Any, raw: dict[str, Any]) -> None:
    snapshot.update_step(event.data, raw)


def _step_delta(snapshot: StreamSnapshot, event: Any, raw: dict[str, Any]) -> None:
    snapshot.add_step_delta(raw["id"], raw.get("delta", {}))


_STEP_ENDED = (
    ThreadRunStepCompletedEvent,
    ThreadRunStepFailedEvent,
    ThreadRunStepCancelledEvent,
    ThreadRunStepExpiredEvent,
)
_MESSAGE_ENDED = (ThreadMessageCompletedEvent, ThreadMessageIncompleteEvent)

# How each event changes the snapshot; any event of the RunStreamEvent union replaces the run.
_ACCUMULATE: dict[type[Any], Fold] = {
    ThreadCreatedEvent: _thread_created,
    ThreadMessageCreatedEvent: _message_started,
    ThreadMessageInProgressEvent: _message_updated,
    ThreadMessageDeltaEvent: _message_delta,
    **dict.fromkeys(_MESSAGE_ENDED, _message_ended),
    ThreadRunStepCreatedEvent: _step_started,
    ThreadRunStepInProgressEvent: _step_updated,
    ThreadRunStepDeltaEvent: _step_delta,
    **dict.fromkeys(_STEP_ENDED, _step_started),
}

Callback = Callable[[AssistantStream, AssistantEventHandler, Any], None]


def _on_message_created(
    stream: AssistantStream, handler: AssistantEventHandler, event: Any
) -> None:
    handler.on_message_created(event.data)


def _on_message_done(stream: AssistantStream, handler: AssistantEventHandler, event: Any) -> None:
    message = event.data
    for part in message.content:
        if part.type == "text":
            handler.on_text_done(part.text.value)
    handler.on_message_done(message)


def _on_step_created(stream: AssistantStream, handler: AssistantEventHandler, event: Any) -> None:
    handler.on_run_step_created(event.data)


def _on_step_done(stream: AssistantStream, handler: AssistantEventHandler, event: Any) -> None:
    step: RunStep = event.data
    if isinstance(step.step_details, ToolCallsStepDetails):
        for call in step.step_details.tool_calls:
            handler.on_tool_call_done(call)
    handler.on_run_step_done(step)


# Which handler callbacks each event reaches (after on_event); any other event of the
# RunStreamEvent union reaches on_run_status.
_CALLBACKS: dict[type[Any], Callback] = {
    ThreadMessageCreatedEvent: _on_message_created,
    ThreadMessageDeltaEvent: AssistantStream._dispatch_message_delta,
    **dict.fromkeys(_MESSAGE_ENDED, _on_message_done),
    ThreadRunStepCreatedEvent: _on_step_created,
    ThreadRunStepDeltaEvent: AssistantStream._dispatch_step_delta,
    **dict.fromkeys(_STEP_ENDED, _on_step_done),
}


def _same(text: str) -> str:
    return text


def _close_connection(
    source: _ChunkSource, close: Callable[[], None] | None, deadline: Deadline | None
) -> None:
    try:
        if deadline is not None:
            deadline.disarm()
        source.close()
    finally:
        if close is not None:
            close()


def _read_events(client: sseclient.SSEClient, stream: AssistantStream) -> Iterator[Any]:
    """sseclient's events, with transport failures mapped to the library's errors."""
    events = client.events()
    while True:
        try:
            sse = next(events)
        except StopIteration:
            return
        except (requests.exceptions.RequestException, OSError) as exc:
            # OSError: a socket error that requests did not wrap. The cause is left out: its
            # text is not redacted, and the message above says what it was.
            raise stream._stopped() or _transport_error(exc, stream) from None
        except EventTooLarge as exc:
            raise ResponseTooLargeError(
                f"one event of the stream is larger than max_event_bytes ({exc.limit} bytes); "
                "the connection was closed",
                limit=exc.limit,
                **stream._error_kwargs(),
            ) from None
        except UnicodeDecodeError as exc:
            raise APIResponseValidationError(
                f"the event stream is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                **stream._error_kwargs(),
            ) from None
        yield sse


def _transport_error(exc: BaseException, stream: AssistantStream) -> APIError:
    text = stream._redact(f"{type(exc).__name__}: {exc}")
    if caused_by_timeout(exc):
        return APITimeoutError(
            "no bytes arrived within the read timeout while streaming", **stream._error_kwargs()
        )
    return StreamInterruptedError(
        f"the event stream ended before `done` ({text})", **stream._error_kwargs()
    )


STREAM_MISMATCH_EXCERPT = 2000  # bytes of a non-stream answer kept in the error


def check_handler(handler: object) -> AssistantEventHandler | None:
    if handler is not None and not isinstance(handler, AssistantEventHandler):
        raise InvalidArgumentError(
            "event_handler must be an AssistantEventHandler", param="event_handler"
        )
    return handler


def open_stream_plan(
    transport: Transport,
    path: str,
    *,
    body: dict[str, Any],
    query: Mapping[str, QueryValue],
    options: CallOptions,
    handler: AssistantEventHandler | None,
) -> Plan[AssistantStream]:
    """POST ``body`` (with ``"stream": true``); the plan's result is the open event stream.

    Retries and error statuses are the transport's; a 2xx that is not an event stream (a server
    that ignored ``stream``, a proxy's page) is an APIResponseValidationError with an excerpt.
    """
    check_handler(handler)
    response = yield from transport.request_plan(
        "POST", path, query=query, body=body, options=options, stream=True
    )
    content_type = response.headers.get("content-type", "")
    deadline = response.deadline
    if content_type.split(";", 1)[0].strip().lower() != "text/event-stream":
        yield Blocking(
            functools.partial(_raise_not_a_stream, transport, response, path, content_type),
            cancel=deadline.fire if deadline is not None else None,
        )
    if deadline is not None and not deadline.bound:
        # A session whose pools are not the client's: cut the response's own socket.
        sock = _response_socket(response.http_response)
        if sock is not None:
            deadline.bind_socket(sock)
    return AssistantStream(
        transport.iter_stream(response),
        close=response.http_response.close,
        status_code=response.status_code,
        headers=response.headers,
        request_id=response.request_id,
        handler=handler,
        method="POST",
        url=response.url,
        redact=transport.redact,
        strict=transport.config.strict_responses,
        deadline=deadline,
        timeout=response.timeout,
        started=response.started,
        max_event_bytes=response.max_event_bytes or DEFAULT_MAX_EVENT_BYTES,
    )


def _raise_not_a_stream(
    transport: Transport, response: TransportResponse, path: str, content_type: str
) -> None:
    """Raise for a 2xx answer that is no event stream, with an excerpt of it (read here)."""
    http = response.http_response
    deadline = response.deadline
    try:
        excerpt = http.raw.read(STREAM_MISMATCH_EXCERPT, decode_content=True) or b""
    except Exception:
        excerpt = b""
    finally:
        if deadline is not None:
            deadline.disarm()
        http.close()
    raise APIResponseValidationError(
        transport.redact(
            f"POST {path}: expected an event stream (text/event-stream), got content type "
            f"{content_type!r}"
        ),
        method="POST",
        url=response.url,
        status_code=response.status_code,
        request_id=response.request_id,
        body=transport.redact(excerpt.decode("utf-8", errors="replace")),
    )


def _response_socket(http: requests.Response) -> Any:
    raw = http.raw
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    return getattr(connection, "sock", None)


def parse_event_stream(
    chunks: Iterator[bytes],
    handler: AssistantEventHandler | None = None,
    *,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> AssistantStream:
    """An AssistantStream over raw body chunks (for recorded streams and tests)."""
    return AssistantStream(iter(chunks), handler=handler, max_event_bytes=max_event_bytes)


# -- callables as handlers --------------------------------------------------------------------

# ``callback(event)`` or ``callback(event_name, event)``.
EventCallback = Union[  # noqa: UP007
    Callable[[AssistantStreamEvent], object], Callable[[str, AssistantStreamEvent], object]
]


def _takes_name_and_event(callback: Callable[..., object]) -> tuple[bool, bool]:
    """(two positional arguments?, keywords event_name and event?) for a callback."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # some builtins have no signature: pass the event only
        return False, False
    params = list(signature.parameters.values())
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params) or len(positional) >= 2:
        return True, False
    names = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    if {"event_name", "event"} <= names:
        return False, True
    if len(positional) == 1:
        return False, False
    raise InvalidArgumentError(
        "on_event must take (event) or (event_name, event)", param="on_event"
    )


class _CallbackHandler(AssistantEventHandler):
    """A handler that passes every event to one callable.

    ``awaiting`` is where the async stream finds what an ``async def`` callback returned, to
    await it on its loop; None where nothing awaits (the sync client refuses such callbacks).
    """

    def __init__(
        self, callback: Callable[..., object], awaiting: list[Awaitable[object]] | None
    ) -> None:
        self._callback = callback
        self._two, self._keywords = _takes_name_and_event(callback)
        self.awaiting = awaiting

    def on_event(self, event: AssistantStreamEvent) -> None:
        name = event.event
        if self._keywords:
            result = self._callback(event_name=name, event=event)
        elif self._two:
            result = self._callback(name, event)
        else:
            result = self._callback(event)
        if result is not None and inspect.isawaitable(result):
            if self.awaiting is None:
                discard_awaitable(result)
                raise InvalidArgumentError(_ASYNC_CALLBACK, param="on_event")
            self.awaiting.append(result)


_ASYNC_CALLBACK = (
    "on_event returned an awaitable, which AssistantsClient cannot await: use "
    "AsyncAssistantsClient, or a plain function"
)


def discard_awaitable(awaitable: Awaitable[object]) -> None:
    close = getattr(awaitable, "close", None)  # a coroutine never awaited would warn
    if close is not None:
        close()


def callback_handler(
    on_event: EventCallback | AssistantEventHandler | None, *, allow_async: bool = False
) -> AssistantEventHandler | None:
    """A handler for an ``on_event`` argument: a handler is used as is, a callable is wrapped
    (an ``async def`` one only where it can be awaited: ``allow_async``)."""
    if on_event is None or isinstance(on_event, AssistantEventHandler):
        return on_event
    if not callable(on_event):
        raise InvalidArgumentError(
            "on_event must be a callable or an AssistantEventHandler", param="on_event"
        )
    if not allow_async and is_async_callable(on_event):
        raise InvalidArgumentError(_ASYNC_CALLBACK, param="on_event")
    return _CallbackHandler(on_event, [] if allow_async else None)
