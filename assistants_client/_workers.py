"""Worker threads for an event loop's blocking work, never started by the loop itself.

``threading.Thread.start()`` returns only once the new thread runs. Under load (other threads
holding the GIL, other processes on the CPU) that takes milliseconds, and a loop that starts
fifty threads in a burst (fifty streams opened at once) would stall that long. So a loop never
starts a thread here: :meth:`Workers.submit` puts the work on a queue and, when no worker is
idle, asks the process's *spawner* (one thread, started with the first pool) for one more;
the work waits for it in the queue. A worker that stays idle for :data:`IDLE_SECONDS` ends;
all are daemon threads, so none holds up the interpreter's exit. After a fork, the child
starts afresh: its pools have no worker, its spawner is started again. Idle workers are
not ended by anything but time: a pool left behind costs at most IDLE_SECONDS of idle threads.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["IDLE_SECONDS", "Workers"]

logger = logging.getLogger("assistants_client")

IDLE_SECONDS = 30.0

Work = tuple[Callable[..., object], tuple[Any, ...]]


class Workers:
    """A pool of up to ``limit`` daemon threads named ``name`` (no limit: None)."""

    def __init__(self, name: str, limit: int | None = None) -> None:
        self.name = name
        self.limit = limit
        self._reset()
        _POOLS.add(self)
        _SPAWNER.start()

    def _reset(self) -> None:
        self._queue: queue.SimpleQueue[Work] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # workers waiting for work that nobody counts on
        self._lock = threading.Lock()
        self._count = 0

    @property
    def count(self) -> int:
        """Workers alive now (busy or idle)."""
        return self._count

    def submit(self, function: Callable[..., object], *args: Any) -> None:
        """Run ``function(*args)`` on a worker soon; never waits (see the module doc)."""
        self._queue.put((function, args))
        if self._idle.acquire(blocking=False):
            return  # an idle worker takes it
        with self._lock:
            if self.limit is not None and self._count >= self.limit:
                return  # it waits for a busy worker
            self._count += 1
        _SPAWNER.spawn(self)

    def _work(self) -> None:
        """A worker's life: take work, do it, wait idle, end after IDLE_SECONDS of nothing.

        A worker counts as idle (a token of ``_idle``, which ``submit`` takes instead of asking
        for a new worker) only once it has finished some work: a new one is started for work
        already queued, so counting it idle from the start would send later work to it too.
        """
        counted = False  # whether a token of _idle stands for this worker
        try:
            while True:
                try:
                    function, args = self._queue.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    if not counted:
                        return  # nobody counts on it: it may end
                    if self._idle.acquire(blocking=False):
                        return  # its token taken back: nobody counts on it now
                    continue  # a submit counted on it: its work is on the way
                counted = False
                try:
                    function(*args)
                except BaseException:  # the work reports its own outcome; never lose a worker
                    logger.exception("a worker of %s failed", self.name)
                self._idle.release()
                counted = True
        finally:
            with self._lock:
                self._count -= 1


class _Spawner:
    """The one thread that starts workers, so that no event loop waits for a thread to start."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._requests: queue.SimpleQueue[Workers] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="assistants-client-spawner", daemon=True
                )
                self._thread.start()

    def spawn(self, pool: Workers) -> None:
        self._requests.put(pool)
        if self._thread is None or not self._thread.is_alive():
            self.start()  # after a fork

    def _run(self) -> None:
        while True:
            pool = self._requests.get()
            try:
                threading.Thread(target=pool._work, name=pool.name, daemon=True).start()
            except RuntimeError as exc:  # the interpreter is shutting down, or out of threads
                logger.warning("could not start a worker of %s: %s", pool.name, exc)
                with pool._lock:
                    pool._count -= 1


_POOLS: weakref.WeakSet[Workers] = weakref.WeakSet()
_SPAWNER = _Spawner()


def _after_fork() -> None:
    _SPAWNER._reset()
    for pool in list(_POOLS):
        pool._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
