"""Streamed runs for asyncio: one reader thread per stream, its events handed over in batches.

An :class:`AsyncAssistantStream` is the asyncio face of an :class:`AssistantStream`, and shares
all of its logic: the events are parsed, folded into ``snapshot`` and passed to the handler by
the same code, with the same guarantees (no silent truncation, ``error`` events raised, event
sizes bounded, deadlines that hold).

How it reads. The connection is read by one thread (named ``assistants-client-stream``, from a
pool that outlives the stream, started without the loop waiting: ``_workers``), which frames the server-sent events as their bytes arrive (the
sync stream's reading half) and appends them to a buffer. The loop is woken (one
``call_soon_threadsafe``) only when it waits on an empty buffer; what arrives while it works is
taken as one batch at its next wait, so a fast stream costs one thread hop per batch, not per
event; and the wake-ups of many streams trickling events at once are coalesced (``_handoff``). Parsing, the snapshot and the handler's callbacks run on the loop, in order: callbacks
run in the loop's thread, and ``snapshot`` is as of the last event handed out. Iteration yields
to the loop after :data:`LOOP_SLICE` seconds of work, so one fast stream cannot hold the loop.
The buffer holds at most :data:`MAX_PENDING_EVENTS` events and :data:`MAX_PENDING_BYTES` bytes:
a consumer slower than the network holds the reader back (and the server, through TCP), never
the memory.

How it ends. Read to ``done``, or failed, the reader thread releases the connection and ends.
``await stream.close()`` (or leaving ``async with``) shuts the connection down under the reader
(the stream's deadline is fired), waits for the thread to end (at most a second; in practice at
once) and releases the connection. Cancelling the task that iterates the stream does the same
before the ``CancelledError`` goes on: a cancelled stream leaves no thread and no connection
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from assistants_client._async_sse_relay import AsyncSSERelay
from assistants_client._exceptions import AssistantsError
from assistants_client._handoff import handoff_for
from assistants_client._plan import Plan
from assistants_client._sse_relay import DEFAULT_HEARTBEAT, text_pieces
from assistants_client._streaming import (
    AssistantEventHandler,
    AssistantStream,
    StreamSnapshot,
    discard_awaitable,
)
from assistants_client._workers import Workers
from assistants_client.models import (
    AssistantStreamEvent,
    RequiredToolCall,
    RunResponse,
    RunStep,
    ThreadMessage,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "LOOP_SLICE",
    "MAX_PENDING_BYTES",
    "MAX_PENDING_EVENTS",
    "READER_THREAD_NAME",
    "AsyncAssistantStream",
]

MAX_PENDING_EVENTS = 1024
"""Events read but not yet taken by the loop, at most (the reader waits beyond)."""
MAX_PENDING_BYTES = 8 << 20
"""Bytes of event data read but not yet taken by the loop, at most (one event always fits)."""
LOOP_SLICE = 0.002
"""Seconds of processing events one after the other before iteration yields to the loop."""
READER_THREAD_NAME = "assistants-client-stream"
CLOSE_GRACE = 1.0
"""Seconds ``close()`` waits for the reader thread to end before letting go of it."""

_END = object()  # the reader reached the end of the stream

_READERS: list[Workers] = []
_READERS_LOCK = threading.Lock()


def _readers() -> Workers:
    """The process's stream readers: a thread per stream being read, kept a while for the next."""
    if not _READERS:
        with _READERS_LOCK:
            if not _READERS:
                _READERS.append(Workers(READER_THREAD_NAME))
    return _READERS[0]


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Reader:
    """The thread reading one stream's connection, and the buffer it fills for the loop."""

    def __init__(self, core: AssistantStream, loop: asyncio.AbstractEventLoop) -> None:
        self._core = core
        self._loop = loop
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._items: deque[Any] = deque()
        self._bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._stopping = False
        self._ended = False  # the reader no longer reads: its connection is being released
        self._hand = handoff_for(loop)
        self.finished: asyncio.Future[None] = loop.create_future()

    def start(self) -> None:
        _readers().submit(self._read)

    # -- the reader thread -------------------------------------------------------------------

    def _read(self) -> None:
        frames = self._core._frames()
        last: Any = _END
        try:
            for sse in frames:
                if not self._put(sse, len(sse.data)):
                    break
        except BaseException as exc:  # the stream's own errors: handed to the loop in order
            last = _Failed(exc)
        finally:
            with self._lock:
                self._ended = True  # from now on nobody fires the deadline: see abandon()
            frames.close()
            self._core._release()
            self._put(last, 0, last=True)
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                self._hand(_wake, self.finished)

    def _put(self, item: Any, size: int, *, last: bool = False) -> bool:
        """Append for the loop, waiting while the buffer is full; False once stopped."""
        with self._lock:
            while (
                not last
                and not self._stopping
                and self._items
                and (
                    len(self._items) >= MAX_PENDING_EVENTS or self._bytes + size > MAX_PENDING_BYTES
                )
            ):
                self._room.wait()
            if self._stopping:
                return False
            self._items.append(item)
            self._bytes += size
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            try:
                self._hand(_wake, waiter)
            except RuntimeError:  # the loop is closed: stop reading
                self.abandon()
                return False
        return True

    # -- the loop ----------------------------------------------------------------------------

    async def batch(self) -> list[Any]:
        """What the reader has read since the last batch, waiting for something; [] once
        stopped."""
        with self._lock:
            if not self._items and not self._stopping:
                self._waiter = waiter = self._loop.create_future()
            else:
                return self._take()
        await waiter
        with self._lock:
            return self._take()

    def _take(self) -> list[Any]:
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        self._room.notify()
        return items

    def stop(self) -> None:
        """From the loop: stop the reader (its connection is shut down under it)."""
        self.abandon()
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            _wake(waiter)

    def abandon(self) -> None:
        """From any thread: make the reader stop and end (the stream's deadline is fired)."""
        deadline = self._core._deadline
        with self._lock:
            self._stopping = True
            self._room.notify_all()
            # Only while it reads: a released connection may already serve another request.
            if deadline is not None and not self._ended:
                deadline.fire()

    async def wait_finished(self) -> None:
        if not self.finished.done():
            await asyncio.wait({self.finished}, timeout=CLOSE_GRACE)


