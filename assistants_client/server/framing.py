"""HTTP/1.1 requests read as RFC 9112 frames them, strictly: what is not allowed is refused.

A request that a front proxy could read one way and this server another is how a second
request gets smuggled inside the first. So nothing here guesses: a head or a body that is not
exactly what the grammar allows raises :class:`ProtocolError` with the status to answer (400 in
general; 414, 431, 501 and 505 where HTTP has a more precise one), and the connection is closed
after that answer. What is refused, beyond the grammar itself:

* a line that ends in a bare LF, or a CR that is not followed by LF, anywhere in the head;
* whitespace between a field name and its colon, a line without a colon, a folded line
  (obs-fold), a control character in a value;
* a request line with other than single spaces, a target that is not origin-form (absolute-form
  and ``OPTIONS *`` aside), a fragment, a version other than HTTP/1.x (505);
* ``Content-Length`` that is not ASCII digits, or two different ones; ``Transfer-Encoding``
  with ``Content-Length``, in an HTTP/1.0 request, or not ending in a single ``chunked`` (400);
  a transfer coding with no registered name before ``chunked`` (501);
* no ``Host`` in an HTTP/1.1 request, more than one ``Host`` or ``Content-Type``, an invalid
  ``Host``;
* a chunk size that is not hex digits (``0x2``, ``+2``, ``0_2``, `` 2``), a chunk extension
  that is not ``;name[=token|"quoted"]``, chunk data not followed by CRLF.

Sizes are bounded: a request line of :data:`MAX_REQUEST_LINE` bytes (414 past it), a head of
:data:`MAX_HEAD` bytes and :data:`MAX_FIELDS` fields (431), chunk lines and trailers likewise.
Empty lines before a request line are skipped (RFC 9112 section 2.2). Trailer fields are
checked and dropped: none of them may change how a request is framed, routed or authorised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "KNOWN_METHODS",
    "MAX_FIELDS",
    "MAX_HEAD",
    "MAX_REQUEST_LINE",
    "ChunkedDecoder",
    "ProtocolError",
    "RequestHead",
    "check_partial_head",
    "head_end",
    "parse_chunk_size",
    "parse_head",
]

MAX_REQUEST_LINE = 8 * 1024
MAX_HEAD = 32 * 1024
MAX_FIELDS = 100
MAX_CHUNK_LINE = 4 * 1024
MAX_TRAILERS = 8 * 1024
# Digits of a Content-Length or chunk size: far past any body this server reads, short of
# numbers that take time to convert.
MAX_LENGTH_DIGITS = 18
MAX_CHUNK_SIZE_DIGITS = 16

# Methods HTTP defines (RFC 9110 section 9, RFC 5789); others are answered 501. CONNECT is
# one too, but this is not a proxy: it is refused with 501 as well.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"})
# Transfer codings with a registered name (RFC 9112 section 7): known, and refused with 400
# before chunked; any other name is one this server does not understand (501).
_REGISTERED_CODINGS = frozenset({b"compress", b"deflate", b"gzip", b"x-compress", b"x-gzip"})

_TCHARS = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[" + _TCHARS + rb"]+")
_NOT_TCHAR = re.compile(rb"[^" + _TCHARS + rb"]")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
# A field value: VCHAR and obs-text, with SP and HTAB inside (RFC 9110 section 5.5).
_BAD_VALUE_BYTE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]+")
_ABSOLUTE = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://")
_HOST = re.compile(
    rb"(?:\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]|[0-9A-Za-z\-._~!$&'()*+,;=%]*)(?::[0-9]*)?"
)
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]+)((?:[ \t]*;[ \t]*[" + _TCHARS + rb"]+"
    rb"(?:[ \t]*=[ \t]*(?:[" + _TCHARS + rb"]+|" + _QUOTED + rb"))?)*)"
)
_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r(?!\n)")


class ProtocolError(Exception):
    """The request is not one well-formed HTTP/1.1 message: answer ``status``, then close."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A request line and its header fields, checked; values decoded as Latin-1 (PEP 3333)."""

    method: str
    target: str
    version: tuple[int, int]
    fields: tuple[tuple[str, str], ...]
    path: str
    query: str
    host: str | None
    content_length: int | None
    chunked: bool
    keep_alive: bool
    expect_continue: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


