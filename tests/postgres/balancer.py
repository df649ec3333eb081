"""A load balancer in front of several server processes, that fails requests on purpose.

:class:`Balancer` is a real threaded HTTP/1.1 server on a loopback port. It sends each request
to the next of its upstreams in turn (skipping one that refuses connections: a process that was
killed), and answers with what that upstream answered. With ``fault_rate``, that fraction of
POSTs is answered ``503`` instead, half of them *before* the request is forwarded (nothing
happened) and half *after* the upstream answered (it acted; the client is told it failed), so a
client that retries must rely on its idempotency key not to act twice. An upstream that fails
mid-request (killed while answering) gets the client a ``502``.

Answers are read whole and then sent: streams are not what it is for.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

__all__ = ["Balancer"]

# Injected failures ask the client to retry at once (a real balancer would say so too).
RETRY_AFTER_MS = "10"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
UPSTREAM_TIMEOUT = 30.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    balancer: Balancer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.balancer.handle(self)

    do_POST = do_DELETE = do_GET


class Balancer:
    """Round robin over ``upstreams`` (base URLs without the ``/v1``), with injected faults."""

    def __init__(self, upstreams: Sequence[str], *, fault_rate: float = 0.0, seed: int = 0):
        self.upstreams = list(upstreams)
        self.fault_rate = fault_rate
        self.counts: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._next: Iterator[int] = itertools.cycle(range(len(self.upstreams)))
        self._lock = threading.Lock()
        self._sessions = threading.local()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.balancer = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> Balancer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _fault(self, method: str) -> str | None:
        if method != "POST" or not self.fault_rate:
            return None
        with self._lock:
            if self._random.random() >= self.fault_rate:
                return None
            return "before" if self._random.random() < 0.5 else "after"

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        fault = self._fault(handler.command)
        if fault == "before":
            self._count("failed before")
            self._answer(handler, 503, {"retry-after-ms": RETRY_AFTER_MS}, b"injected")
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        answer = self._forward(handler.command, handler.path, headers, body)
        if answer is None:
            self._count("upstream failed")
            self._answer(handler, 502, {"retry-after-ms": RETRY_AFTER_MS}, b"upstream failed")
            return
        if fault == "after":
            self._count("failed after")
            self._answer(handler, 503, {"retry-after-ms": RETRY_AFTER_MS}, b"injected")
            return
        self._count("forwarded")
        status, answer_headers, content = answer
        self._answer(handler, status, answer_headers, content)

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        """The upstream's answer; None when one failed while answering."""
        for _ in self.upstreams:
            with self._lock:
                upstream = self.upstreams[next(self._next)]
            try:
                response = self._session().request(
                    method, upstream + path, headers=headers, data=body, timeout=UPSTREAM_TIMEOUT
                )
            except requests.ConnectionError as problem:
                reason = getattr(problem.args[0], "reason", None) if problem.args else None
                if isinstance(reason, NewConnectionError):
                    continue  # refused: nothing was sent, try the next upstream
                return None
            kept = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
            return response.status_code, kept, response.content
        return None

    @staticmethod
    def _answer(handler: _Handler, status: int, headers: dict[str, str], body: bytes) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
