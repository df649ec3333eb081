"""Files to upload, and the multipart/form-data body that carries them, streamed.

A :class:`FileUpload` says where a file's bytes come from (a path, bytes, or a binary file
object), with its filename and content type; nothing is read when it is made, only checked (a
path names a readable regular file, a file object is binary).

A :class:`MultipartForm` is the body of an upload: its parts are framed exactly as requests
frames ``files=`` (urllib3's ``RequestField`` headers and boundary, the framing of
``encode_multipart_formdata``), but the file is read from its source a piece at a time while
the body is sent, so an upload of any size holds one piece (64 KiB) in memory, never the file.
The body's length is known before it is sent (``Content-Length``), except for a file object
whose size cannot be told (it cannot seek): that body goes chunked.

Retries and redirects send the body again: :meth:`MultipartForm.open` starts it afresh, a path
reopened, a seekable file object put back where it was when the upload was made, bytes reread.
A file object that cannot seek can be sent once only (``replayable`` is False): the transport
makes no second attempt with it.

A file that changes size while it is sent, or fails to read, ends the upload with
:class:`UploadSourceError` rather than sending a body of another length than announced.
"""

from __future__ import annotations

import io
import mimetypes
import os
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any, Union

from urllib3.fields import RequestField
from urllib3.filepost import choose_boundary

from assistants_client._exceptions import InvalidArgumentError, UploadSourceError

__all__ = ["FileInput", "FileUpload", "MultipartForm", "form_fields"]

FileInput = Union[str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes]]  # noqa: UP007
"""What an upload takes: a path, the bytes themselves, or a binary file object."""

