"""A scripted loopback server that reads request bodies as they arrive, without keeping them.

:class:`SinkServer` answers like :class:`~tests.servers.scripted.ScriptedServer` (queued
replies, routes), but reads each body in pieces, with ``Content-Length`` or chunked, and keeps
for each request only what a test asks about (:class:`Received`): the byte count, a SHA-256,
whether it came chunked, the largest piece read, and the body itself when it is at most
``keep`` bytes. A client can so upload a file far larger than the memory a test allows itself
to measure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tests.servers.scripted import RecordedRequest, ScriptedServer, _RequestHandler

__all__ = ["Received", "SinkServer"]

PIECE = 65536


@dataclass
class Received:
    """What one request's body was."""

    length: int
    sha256: str
    chunked: bool
    body: bytes | None  # None when longer than the server keeps


class _SinkHandler(_RequestHandler):
    def _pieces(self) -> tuple[bool, list[bytes] | None]:
        """Read the body; (chunked, pieces) where pieces is None once it is too long to keep."""
        sink = self.server.scripted
        assert isinstance(sink, SinkServer)
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        digest = hashlib.sha256()
        kept: list[bytes] | None = []
        total = 0

        def take(data: bytes) -> None:
            nonlocal kept, total
            digest.update(data)
            total += len(data)
            if kept is not None:
                kept.append(data)
                if total > sink.keep:
                    kept = None

        if chunked:
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                left = size
                while left:
                    data = self.rfile.read(min(PIECE, left))
                    if not data:
                        raise ConnectionError("the body ended inside a chunk")
                    take(data)
                    left -= len(data)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                data = self.rfile.read(min(PIECE, left))
                if not data:
                    break
                take(data)
                left -= len(data)
        with sink._lock:
            sink.received.append(
                Received(total, digest.hexdigest(), chunked, b"".join(kept) if kept else None)
            )
        return chunked, kept

    def _handle(self) -> None:
        _, kept = self._pieces()
        scripted = self.server.scripted
        recorded = RecordedRequest(
            method=self.command,
            target=self.path,
            headers=self.headers,
            body=b"".join(kept) if kept else b"",
            server_port=scripted.port,
            client_port=int(self.client_address[1]),
        )
        self._answer(scripted._dispatch(recorded))

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _handle


class SinkServer(ScriptedServer):
    """A scripted server that counts and hashes bodies instead of keeping them."""

    handler_class = _SinkHandler

    def __init__(self, host: str = "127.0.0.1", keep: int = 1 << 20) -> None:
        super().__init__(host)
        self.keep = keep
        self.received: list[Received] = []
