"""A loopback HTTP server that answers as scripted, including badly.

Each request is answered by the first of:

1. the next queued :class:`Reply` (``server.enqueue(...)``), FIFO, whatever the path;
2. the first matching route (``server.route("GET", r"/v1/threads/[^/]+", reply_or_handler)``);
3. the default handler (``server.default = handler``), which answers 404 unless replaced.

A handler is a callable ``(RecordedRequest) -> Reply``. A :class:`Reply` can set the status,
headers and body bytes, wait before the status line or before the body, trickle the body in
chunks, declare a different Content-Length, or reset the connection before or after the
headers. Every request is recorded (``server.requests``) before it is answered, so tests can
assert on what was sent, or that nothing was.

Usage::

    with ScriptedServer() as server:
        server.enqueue(Reply.json({"id": "thread_1"}))
        ...  # point a client at server.base_url
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import re
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

__all__ = ["RecordedRequest", "Reply", "ScriptedServer"]


@dataclass
class RecordedRequest:
    """What the server received."""

    method: str
    target: str
    headers: Message
    body: bytes
    server_port: int
    client_port: int
    """The client's source port: equal ports mean a reused (keep-alive) connection."""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None


@dataclass
class Reply:
    """How to answer one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    """Seconds to wait before sending the status line."""
    body_delay: float = 0.0
    """Seconds to wait after the headers, before the body."""
    chunk_size: int | None = None
    chunk_delay: float = 0.0
    """Send the body in chunks of ``chunk_size`` bytes with ``chunk_delay`` between them."""
    content_length: int | None = None
    """Declared Content-Length, when it should differ from the real body length."""
    reset: Literal["before_headers", "after_headers"] | None = None
    """Reset the connection (TCP RST) before the headers, or after the headers and body."""
    reason: str | None = None

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> Reply:
        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        return cls(status=status, headers=merged, body=jsonlib.dumps(payload).encode(), **kw)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "error",
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        payload = {"error": {"message": message, "type": type, "param": param, "code": code}}
        return cls.json(payload, status=status, headers=headers)

    @classmethod
    def text(
        cls,
        body: str,
        status: int = 200,
        content_type: str = "text/html",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        merged = {"Content-Type": content_type}
        merged.update(headers or {})
        return cls(status=status, headers=merged, body=body.encode())

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Reply:
        return cls(status=status, headers={"Location": location})


Handler = Callable[[RecordedRequest], Reply]


def _not_found(request: RecordedRequest) -> Reply:
    return Reply.error(404, f"no route for {request.method} {request.path}", code="not_found")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    scripted: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Resets and clients that hang up are part of the script; stay quiet.
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        scripted = self.server.scripted
        recorded = RecordedRequest(
            method=self.command,
            target=self.path,
            headers=self.headers,
            body=body,
            server_port=scripted.port,
            client_port=int(self.client_address[1]),
        )
        reply = scripted._dispatch(recorded)
        self._answer(reply)

    def _reset(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _answer(self, reply: Reply) -> None:
        scripted = self.server.scripted
        if reply.delay and scripted._stopping.wait(reply.delay):
            return
        if reply.reset == "before_headers":
            self._reset()
            return
        self.send_response(reply.status, reply.reason)
        headers = dict(reply.headers)
        if not any(k.lower() == "content-length" for k in headers):
            declared = len(reply.body) if reply.content_length is None else reply.content_length
            headers["Content-Length"] = str(declared)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.flush()
        if reply.body_delay and scripted._stopping.wait(reply.body_delay):
            return
        if reply.chunk_size:
            for start in range(0, len(reply.body), reply.chunk_size):
                self.wfile.write(reply.body[start : start + reply.chunk_size])
                self.wfile.flush()
                if reply.chunk_delay and scripted._stopping.wait(reply.chunk_delay):
                    return
        else:
            self.wfile.write(reply.body)
            self.wfile.flush()
        if reply.reset == "after_headers":
            self._reset()
            return
        if reply.content_length is not None and reply.content_length != len(reply.body):
            self.close_connection = True

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _handle


S = TypeVar("S", bound="ScriptedServer")


class ScriptedServer:
    """A threaded HTTP/1.1 server on a loopback port; start it with ``with`` or ``start()``."""

    handler_class: type[BaseHTTPRequestHandler] = _RequestHandler

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[RecordedRequest] = []
        self.default: Handler = _not_found
        self._queue: deque[Reply | Handler] = deque()
        self._routes: list[tuple[str, re.Pattern[str], Reply | Handler]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self: S) -> S:
        server = _Server((self.host, 0), self.handler_class)
        server.scripted = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``<url>/v1``: where a client's ``base_url`` should point."""
        return f"{self.url}/v1"

    # -- scripting ----------------------------------------------------------------------------

    def enqueue(self, *replies: Reply | Handler) -> None:
        """Answer the next requests, in order, with these replies (any path)."""
        with self._lock:
            self._queue.extend(replies)

    def route(self, method: str, path_pattern: str, reply: Reply | Handler) -> None:
        """Answer ``method`` requests whose path fully matches ``path_pattern``."""
        with self._lock:
            self._routes.append((method.upper(), re.compile(path_pattern), reply))

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            chosen: Reply | Handler | None = self._queue.popleft() if self._queue else None
            if chosen is None:
                for method, pattern, reply in self._routes:
                    if method == request.method and pattern.fullmatch(request.path):
                        chosen = reply
                        break
            if chosen is None:
                chosen = self.default
        return chosen if isinstance(chosen, Reply) else chosen(request)
