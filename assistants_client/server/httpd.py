"""The built-in HTTP/1.1 server for a WSGI application, on the standard library alone.

It serves the API for ``assistants-server``, the emulator and the pytest plugin; under gunicorn
or any other WSGI server the same application runs unchanged. It is meant to face clients
directly, so it holds its own against hostile ones (``docs/server-security.md``):

* **Strict framing.** Request heads and chunked bodies are read as RFC 9112 allows and not
  otherwise (``framing.py``): anything ambiguous is answered 400 (or 414, 431, 501, 505) and the
  connection is closed, so no proxy in front can be made to see two requests where this server
  sees one.
* **Idle connections hold no thread.** One thread, the loop, holds every connection that waits
  for a request in a selector, reads request heads as they arrive and parses them. Only a
  request whose head has arrived goes to a worker thread, which runs the application, reads
  the body as the application asks for it and writes the answer; a kept-alive connection then
  goes back to the loop. Thousands of idle connections cost a few kilobytes each.
* **Deadlines and bounds.** A connection is closed after ``idle_timeout`` seconds without a
  request. A request head must arrive whole within ``header_timeout`` seconds of its first
  byte, however slowly it trickles (then 408), and within ``framing.MAX_HEAD`` bytes. Reads of
  a body and writes of an answer each have ``io_timeout``.
* **Bounded connections and threads.** At most ``max_connections`` connections are open, idle
  ones included (fewer if the process's open-file limit is lower); at the bound, the connection
  idle for longest (at least :data:`EVICTABLE_AFTER` seconds) is closed to make room, else the
  new one gets ``503`` with ``Retry-After``. At most ``threads`` requests are served at once (a
  streamed answer holds its thread while it streams); past that, ``503`` too.
* **Bodies the application did not read are not read for it.** When the application answers
  before reading the body (a ``401``, a ``404``), at most :data:`SMALL_REST` bytes of it are
  read to keep the connection; past that, the answer says ``Connection: close``, the server
  stops sending, and reads and throws away at most :data:`LINGER_BYTES` for at most
  :data:`LINGER_SECONDS` (so that the answer is not lost to a reset) before closing. After a
  ``413`` (the application refuses a body it has authenticated), up to :data:`DRAIN_LIMIT` is
  read in that way, so that a client still sending sees the answer.
* **Streaming.** An answer without ``Content-Length`` goes out chunked to an HTTP/1.1 client,
  and close-delimited to an HTTP/1.0 one (RFC 9112 section 6.1); each piece the application
  yields is one ``sendall`` of one buffer (chunk line, data and CRLF), at once (``TCP_NODELAY``).
  A client that went away is noticed on the next write: the application's iterable is closed
  (its ``finally`` runs), and so is the connection.
* **WSGI.** ``environ`` follows PEP 3333; ``RAW_URI`` holds the request target as it arrived,
  undecoded (as gunicorn sets it), next to the decoded ``PATH_INFO``. Header names with an
  underscore are dropped (they would share an environ key with the dashed name). ``wsgi.input``
  reads the body lazily, answering ``Expect: 100-continue`` on the first read.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import queue
import re
import secrets
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from assistants_client.server.framing import (
    ChunkedDecoder,
    ProtocolError,
    RequestHead,
    check_partial_head,
    head_end,
    parse_head,
    skip_empty_lines,
)

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_BACKLOG",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_THREADS",
    "WSGIApplication",
    "WSGIServer",
    "raise_open_file_limit",
]

logger = logging.getLogger("assistants_client.server")

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

DEFAULT_BACKLOG = 128
DEFAULT_MAX_CONNECTIONS = 4096
DEFAULT_THREADS = 256
DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_IO_TIMEOUT = 60.0
# A connection idle for at least this long may be closed to make room for a new one.
EVICTABLE_AFTER = 2.0
# What is left of a body the application did not read, read to keep the connection.
SMALL_REST = 64 * 1024
# After an answer that closes the connection: what is read and thrown away, for how long.
LINGER_BYTES = 256 * 1024
LINGER_SECONDS = 2.0
# The same after a 413, so that a client still sending its body gets to read the answer.
DRAIN_LIMIT = 64 << 20
DRAIN_SECONDS = 10.0
# Open files kept for everything else (databases, the backend, logs): a share of the limit.
FD_RESERVE_SHARE = 8
FD_RESERVE_MIN = 64
# Thread of the pool that had no request for this long ends.
THREAD_IDLE_SECONDS = 60.0
TICK = 0.25
RECV_SIZE = 64 * 1024
ACCEPT_BATCH = 64
ACCEPT_PAUSE = 0.1

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")
_NO_BODY_STATUSES = frozenset({204, 304})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

_IDLE, _READING, _BUSY, _CLOSING, _CLOSED = range(5)


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards ``wanted`` (within the hard
    limit), as servers do at start-up; returns the soft limit now in force (0: unknown)."""
    if resource is None:
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return 0 if soft == resource.RLIM_INFINITY else int(soft)