def head_end(buffer: bytes | bytearray, start: int = 0) -> int:
    """Where the head in ``buffer`` ends (the index after its empty line), or -1."""
    found = buffer.find(b"\r\n\r\n", start)
    return -1 if found < 0 else found + 4


def skip_empty_lines(buffer: bytes | bytearray) -> int:
    """How many bytes of empty lines (CRLF) come before the request line."""
    at = 0
    while buffer.startswith(b"\r\n", at):
        at += 2
    return at


def check_partial_head(buffer: bytes | bytearray, scanned: int = 0) -> None:
    """Refuse, before it is complete, a head that cannot become a valid one.

    ``scanned``: how much of ``buffer`` an earlier call checked already (only the bytes after
    it are searched again for a bare CR or LF). Catches a TLS handshake or other binary on the
    port at once, and stops a head that grows past its bounds.
    """
    start = skip_empty_lines(buffer)
    line_end = buffer.find(b"\r\n", start)
    if line_end < 0:
        line_end = len(buffer)
    if line_end - start > MAX_REQUEST_LINE:
        raise ProtocolError("The request line is too long.", status=414)
    if len(buffer) > MAX_HEAD:
        raise ProtocolError("The request head is too large.", status=431)
    since = max(start, scanned - 1)
    bare_cr = _BARE_CR.search(buffer, since)  # a CR last may yet be followed by its LF
    if _BARE_LF.search(buffer, since) or (bare_cr and bare_cr.start() < len(buffer) - 1):
        raise ProtocolError("A line of the request head does not end with CRLF.")
    space = buffer.find(b" ", start, line_end)
    if _NOT_TCHAR.search(buffer, start, space if space >= 0 else line_end):
        raise ProtocolError("Malformed request line.")


def parse_head(data: bytes) -> RequestHead:
    """The request head in ``data`` (from its first byte through the empty line that ends it).

    Raises :class:`ProtocolError` unless it is exactly what RFC 9112 allows.
    """
    start = skip_empty_lines(data)
    if (
        not data.endswith(b"\r\n\r\n")
        or len(data) - start < 4
        or data.find(b"\r\n\r\n", start) != len(data) - 4
    ):
        raise ProtocolError("Incomplete request head.")
    check_partial_head(data)  # the bounds, and CR and LF only as CRLF
    lines = data[start:-4].split(b"\r\n")
    method, target, version = _request_line(lines[0])
    if len(lines) - 1 > MAX_FIELDS:
        raise ProtocolError(f"More than {MAX_FIELDS} header fields.", status=431)
    fields = tuple(_field(line) for line in lines[1:])
    return _head(method, target, version, fields)


def _request_line(line: bytes) -> tuple[str, bytes, tuple[int, int]]:
    parts = line.split(b" ")
    if len(parts) != 3:
        raise ProtocolError("Malformed request line.")
    method, target, version = parts
    if not _TOKEN.fullmatch(method) or not _TARGET.fullmatch(target):
        raise ProtocolError("Malformed request line.")
    matched = _VERSION.fullmatch(version)
    if matched is None:
        raise ProtocolError("Malformed HTTP version.")
    major, minor = int(matched[1]), int(matched[2])
    if major != 1:
        raise ProtocolError("Only HTTP/1.x is served here.", status=505)
    # A later 1.x is served as the highest this server implements (RFC 9110 section 2.5).
    return method.decode("ascii"), target, (1, min(minor, 1))


def _field(line: bytes) -> tuple[bytes, bytes]:
    if line[:1] in (b" ", b"\t"):
        raise ProtocolError("A folded header line (obs-fold) is not accepted.")
    colon = line.find(b":")
    if colon < 0:
        raise ProtocolError("A header line has no colon.")
    name = line[:colon]
    if not _TOKEN.fullmatch(name):
        raise ProtocolError("Malformed header field name.")
    value = line[colon + 1 :].strip(b" \t")
    if _BAD_VALUE_BYTE.search(value):
        raise ProtocolError(f"Invalid character in the {name.decode('ascii')} header.")
    return name, value


