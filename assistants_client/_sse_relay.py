"""A run's event stream relayed to a browser as server-sent events (``AssistantStream.to_sse``).

An :class:`SSERelay` is a closable iterator of bytes: the body of a ``text/event-stream``
response for any WSGI server (Django's ``StreamingHttpResponse``, Flask's ``Response``...),
read by an ``EventSource`` in the page. What the page receives, in order:

- at once, before anything is read from the service, the comment ``: stream open``: the server
  sends the headers with it, so the page does not sit on "connecting";
- ``event: text`` with ``data: {"text": "..."}`` for each piece of the assistant's text;
- the stream events asked for by name (``events=("thread.run.step.created",)``), each as
  ``event: <name>`` with the event's ``data`` as JSON;
- the comment ``: ping`` whenever the service has been quiet for ``heartbeat`` seconds, which
  keeps proxies from closing an idle connection and bounds how long a page that went away
  goes unnoticed (a WSGI server learns of it only when a write fails);
- last, ``event: done`` with ``{"status", "run_id", "thread_id"}`` of the run (its final status:
  ``completed``, ``failed``, ``requires_action``...), or ``event: error`` with the error's
  ``safe_body()`` (``{"error": {"message", "type", "code", "request_id"}}``: no secret, no URL,
  no stack). Nothing follows either; the page should close its ``EventSource`` there, or it
  reconnects and asks again.

The service is read on a thread of the relay's own (started by the first ``next()``), so that
heartbeats go out while it is quiet. ``close()`` (which WSGI servers call when the response
ends, or when the page went away) closes the connection to the service, whether or not the
relay was ever iterated. If the stream had not ended, ``on_disconnect`` is called once with the
run as last seen (after reading up to the first run event if none had arrived): this is where
a page that went away cancels its run.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from assistants_client._exceptions import AssistantsError, InvalidArgumentError
from assistants_client.models import (
    AssistantStreamEvent,
    MessageContentTextDelta,
    RunResponse,
    ThreadMessageDeltaEvent,
    UnknownAssistantStreamEvent,
)

if TYPE_CHECKING:
    from assistants_client._streaming import AssistantStream, StreamSnapshot

__all__ = [
    "DEFAULT_HEARTBEAT",
    "OPENING",
    "PING",
    "SSERelay",
    "check_relay",
    "done_frame",
    "error_frame",
    "event_frames",
    "text_pieces",
]

logger = logging.getLogger("assistants_client")

DEFAULT_HEARTBEAT = 15.0
OPENING = b": stream open\n\n"
PING = b": ping\n\n"


def _frame(name: str, data: Any) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n".encode()


def _check_events(events: Iterable[str]) -> frozenset[str]:
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise InvalidArgumentError("events must be a collection of event names", param="events")
    names = frozenset(events)
    for name in names:
        if not isinstance(name, str) or not name or any(ch in name for ch in "\r\n:"):
            raise InvalidArgumentError(
                f"events must hold event names such as 'thread.run.step.created', got {name!r}",
                param="events",
            )
    return names


def _check_heartbeat(heartbeat: float) -> float:
    if (
        isinstance(heartbeat, bool)
        or not isinstance(heartbeat, (int, float))
        or not math.isfinite(heartbeat)
        or heartbeat <= 0
    ):
        raise InvalidArgumentError(
            f"heartbeat must be a positive number of seconds, got {heartbeat!r}",
            param="heartbeat",
        )
    return float(heartbeat)


def check_relay(
    events: Iterable[str], heartbeat: float, on_disconnect: object
) -> tuple[frozenset[str], float]:
    """A relay's arguments checked (InvalidArgumentError naming the one at fault)."""
    if on_disconnect is not None and not callable(on_disconnect):
        raise InvalidArgumentError("on_disconnect must be callable", param="on_disconnect")
    return _check_events(events), _check_heartbeat(heartbeat)


def _event_data(event: Any) -> Any:
    if isinstance(event, UnknownAssistantStreamEvent):
        return event.raw.get("data")
    data = event.data
    to_dict = getattr(data, "to_dict", None)
    return to_dict() if to_dict is not None else data


def text_pieces(event: object) -> list[str]:
    """The pieces of the assistant's text an event carries (none but for message deltas)."""
    if not isinstance(event, ThreadMessageDeltaEvent):
        return []
    return [
        part.text.value
        for part in event.data.delta.content or ()
        if isinstance(part, MessageContentTextDelta) and part.text and part.text.value
    ]


