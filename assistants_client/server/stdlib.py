"""A threaded HTTP/1.1 server for a WSGI application, on the standard library alone.

It is the zero-dependency way to serve the API (``assistants-server`` and the emulator); under
gunicorn or any other WSGI server the same application runs unchanged. What it adds to
``http.server``, and why:

* **Streaming.** A response without ``Content-Length`` is sent with chunked transfer encoding,
  each piece as the application yields it, so server-sent events reach the client at once. A
  client that went away is noticed on the next write: the application's iterable is closed
  (its ``finally`` runs), and so is the connection.
* **Bounded resources.** The listen queue holds ``backlog`` pending connections (128 by
  default; Python's default of 5 stalls bursts for a second). At most ``max_connections`` are
  served at once; past that a connection gets an immediate ``503`` with ``Retry-After`` instead
  of a thread. An idle keep-alive connection is closed after ``idle_timeout`` seconds.
* **One request per message.** A request with both ``Content-Length`` and
  ``Transfer-Encoding``, two different ``Content-Length`` values, or a transfer coding other
  than ``chunked`` is answered ``400`` and the connection is closed, so no bytes after a body
  can be taken for a second request (request smuggling).
* **Bodies read by the application.** ``wsgi.input`` reads the body lazily (a length-bounded
  or a chunked reader), so the application can refuse a request (authentication, size) before
  reading a byte of it. Whatever it did not read is drained, up to a limit, or the connection
  is closed.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingTCPServer
from typing import Any
from urllib.parse import unquote

__all__ = ["DEFAULT_BACKLOG", "DEFAULT_MAX_CONNECTIONS", "WSGIApplication", "WSGIServer"]

logger = logging.getLogger("assistants_client.server")

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

DEFAULT_BACKLOG = 128
DEFAULT_MAX_CONNECTIONS = 256
DEFAULT_IDLE_TIMEOUT = 60.0
# What is read and thrown away of a body the application did not read (an answer given before
# the body, like a 413), so that the connection stays usable; past it, or past DRAIN_SECONDS,
# the connection is closed instead. Draining holds no memory: it reads into a small buffer.
DRAIN_LIMIT = 64 << 20
DRAIN_SECONDS = 10.0
_CHUNK_LINE = 1024


# Methods HTTP defines: any other is answered 501 (Not Implemented) without reaching the app.
_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)


class BadRequest(Exception):
    """The request cannot be read as one well-formed HTTP/1.1 message."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class _LengthReader(io.RawIOBase):
    """``wsgi.input`` for a body of a known length: never reads past it."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.remaining <= 0:
            return 0
        view = memoryview(buffer)[: self.remaining]
        data = self._stream.read(len(view)) if len(view) else b""
        if not data:
            raise BadRequest("the connection closed before the end of the body")
        view[: len(data)] = data
        self.remaining -= len(data)
        return len(data)

    @property
    def finished(self) -> bool:
        return self.remaining <= 0


class _ChunkedReader(io.RawIOBase):
    """``wsgi.input`` for a chunked body: decodes chunks as they are read."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._left = 0
        self.finished = False

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> None:
        line = self._stream.readline(_CHUNK_LINE + 1)
        if len(line) > _CHUNK_LINE or not line.endswith(b"\n"):
            raise BadRequest("malformed chunk size line")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest("malformed chunk size") from None
        if size < 0:
            raise BadRequest("malformed chunk size")
        if size == 0:
            # Trailers, then the blank line that ends the message.
            for _ in range(100):
                trailer = self._stream.readline(_CHUNK_LINE + 1)
                if trailer in (b"\r\n", b"\n"):
                    self.finished = True
                    return
                if not trailer or len(trailer) > _CHUNK_LINE:
                    raise BadRequest("malformed chunked trailer")
            raise BadRequest("too many chunked trailers")
        self._left = size

    def readinto(self, buffer: Any) -> int:
        if self.finished:
            return 0
        if self._left == 0:
            self._next_chunk()
            if self.finished:
                return 0
        view = memoryview(buffer)[: self._left]
        data = self._stream.read(len(view))
        if not data:
            raise BadRequest("the connection closed in the middle of a chunk")
        view[: len(data)] = data
        self._left -= len(data)
        if self._left == 0 and self._stream.readline(3) not in (b"\r\n", b"\n"):
            raise BadRequest("a chunk is not followed by CRLF")
        return len(data)