def _list(values: list[bytes]) -> list[bytes]:
    """The members of comma-separated list fields, empty ones kept (callers say what an empty
    one means: nothing in ``Connection``, a malformed framing header elsewhere)."""
    return [member.strip(b" \t") for value in values for member in value.split(b",")]


def _head(
    method: str, target: bytes, version: tuple[int, int], fields: tuple[tuple[bytes, bytes], ...]
) -> RequestHead:
    by_name: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        by_name.setdefault(name.lower(), []).append(value)
    content_length = _content_length(by_name.get(b"content-length", []))
    chunked = _chunked(by_name.get(b"transfer-encoding"), version)
    if chunked and content_length is not None:
        raise ProtocolError(
            "Content-Length and Transfer-Encoding together.", param="Content-Length"
        )
    for singleton in (b"host", b"content-type"):
        if len(by_name.get(singleton, [])) > 1:
            raise ProtocolError(f"More than one {singleton.decode().title()} header.")
    hosts = by_name.get(b"host", [])
    if not hosts and version >= (1, 1):
        raise ProtocolError("An HTTP/1.1 request needs a Host header.", param="Host")
    if hosts and not _HOST.fullmatch(hosts[0]):
        raise ProtocolError("Invalid Host header.", param="Host")
    host = hosts[0].decode("latin-1") if hosts else None
    path, query, host = _target(method, target, host)
    if method not in KNOWN_METHODS:
        raise ProtocolError(f"Unsupported method {method[:20]!r}.", status=501)
    connection = {member.lower() for member in _list(by_name.get(b"connection", []))}
    keep_alive = version >= (1, 1) and b"close" not in connection
    expect = [member.lower() for member in _list(by_name.get(b"expect", [])) if member]
    return RequestHead(
        method=method,
        target=target.decode("ascii"),
        version=version,
        fields=tuple((n.decode("ascii"), v.decode("latin-1")) for n, v in fields),
        path=path,
        query=query,
        host=host,
        content_length=content_length,
        chunked=chunked,
        keep_alive=keep_alive,
        expect_continue=version >= (1, 1) and b"100-continue" in expect,
    )


def _content_length(values: list[bytes]) -> int | None:
    members = _list(values)
    if not members:
        return None
    for member in members:
        if not _DIGITS.fullmatch(member) or len(member) > MAX_LENGTH_DIGITS:
            raise ProtocolError("Invalid Content-Length header.", param="Content-Length")
    if len(set(members)) > 1:
        raise ProtocolError("Conflicting Content-Length values.", param="Content-Length")
    return int(members[0])


def _chunked(values: list[bytes] | None, version: tuple[int, int]) -> bool:
    if values is None:
        return False
    if version < (1, 1):
        # RFC 9112 section 6.1: the framing of an HTTP/1.0 message with it is faulty.
        raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request.", param="Transfer-Encoding")
    codings = [member.lower() for member in _list(values)]
    if not all(_TOKEN.fullmatch(coding) for coding in codings):
        raise ProtocolError("Malformed Transfer-Encoding.", param="Transfer-Encoding")
    if codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
        # RFC 9112 section 6.3: the length of the body cannot be known.
        raise ProtocolError(
            "Transfer-Encoding must end with a single chunked.", param="Transfer-Encoding"
        )
    for coding in codings[:-1]:
        if coding not in _REGISTERED_CODINGS:
            # RFC 9112 section 6.1: a coding the server does not understand.
            raise ProtocolError(
                f"Unknown transfer coding {coding[:20].decode('ascii')!r}.",
                status=501,
                param="Transfer-Encoding",
            )
    if len(codings) > 1:
        raise ProtocolError(
            "Only the chunked transfer coding is accepted.", param="Transfer-Encoding"
        )
    return True


