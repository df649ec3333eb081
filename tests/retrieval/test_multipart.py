"""The streaming multipart parser: what clients send parses in any split, as the ``multipart``
package (a kept parser, the oracle) reads it; what is broken or hostile is refused with a 400
and never buffered without bound."""

from __future__ import annotations

import contextlib
import io
import string

import multipart as oracle
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistants_client.server.retrieval import MalformedUpload
from assistants_client.server.retrieval.multipart import (
    FilePart,
    Form,
    MultipartParser,
    boundary_of,
    parse_multipart,
)

BCHARS = string.ascii_letters + string.digits + "'()+_,-./:=?"


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def parse(
    content_type: str, body: bytes, size: int = 1 << 20, **limits: int
) -> tuple[Form, dict[str, bytes]]:
    files: dict[str, Sink] = {}

    def open_file(part: FilePart) -> Sink:
        files[part.name] = Sink()
        return files[part.name]

    form = parse_multipart(
        content_type, [body[n : n + size] for n in range(0, len(body), size)], open_file, **limits
    )
    return form, {name: bytes(sink.data) for name, sink in files.items()}


def encode(
    boundary: str,
    fields: dict[str, str],
    files: dict[str, tuple[str, bytes]],
    crlf: bytes = b"\r\n",
) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + crlf
        )
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + crlf
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def content_type(boundary: str) -> str:
    return f'multipart/form-data; boundary="{boundary}"'


# -- what clients send ------------------------------------------------------------------------


def test_a_requests_upload_parses_in_pieces_of_every_size() -> None:
    content = b"line one\r\n--not a boundary\r\n" * 500 + bytes(range(256))
    prepared = requests.Request(
        "POST",
        "http://127.0.0.1/",
        files={"file": ("report.pdf", io.BytesIO(content), "application/pdf")},
        data={"purpose": "assistants"},
    ).prepare()
    assert isinstance(prepared.body, bytes)
    for size in (1, 2, 3, 17, 4096, 1 << 20):
        form, files = parse(prepared.headers["Content-Type"], prepared.body, size)
        assert form.fields == {"purpose": "assistants"}
        assert files == {"file": content}
        assert form.files[0][0] == FilePart("file", "report.pdf", "application/pdf")
        assert form.files[0][1] == len(content)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    boundary=st.text(BCHARS, min_size=1, max_size=70),
    fields=st.dictionaries(
        st.text(string.ascii_lowercase + "[]_", min_size=1, max_size=12),
        st.text(st.characters(blacklist_categories=["Cs"]), max_size=40),
        max_size=4,
    ),
    content=st.binary(max_size=3000),
    size=st.integers(1, 600),
)
def test_any_valid_form_parses_in_any_split_as_the_oracle_reads_it(
    boundary: str, fields: dict[str, str], content: bytes, size: int
) -> None:
    fields.pop("file", None)
    body = encode(boundary, fields, {"file": ("a.bin", content)})
    if f"\r\n--{boundary}".encode() in content or f"\r\n--{boundary}".encode() in b"\r\n".join(
        v.encode() for v in fields.values()
    ):
        return  # a body that contains its own delimiter is not one a client would send
    form, files = parse(content_type(boundary), body, size)
    assert form.fields == fields
    assert files == {"file": content}
    expected = {part.name: part.raw for part in oracle.MultipartParser(io.BytesIO(body), boundary)}
    assert {**{k: v.encode() for k, v in form.fields.items()}, **files} == expected


def test_file_bytes_are_handed_on_as_they_arrive() -> None:
    boundary = "b0undary"
    body = encode(boundary, {}, {"file": ("a.bin", b"x" * 100_000)})
    sink = Sink()
    parser = MultipartParser(content_type(boundary), lambda part: sink)
    fed = 0
    header = body.index(b"\r\n\r\n") + 4
    held_back = len(f"\r\n--{boundary}") - 1
    for n in range(0, len(body), 1000):
        parser.feed(body[n : n + 1000])
        fed += len(body[n : n + 1000])
        # All but the last few bytes (a delimiter's length) of what came is already out.
        assert len(sink.data) >= min(100_000, fed - header - held_back)
    assert parser.close().files[0][1] == 100_000


def test_an_extended_filename_is_decoded() -> None:
    body = (
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
        b"\r\n\r\nhi\r\n--b--"
    )
    form, _ = parse("multipart/form-data; boundary=b", body)
    assert form.files[0][0].filename == "résumé.txt"


def test_padding_after_a_boundary_and_an_epilogue_are_allowed() -> None:
    body = (
        b'preamble to ignore\r\n--b \t\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
        b"assistants\r\n--b--\r\nepilogue to ignore"
    )
    form, _ = parse("multipart/form-data; boundary=b", body)
    assert form.fields == {"purpose": "assistants"}