PIECE = 65536
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def _check_text(value: object, param: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{param} must be a non-empty str", param=param)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidArgumentError(f"{param} must not contain control characters", param=param)
    return value


class _Source:
    """One reading of a file, for one attempt: at most and at least ``size`` bytes."""

    def __init__(self, handle: Any, size: int | None, name: str, owned: bool) -> None:
        self._handle = handle
        self.size = size
        self._left = size
        self._name = name
        self._owned = owned

    def read(self, limit: int) -> bytes:
        try:
            if self._left is None:
                return bytes(self._handle.read(limit))
            if self._left == 0:
                if self._handle.read(1):
                    raise UploadSourceError(
                        f"{self._name} grew while it was being uploaded "
                        f"(it had {self.size} bytes when the upload began)"
                    )
                return b""
            data = bytes(self._handle.read(min(limit, self._left)))
        except OSError as exc:
            raise UploadSourceError(f"{self._name} could not be read: {exc}") from exc
        if not data:
            read = (self.size or 0) - self._left
            raise UploadSourceError(
                f"{self._name} shrank while it was being uploaded "
                f"({read} of {self.size} bytes were read)"
            )
        self._left -= len(data)
        return data

    def close(self) -> None:
        if self._owned:
            self._handle.close()


class FileUpload:
    """A file to upload: its bytes' source, its ``filename`` and its ``content_type``.

    Make one with :meth:`of`. The client's upload methods make it from their ``file``
    argument; a generated request model with a file field (``CreateFileRequest.file``) holds
    one.
    """

    __slots__ = ("_lock", "_opened", "_path", "_source", "_start", "content_type", "filename")

    def __init__(
        self,
        *,
        path: str | None = None,
        data: memoryview | None = None,
        stream: IO[bytes] | None = None,
        filename: str,
        content_type: str,
    ) -> None:
        self._path = path
        self._source = data if data is not None else stream
        self._start: int | None = None
        if stream is not None and _seekable(stream):
            self._start = stream.tell()
        self.filename = filename
        self.content_type = content_type
        self._opened = False
        self._lock = threading.Lock()

    @classmethod
    def of(
        cls,
        file: FileInput | FileUpload,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        param: str = "file",
    ) -> FileUpload:
        """A checked upload of ``file``; InvalidArgumentError naming ``param`` if it cannot be.

        A path (str or ``os.PathLike``) must name a readable regular file; its name is the
        default ``filename``. Bytes need a ``filename`` (servers tell a file's type by its
        extension). A file object must be open in binary mode; its ``name``, if it has one,
        is the default ``filename``. ``content_type`` defaults to the one the filename's
        extension suggests, else ``application/octet-stream``.
        """
        if isinstance(file, FileUpload):
            if filename is not None or content_type is not None:
                raise InvalidArgumentError(
                    f"{param} is a FileUpload: give its filename and content_type to FileUpload.of",
                    param="filename" if filename is not None else "content_type",
                )
            return file
        if filename is not None:
            _check_text(filename, "filename")
        if content_type is not None:
            _check_text(content_type, "content_type")
        if isinstance(file, (str, os.PathLike)):
            path = _readable_file(file, param)
            name = filename or os.path.basename(path)
            return cls(path=path, filename=name, content_type=_content_type(name, content_type))
        if isinstance(file, (bytes, bytearray, memoryview)):
            if filename is None:
                raise InvalidArgumentError(
                    f"filename is required when {param} is bytes: servers tell a file's type "
                    "by its extension",
                    param="filename",
                )
            data = memoryview(file).cast("B")
            return cls(data=data, filename=filename, content_type=_content_type(filename, None))
        if callable(getattr(file, "read", None)):
            stream: IO[bytes] = file
            mode = getattr(stream, "mode", None)
            if isinstance(stream, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
                raise InvalidArgumentError(
                    f"{param} must be opened in binary mode ('rb'), not as text", param=param
                )
            own_name = getattr(stream, "name", None)
            if filename is None and isinstance(own_name, (str, os.PathLike)):
                filename = _check_text(os.path.basename(os.fspath(own_name)), "filename")
            if filename is None:
                raise InvalidArgumentError(
                    f"filename is required: {param} has no name of its own", param="filename"
                )
            return cls(
                stream=stream, filename=filename, content_type=_content_type(filename, content_type)
            )
        raise InvalidArgumentError(
            f"{param} must be a path, bytes or a binary file object, got {type(file).__name__}",
            param=param,
        )

    @property
    def replayable(self) -> bool:
        """Whether the upload can be sent again (a retry): False for a file object that
        cannot seek."""
        return (
            self._path is not None
            or isinstance(self._source, memoryview)
            or (self._start is not None)
        )

    def size(self) -> int | None:
        """The number of bytes the upload sends now, when that can be told."""
        if self._path is not None:
            return os.stat(self._path).st_size
        if isinstance(self._source, memoryview):
            return self._source.nbytes
        if self._start is not None:
            stream: Any = self._source
            here = stream.tell()
            try:
                return int(stream.seek(0, io.SEEK_END)) - self._start
            finally:
                stream.seek(here)
        return None

    def open(self) -> _Source:
        """A reading of the file from its beginning, for one attempt of the upload."""
        with self._lock:
            if self._opened and not self.replayable:
                raise UploadSourceError(
                    f"{self.filename} was already sent once and cannot be read again "
                    "(a file object that cannot seek)"
                )
            self._opened = True
        try:
            if self._path is not None:
                handle = open(self._path, "rb")  # noqa: SIM115 - closed by _Source.close
                size = os.fstat(handle.fileno()).st_size
                return _Source(handle, size, self.filename, owned=True)
            if isinstance(self._source, memoryview):
                reader = _BytesReader(self._source)
                return _Source(reader, self._source.nbytes, self.filename, owned=False)
            stream: Any = self._source
            if self._start is None:
                return _Source(stream, None, self.filename, owned=False)
            stream.seek(self._start)
            return _Source(stream, self.size(), self.filename, owned=False)
        except OSError as exc:
            raise UploadSourceError(f"{self.filename} could not be read: {exc}") from exc

    def __repr__(self) -> str:
        return f"FileUpload(filename={self.filename!r}, content_type={self.content_type!r})"


class _BytesReader:
    """Reads a memoryview without copying it whole."""

    def __init__(self, data: memoryview) -> None:
        self._data = data
        self._position = 0

    def read(self, limit: int) -> bytes:
        chunk = bytes(self._data[self._position : self._position + limit])
        self._position += len(chunk)
        return chunk


def _seekable(stream: Any) -> bool:
    try:
        return bool(stream.seekable()) and isinstance(stream.tell(), int)
    except (AttributeError, OSError, ValueError):
        return False


def _readable_file(file: str | os.PathLike[str], param: str) -> str:
    path = os.fspath(file)
    if not isinstance(path, str) or not path:
        raise InvalidArgumentError(f"{param} must be a non-empty path", param=param)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InvalidArgumentError(f"{param}: no such file {path!r}", param=param) from None
    except OSError as exc:
        raise InvalidArgumentError(
            f"{param}: {path!r} cannot be read ({exc})", param=param
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise InvalidArgumentError(f"{param}: {path!r} is not a regular file", param=param)
    if not os.access(path, os.R_OK):
        raise InvalidArgumentError(f"{param}: {path!r} is not readable", param=param)
    return path


def _content_type(filename: str, given: str | None) -> str:
    if given is not None:
        return given
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


def form_fields(body: Mapping[str, Any]) -> list[tuple[str, str | FileUpload]]:
    """The parts of a form for a request body: text parts first, in order, then the files.

    An object becomes one part per field, named ``name[field]`` (as the OpenAI SDKs send
    ``expires_after[anchor]``); a boolean is ``true`` or ``false``. Texts come first so that a
    server can refuse a bad field before it reads the file.
    """
    texts: list[tuple[str, str | FileUpload]] = []
    files: list[tuple[str, str | FileUpload]] = []

    def add(name: str, value: Any) -> None:
        if isinstance(value, FileUpload):
            files.append((name, value))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                add(f"{name}[{key}]", item)
        elif isinstance(value, bool):
            texts.append((name, "true" if value else "false"))
        elif isinstance(value, (str, int, float)):
            texts.append((name, str(value)))
        else:
            raise InvalidArgumentError(
                f"{name}: a form field cannot hold {type(value).__name__}", param=name
            )

    for name, value in body.items():
        if value is not None:
            add(name, value)
    return texts + files


class MultipartForm:
    """A multipart/form-data body, framed as requests frames ``files=``, sent streamed."""

    def __init__(
        self, fields: Sequence[tuple[str, str | FileUpload]], *, boundary: str | None = None
    ) -> None:
        self.boundary = boundary or choose_boundary()
        self._fields = list(fields)
        self._parts: list[bytes | FileUpload] = []
        for name, value in fields:
            if isinstance(value, FileUpload):
                field = RequestField.from_tuples(name, (value.filename, b"", value.content_type))
            else:
                field = RequestField.from_tuples(name, value)
            head = f"--{self.boundary}\r\n".encode("latin-1")
            self._parts.append(head + field.render_headers().encode("utf-8"))
            if isinstance(value, FileUpload):
                self._parts += [value, b"\r\n"]
            else:
                self._parts.append(value.encode("utf-8") + b"\r\n")
        self._parts.append(f"--{self.boundary}--\r\n".encode("latin-1"))

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def files(self) -> list[FileUpload]:
        return [part for part in self._parts if isinstance(part, FileUpload)]

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again (every file can be read again)."""
        return all(upload.replayable for upload in self.files)

    def with_fields(self, fields: Sequence[tuple[str, str | FileUpload]]) -> MultipartForm:
        """This form with more text fields, before the files (``extra_body``)."""
        texts = [f for f in self._fields if not isinstance(f[1], FileUpload)]
        files = [f for f in self._fields if isinstance(f[1], FileUpload)]
        return MultipartForm([*texts, *fields, *files], boundary=self.boundary)

    def open(self) -> FormReader:
        """The body from its first byte, for one attempt (files opened, or rewound)."""
        pieces: list[bytes | _Source] = []
        try:
            for part in self._parts:
                pieces.append(part.open() if isinstance(part, FileUpload) else part)
        except BaseException:
            for piece in pieces:
                if isinstance(piece, _Source):
                    piece.close()
            raise
        sizes = [len(p) if isinstance(p, bytes) else p.size for p in pieces]
        if all(size is not None for size in sizes):
            return SizedFormReader(pieces, sum(s for s in sizes if s is not None))
        return FormReader(pieces)


class FormReader:
    """One sending of a form: ``read(n)`` pieces of the body in order; closed after."""

    def __init__(self, pieces: list[bytes | _Source]) -> None:
        self._pieces = pieces
        self._index = 0
        self._offset = 0

    def read(self, limit: int = -1) -> bytes:
        if limit is None or limit < 0:
            limit = PIECE
        while self._index < len(self._pieces):
            piece = self._pieces[self._index]
            if isinstance(piece, bytes):
                chunk = piece[self._offset : self._offset + limit]
                self._offset += len(chunk)
            else:
                chunk = piece.read(limit)
            if chunk:
                return chunk
            self._index += 1
            self._offset = 0
        return b""

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(PIECE):
            yield chunk

    def close(self) -> None:
        for piece in self._pieces:
            if isinstance(piece, _Source):
                piece.close()


class SizedFormReader(FormReader):
    """A form whose length is known: sent with ``Content-Length``."""

    def __init__(self, pieces: list[bytes | _Source], length: int) -> None:
        super().__init__(pieces)
        self._length = length

    def __len__(self) -> int:
        return self._length
