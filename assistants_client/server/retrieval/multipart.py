"""A strict, streaming ``multipart/form-data`` parser (RFC 7578 over RFC 2046), for uploads.

The standard library has no streaming parser (``email`` and ``cgi`` read whole bodies), and the
server's default installation adds no dependency, so this one is the server's own. It is fed the
request body in pieces, in any sizes, and:

* hands each file part's bytes to a sink as they arrive (the store writes them in pieces),
  never holding more than one feed plus a boundary's length of them;
* keeps the small fields (``purpose``, ``expires_after[seconds]``...) up to
  ``max_field_bytes`` each and ``max_fields`` in all;
* caps each part's header block at ``max_header_bytes`` and the preamble at
  ``max_preamble_bytes``, so no peer can make it buffer without bound;
* refuses what is ambiguous or broken with :class:`MalformedUpload` (a 400): a boundary that
  RFC 2046 does not allow, a part without ``Content-Disposition: form-data; name=...``, a field
  given twice, folded or malformed header lines, a ``Content-Transfer-Encoding`` other than the
  identity ones, and a body that ends before its closing delimiter (an upload cut midway).

Line breaks are CRLF, as the RFCs require; a delimiter is ``CRLF--boundary`` (or
``--boundary`` at the very start), followed by optional spaces or tabs and CRLF, or by ``--``
for the last one. What precedes the first delimiter (preamble) and follows the last
(epilogue) is ignored.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Protocol

import attrs

from assistants_client.server.retrieval.errors import MalformedUpload

__all__ = [
    "FilePart",
    "FileSink",
    "Form",
    "MultipartParser",
    "boundary_of",
    "parse_multipart",
]

MAX_HEADER_BYTES = 8 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32
MAX_PREAMBLE_BYTES = 64 * 1024
_MAX_PADDING = 256
# RFC 2046: bchars, 1 to 70 of them, the last not a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PARAMETER = re.compile(
    r"""\s*;\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s"]*)\s*"""
)

_PREAMBLE, _AFTER_DELIMITER, _HEADERS, _BODY, _EPILOGUE = range(5)


class FileSink(Protocol):
    """Where a file part's bytes go, in order."""

    def write(self, data: bytes) -> object: ...


@attrs.frozen
class FilePart:
    """A file part's field name, file name and declared type."""

    name: str
    filename: str
    content_type: str | None


@attrs.define
class Form:
    """What a body held: its small fields, and its file parts with the bytes each had."""

    fields: dict[str, str] = attrs.field(factory=dict)
    files: list[tuple[FilePart, int]] = attrs.field(factory=list)


def _parameters(value: str, what: str) -> tuple[str, dict[str, str]]:
    """A header value's main token and its parameters (``name="value"`` pairs)."""
    main, _, rest = value.partition(";")
    rest = ";" + rest if rest else ""
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        found = _PARAMETER.match(rest, position)
        if found is None or found.end() == position:
            raise MalformedUpload(f"the {what} header's parameters do not parse", "file")
        name, raw = found.group(1).lower(), found.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if name in params:
            raise MalformedUpload(f"the {what} header names {name!r} twice", "file")
        params[name] = raw
        position = found.end()
    return main.strip().lower(), params


def boundary_of(content_type: str | None) -> bytes:
    """The boundary a ``multipart/form-data`` Content-Type declares; raises
    :class:`MalformedUpload` for any other type or a boundary RFC 2046 does not allow."""
    if not content_type:
        raise MalformedUpload("the upload needs Content-Type: multipart/form-data", "file")
    kind, params = _parameters(content_type, "Content-Type")
    if kind != "multipart/form-data":
        raise MalformedUpload(
            f"the upload must be multipart/form-data, not {kind or 'nothing'!r}", "file"
        )
    boundary = params.get("boundary")
    if boundary is None or not _BOUNDARY.fullmatch(boundary):
        raise MalformedUpload(
            "the multipart boundary must be 1 to 70 characters of those RFC 2046 allows", "file"
        )
    return boundary.encode("ascii")


