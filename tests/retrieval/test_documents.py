"""Documents to text: each format's reader, the reasons a file is refused, and the
``documents`` extra named when it is missing."""

from __future__ import annotations

import codecs
import io

import docx
import pytest

from assistants_client.server.retrieval import InvalidFile, UnsupportedFile, documents
from assistants_client.server.retrieval.documents import parse_bytes, parse_document


def pdf_with(*lines: str) -> bytes:
    """A minimal, valid one-page PDF whose page shows ``lines`` in Helvetica."""
    text = " ".join(f"({line}) Tj T*" for line in lines)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def docx_with(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "text"),
    [
        ("notes.md", b"# Title\r\n\r\nBody text.", "# Title\n\nBody text."),
        ("main.py", b"def f():\n    return 1\n", "def f():\n    return 1\n"),
        ("data.json", b'{"code": "ERR-4411"}', '{"code": "ERR-4411"}'),
        ("table.csv", b"id,name\n1,Ann\n", "id,name\n1,Ann\n"),
        ("README", b"no extension at all", "no extension at all"),
        ("bom.txt", codecs.BOM_UTF8 + "caf\u00e9".encode(), "caf\u00e9"),
        ("wide.txt", "na\u00efve".encode("utf-16"), "na\u00efve"),
        ("legacy.txt", "caf\u00e9 \u2013 ok".encode("cp1252"), "caf\u00e9 \u2013 ok"),
    ],
)
def test_text_formats_are_read_as_they_are(name: str, data: bytes, text: str) -> None:
    parsed = parse_bytes(name, data)
    assert parsed.text == text and parsed.format == "text"


def test_html_is_reduced_to_its_text_in_blocks() -> None:
    page = (
        b"<html><head><title>Guide</title><style>p {color: red}</style>"
        b"<script>alert('x')</script></head><body><h1>Reset &amp; recover</h1>"
        b"<p>Open the\n   sign-in page.</p><ul><li>one</li><li>two</li></ul>"
        b"<table><tr><td>a</td><td>b</td></tr></table><pre>  keep\n  this</pre></body></html>"
    )
    parsed = parse_bytes("guide.html", page)
    assert parsed.format == "html"
    assert parsed.text == (
        "Guide\n\nReset & recover\n\nOpen the sign-in page.\n\none\ntwo\n\na\tb\n\nkeep\nthis"
    )


def test_a_pdf_is_read_with_the_documents_extra() -> None:
    parsed = parse_bytes("report.pdf", pdf_with("Quarterly report", "ERR-4411 was fixed"))
    assert parsed.format == "pdf"
    assert "Quarterly report" in parsed.text and "ERR-4411 was fixed" in parsed.text


def test_a_word_document_is_read_with_its_tables() -> None:
    data = docx_with("First paragraph.", "Second one.", table=[["k", "v"], ["a", "1"]])
    parsed = parse_bytes("memo.docx", data)
    assert parsed.format == "docx"
    assert parsed.text == "First paragraph.\n\nSecond one.\n\nk\tv\n\na\t1"


def test_without_the_extra_pdf_and_word_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "pypdf", None)
    monkeypatch.setattr(documents, "docx", None)
    for name, data in (("a.pdf", pdf_with("x")), ("b.docx", docx_with("x"))):
        with pytest.raises(UnsupportedFile, match=r"assistants-client\[documents\]"):
            parse_bytes(name, data)


@pytest.mark.parametrize(
    ("name", "data", "error", "says"),
    [
        ("photo.jpg", b"\xff\xd8\xff\xe0rest", UnsupportedFile, "JPEG image"),
        ("photo", b"\x89PNG\r\n\x1a\nrest", UnsupportedFile, "PNG image"),
        ("a.zip", b"PK\x03\x04" + b"\x00" * 30, InvalidFile, "damaged zip"),
        ("tool", b"\x7fELF\x02\x01\x01", UnsupportedFile, "executable"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, UnsupportedFile, ".docx"),
        ("slides.pptx", b"xx", UnsupportedFile, "PowerPoint"),
        ("blob.dat", b"\x00\x01\x02\x03binary", UnsupportedFile, "binary data"),
        ("page.html", b"<p>\x00\x00\x00</p>", InvalidFile, "binary bytes"),
        ("empty.txt", b"", InvalidFile, "empty or blank"),
        ("blank.md", b"  \n\t\n", InvalidFile, "empty or blank"),
        ("broken.pdf", b"%PDF-1.4\nnot really", InvalidFile, "PDF could not be read"),
        ("scan.pdf", pdf_with(), InvalidFile, "no text"),
        ("bad.docx", b"PK\x03\x04broken", InvalidFile, "could not be read"),
        ("odd.txt", b"\xff\xfe\x00\xd8", InvalidFile, "not valid UTF-16"),
    ],
)
def test_files_that_cannot_be_indexed_say_why(
    name: str, data: bytes, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        parse_bytes(name, data)


def test_text_past_the_cap_is_refused_before_it_is_all_read() -> None:
    read = []

    def pieces() -> object:
        for _ in range(1000):
            read.append(1)
            yield b"a" * 10_000

    with pytest.raises(InvalidFile, match="more than 50,000 characters"):
        parse_document("big.txt", pieces(), max_chars=50_000)  # type: ignore[arg-type]
    assert len(read) < 10
