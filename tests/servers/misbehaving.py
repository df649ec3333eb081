"""A scripted loopback server that also misbehaves at the framing level.

:class:`MisbehavingServer` is a :class:`~tests.servers.scripted.ScriptedServer` whose answers
always carry an ``x-request-id`` (``req_1``, ``req_2``... in arrival order, unless the reply
sets its own), and which understands :class:`Fault`, a :class:`Reply` that can also:

- send its body with ``Transfer-Encoding: chunked``, one HTTP chunk per item of ``pieces``
  (so a test decides exactly where the client's reads are split, e.g. inside a multi-byte
  character), waiting ``piece_delay`` seconds between pieces;
- stop after ``cut_at`` bytes of the framed body (inside a chunk, inside an event), then
  close the connection (``abort="close"``, a FIN) or reset it (``abort="reset"``, a RST).

The helpers at the bottom build the common misbehaviours: :func:`status` (an API error with
optional retry headers), :func:`html`, :func:`event_stream` (server-sent events, optionally
cut or without ``done``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.servers.scripted import (
    RecordedRequest,
    Reply,
    ScriptedServer,
    _RequestHandler,
)

__all__ = [
    "Fault",
    "MisbehavingServer",
    "event_stream",
    "html",
    "status",
]

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


@dataclass
class Fault(Reply):
    """A :class:`Reply` with chunked framing and mid-body cuts."""

    pieces: list[bytes] | None = None
    """Send the body as these HTTP chunks (``Transfer-Encoding: chunked``); ``body`` unused."""
    piece_delay: float = 0.0
    cut_at: int | None = None
    """Stop after this many bytes of the framed body (chunk headers included)."""
    abort: Literal["close", "reset"] = "close"
    trailer: bool = True
    """Send the terminating zero-length chunk (chunked bodies that are not cut)."""
    extra: dict[str, Any] = field(default_factory=dict)


class _MisbehavingHandler(_RequestHandler):
    def _answer(self, reply: Reply) -> None:
        if not isinstance(reply, Fault) or (reply.pieces is None and reply.cut_at is None):
            super()._answer(reply)
            return
        stopping = self.server.scripted._stopping
        if reply.delay and stopping.wait(reply.delay):
            return
        self.send_response(reply.status, reply.reason)
        headers = dict(reply.headers)
        if reply.pieces is not None:
            headers["Transfer-Encoding"] = "chunked"
        elif not any(k.lower() == "content-length" for k in headers):
            declared = len(reply.body) if reply.content_length is None else reply.content_length
            headers["Content-Length"] = str(declared)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.flush()
        if reply.pieces is not None:
            frames = [b"%x\r\n%s\r\n" % (len(p), p) for p in reply.pieces if p]
            if reply.trailer and reply.cut_at is None:
                frames.append(b"0\r\n\r\n")
        else:
            frames = [reply.body]
        budget = reply.cut_at
        for frame in frames:
            if budget is not None:
                frame = frame[:budget]
                budget -= len(frame)
            if frame:
                self.wfile.write(frame)
                self.wfile.flush()
            if budget == 0:
                break
            if reply.piece_delay and stopping.wait(reply.piece_delay):
                return
        if reply.cut_at is not None:
            if reply.abort == "reset":
                self._reset()
            else:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)


class MisbehavingServer(ScriptedServer):
    """A :class:`ScriptedServer` that answers :class:`Fault` replies and numbers its answers."""

    handler_class = _MisbehavingHandler

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self._numbers = itertools.count(1)
        self.request_ids: list[str] = []
        """The ``x-request-id`` of every answer, in the order the requests arrived."""
        self._ids_lock = threading.Lock()

    def _dispatch(self, request: RecordedRequest) -> Reply:
        reply = super()._dispatch(request)
        with self._ids_lock:
            request_id = f"req_{next(self._numbers)}"
            if any(k.lower() == "x-request-id" for k in reply.headers):
                request_id = next(
                    v for k, v in reply.headers.items() if k.lower() == "x-request-id"
                )
            self.request_ids.append(request_id)
        headers = {"x-request-id": request_id, **reply.headers}
        return dataclasses.replace(reply, headers=headers)


# -- reply builders -----------------------------------------------------------------------------


def status(
    code: int,
    message: str = "error",
    *,
    headers: Mapping[str, str] | None = None,
    type: str = "server_error",
) -> Reply:
    """An API error answer (JSON ``{"error": ...}``)."""
    return Reply.error(code, message, type=type, headers=headers)


def html(code: int, title: str = "Bad Gateway") -> Reply:
    """An HTML page, as a proxy in front of the API would send."""
    page = f"<html><head><title>{code} {title}</title></head><body><h1>{title}</h1></body></html>"
    return Reply.text(page, status=code, content_type="text/html; charset=utf-8")


def sse_bytes(
    events: Sequence[tuple[str, Any]], *, newline: str = "\n", done: bool = True
) -> bytes:
    """Server-sent events: ``event: <name>`` and one ``data:`` line each (JSON unless a str)."""
    out = []
    for name, data in events:
        body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out.append(f"event: {name}{newline}data: {body}{newline}{newline}")
    if done:
        out.append(f"event: done{newline}data: [DONE]{newline}{newline}")
    return "".join(out).encode("utf-8")


def event_stream(
    data: bytes,
    *,
    piece_size: int | None = None,
    pieces: list[bytes] | None = None,
    piece_delay: float = 0.0,
    cut_at: int | None = None,
    abort: Literal["close", "reset"] = "close",
    content_type: str = SSE_CONTENT_TYPE,
) -> Fault:
    """An event stream over chunked framing: ``pieces`` as given, or ``data`` cut every
    ``piece_size`` bytes (one piece when neither is given). ``cut_at`` counts bytes of
    ``data``, not of the framing: the stream stops exactly there."""
    if pieces is None:
        size = piece_size or max(len(data), 1)
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
    framed_cut = None
    if cut_at is not None:
        framed_cut, remaining = 0, cut_at
        for piece in pieces:
            head = b"%x\r\n" % len(piece)
            if remaining < len(piece):
                framed_cut += len(head) + remaining
                break
            framed_cut += len(head) + len(piece) + 2
            remaining -= len(piece)
    return Fault(
        headers={"Content-Type": content_type, "Cache-Control": "no-cache"},
        pieces=pieces,
        piece_delay=piece_delay,
        cut_at=framed_cut,
        abort=abort,
    )