def event_frames(event: AssistantStreamEvent, names: frozenset[str]) -> list[bytes]:
    """What the page gets for one event: its text, and the event itself if it is named."""
    frames = [_frame("text", {"text": piece}) for piece in text_pieces(event)]
    if event.event in names:
        frames.append(_frame(event.event, _event_data(event)))
    return frames


def done_frame(snapshot: StreamSnapshot) -> bytes:
    """The last frame of a stream read to its end: the run's final status and ids."""
    run = snapshot.run
    return _frame(
        "done",
        {
            "status": run.status if run else None,
            "run_id": run.id if run else None,
            "thread_id": run.thread_id if run else snapshot.thread_id,
        },
    )


def error_frame(exc: Exception, closed: bool) -> bytes | None:
    """The last frame of a stream that failed (None when the relay was closed: logged only)."""
    if closed:
        logger.debug("SSE relay: the closed stream raised %s", type(exc).__name__)
        return None
    if isinstance(exc, AssistantsError):
        logger.warning("SSE relay: the stream failed, the page gets an error: %s", exc)
        return _frame("error", exc.safe_body())
    logger.error("SSE relay: reading the stream failed", exc_info=exc)
    return _frame("error", AssistantsError().safe_body())


class SSERelay:
    """One run's event stream as server-sent events for a browser: a closable byte iterator.

    Build it with ``stream.to_sse(...)``; see the module documentation for what it sends.
    """

    def __init__(
        self,
        stream: AssistantStream,
        *,
        events: Iterable[str] = (),
        heartbeat: float = DEFAULT_HEARTBEAT,
        on_disconnect: Callable[[RunResponse], object] | None = None,
    ) -> None:
        self._stream = stream
        self._events, self._heartbeat = check_relay(events, heartbeat, on_disconnect)
        self._on_disconnect = on_disconnect
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()  # None: the end
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._opened = False
        self._finished = False  # the last frame was handed out
        self._closed = False
        self._upstream_ended = False  # the service's stream was read to its end
        self._disconnect_called = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._closed or self._finished:
            raise StopIteration
        if not self._opened:
            self._opened = True
            self._start_reader()
            return OPENING
        try:
            frame = self._frames.get(timeout=self._heartbeat)
        except queue.Empty:
            return PING
        if frame is None:
            self._finished = True
            raise StopIteration
        return frame

    def close(self) -> None:
        """Close the service's stream; if it had not ended, call ``on_disconnect`` (once)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            reader = self._reader
        wants_run = not self._upstream_ended and self._on_disconnect is not None
        if wants_run and not self._disconnect():
            # No run event read yet: the reader reads on to the first one, then calls
            # on_disconnect and closes the stream.
            if reader is None:
                self._start_reader()
            return
        self._close_stream()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- internals ---------------------------------------------------------------------------

    def _start_reader(self) -> None:
        with self._lock:
            if self._reader is not None:
                return
            self._reader = threading.Thread(
                target=self._read, name="assistants-client-sse-relay", daemon=True
            )
        self._reader.start()

    def _close_stream(self) -> None:
        try:
            self._stream.close()
        except Exception as exc:  # the connection is being torn down: nothing else to do
            logger.debug("SSE relay: closing the stream raised %s", type(exc).__name__)

    def _disconnect(self) -> bool:
        """Call on_disconnect with the run, once; False while no run is known."""
        run = self._stream.snapshot.run
        if run is None:
            return False
        with self._lock:
            if self._disconnect_called:
                return True
            self._disconnect_called = True
        if run.is_terminal or self._on_disconnect is None:
            return True
        try:
            self._on_disconnect(run)
        except Exception as exc:
            # Often a race with the run's own end ("cannot cancel a completed run").
            logger.warning(
                "SSE relay: on_disconnect for run %s raised %s: %s", run.id, type(exc).__name__, exc
            )
        return True

    def _read(self) -> None:
        put = self._frames.put
        try:
            for event in self._stream:
                if self._closed:
                    if self._on_disconnect is None or self._disconnect():
                        break
                    continue
                for frame in event_frames(event, self._events):
                    put(frame)
            else:
                self._upstream_ended = True
                put(done_frame(self._stream.snapshot))
        except Exception as exc:
            self._upstream_ended = True
            last = error_frame(exc, self._closed)
            if last is not None:
                put(last)
        finally:
            put(None)
            self._close_stream()