def _target(method: str, target: bytes, host: str | None) -> tuple[str, str, str | None]:
    """(path, query, host) of the request target, in the form its method allows."""
    if target == b"*":
        if method != "OPTIONS":
            raise ProtocolError("Only OPTIONS may have the target '*'.")
        return "*", "", host
    if b"#" in target:
        raise ProtocolError("A request target has no fragment.")
    if target.startswith(b"/"):
        path, _, query = target.decode("ascii").partition("?")
        return path, query, host
    if _ABSOLUTE.match(target):
        # absolute-form: its authority replaces the Host header (RFC 9112 section 3.2.2).
        parts = urlsplit(target.decode("ascii"))
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ProtocolError("Malformed request target.")
        if "@" in parts.netloc or not _HOST.fullmatch(parts.netloc.encode("ascii")):
            raise ProtocolError("Malformed request target.")
        return parts.path or "/", parts.query, parts.netloc
    raise ProtocolError("Malformed request target.")


def parse_chunk_size(line: bytes) -> int:
    """The size in a chunk line (without its CRLF); extensions are checked, then ignored."""
    matched = _CHUNK_LINE.fullmatch(line)
    if matched is None or len(matched[1]) > MAX_CHUNK_SIZE_DIGITS:
        raise ProtocolError("Malformed chunk size line.", param="Transfer-Encoding")
    return int(matched[1], 16)


class ChunkedDecoder:
    """A chunked body (RFC 9112 section 7.1), decoded from bytes fed in pieces of any size.

    :meth:`feed` returns the body bytes found in a piece, and how much of the piece belonged
    to the body: once :attr:`finished`, what follows is the next request.
    """

    _SIZE, _DATA, _DATA_END, _TRAILERS, _DONE = range(5)

    def __init__(self) -> None:
        self._state = self._SIZE
        self._line = bytearray()
        self._left = 0
        self._trailer_bytes = 0

    @property
    def finished(self) -> bool:
        return self._state == self._DONE

    def feed(self, data: bytes | bytearray | memoryview) -> tuple[list[bytes], int]:
        view = memoryview(data)
        pieces: list[bytes] = []
        at = 0
        while at < len(view) and self._state != self._DONE:
            if self._state == self._DATA:
                take = min(self._left, len(view) - at)
                pieces.append(bytes(view[at : at + take]))
                at += take
                self._left -= take
                if self._left == 0:
                    self._state = self._DATA_END
                continue
            line, at = self._take_line(view, at)
            if line is None:
                continue
            if self._state == self._SIZE:
                size = parse_chunk_size(line)
                self._state = self._DATA if size else self._TRAILERS
                self._left = size
            elif self._state == self._DATA_END:
                if line:
                    raise ProtocolError("Chunk data is not followed by CRLF.")
                self._state = self._SIZE
            elif not line:  # the empty line after the trailers
                self._state = self._DONE
            else:
                _field(line)  # checked, then dropped
        return pieces, at

    def _take_line(self, view: memoryview, at: int) -> tuple[bytes | None, int]:
        """A whole line (without its CRLF) once its end is in ``view``; until then, what
        there is of it is kept, and ``None`` returned."""
        if self._state == self._DATA_END:
            limit = 0
        else:
            limit = MAX_TRAILERS if self._state == self._TRAILERS else MAX_CHUNK_LINE
        window = view[at : at + limit + 2 - len(self._line)]
        end = bytes(window).find(b"\n")
        if end < 0:
            self._line += window
            if len(self._line) >= limit + 2 or b"\r" in self._line[:-1]:
                raise ProtocolError("Malformed chunked body.", param="Transfer-Encoding")
            return None, at + len(window)
        self._line += window[: end + 1]
        line = bytes(self._line)
        self._line.clear()
        if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
            raise ProtocolError("Malformed chunked body.", param="Transfer-Encoding")
        if self._state == self._TRAILERS:
            self._trailer_bytes += len(line)
            if self._trailer_bytes > MAX_TRAILERS:
                raise ProtocolError("The chunked trailers are too large.", status=431)
        return line[:-2], at + end + 1
