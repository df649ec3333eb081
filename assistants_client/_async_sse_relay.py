"""A run's event stream relayed to a browser under ASGI (``AsyncAssistantStream.to_sse``).

An :class:`AsyncSSERelay` is an async iterator of bytes: the body of a ``text/event-stream``
response for an ASGI server (Django's ``StreamingHttpResponse`` under uvicorn or daphne). The
page receives exactly what the sync relay sends (``_sse_relay``): ``: stream open`` at once,
``text`` events, the events asked for by name, ``: ping`` after ``heartbeat`` seconds of quiet,
and last ``done`` or ``error`` (its ``safe_body()``).

The service is read by a task of the relay's own, started by the first ``__anext__``, so that
heartbeats go out while it is quiet. An ASGI server learns at once that the page went away
(``http.disconnect``) and cancels the task sending the response: the relay takes that
cancellation, or :meth:`aclose`, as the page leaving. It closes the service's stream and, if
that had not ended, calls ``on_disconnect(run)`` once (awaited when it returns an awaitable),
after reading on to the first run event if none had arrived: this is where a page that went
away cancels its run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from assistants_client._sse_relay import (
    DEFAULT_HEARTBEAT,
    OPENING,
    PING,
    check_relay,
    done_frame,
    error_frame,
    event_frames,
)
from assistants_client.models import RunResponse

if TYPE_CHECKING:
    from assistants_client._async_streaming import AsyncAssistantStream

__all__ = ["AsyncSSERelay"]

logger = logging.getLogger("assistants_client")

MAX_PENDING_FRAMES = 256
"""Frames read from the service but not yet sent to the page, at most (the reading waits)."""

# Tasks that outlive the call that started them (a relay reading on to the first run event
# after the page left): held here until they end, so that they are not garbage collected.
_BACKGROUND: set[asyncio.Task[Any]] = set()
_T = TypeVar("_T")


class AsyncSSERelay:
    """One run's event stream as server-sent events for a browser, under ASGI.

    Build it with ``stream.to_sse(...)``; see the module documentation for what it sends.
    """

    def __init__(
        self,
        stream: AsyncAssistantStream,
        *,
        events: Iterable[str] = (),
        heartbeat: float = DEFAULT_HEARTBEAT,
        on_disconnect: Callable[[RunResponse], Awaitable[object] | object] | None = None,
    ) -> None:
        self._stream = stream
        self._events, self._heartbeat = check_relay(events, heartbeat, on_disconnect)
        self._on_disconnect = on_disconnect
        self._frames: asyncio.Queue[bytes | None] | None = None  # None: the end
        self._getter: asyncio.Future[bytes | None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finished = False  # the last frame was handed out
        self._closed = False
        self._upstream_ended = False  # the service's stream was read to its end
        self._disconnect_called = False

    def __aiter__(self) -> AsyncSSERelay:
        return self

    async def __anext__(self) -> bytes:
        if self._closed or self._finished:
            raise StopAsyncIteration
        if self._frames is None:
            self._start_reader()
            return OPENING
        try:
            return await self._next_frame(self._frames)
        except asyncio.CancelledError:  # the ASGI server gave up on the response: the page left
            await self.aclose()
            raise

    async def _next_frame(self, frames: asyncio.Queue[bytes | None]) -> bytes:
        # One get() outlives a heartbeat's timeout, so that no frame is ever lost to it.
        getter = self._getter
        if getter is None:
            getter = self._getter = asyncio.ensure_future(frames.get())
        done, _ = await asyncio.wait({getter}, timeout=self._heartbeat)
        if not done:
            return PING
        self._getter = None
        frame = getter.result()
        if frame is None:
            self._finished = True
            raise StopAsyncIteration
        return frame

    async def aclose(self) -> None:
        """Close the service's stream; if it had not ended, call ``on_disconnect`` (once)."""
        if self._closed:
            return
        self._closed = True
        getter, self._getter = self._getter, None
        if getter is not None:
            getter.cancel()
        read_on = False
        try:
            if not self._upstream_ended and self._on_disconnect is not None:
                read_on = not await self._disconnect()
        finally:
            if read_on:
                # No run event read yet: the reader reads on to the first one, calls
                # on_disconnect and closes the stream.
                if self._reader is None:
                    self._start_reader()
            else:
                reader = self._reader
                if reader is not None and not reader.done():
                    reader.cancel()
                await self._close_stream()

    def close(self) -> None:
        """:meth:`aclose`, from any thread (a server's closing hook): scheduled on the loop."""
        loop = self._loop
        if self._closed or loop is None:
            self._closed = True
            return
        if self._finished and self._upstream_ended:
            self._closed = True
            return
        try:
            loop.call_soon_threadsafe(self._close_soon)
        except RuntimeError:  # the loop is closed: its tasks are gone with it
            self._closed = True

    def _close_soon(self) -> None:
        _keep(asyncio.get_running_loop().create_task(self.aclose()))

    @property
    def closed(self) -> bool:
        return self._closed

    # -- internals ---------------------------------------------------------------------------

    def _start_reader(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._frames = asyncio.Queue(MAX_PENDING_FRAMES)
        self._reader = _keep(self._loop.create_task(self._read(self._frames)))

    async def _close_stream(self) -> None:
        try:
            await self._stream.close()
        except Exception as exc:  # the connection is being torn down: nothing else to do
            logger.debug("SSE relay: closing the stream raised %s", type(exc).__name__)

    async def _disconnect(self) -> bool:
        """Call on_disconnect with the run, once; False while no run is known."""
        run = self._stream.snapshot.run
        if run is None:
            return False
        if self._disconnect_called:
            return True
        self._disconnect_called = True
        if run.is_terminal or self._on_disconnect is None:
            return True
        try:
            result = self._on_disconnect(run)
        except Exception as exc:
            _warn(run, exc)
            return True
        if inspect.isawaitable(result):
            # A task of its own: a second cancellation of the caller must not cut it short.
            task = _keep(asyncio.get_running_loop().create_task(_awaited(result)))
            task.add_done_callback(lambda done: _report(run, done))
            await asyncio.wait({task})
        return True

    async def _read(self, frames: asyncio.Queue[bytes | None]) -> None:
        try:
            async for event in self._stream:
                if self._closed:
                    if self._on_disconnect is None or await self._disconnect():
                        break
                    continue
                for frame in event_frames(event, self._events):
                    await frames.put(frame)
            else:
                self._upstream_ended = True
                await frames.put(done_frame(self._stream.snapshot))
        except Exception as exc:
            self._upstream_ended = True
            last = error_frame(exc, self._closed)
            if last is not None:
                await frames.put(last)
        finally:
            if not self._closed:
                await frames.put(None)
            await self._close_stream()


def _keep(task: asyncio.Task[_T]) -> asyncio.Task[_T]:
    """Hold a task until it ends."""
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


async def _awaited(awaitable: Awaitable[object]) -> object:
    return await awaitable


def _report(run: RunResponse, task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _warn(run, task.exception())


def _warn(run: RunResponse, exc: BaseException | None) -> None:
    # Often a race with the run's own end ("cannot cancel a completed run").
    logger.warning(
        "SSE relay: on_disconnect for run %s raised %s: %s", run.id, type(exc).__name__, exc
    )