def _body_reader(headers: Any, stream: Any) -> _LengthReader | _ChunkedReader:
    """The body of one request, refusing the framings that smuggle a second one."""
    lengths = headers.get_all("Content-Length") or []
    codings = headers.get_all("Transfer-Encoding") or []
    if lengths and codings:
        raise BadRequest("Content-Length and Transfer-Encoding together", param="Content-Length")
    if codings:
        parts = [p.strip().lower() for c in codings for p in c.split(",") if p.strip()]
        if parts != ["chunked"]:
            raise BadRequest(
                f"unsupported Transfer-Encoding {', '.join(parts)!r}", param="Transfer-Encoding"
            )
        return _ChunkedReader(stream)
    values = {v.strip() for v in lengths}
    if len(values) > 1:
        raise BadRequest("conflicting Content-Length values", param="Content-Length")
    if not values:
        return _LengthReader(stream, 0)
    (raw,) = values
    if not raw.isdigit():
        raise BadRequest("invalid Content-Length", param="Content-Length")
    return _LengthReader(stream, int(raw))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        # Also bounds a client that stops reading or sending halfway.
        self.connection.settimeout(self.server.idle_timeout)

    def version_string(self) -> str:
        return self.server.server_name

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def send_error(
        self,
        code: int,
        message: str | None = None,
        explain: str | None = None,
        *,
        param: str | None = None,
    ) -> None:
        # Protocol-level errors (bad request line, oversized headers) in the API's JSON shape.
        self.close_connection = True
        self.request_version = self.protocol_version
        text = message or self.responses.get(code, ("Error",))[0]
        self.server.answer_directly(self, code, text, param=param)

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            if self.command not in _KNOWN_METHODS:
                self.send_error(501, f"Unsupported method {self.command[:20]!r}.")
                return
            self._run_application()
        except TimeoutError:
            self.close_connection = True

    def _run_application(self) -> None:
        try:
            body = _body_reader(self.headers, self.rfile)
        except BadRequest as problem:
            self.send_error(400, str(problem), param=problem.param)
            return
        response = _Response(self)
        environ = self._environ(body)
        result: Iterable[bytes] | None = None
        try:
            result = self.server.app(environ, response.start)
            for piece in result:
                if piece:
                    response.write(piece)
            response.finish()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except BadRequest as problem:
            self.close_connection = True
            if not response.started:
                self.send_error(400, str(problem), param=problem.param)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not response.completed:
            self.close_connection = True
            return
        if not body.finished and not self._drain(body):
            self.close_connection = True

    @staticmethod
    def _drain(body: io.RawIOBase) -> bool:
        """Read what the application left of the body; False when it is too much or broken."""
        left = DRAIN_LIMIT
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            while left > 0 and time.monotonic() < deadline:
                data = body.read(min(left, 1 << 16))
                if not data:
                    return True
                left -= len(data)
        except (BadRequest, OSError):
            return False
        return False

    def _environ(self, body: io.RawIOBase) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "RAW_URI": self.path,
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BufferedReader(body),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        length = self.headers.get("Content-Length")
        if length is not None:
            environ["CONTENT_LENGTH"] = length.strip()
        content_type = self.headers.get("Content-Type")
        if content_type is not None:
            environ["CONTENT_TYPE"] = content_type
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in ("HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"):
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ


