"""Deadlines that hold while a thread is blocked reading a socket.

A socket timeout bounds one read: a server that sends a byte just inside it, again and again,
keeps a call alive for ever. A :class:`Deadline` bounds a whole exchange instead. When it
passes, or when another thread ends it (:meth:`Deadline.fire`, what a stream's ``close()``
does), the connection's socket is shut down, so the read blocked on it returns at once and the
caller raises a timeout (or "closed") error of its own.

One daemon thread, the :class:`_Watchdog`, keeps every armed deadline in a heap and fires
each when its time comes. Arming costs a heap push; a deadline moved later (a stream's idle
timer, pushed back at every event) costs an attribute write, the heap entry being moved only
when it comes due. A deadline may also watch a ``threading.Event`` (:meth:`Deadline.watch`):
it fires when the event is set, noticed within ``EVENT_POLL`` seconds (an event has no
callback, so the watchdog looks at the events it watches that often, and only while there are
some). That is how the server's backend calls stop when their run is cancelled.

It is the one watchdog of the package: the client's calls and streams, the server's calls to
its Chat Completions backend, and the PostgreSQL store's statements are all cut off by it.

Finding the socket: the client's connection pools make :class:`GuardedHTTPConnection` (or
``...HTTPS...``) connections. When a request is sent on one, it binds itself to the deadline
of the call under way in that thread (:func:`current`); the pool unbinds it when it takes the
connection back (:class:`GuardedPool`), so a deadline never touches a connection that has
moved on to another call. A stream read through a session whose pools are not ours binds the
socket of its response instead (:meth:`Deadline.bind_socket`).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection

__all__ = [
    "EVENT_POLL",
    "Deadline",
    "GuardedHTTPConnection",
    "GuardedHTTPSConnection",
    "GuardedPool",
    "current",
]

_current = threading.local()

EVENT_POLL = 0.05
"""Seconds between two looks at the events deadlines watch."""


def current() -> Deadline | None:
    """The deadline of the call under way in this thread, if any."""
    return getattr(_current, "deadline", None)


def _shutdown(sock: Any) -> None:
    """Shut ``sock`` down for reading and writing, so a read blocked on it returns now.

    ``socket.socket.shutdown`` is called directly: a TLS socket's own ``shutdown`` would also
    tear down its TLS state under the feet of the thread reading it. ``sock`` may also be a
    socket's file descriptor (a database driver's connection has no socket object).
    """
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        return
    if isinstance(sock, int) and not isinstance(sock, bool):
        with contextlib.suppress(OSError):
            borrowed = socket.socket(fileno=sock)
            try:
                borrowed.shutdown(socket.SHUT_RDWR)
            finally:
                borrowed.detach()  # the descriptor stays its owner's to close
        return
    inner = getattr(sock, "socket", None)  # urllib3's TLS-in-TLS transport wraps a socket
    if isinstance(inner, socket.socket):
        _shutdown(inner)


class Deadline:
    """A point in time (``time.monotonic()``) after which an exchange is cut off.

    ``fired`` turns True once, when the deadline passed, the event it watches was set or
    :meth:`fire` was called; from then on the bound connection's socket is shut down, and so is
    any connection bound later.
    """

    __slots__ = ("_conn", "_event", "_scheduled", "_sock", "at", "fired")

    def __init__(self) -> None:
        self.at: float | None = None
        self.fired = False
        self._scheduled: float | None = None
        self._conn: Any = None
        self._sock: Any = None
        self._event: threading.Event | None = None

    # -- time ------------------------------------------------------------------------------

    def arm(self, at: float | None) -> None:
        """Fire at ``at`` (monotonic seconds); None disarms. May be called again to move it."""
        _WATCHDOG.arm(self, at)

    def disarm(self) -> None:
        """Neither the time nor the event watched fires it any more."""
        _WATCHDOG.arm(self, None)
        if self._event is not None:
            _WATCHDOG.watch(self, None)

    def watch(self, event: threading.Event | None) -> None:
        """Fire once ``event`` is set (within ``EVENT_POLL`` seconds); None stops watching."""
        _WATCHDOG.watch(self, event)

    def fire(self) -> None:
        """Fire now, from any thread: the bound socket is shut down."""
        _WATCHDOG.fire(self)

    # -- sockets ---------------------------------------------------------------------------

    def bind(self, conn: Any) -> None:
        """``conn`` (with a ``sock`` attribute) now carries this deadline's exchange."""
        _WATCHDOG.bind(self, conn)

    def unbind(self, conn: Any) -> None:
        _WATCHDOG.unbind(self, conn)

    def bind_socket(self, sock: Any) -> None:
        """A socket (or its file descriptor) to shut down when no connection of ours is bound
        (another session, a database connection); None forgets it."""
        _WATCHDOG.bind_socket(self, sock)

    @property
    def bound(self) -> bool:
        return self._conn is not None or self._sock is not None

    @contextlib.contextmanager
    def active(self) -> Iterator[Deadline]:
        """Make this the thread's current deadline (connections sent on bind to it)."""
        previous = getattr(_current, "deadline", None)
        _current.deadline = self
        try:
            yield self
        finally:
            _current.deadline = previous

    def _socket(self) -> Any:
        conn = self._conn
        sock = getattr(conn, "sock", None) if conn is not None else None
        return sock if sock is not None else self._sock


