"""A loopback server that misbehaves below HTTP: each connection is a function on its socket.

:class:`RawServer` accepts connections and hands each one, in a thread of its own, to a
handler ``(conn, request)``, where ``request`` is what the client sent up to the end of its
headers (and of its body, when it declared a Content-Length). The handler writes whatever it
likes: a status line a byte at a time, an endless body, a gzip bomb, an event stream that only
pings. Writes to a client that went away raise ``OSError``, which ends the handler quietly;
``stopping`` is set when the server stops, so endless handlers end too.

For what it cannot express at the HTTP level, the scripted servers of ``tests/servers``
(``MisbehavingServer``) remain the tool of choice.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable

__all__ = ["RawServer", "chunk", "head", "read_request"]

Handler = Callable[[socket.socket, bytes], None]


def head(status: int = 200, headers: dict[str, str] | None = None, reason: str = "OK") -> bytes:
    """A status line and headers, ready to send."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One HTTP chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class RawServer:
    """A threaded loopback TCP server running ``handler`` on every connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stopping = threading.Event()
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed_by_client = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            request = read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            self.handler(conn, request)
        except OSError:
            with self._lock:
                self.closed_by_client += 1
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def send_all(self, conn: socket.socket, pieces: Iterable[bytes], delay: float = 0.0) -> None:
        """Send ``pieces`` one by one, ``delay`` seconds apart, until done or stopping."""
        for piece in pieces:
            if self.stopping.is_set():
                return
            conn.sendall(piece)
            if delay and self.stopping.wait(delay):
                return


def read_request(conn: socket.socket) -> bytes | None:
    """What the client sent up to the end of its headers and of its declared body (less, when it
    closed in the body); None when it closed before the end of its headers."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return None
        data += more
    header, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        more = conn.recv(65536)
        if not more:
            break
        body += more
    return header + b"\r\n\r\n" + body


def request_header(request: bytes, name: str) -> str | None:
    """The value of header ``name`` in a raw request, or None."""
    for line in request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode("latin-1")
    return None