class _Response:
    """The status, headers and body of one WSGI response on the connection."""

    def __init__(self, handler: _Handler) -> None:
        self._handler = handler
        self._status: str | None = None
        self._headers: list[tuple[str, str]] = []
        self.started = False
        self.completed = False
        self._chunked = False

    def start(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self._status = status
        self._headers = list(headers)
        return self.write

    def _send_head(self) -> None:
        handler = self._handler
        assert self._status is not None, "the application did not call start_response"
        names = {name.lower() for name, _ in self._headers}
        self._chunked = "content-length" not in names and handler.command != "HEAD"
        lines = [f"{handler.protocol_version} {self._status}"]
        lines += [f"{name}: {value}" for name, value in self._headers]
        if "date" not in names:
            lines.append(f"Date: {handler.date_time_string()}")
        if "server" not in names:
            lines.append(f"Server: {handler.version_string()}")
        if self._chunked:
            lines.append("Transfer-Encoding: chunked")
        if handler.headers.get("Connection", "").lower() == "close":
            handler.close_connection = True
        if handler.close_connection:
            lines.append("Connection: close")
        handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.started = True

    def write(self, data: bytes) -> None:
        if not self.started:
            self._send_head()
        if self._handler.command == "HEAD" or not data:
            return
        if self._chunked:
            self._handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def finish(self) -> None:
        if not self.started:
            self._send_head()
        if self._chunked:
            self._handler.wfile.write(b"0\r\n\r\n")
        self._handler.wfile.flush()
        self.completed = True


class _Server(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        app: WSGIApplication,
        *,
        backlog: int,
        max_connections: int,
        idle_timeout: float,
        server_name: str,
        overloaded: Callable[[], bytes],
    ) -> None:
        self.request_queue_size = backlog
        self.app = app
        self.idle_timeout = idle_timeout
        self.server_name = server_name
        self.max_connections = max_connections
        self._overloaded = overloaded
        self._active = 0
        self._active_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)

    @property
    def active_connections(self) -> int:
        with self._active_lock:
            return self._active

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._active_lock:
            full = self._active >= self.max_connections
            if not full:
                self._active += 1
        if full:
            self._refuse(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._active_lock:
                self._active -= 1

    def _refuse(self, request: socket.socket) -> None:
        """Past the connection cap: a 503 the client can retry, without a thread."""
        body = self._overloaded()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"x-request-id: req_{secrets.token_hex(16)}\r\n"
            f"Retry-After: 1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        try:
            request.settimeout(1.0)
            request.sendall(head.encode("latin-1") + body)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def answer_directly(
        self, handler: _Handler, status: int, message: str, *, param: str | None = None
    ) -> None:
        body = _error_json(message, param)
        phrase = handler.responses.get(status, ("",))[0]
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\n"
            f"x-request-id: req_{secrets.token_hex(16)}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            handler.wfile.write(head.encode("latin-1") + body)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            logger.debug("connection from %s ended: %s", client_address, error)
            return
        logger.exception("error while serving %s", client_address)


def _error_json(message: str, param: str | None = None) -> bytes:
    return json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            }
        }
    ).encode()


class WSGIServer:
    """Serve a WSGI application on ``host:port`` (0 picks a free port) with threads.

    ``start()`` serves in a background thread, ``serve_forever()`` in the calling one;
    ``stop()`` stops accepting, and releases the port.
    """

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        backlog: int = DEFAULT_BACKLOG,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        server_name: str = "assistants-server",
    ) -> None:
        if backlog < 1 or max_connections < 1 or idle_timeout <= 0:
            raise ValueError("backlog, max_connections and idle_timeout must be positive")
        self._server = _Server(
            (host, port),
            app,
            backlog=backlog,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            server_name=server_name,
            overloaded=lambda: _error_json("The server is busy; retry shortly."),
        )
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def active_connections(self) -> int:
        return self._server.active_connections

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WSGIServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"wsgi-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Stop accepting connections and release the port (requests under way may finish)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def shutdown(self) -> None:
        """From another thread: make ``serve_forever()`` return."""
        self._server.shutdown()