class AsyncAssistantStream:
    """An event stream of one run, for asyncio: ``async with`` it, then ``async for`` it.

    Returned unopened by the async client's ``stream_*`` methods: the request is sent by
    ``async with`` (or the first ``async for``). Leaving the block closes the connection, as
    does cancelling the task that iterates. ``text_deltas()`` is an async iterator of text;
    ``until_done()`` reads to the end; ``final_run``, ``final_messages`` and
    ``final_run_steps`` are read once it has ended, as on :class:`AssistantStream`. The
    handler's callbacks run on the loop, as each event is handed out.
    """

    def __init__(
        self,
        opening: Plan[AssistantStream] | None,
        run: Callable[[Plan[AssistantStream]], Awaitable[AssistantStream]] | None,
        *,
        core: AssistantStream | None = None,
    ) -> None:
        self._opening = opening
        self._run = run
        self._core = core
        self._reader: _Reader | None = None
        self._batch: deque[Any] = deque()
        self._slice_started = 0.0
        self._busy = False
        self._ended = False  # iteration reached its end: done, an error, or closed
        self._closed = False

    @classmethod
    def reading(cls, core: AssistantStream) -> AsyncAssistantStream:
        """An opened stream, to be read on the loop."""
        return cls(None, None, core=core)

    # -- context management ------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (its reader thread ends first); safe to call more than once.

        Iterating the stream then ends at once; a task that was waiting for its next event
        gets StreamClosedError (with the partial snapshot). ``done`` stays False unless
        ``done`` was read.
        """
        if self._closed:
            return
        self._closed = True
        opening, self._opening = self._opening, None
        if opening is not None:  # never opened: nothing was sent
            opening.close()
        await self._shut()

    async def _shut(self) -> None:
        """Shut the connection down and wait for the reader thread to end."""
        core, reader = self._core, self._reader
        if core is None:
            return
        awaiting = getattr(core.handler, "awaiting", None)
        while awaiting:  # callbacks' coroutines that will not be awaited now
            discard_awaitable(awaiting.pop())
        if reader is None:
            core.close()
            return
        if not reader.finished.done():
            if not core.done:
                core._closed_by = threading.get_ident()
            reader.stop()
        await reader.wait_finished()

    async def _open(self) -> AssistantStream:
        core = self._core
        if core is None:
            opening, self._opening = self._opening, None
            if opening is None or self._run is None:
                raise AssistantsError("the stream was closed before it was opened")
            core = self._core = await self._run(opening)
            if self._closed:  # closed by another task while it was opening
                core.close()
        if self._reader is None and not self._closed and not self._ended:
            reader = self._reader = _Reader(core, asyncio.get_running_loop())
            weakref.finalize(self, reader.abandon)  # dropped unclosed: the reader ends
            reader.start()
        return core

    # -- reading -----------------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> AssistantStreamEvent:
        if self._busy:
            raise AssistantsError("the stream is already being read by another task")
        if self._ended or self._closed:
            raise StopAsyncIteration
        self._busy = True
        try:
            return await self._next()
        except asyncio.CancelledError:
            self._ended = True
            await self._shut()
            raise
        finally:
            self._busy = False

    async def _next(self) -> AssistantStreamEvent:
        core = await self._open()
        reader = self._reader
        if reader is None:  # closed while opening
            self._ended = True
            raise StopAsyncIteration
        while True:
            if not self._batch:
                batch = await reader.batch()
                if not batch:  # stopped by close() in another task
                    self._ended = True
                    raise core._closed_error()
                self._batch.extend(batch)
                self._slice_started = time.monotonic()
            item = self._batch.popleft()
            if item is _END:
                self._ended = True
                raise StopAsyncIteration
            if isinstance(item, _Failed):
                self._ended = True
                raise item.error
            try:
                event = core._process(item)
                awaiting = getattr(core.handler, "awaiting", None)
                while awaiting:  # what async callbacks returned, in order
                    await awaiting.pop(0)
            except Exception:  # a spoilt event, an error event, a callback that raised
                self._ended = True
                await self._shut()
                raise
            if event is None:  # done: the reader is ending on its own
                self._ended = True
                await reader.wait_finished()
                raise StopAsyncIteration
            if time.monotonic() - self._slice_started > LOOP_SLICE:
                await asyncio.sleep(0)
                self._slice_started = time.monotonic()
            return event

    async def until_done(self) -> Self:
        """Read the stream to its end (``done``), calling the handler on the way."""
        async for _ in self:
            pass
        return self

    async def text_deltas(self) -> AsyncIterator[str]:
        """The text of the assistant's messages, as it arrives."""
        async for event in self:
            for piece in text_pieces(event):
                yield piece

    def to_sse(
        self,
        *,
        events: Iterable[str] = (),
        heartbeat: float = DEFAULT_HEARTBEAT,
        on_disconnect: Callable[[RunResponse], Awaitable[object] | object] | None = None,
    ) -> AsyncSSERelay:
        """This stream as server-sent events for a browser: an async iterator of bytes.

        What the page receives is what :meth:`AssistantStream.to_sse` sends. Closing it (or
        cancelling the task that iterates it, as an ASGI server does when the page goes away)
        closes this stream; closed before the end, it calls (and awaits, when it is a
        coroutine function) ``on_disconnect(run)``. See
        ``assistants_client.django.sse_response`` for Django under ASGI.
        """
        return AsyncSSERelay(self, events=events, heartbeat=heartbeat, on_disconnect=on_disconnect)

    # -- what it has read --------------------------------------------------------------------

    @property
    def opened(self) -> bool:
        """True once the request was sent and the server answered with an event stream."""
        return self._core is not None

    @property
    def snapshot(self) -> StreamSnapshot:
        """What the stream has accumulated so far (as of the last event handed out)."""
        return StreamSnapshot() if self._core is None else self._core.snapshot

    @property
    def handler(self) -> AssistantEventHandler | None:
        return None if self._core is None else self._core.handler

    @property
    def status_code(self) -> int | None:
        return None if self._core is None else self._core.status_code

    @property
    def headers(self) -> Any:
        return None if self._core is None else self._core.headers

    @property
    def request_id(self) -> str | None:
        return None if self._core is None else self._core.request_id

    @property
    def events_seen(self) -> int:
        return 0 if self._core is None else self._core.events_seen

    @property
    def done(self) -> bool:
        """True once the server's ``done`` event was read."""
        return self._core is not None and self._core.done

    @property
    def ended(self) -> bool:
        """True once the stream was read to ``done``, or closed (early, or by an error)."""
        return self._ended or self._closed

    def _ended_core(self, name: str) -> AssistantStream:
        if not self.ended:
            raise AssistantsError(
                f"{name} is read once the stream has ended: await until_done(), iterate it to "
                "the end, or leave its `async with` block (the snapshot so far is in `snapshot`)"
            )
        if self._core is None:
            raise AssistantsError(f"{name}: the stream was closed before it was opened")
        return self._core

    @property
    def final_run(self) -> RunResponse:
        """The run as of its last ``thread.run.*`` event, once the stream has ended (see
        :attr:`AssistantStream.final_run`)."""
        return self._ended_core("final_run").final_run

    @property
    def final_messages(self) -> list[ThreadMessage]:
        """The messages of this stream, once it has ended (the server's final version of each
        message that completed)."""
        return self._ended_core("final_messages").final_messages

    @property
    def final_run_steps(self) -> list[RunStep]:
        """The run steps of this stream, once it has ended."""
        return self._ended_core("final_run_steps").final_run_steps

    @property
    def required_tool_calls(self) -> list[RequiredToolCall]:
        """The tool calls the run waits for, when it ended in ``requires_action``."""
        return [] if self._core is None else self._core.required_tool_calls

    def __repr__(self) -> str:
        state = "ended" if self.ended else "open" if self.opened else "not opened"
        return f"<AsyncAssistantStream {state} events_seen={self.events_seen}>"