class _Watchdog:
    """The one thread that fires deadlines as they pass."""

    # Disarmed entries are left in the heap and dropped when they come due, or all at once when
    # they outnumber the live ones (a default read timeout is ten minutes away).
    _COMPACT_AFTER = 512

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start afresh (in a forked child, whose copy of the lock may be held for ever)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._stale = 0
        self._watched: set[Deadline] = set()
        self._polling = False  # the thread looks at the events again within EVENT_POLL
        self._thread: threading.Thread | None = None

    def arm(self, deadline: Deadline, at: float | None) -> None:
        with self._lock:
            deadline.at = at
            if at is None:
                if deadline._scheduled is not None:
                    deadline._scheduled = None
                    self._stale += 1
                    if self._stale > self._COMPACT_AFTER and self._stale * 2 > len(self._heap):
                        self._compact()
                return
            if deadline.fired:
                return
            scheduled = deadline._scheduled
            if scheduled is not None and scheduled <= at:
                return  # the entry due earlier moves itself when it comes due
            if scheduled is not None:
                self._stale += 1
            deadline._scheduled = at
            heapq.heappush(self._heap, (at, next(self._order), deadline))
            self._ensure_thread()
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def watch(self, deadline: Deadline, event: threading.Event | None) -> None:
        with self._lock:
            deadline._event = event
            if event is None:
                self._watched.discard(deadline)
                return
            if event.is_set():
                self._fire(deadline)
                return
            if not deadline.fired:
                self._watched.add(deadline)
                self._ensure_thread()
                if not self._polling:  # it sleeps longer than EVENT_POLL: wake it
                    self._wake.notify()

    def fire(self, deadline: Deadline) -> None:
        with self._lock:
            self._fire(deadline)

    def _fire(self, deadline: Deadline) -> None:
        deadline.fired = True
        self._watched.discard(deadline)
        sock = deadline._socket()
        if sock is not None:
            _shutdown(sock)

    def bind(self, deadline: Deadline, conn: Any) -> None:
        with self._lock:
            previous = getattr(conn, "_assistants_deadline", None)
            if previous is not None and previous is not deadline and previous._conn is conn:
                previous._conn = None
            deadline._conn = conn
            conn._assistants_deadline = deadline
            if deadline.fired:
                self._fire(deadline)

    def unbind(self, deadline: Deadline, conn: Any) -> None:
        with self._lock:
            if deadline._conn is conn:
                deadline._conn = None
            if getattr(conn, "_assistants_deadline", None) is deadline:
                conn._assistants_deadline = None

    def bind_socket(self, deadline: Deadline, sock: Any) -> None:
        with self._lock:
            deadline._sock = sock
            if deadline.fired:
                self._fire(deadline)

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if entry[2]._scheduled == entry[0]]
        heapq.heapify(self._heap)
        self._stale = 0

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():  # not alive: after a fork
            self._thread = threading.Thread(
                target=self._run, name="assistants-client-deadlines", daemon=True
            )
            self._thread.start()

    def _look_at_events(self) -> None:
        for deadline in [d for d in self._watched if d._event is not None and d._event.is_set()]:
            self._fire(deadline)

    def _run(self) -> None:
        with self._lock:
            while True:
                if self._watched:
                    self._look_at_events()
                poll = EVENT_POLL if self._watched else None
                self._polling = poll is not None
                if not self._heap:
                    self._wake.wait(poll)
                    continue
                at, _, deadline = self._heap[0]
                now = time.monotonic()
                if at > now:
                    self._wake.wait(at - now if poll is None else min(at - now, poll))
                    continue
                heapq.heappop(self._heap)
                if deadline._scheduled != at:
                    self._stale = max(self._stale - 1, 0)
                    continue  # disarmed, or superseded by an earlier entry
                current_at = deadline.at
                if current_at is None:
                    deadline._scheduled = None
                elif current_at > now:
                    deadline._scheduled = current_at  # moved later: wait again
                    heapq.heappush(self._heap, (current_at, next(self._order), deadline))
                else:
                    deadline._scheduled = None
                    self._fire(deadline)


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):  # a forked child starts afresh: no thread, a free lock
    os.register_at_fork(after_in_child=_WATCHDOG.reset)


class _GuardedConnection:
    """Binds itself to the calling thread's deadline when a request is sent on it."""

    _assistants_deadline: Deadline | None = None

    def request(self, *args: Any, **kwargs: Any) -> Any:
        deadline = current()
        if deadline is not None:
            deadline.bind(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        deadline = self._assistants_deadline
        if deadline is not None and deadline.fired:
            deadline.fire()  # it passed while connecting: the new socket is shut down too


class GuardedHTTPConnection(_GuardedConnection, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class GuardedPool:
    """A connection pool mixin: connections taken back are unbound from their deadline."""

    def _put_conn(self, conn: Any) -> None:
        deadline = getattr(conn, "_assistants_deadline", None)
        if deadline is not None:
            deadline.unbind(conn)
        super()._put_conn(conn)  # type: ignore[misc]