class MultipartParser:
    """Feed it a body in pieces (:meth:`feed`), then :meth:`close` it for the :class:`Form`.

    ``open_file(part)`` is called when a file part's headers have arrived (a part with a
    ``filename``), and returns the sink its bytes go to; ``fields``: the names of the small
    fields accepted (others are refused), or None for any.
    """

    def __init__(
        self,
        content_type: str | None,
        open_file: Callable[[FilePart], FileSink],
        *,
        fields: Iterable[str] | None = None,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_field_bytes: int = MAX_FIELD_BYTES,
        max_fields: int = MAX_FIELDS,
        max_preamble_bytes: int = MAX_PREAMBLE_BYTES,
    ) -> None:
        self._delimiter = b"\r\n--" + boundary_of(content_type)
        self._open_file = open_file
        self._allowed = None if fields is None else frozenset(fields)
        self._max_header = max_header_bytes
        self._max_field = max_field_bytes
        self._max_fields = max_fields
        self._max_preamble = max_preamble_bytes
        # The body is read as if it began with CRLF: the first delimiter looks like the rest.
        self._buffer = bytearray(b"\r\n")
        self._state = _PREAMBLE
        self._skipped = 0
        self._names: set[str] = set()
        self._part: FilePart | None = None
        self._sink: FileSink | None = None
        self._written = 0
        self._field_name: str | None = None
        self._field = bytearray()
        self.form = Form()

    def feed(self, data: bytes) -> None:
        """Parse the next piece of the body."""
        if self._state == _EPILOGUE:
            return
        self._buffer += data
        while self._step():
            pass

    def close(self) -> Form:
        """The form; raises :class:`MalformedUpload` when the body ended early."""
        if self._state != _EPILOGUE:
            where = "in a part's content" if self._state == _BODY else "before its last boundary"
            raise MalformedUpload(
                f"the upload was cut: the body ended {where} (no closing --boundary--)", "file"
            )
        return self.form

    # -- the states -----------------------------------------------------------------------

    def _step(self) -> bool:
        """Advance through what the buffer holds; False when more bytes are needed."""
        if self._state == _PREAMBLE:
            return self._preamble()
        if self._state == _AFTER_DELIMITER:
            return self._after_delimiter()
        if self._state == _HEADERS:
            return self._headers()
        if self._state == _BODY:
            return self._body()
        self._buffer.clear()
        return False

    def _preamble(self) -> bool:
        buffer, delimiter = self._buffer, self._delimiter
        at = buffer.find(delimiter)
        if at < 0:
            keep = len(delimiter) - 1
            if len(buffer) > keep:
                self._skipped += len(buffer) - keep
                del buffer[: len(buffer) - keep]
            if self._skipped > self._max_preamble:
                raise MalformedUpload(
                    "no multipart boundary found at the start of the body", "file"
                )
            return False
        self._skipped += at
        if self._skipped > self._max_preamble:
            raise MalformedUpload("no multipart boundary found at the start of the body", "file")
        del buffer[: at + len(delimiter)]
        self._state = _AFTER_DELIMITER
        return True

    def _after_delimiter(self) -> bool:
        buffer = self._buffer
        if len(buffer) < 2:
            return False
        if buffer[:2] == b"--":
            self._state = _EPILOGUE
            buffer.clear()
            return False
        padding = 0
        while padding < len(buffer) and buffer[padding] in b" \t":
            padding += 1
        if padding > _MAX_PADDING:
            raise MalformedUpload("a multipart boundary line is followed by junk", "file")
        if len(buffer) < padding + 2:
            return False
        if buffer[padding : padding + 2] != b"\r\n":
            raise MalformedUpload(
                "a multipart boundary must end its line (CRLF), or close the body (--)", "file"
            )
        del buffer[: padding + 2]
        self._state = _HEADERS
        return True

    def _headers(self) -> bool:
        buffer = self._buffer
        if buffer[:2] == b"\r\n":
            raise MalformedUpload("a multipart part has no headers (Content-Disposition)", "file")
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > self._max_header:
                raise MalformedUpload(
                    f"a multipart part's headers are larger than {self._max_header} bytes", "file"
                )
            return False
        if end > self._max_header:
            raise MalformedUpload(
                f"a multipart part's headers are larger than {self._max_header} bytes", "file"
            )
        block = bytes(buffer[:end])
        del buffer[: end + 4]
        self._begin_part(self._parse_headers(block))
        self._state = _BODY
        return True

    def _body(self) -> bool:
        buffer, delimiter = self._buffer, self._delimiter
        at = buffer.find(delimiter)
        if at < 0:
            safe = len(buffer) - (len(delimiter) - 1)
            if safe > 0:
                self._content(bytes(buffer[:safe]))
                del buffer[:safe]
            return False
        if at:
            self._content(bytes(buffer[:at]))
        del buffer[: at + len(delimiter)]
        self._end_part()
        self._state = _AFTER_DELIMITER
        return True

    # -- parts ----------------------------------------------------------------------------

    @staticmethod
    def _parse_headers(block: bytes) -> dict[str, str]:
        headers: dict[str, str] = {}
        for line in block.split(b"\r\n"):
            if not line or line[:1] in b" \t":
                raise MalformedUpload("a multipart header line is folded or empty", "file")
            name, colon, value = line.partition(b":")
            if not colon or not _HEADER_NAME.fullmatch(name):
                raise MalformedUpload("a multipart header line is not 'Name: value'", "file")
            if b"\r" in value or b"\n" in value or b"\x00" in value:
                raise MalformedUpload("a multipart header holds a control character", "file")
            key = name.decode("ascii").lower()
            if key in headers:
                raise MalformedUpload(f"a multipart part has two {key} headers", "file")
            try:
                headers[key] = value.decode("utf-8").strip(" \t")
            except UnicodeDecodeError:
                raise MalformedUpload("a multipart header is not UTF-8", "file") from None
        return headers

    def _begin_part(self, headers: dict[str, str]) -> None:
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise MalformedUpload("a multipart part has no Content-Disposition header", "file")
        kind, params = _parameters(disposition, "Content-Disposition")
        if kind != "form-data" or not params.get("name"):
            raise MalformedUpload(
                "a multipart part's Content-Disposition must be form-data with a name", "file"
            )
        encoding = headers.get("content-transfer-encoding", "binary").lower()
        if encoding not in ("binary", "8bit", "7bit"):
            raise MalformedUpload(
                f"Content-Transfer-Encoding {encoding!r} is not accepted (send the bytes as "
                "they are)",
                "file",
            )
        name = params["name"]
        if name in self._names:
            raise MalformedUpload(f"the form names the field {name!r} twice", name)
        self._names.add(name)
        filename = params.get("filename")
        extended = params.get("filename*")
        if extended is not None:
            filename = _extended_value(extended)
        if filename is not None:
            self._part = FilePart(name, filename, headers.get("content-type"))
            self._sink = self._open_file(self._part)
            self._written = 0
            return
        if self._allowed is not None and name not in self._allowed:
            raise MalformedUpload(f"unknown form field {name!r}", name)
        if len(self.form.fields) >= self._max_fields:
            raise MalformedUpload(f"the form has more than {self._max_fields} fields", name)
        self._field_name = name
        self._field = bytearray()

    def _content(self, data: bytes) -> None:
        if self._sink is not None:
            self._sink.write(data)
            self._written += len(data)
            return
        self._field += data
        if len(self._field) > self._max_field:
            raise MalformedUpload(
                f"the form field {self._field_name!r} is larger than {self._max_field} bytes",
                self._field_name,
            )

    def _end_part(self) -> None:
        if self._part is not None:
            self.form.files.append((self._part, self._written))
            self._part, self._sink = None, None
            return
        assert self._field_name is not None
        try:
            self.form.fields[self._field_name] = self._field.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedUpload(
                f"the form field {self._field_name!r} is not UTF-8 text", self._field_name
            ) from None
        self._field_name = None


def _extended_value(value: str) -> str:
    """An RFC 5987 ``filename*`` value (``UTF-8''name%20here``)."""
    charset, quote, rest = value.partition("'")
    _language, quote2, encoded = rest.partition("'")
    if not quote or not quote2 or charset.lower() not in ("utf-8", "iso-8859-1"):
        raise MalformedUpload("a filename* parameter is not charset''value", "file")
    try:
        return urllib.parse.unquote(encoded, encoding=charset.lower(), errors="strict")
    except UnicodeDecodeError:
        raise MalformedUpload(f"a filename* parameter is not {charset}", "file") from None


def parse_multipart(
    content_type: str | None,
    body: Iterable[bytes],
    open_file: Callable[[FilePart], FileSink],
    *,
    fields: Iterable[str] | None = None,
    **limits: int,
) -> Form:
    """Parse a whole body given as pieces (see :class:`MultipartParser`)."""
    parser = MultipartParser(content_type, open_file, fields=fields, **limits)
    for piece in body:
        parser.feed(piece)
    return parser.close()