def connections_room() -> int | None:
    """How many connections the open-file limit leaves room for (None: no limit known)."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(16, int(soft) - max(FD_RESERVE_MIN, int(soft) // FD_RESERVE_SHARE))


class _ClientGone(Exception):
    """The client closed the connection, reset it, or stopped reading for ``io_timeout``."""


class _Connection:
    __slots__ = (
        "buffer",
        "deadline",
        "linger_left",
        "peer",
        "registered",
        "scanned",
        "since",
        "sock",
        "state",
    )

    def __init__(self, sock: socket.socket, peer: Any, now: float) -> None:
        self.sock = sock
        self.peer = peer
        self.buffer = bytearray()
        self.scanned = 0
        self.state = _IDLE
        self.since = now
        self.deadline = 0.0
        self.linger_left = 0
        self.registered = False


class _Outcome:
    """What the loop does with a connection a worker hands back."""

    __slots__ = ("budget", "keep", "seconds")

    def __init__(self, keep: bool, budget: int = 0, seconds: float = 0.0) -> None:
        self.keep = keep
        self.budget = budget
        self.seconds = seconds


_KEEP = _Outcome(True)
_CLOSE = _Outcome(False)
_LINGER = _Outcome(False, LINGER_BYTES, LINGER_SECONDS)


class _Threads:
    """Daemon threads started as requests need them, reused, ended after a quiet minute."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1
        self._jobs.put(job)
        if start:
            threading.Thread(target=self._work, name=self._name, daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=THREAD_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:
                        self._idle -= 1
                        return
                continue  # a job was promised to an idle thread: this one takes it
            try:
                job()
            except Exception:  # a job handles its own errors; this is a last resort
                logger.exception("error in a server thread")
            with self._lock:
                self._idle += 1


class _Clock:
    """The ``Date`` header's value, formatted once a second."""

    def __init__(self) -> None:
        self._cached: tuple[int, str] = (0, "")

    def date(self) -> str:
        now = int(time.time())
        cached = self._cached
        if cached[0] != now:
            cached = (now, formatdate(now, usegmt=True))
            self._cached = cached  # one assignment: threads see the old pair or the new one
        return cached[1]


_date = _Clock().date


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def _error_answer(
    status: int,
    message: str,
    *,
    param: str | None = None,
    server_name: str,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """An answer in the API's error shape, that closes the connection."""
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error" if status < 500 else "server_error",
                "param": param,
                "code": None,
            }
        }
    ).encode()
    lines = [
        f"HTTP/1.1 {status} {_phrase(status)}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"x-request-id: req_{secrets.token_hex(16)}",
        f"Date: {_date()}",
        f"Server: {server_name}",
        *(f"{name}: {value}" for name, value in headers),
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Body(io.RawIOBase):
    """``wsgi.input``: the request body, read from the connection as the application asks."""

    def __init__(self, conn: _Connection, head: RequestHead) -> None:
        self._conn = conn
        self.remaining = head.content_length or 0
        self._decoder = ChunkedDecoder() if head.chunked else None
        self._pieces: list[bytes] = []
        self.broken = False
        self.continue_due = head.expect_continue and head.has_body
        self.response_started = False

    def readable(self) -> bool:
        return True

    @property
    def finished(self) -> bool:
        if self._decoder is not None:
            return self._decoder.finished and not self._pieces
        return self.remaining <= 0

    def readinto(self, buffer: Any) -> int:
        if self.broken:
            raise ProtocolError("The request body could not be read.")
        if self.finished:
            return 0
        if self.continue_due:
            self.continue_due = False
            if not self.response_started:
                self._send_continue()
        try:
            if self._decoder is not None:
                return self._read_chunked(memoryview(buffer).cast("B"))
            return self._read_length(memoryview(buffer).cast("B"))
        except ProtocolError:
            self.broken = True
            raise
        except OSError as problem:
            self.broken = True
            raise ProtocolError(f"The request body could not be read: {problem}") from None

    def _send_continue(self) -> None:
        try:
            self._conn.sock.sendall(_CONTINUE)
        except OSError as problem:
            raise _ClientGone(str(problem)) from None

    def _take(self, view: memoryview) -> int:
        """Bytes from what the loop read ahead, else one read from the socket."""
        buffered = self._conn.buffer
        if buffered:
            size = min(len(view), len(buffered))
            view[:size] = buffered[:size]
            del buffered[:size]
            return size
        size = self._conn.sock.recv_into(view)
        if size == 0:
            raise ProtocolError("The connection closed before the end of the request body.")
        return size

    def _read_length(self, view: memoryview) -> int:
        size = self._take(view[: self.remaining])
        self.remaining -= size
        return size

    def _read_chunked(self, view: memoryview) -> int:
        decoder = self._decoder
        assert decoder is not None
        while not self._pieces and not decoder.finished:
            scratch = bytearray(RECV_SIZE)
            size = self._take(memoryview(scratch))
            pieces, used = decoder.feed(memoryview(scratch)[:size])
            self._pieces = [piece for piece in pieces if piece]
            if used < size:  # the next request, already read
                self._conn.buffer[:0] = scratch[used:size]
        if not self._pieces:
            return 0
        piece = self._pieces[0]
        size = min(len(view), len(piece))
        view[:size] = piece[:size]
        if size == len(piece):
            self._pieces.pop(0)
        else:
            self._pieces[0] = piece[size:]
        return size

    def discard(self, until: float) -> bool:
        """Read what is left of the body and throw it away; False if it did not end by
        ``until`` (monotonic) or could not be read."""
        scratch = bytearray(RECV_SIZE)
        try:
            while not self.finished:
                left = until - time.monotonic()
                if left <= 0:
                    return False
                self._conn.sock.settimeout(left)
                self.readinto(scratch)
        except (ProtocolError, _ClientGone, OSError):
            return False
        return True


class _Response:
    """The status, headers and body of one answer, written to the connection."""

    def __init__(self, server: WSGIServer, conn: _Connection, head: RequestHead, body: _Body):
        self._server = server
        self._conn = conn
        self._head = head
        self._body = body
        self._status: str | None = None
        self._headers: list[tuple[str, str]] = []
        self.code = 0
        self.started = False
        self.complete = False
        self.close = not head.keep_alive
        self._chunked = False
        self._bodyless = False
        self._length: int | None = None
        self._sent = 0

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        if len(status) < 4 or not status[:3].isdigit() or status[3] != " ":
            raise ValueError(f"invalid WSGI status {status[:40]!r}")
        for name, value in headers:
            if not _FIELD_NAME.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
                raise ValueError(f"invalid WSGI header {name[:40]!r}")
        self._status = status
        self._headers = list(headers)
        return self.write

    def _head_bytes(self) -> bytes:
        if self._status is None:
            raise RuntimeError("the application did not call start_response")
        head, body = self._head, self._body
        self.code = int(self._status[:3])
        self._bodyless = head.method == "HEAD" or self.code in _NO_BODY_STATUSES or self.code < 200
        lines = [f"HTTP/1.1 {self._status}"]
        names = set()
        for name, value in self._headers:
            lowered = name.lower()
            if lowered in _HOP_BY_HOP:
                continue  # this server frames the answer and manages the connection
            if lowered == "content-length":
                if not value.isascii() or not value.isdigit():
                    raise ValueError(f"invalid Content-Length {value[:40]!r}")
                self._length = int(value)
            names.add(lowered)
            lines.append(f"{name}: {value}")
        if "date" not in names:
            lines.append(f"Date: {_date()}")
        if "server" not in names:
            lines.append(f"Server: {self._server.server_name}")
        if self._length is None and head.method != "HEAD" and not self._bodyless:
            if head.version >= (1, 1):
                self._chunked = True
                lines.append("Transfer-Encoding: chunked")
            else:
                self.close = True  # the end of the connection ends the body
        if not body.finished and (
            body.broken or body.continue_due or head.chunked or body.remaining > SMALL_REST
        ):
            self.close = True  # a body left unread, too large to read for nothing
        if self._server.stopping:
            self.close = True
        if self.close:
            lines.append("Connection: close")
        body.response_started = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, data: bytes) -> None:
        try:
            self._conn.sock.sendall(data)
        except OSError as problem:
            raise _ClientGone(str(problem)) from None

    def write(self, data: bytes) -> None:
        if not data:
            return  # the head waits for the first bytes of the body (PEP 3333)
        head = b"" if self.started else self._head_bytes()
        self.started = True
        if self._bodyless:
            if head:
                self._send(head)
            return
        if self._length is not None:
            room = self._length - self._sent
            if len(data) > room:
                data = data[:room]
                self.close = True  # the application said less than it sent
            self._sent += len(data)
        if self._chunked:
            self._send(b"".join((head, b"%x\r\n" % len(data), data, b"\r\n")))
        else:
            self._send(head + data if head else data)

    def finish(self) -> None:
        head = b"" if self.started else self._head_bytes()
        self.started = True
        if self._length is not None and self._sent < self._length and not self._bodyless:
            self.close = True  # fewer bytes than announced: the client must not wait for more
        ending = b"0\r\n\r\n" if self._chunked else b""
        if head or ending:
            self._send(head + ending)
        self.complete = True


