"""``upload_file``: the multipart body on the wire, streamed in bounded memory, and its retries.

Against real loopback servers: the scripted server records small bodies whole; the sink server
(tests/servers/upload_sink.py) counts and hashes large ones without keeping them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3.filepost import encode_multipart_formdata

from assistants_client import (
    AssistantsClient,
    FileUpload,
    InternalServerError,
    InvalidArgumentError,
    UploadSourceError,
)
from assistants_client.models import FileObject
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer
from tests.servers.upload_sink import SinkServer

from .conftest import API_KEY, make_client

BOUNDARY = re.compile(r"^multipart/form-data; boundary=([0-9a-f]{32})$")
LARGE = 48 << 20  # bytes uploaded by the memory tests
MEMORY_BOUND = 4 << 20  # what such an upload may allocate at most, all threads together


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    with SinkServer() as server:
        yield server


def boundary_of(headers: Any) -> str:
    found = BOUNDARY.match(headers["Content-Type"])
    assert found, headers["Content-Type"]
    return found.group(1)


def file_reply() -> Reply:
    return Reply.json(payloads.file())


# -- the body on the wire ---------------------------------------------------------------------


def test_an_upload_is_the_multipart_body_requests_frames_with_the_text_fields_first(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(file_reply())
    data = b"Filip Carola: cake\n"
    uploaded = client.upload_file(
        data,
        "assistants",
        filename="notes.txt",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert isinstance(uploaded, FileObject) and uploaded.id == "file-1"
    sent = server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/files")
    boundary = boundary_of(sent.headers)
    expected = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="purpose"\r\n\r\n'
            "assistants\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="expires_after[anchor]"\r\n\r\n'
            "created_at\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="expires_after[seconds]"\r\n\r\n'
            "3600\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="notes.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    assert sent.body == expected
    # Byte for byte what requests' own multipart encoder (urllib3's) makes of the same fields.
    framed, content_type = encode_multipart_formdata(
        [
            ("purpose", "assistants"),
            ("expires_after[anchor]", "created_at"),
            ("expires_after[seconds]", "3600"),
            ("file", ("notes.txt", data, "text/plain")),
        ],
        boundary=boundary,
    )
    assert sent.body == framed
    assert sent.headers["Content-Type"] == content_type
    assert sent.headers["Content-Length"] == str(len(expected))
    assert "Transfer-Encoding" not in sent.headers
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Idempotency-Key"]


def test_a_path_is_sent_under_its_own_name_with_the_type_its_extension_says(
    client: AssistantsClient, server: ScriptedServer, tmp_path: Path
) -> None:
    cases = {"report.pdf": "application/pdf", "data.json": "application/json", "blob.zzz": None}
    for name in cases:
        (tmp_path / name).write_bytes(b"%PDF-1.7 " + name.encode())
        server.enqueue(file_reply())
        client.upload_file(tmp_path / name, "assistants")
    for sent, (name, content_type) in zip(server.requests, cases.items(), strict=True):
        part = sent.body.split(b"\r\n\r\n", 1)[0].decode()
        assert f'filename="{name}"' in sent.body.decode("latin-1")
        expected_type = content_type or "application/octet-stream"
        assert f"Content-Type: {expected_type}\r\n\r\n%PDF-1.7 {name}\r\n".encode() in sent.body
        assert "purpose" in part


def test_a_name_with_quotes_and_non_ascii_is_encoded_as_browsers_and_requests_do(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(file_reply())
    client.upload_file(b"x", "assistants", filename='résumé "final".txt')
    assert 'filename="résumé %22final%22.txt"'.encode() in server.requests[0].body


def test_extra_body_fields_become_text_parts_before_the_file(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(file_reply())
    client.upload_file(b"x", "assistants", filename="a.txt", extra_body={"note": "hi"})
    body = server.requests[0].body.decode()
    assert body.index('name="note"\r\n\r\nhi\r\n') < body.index('name="file"')


def test_the_raw_view_of_an_upload_gives_the_status_and_the_parsed_file(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.file(), headers={"x-request-id": "req_up"}))
    raw = client.with_raw_response.upload_file(b"x", "assistants", filename="a.txt")
    assert (raw.status_code, raw.request_id) == (200, "req_up")
    assert raw.parse().filename == "notes.txt"


# -- bounded memory ---------------------------------------------------------------------------


def _large_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "large.bin"
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with path.open("wb") as out:
        for _ in range(LARGE >> 20):
            out.write(block)
            digest.update(block)
    return path, digest.hexdigest()


def _peak(action: Any) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["path", "file object"])
def test_a_large_upload_is_streamed_without_a_copy_of_the_file_in_memory(
    sink: SinkServer, sleeps: list[float], tmp_path: Path, kind: str
) -> None:
    path, file_digest = _large_file(tmp_path)
    sink.enqueue(file_reply())
    with make_client(sink, sleeps) as client, path.open("rb") as handle:
        source: Any = path if kind == "path" else handle
        peak = _peak(lambda: client.upload_file(source, "assistants"))
    (received,) = sink.received
    assert received.length > LARGE and not received.chunked
    assert peak < MEMORY_BOUND, f"{peak} bytes allocated to upload {LARGE}"
    # The file went whole and unchanged: its bytes are the body between the two framings.
    boundary = boundary_of(sink.requests[0].headers)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="large.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    expected = hashlib.sha256(head)
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            expected.update(block)
    expected.update(tail)
    assert received.sha256 == expected.hexdigest()
    assert received.length == len(head) + LARGE + len(tail)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == file_digest


def test_the_memory_measure_sees_a_whole_file_copy(sink: SinkServer, tmp_path: Path) -> None:
    # The control: requests' own `files=` reads the file whole, and the same measure says so.
    path, _ = _large_file(tmp_path)
    sink.enqueue(file_reply())
    with path.open("rb") as handle:
        peak = _peak(lambda: requests.post(sink.base_url + "/files", files={"file": handle}))
    assert peak > LARGE


# -- retries and redirects ----------------------------------------------------------------------


def test_a_failed_upload_is_retried_with_the_whole_file_again(
    client: AssistantsClient, server: ScriptedServer, tmp_path: Path
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"0123456789" * 1000)
    server.enqueue(Reply.error(500, "try again"), Reply.error(503), file_reply())
    client.upload_file(path, "assistants")
    first, second, third = (r.body for r in server.requests)
    assert first == second == third
    assert b"0123456789" * 1000 in first
    assert len({r.headers["Idempotency-Key"] for r in server.requests}) == 1


def test_a_seekable_file_object_is_resent_from_where_it_stood(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    handle = io.BytesIO(b"HEADER|the part to upload")
    handle.seek(len(b"HEADER|"))
    upload = FileUpload.of(handle, filename="part.txt")
    server.enqueue(Reply.error(502), file_reply())
    client.upload_file(upload, "assistants")
    first, second = (r.body for r in server.requests)
    assert first == second
    assert b"\r\n\r\nthe part to upload\r\n" in first
    assert b"HEADER" not in first


class OneShot(io.RawIOBase):
    """A binary stream that cannot seek (a pipe, a socket, a generator of bytes)."""

    name = "stream.txt"

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_file_object_that_cannot_seek_is_sent_once_chunked_and_not_retried(
    sink: SinkServer, sleeps: list[float]
) -> None:
    sink.enqueue(Reply.error(500, "failed"), file_reply())
    with make_client(sink, sleeps) as client, pytest.raises(InternalServerError):
        client.upload_file(OneShot(b"abc" * 100), "assistants")
    (received,) = sink.received
    assert received.chunked
    assert received.body is not None and b"abc" * 100 in received.body
    assert sleeps == []


def test_a_file_object_that_cannot_seek_uploads_chunked(
    sink: SinkServer, sleeps: list[float]
) -> None:
    sink.enqueue(file_reply())
    with make_client(sink, sleeps) as client:
        client.upload_file(OneShot(b"abc" * 100), "assistants")
    (received,) = sink.received
    assert received.chunked and received.body is not None
    assert b'filename="stream.txt"' in received.body


def test_a_307_redirect_sends_the_whole_upload_to_the_new_location(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.redirect(server.base_url + "/files/elsewhere"), file_reply())
    client.upload_file(b"payload", "assistants", filename="a.txt")
    first, second = server.requests
    assert second.path == "/v1/files/elsewhere"
    assert first.body == second.body and b"payload" in second.body


class Shrinking(io.BytesIO):
    """Says it holds 100 bytes when asked where its end is, then has fewer to read."""

    name = "shrinking.txt"

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == io.SEEK_END:
            return 100
        return super().seek(offset, whence)


def test_a_file_that_shrinks_while_it_is_sent_ends_the_upload_with_an_error(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    with pytest.raises(UploadSourceError, match="shrank"):
        client.upload_file(Shrinking(b"only forty bytes are really here........"), "assistants")
    # What went out before the client noticed is cut short of its declared length, so no
    # server takes it for a whole request (the fake records whatever arrived before the close).
    for request in server.requests:
        assert len(request.body) < int(request.headers["Content-Length"])


# -- checked before anything is sent --------------------------------------------------------------


@pytest.fixture
def silent(server: ScriptedServer) -> Iterator[ScriptedServer]:
    yield server
    assert server.request_count == 0


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"file": b"no name"}, "filename"),
        ({"file": "does/not/exist.txt"}, "file"),
        ({"file": ".", "filename": "dir"}, "file"),
        ({"file": 42}, "file"),
        ({"file": io.StringIO("text mode")}, "file"),
        ({"file": io.BytesIO(b"no name of its own")}, "filename"),
        ({"file": b"x", "filename": "a\r\nb.txt"}, "filename"),
        ({"file": b"x", "filename": "a.txt", "content_type": "text/plain\r\nX: y"}, "content_type"),
        ({"file": b"x", "filename": "a.txt", "purpose": "world_domination"}, "purpose"),
        ({"file": FileUpload.of(b"x", filename="a.txt"), "filename": "b.txt"}, "filename"),
        (
            {"file": b"x", "filename": "a.txt", "expires_after": {"anchor": "created_at"}},
            "expires_after",
        ),
        (
            {
                "file": b"x",
                "filename": "a.txt",
                "expires_after": {"anchor": "created_at", "seconds": 60},
            },
            "expires_after",
        ),
        (
            {
                "file": b"x",
                "filename": "a.txt",
                "expires_after": {"anchor": "last_active_at", "seconds": 3600},
            },
            "expires_after",
        ),
    ],
    ids=[
        "bytes-without-filename",
        "missing-path",
        "a-directory",
        "not-a-file",
        "text-mode",
        "nameless-stream",
        "filename-with-newline",
        "content-type-with-newline",
        "unknown-purpose",
        "a-name-beside-a-file-upload",
        "expiry-without-seconds",
        "expiry-under-an-hour",
        "expiry-with-another-anchor",
    ],
)
def test_a_bad_upload_is_refused_naming_the_parameter_before_anything_is_sent(
    client: AssistantsClient, silent: ScriptedServer, kwargs: dict[str, Any], param: str
) -> None:
    arguments = {"purpose": "assistants", **kwargs}
    with pytest.raises(InvalidArgumentError) as caught:
        client.upload_file(**arguments)
    assert caught.value.param == param, caught.value
