"""Handing results from worker threads to an event loop, with as few wake-ups as possible.

A worker thread that finishes a call, or a stream's reader that has new events, must wake the
loop (``call_soon_threadsafe``: a write to the loop's self-pipe, a return from its selector, a
turn of the loop). With many streams trickling events, one wake-up per event would cost more
than the events themselves. The :data:`Hand` of :func:`handoff_for` coalesces them: the first hand-off after the loop
last drained writes to the self-pipe; those that follow before the loop gets to them only join
the list it drains, in one callback. Each loop gets its own list, found from the loop and
dropped with it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Hand", "handoff_for"]

Hand = Callable[[Callable[[Any], object], Any], None]
"""``hand(callback, argument)``: run ``callback(argument)`` on a loop soon, from any thread."""


class _Handoff:
    """The callbacks worker threads handed to one loop since it last drained them."""

    __slots__ = ("__weakref__", "_lock", "_loop", "_pending", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)  # a strong one would keep the dictionary's key alive
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[[Any], object], Any]] = []
        self._scheduled = False

    def add(self, callback: Callable[[Any], object], argument: Any) -> None:
        with self._lock:
            self._pending.append((callback, argument))
            if self._scheduled:
                return
            self._scheduled = True
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the event loop is gone")
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: nothing it was to run can matter now
            with self._lock:
                self._pending.clear()
                self._scheduled = False
            raise

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._scheduled = False
        for callback, argument in pending:
            callback(argument)


_HANDOFFS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Handoff] = (
    weakref.WeakKeyDictionary()
)
_HANDOFFS_LOCK = threading.Lock()


def handoff_for(loop: asyncio.AbstractEventLoop) -> Hand:
    """``hand(callback, argument)``: from any thread, run ``callback(argument)`` on ``loop``
    soon (RuntimeError once the loop is closed). Call this on the loop's own thread."""
    found = _HANDOFFS.get(loop)
    if found is None:
        with _HANDOFFS_LOCK:
            found = _HANDOFFS.get(loop)
            if found is None:
                found = _HANDOFFS[loop] = _Handoff(loop)
    return found.add