class WSGIServer:
    """Serve a WSGI application on ``host:port`` (0 picks a free port).

    ``start()`` serves in a background thread, ``serve_forever()`` in the calling one;
    ``stop()`` stops accepting, closes the connections that wait, and releases the port
    (requests under way finish). See the module's docstring for what each bound does.
    """

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        backlog: int = DEFAULT_BACKLOG,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        threads: int = DEFAULT_THREADS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        io_timeout: float = DEFAULT_IO_TIMEOUT,
        server_name: str = "assistants-server",
    ) -> None:
        if backlog < 1 or max_connections < 1 or threads < 1:
            raise ValueError("backlog, max_connections and threads must be positive")
        if idle_timeout <= 0 or header_timeout <= 0 or io_timeout <= 0:
            raise ValueError("idle_timeout, header_timeout and io_timeout must be positive")
        self.app = app
        self.host = host
        room = connections_room()
        self.max_connections = max_connections if room is None else min(max_connections, room)
        if self.max_connections < max_connections:
            logger.info(
                "serving at most %d connections, not %d: the open-file limit leaves no more",
                self.max_connections,
                max_connections,
            )
        self.threads = threads
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.io_timeout = io_timeout
        self.server_name = server_name
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=backlog)
        self._listener.setblocking(False)
        self._address = self._listener.getsockname()[:2]
        self.port: int = self._address[1]
        self._selector = selectors.DefaultSelector()
        self._waker, self._wake_end = socket.socketpair()
        self._waker.setblocking(False)
        self._wake_end.setblocking(False)
        self._returned: queue.SimpleQueue[tuple[_Connection, _Outcome]] = queue.SimpleQueue()
        self._return_lock = threading.Lock()
        self._workers = _Threads(f"wsgi-server-{self.port}")
        self._idle: dict[_Connection, None] = {}
        self._reading: dict[_Connection, None] = {}
        self._closing: dict[_Connection, None] = {}
        self._count = 0
        self._requests = 0
        self._accept_paused_until = 0.0
        self._stop = threading.Event()
        self._loop_exited = threading.Event()
        self._looping = False
        self._loop_ended = False
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def active_connections(self) -> int:
        """Connections open: idle, receiving a request head, served, or closing."""
        return self._count

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WSGIServer:
        if self._thread is None and not self._looping:
            self._thread = threading.Thread(
                target=self.serve_forever, name=f"wsgi-server-{self.port}-loop", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        if self._looping or self._closed:
            raise RuntimeError("this server is already serving, or was stopped")
        self._looping = True
        try:
            self._loop()
        finally:
            self._loop_exited.set()

    def shutdown(self) -> None:
        """From another thread: make ``serve_forever()`` return."""
        self._stop.set()
        self._wake()
        if self._looping and threading.current_thread() is not self._thread:
            self._loop_exited.wait(5)

    def stop(self) -> None:
        """Stop accepting connections and release the port (requests under way finish)."""
        self.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if not self._looping or self._loop_exited.is_set():
            self._close_all()

    def _close_all(self) -> None:
        with self._return_lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        for conn in [*self._idle, *self._reading, *self._closing]:
            self._close(conn)
        with contextlib.suppress(OSError):
            self._selector.close()
        self._waker.close()
        self._wake_end.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway; closed: stopped
            self._waker.send(b"\0")

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        selector = self._selector
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_end, selectors.EVENT_READ, self._wake_end)
        try:
            while not self._stop.is_set():
                try:
                    self._turn(selector)
                except Exception:  # a bug: logged, and the server goes on serving
                    logger.exception("error in the server's loop")
                    time.sleep(TICK)
        finally:
            with self._return_lock:
                self._loop_ended = True
            self._take_returned()
            self._close_all()

    def _turn(self, selector: selectors.BaseSelector) -> None:
        for key, _ in selector.select(TICK):
            if key.data is None:
                self._accept()
            elif key.data is self._wake_end:
                with contextlib.suppress(OSError):
                    self._wake_end.recv(4096)
            else:
                self._guarded(self._readable, key.data)
        self._take_returned()
        self._expire(time.monotonic())

    def _guarded(self, step: Callable[[_Connection], None], conn: _Connection) -> None:
        """One step of the loop for one connection: a bug costs that connection, not the loop."""
        try:
            step(conn)
        except Exception:
            logger.exception("error while serving %s", conn.peer)
            if conn.state != _BUSY:
                self._close(conn)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as problem:
                if problem.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    logger.warning("cannot accept a connection now: %s", problem)
                    self._pause_accepting()
                    return
                continue  # the client gave up before it was accepted (ECONNABORTED...)
            now = time.monotonic()
            if self._count >= self.max_connections and not self._evict(now):
                self._turn_away(sock)
                continue
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock, peer, now)
            self._count += 1
            self._register(conn)
            self._idle[conn] = None

    def _pause_accepting(self) -> None:
        self._accept_paused_until = time.monotonic() + ACCEPT_PAUSE
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self._listener)

    def _evict(self, now: float) -> bool:
        """Close the connection idle for longest, if it has been idle long enough."""
        for conn in self._idle:
            if now - conn.since >= EVICTABLE_AFTER:
                self._close(conn)
                return True
            return False
        return False

    def _turn_away(self, sock: socket.socket) -> None:
        """Past ``max_connections``: a 503 the client can retry, and the connection closed."""
        answer = _error_answer(
            503,
            "The server is busy; retry shortly.",
            server_name=self.server_name,
            headers=[("Retry-After", "1")],
        )
        with contextlib.suppress(OSError):
            sock.setblocking(False)
            sock.send(answer)
            sock.shutdown(socket.SHUT_WR)
        sock.close()

    def _register(self, conn: _Connection) -> None:
        if not conn.registered:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            conn.registered = True

    def _unregister(self, conn: _Connection) -> None:
        if conn.registered:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(conn.sock)
            conn.registered = False

    def _close(self, conn: _Connection) -> None:
        if conn.state == _CLOSED:
            return
        conn.state = _CLOSED
        self._unregister(conn)
        self._idle.pop(conn, None)
        self._reading.pop(conn, None)
        self._closing.pop(conn, None)
        with contextlib.suppress(OSError):
            conn.sock.close()
        self._count -= 1

    def _readable(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if conn.state == _CLOSING:
            conn.linger_left -= len(data)
            if not data or conn.linger_left <= 0:
                self._close(conn)
            return
        if not data:
            if conn.state == _READING and conn.buffer.strip(b"\r\n"):
                problem = ProtocolError("The connection closed in the middle of a request head.")
                self._refuse(conn, problem)
            else:
                self._close(conn)
            return
        if conn.state == _IDLE:
            del self._idle[conn]
            conn.state = _READING
            conn.since = time.monotonic()
            self._reading[conn] = None
        conn.buffer += data
        self._advance(conn)

    def _advance(self, conn: _Connection) -> None:
        """Parse the head in the connection's buffer once it is whole; refuse a bad one."""
        buffer = conn.buffer
        start = skip_empty_lines(buffer)
        end = head_end(buffer, max(start, conn.scanned - 3))
        try:
            if end < 0:
                check_partial_head(buffer, conn.scanned)
                conn.scanned = len(buffer)
                return
            head = parse_head(bytes(buffer[:end]))
        except ProtocolError as problem:
            self._refuse(conn, problem)
            return
        del buffer[:end]
        conn.scanned = 0
        self._dispatch(conn, head)

    def _dispatch(self, conn: _Connection, head: RequestHead) -> None:
        if self._requests >= self.threads:
            busy = ProtocolError("The server is busy; retry shortly.", status=503)
            self._refuse(conn, busy, [("Retry-After", "1")])
            return
        self._reading.pop(conn, None)
        self._unregister(conn)
        conn.state = _BUSY
        self._requests += 1
        try:
            conn.sock.settimeout(self.io_timeout)
        except OSError:
            self._hand_back(conn, _CLOSE)
            return
        self._workers.submit(lambda: self._serve(conn, head))

    def _refuse(
        self,
        conn: _Connection,
        problem: ProtocolError,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Answer a request the loop cannot pass on, then close the connection."""
        logger.debug("refused a request from %s: %s %s", conn.peer, problem.status, problem)
        answer = _error_answer(
            problem.status,
            str(problem),
            param=problem.param,
            server_name=self.server_name,
            headers=headers,
        )
        try:
            conn.sock.send(answer)
        except OSError:
            self._close(conn)
            return
        self._linger(conn, _LINGER)

    def _linger(self, conn: _Connection, outcome: _Outcome) -> None:
        """Stop sending; read and drop what the client still sends, within bounds; close."""
        self._idle.pop(conn, None)
        self._reading.pop(conn, None)
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.buffer = bytearray()
        conn.state = _CLOSING
        conn.linger_left = outcome.budget
        conn.deadline = time.monotonic() + outcome.seconds
        self._closing[conn] = None
        self._register(conn)

    def _take_returned(self) -> None:
        while True:
            try:
                conn, outcome = self._returned.get_nowait()
            except queue.Empty:
                return
            self._requests -= 1
            if self._stop.is_set() and outcome.keep:
                outcome = _CLOSE
            if not outcome.keep:
                if outcome.budget:
                    self._linger(conn, outcome)
                else:
                    self._close(conn)
                continue
            conn.state = _IDLE  # the loop's again: a failure below closes it
            self._guarded(self._resume, conn)

    def _resume(self, conn: _Connection) -> None:
        """A kept-alive connection back from its worker: wait for, or read, the next request."""
        conn.sock.setblocking(False)
        self._register(conn)
        conn.since = time.monotonic()
        if conn.buffer:
            conn.state = _READING
            self._reading[conn] = None
            self._advance(conn)
        else:
            conn.state = _IDLE
            self._idle[conn] = None

    def _expire(self, now: float) -> None:
        if self._accept_paused_until and now >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            with contextlib.suppress(KeyError, ValueError):
                self._selector.register(self._listener, selectors.EVENT_READ, None)
        while self._idle:
            conn = next(iter(self._idle))
            if now - conn.since < self.idle_timeout:
                break
            self._close(conn)
        while self._reading:
            conn = next(iter(self._reading))
            if now - conn.since < self.header_timeout:
                break
            late = ProtocolError("The request head did not arrive in time.", status=408)
            self._refuse(conn, late)
        for conn in [c for c in self._closing if c.deadline <= now]:
            self._close(conn)

    # -- the workers ------------------------------------------------------------------------

    def _hand_back(self, conn: _Connection, outcome: _Outcome) -> None:
        with self._return_lock:
            if not self._loop_ended:
                self._returned.put((conn, outcome))
                self._wake()
                return
        with contextlib.suppress(OSError):
            conn.sock.close()
        self._count -= 1

    def _serve(self, conn: _Connection, head: RequestHead) -> None:
        outcome = _CLOSE
        try:
            outcome = self._exchange(conn, head)
        finally:
            self._hand_back(conn, outcome)

    def _exchange(self, conn: _Connection, head: RequestHead) -> _Outcome:
        """Run the application for one request and write its answer; what to do next."""
        body = _Body(conn, head)
        response = _Response(self, conn, head, body)
        result: Iterable[bytes] | None = None
        try:
            try:
                result = self.app(self._environ(conn, head, body), response.start_response)
                for piece in result:
                    response.write(piece)
                response.finish()
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except _ClientGone as problem:
            logger.debug("client %s went away: %s", conn.peer, problem)
            return _CLOSE
        except ProtocolError as problem:  # a broken body the application did not catch
            return self._failed(conn, response, problem.status, str(problem), problem.param)
        except Exception:
            logger.exception("error in the application for %s %s", head.method, head.path)
            return self._failed(
                conn, response, 500, "The server failed to handle the request.", None
            )
        if response.close:
            if body.finished or body.broken:
                return _LINGER
            if response.code == 413:
                budget = min(DRAIN_LIMIT, body.remaining or DRAIN_LIMIT)
                return _Outcome(False, budget, DRAIN_SECONDS)
            return _LINGER
        if not body.finished and not body.discard(time.monotonic() + LINGER_SECONDS):
            return _CLOSE
        try:
            conn.sock.settimeout(self.io_timeout)
        except OSError:
            return _CLOSE
        return _KEEP

    def _failed(
        self,
        conn: _Connection,
        response: _Response,
        status: int,
        message: str,
        param: str | None,
    ) -> _Outcome:
        if response.started:
            return _CLOSE  # an answer cut short: only closing tells the client
        answer = _error_answer(status, message, param=param, server_name=self.server_name)
        try:
            conn.sock.sendall(answer)
        except OSError:
            return _CLOSE
        return _LINGER

    def _environ(self, conn: _Connection, head: RequestHead, body: _Body) -> dict[str, Any]:
        host, port = self._address
        environ: dict[str, Any] = {
            "REQUEST_METHOD": head.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": head.path if head.path == "*" else unquote(head.path, "latin-1"),
            "RAW_URI": head.target,
            "QUERY_STRING": head.query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": f"HTTP/{head.version[0]}.{head.version[1]}",
            "REMOTE_ADDR": str(conn.peer[0]) if isinstance(conn.peer, tuple) else "",
            "REMOTE_PORT": str(conn.peer[1]) if isinstance(conn.peer, tuple) else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BufferedReader(body, RECV_SIZE),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in head.fields:
            if "_" in name:
                continue  # X_Forwarded_For would pass for X-Forwarded-For
            key = name.upper().replace("-", "_")
            if key == "CONTENT_LENGTH":
                if head.content_length is not None:
                    environ[key] = str(head.content_length)
                continue
            if key != "CONTENT_TYPE":
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if head.host is not None:
            environ["HTTP_HOST"] = head.host
        return environ