# -- what is refused --------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, 10_000))
def test_a_body_cut_anywhere_before_its_end_is_refused(cut: int) -> None:
    body = encode("xyz", {"purpose": "assistants"}, {"file": ("a.txt", b"q" * 9000)})
    cut = min(cut, len(body) - len(b"--xyz--\r\n"))
    with pytest.raises(MalformedUpload):
        parse(content_type("xyz"), body[:cut], 333)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "application/json",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "x" * 71,
        'multipart/form-data; boundary="ends with space "',
        "multipart/form-data; boundary=bad{char}",
        "multipart/form-data; boundary=a; boundary=b",
    ],
)
def test_a_content_type_without_a_valid_boundary_is_refused(value: str | None) -> None:
    with pytest.raises(MalformedUpload):
        boundary_of(value)


@pytest.mark.parametrize(
    ("part", "why"),
    [
        (b"Content-Type: text/plain\r\n\r\nx", "no Content-Disposition"),
        (b'Content-Disposition: attachment; name="a"\r\n\r\nx', "form-data with a name"),
        (b"Content-Disposition: form-data\r\n\r\nx", "form-data with a name"),
        (b'Content-Disposition: form-data; name="a"\r\n folded\r\n\r\nx', "folded"),
        (b'Content-Disposition: form-data; name="a"\r\nno colon here\r\n\r\nx', "Name: value"),
        (
            b'Content-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; '
            b'name="b"\r\n\r\nx',
            "two content-disposition",
        ),
        (
            b'Content-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64'
            b"\r\n\r\neA==",
            "Transfer-Encoding",
        ),
        (b"\r\nx", "no headers"),
        (b'Content-Disposition: form-data; name="a"; name="b"\r\n\r\nx', "twice"),
    ],
)
def test_a_malformed_part_is_refused_saying_why(part: bytes, why: str) -> None:
    body = b"--b\r\n" + part + b"\r\n--b--\r\n"
    with pytest.raises(MalformedUpload, match=why):
        parse("multipart/form-data; boundary=b", body)


def test_a_field_given_twice_is_refused() -> None:
    body = encode("b", {}, {}).replace(b"--b--", b"")
    body = (
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nx\r\n'
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\ny\r\n--b--'
    )
    with pytest.raises(MalformedUpload, match="twice"):
        parse("multipart/form-data; boundary=b", body)


def test_lines_ended_by_bare_line_feeds_are_refused() -> None:
    body = encode("b", {"purpose": "assistants"}, {}).replace(b"\r\n", b"\n")
    with pytest.raises(MalformedUpload):
        parse("multipart/form-data; boundary=b", body)


def test_a_boundary_line_followed_by_junk_is_refused() -> None:
    body = b'--bjunk\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--'
    with pytest.raises(MalformedUpload, match="end its line"):
        parse("multipart/form-data; boundary=b", body)


def test_endless_headers_are_refused_without_reading_them_all() -> None:
    sink_calls = 0
    parser = MultipartParser(
        "multipart/form-data; boundary=b", lambda part: Sink(), max_header_bytes=8192
    )
    parser.feed(b'--b\r\nContent-Disposition: form-data; name="a"\r\nX-Long: ')
    with pytest.raises(MalformedUpload, match="larger than 8192"):
        for _ in range(10_000):
            parser.feed(b"a" * 1024)
            sink_calls += 1
    assert sink_calls < 10


def test_an_endless_preamble_is_refused() -> None:
    parser = MultipartParser("multipart/form-data; boundary=b", lambda part: Sink())
    with pytest.raises(MalformedUpload, match="no multipart boundary"):
        for _ in range(1000):
            parser.feed(b"z" * 1024)


def test_fields_are_capped_in_size_and_number() -> None:
    big = encode("b", {"purpose": "x" * 70_000}, {})
    with pytest.raises(MalformedUpload, match="larger than"):
        parse("multipart/form-data; boundary=b", big)
    many = encode("b", {f"f{n}": "v" for n in range(40)}, {})
    with pytest.raises(MalformedUpload, match="more than 32 fields"):
        parse("multipart/form-data; boundary=b", many)


def test_unknown_fields_are_refused_when_the_fields_are_named() -> None:
    body = encode("b", {"colour": "blue"}, {})
    with pytest.raises(MalformedUpload, match="unknown form field 'colour'"):
        parse_multipart(
            "multipart/form-data; boundary=b", [body], lambda part: Sink(), fields=["purpose"]
        )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 100))
def test_random_bytes_raise_only_the_parsers_error(body: bytes, size: int) -> None:
    with contextlib.suppress(MalformedUpload):
        parse("multipart/form-data; boundary=b", b"--b\r\n" + body, size)
