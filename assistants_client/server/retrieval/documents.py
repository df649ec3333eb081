"""Documents to text: what a file says, as one string that chunks and citations point into.

Which reader a file gets is decided by its first bytes, then by its name's extension:

* PDF (``%PDF-``) and Word (``.docx``, a zip holding ``word/document.xml``) need the
  ``documents`` extra (pypdf and python-docx): without it they fail with ``unsupported_file``,
  naming the extra;
* HTML (``.html``, ``.htm``, ``.xhtml``) is reduced to its text (scripts and styles dropped,
  block elements on lines of their own, entities decoded);
* text (Markdown, code, JSON, CSV, logs, any other extension, or none) is read as it is:
  UTF-8 (a byte-order mark is honoured, UTF-16 too), else Windows-1252 when the bytes are
  not UTF-8 but still look like text;
* images, archives, executables, audio, video, and old binary Office files fail with
  ``unsupported_file`` saying what they are; bytes that are not text fail the same way;
* a file that is damaged (a PDF that does not open), encrypted, empty or too long fails with
  ``invalid_file`` saying which.

The text is capped at :data:`MAX_TEXT_CHARS` characters (about the API's 5,000,000 tokens):
longer files fail as ``invalid_file`` rather than hold the memory.
"""

from __future__ import annotations

import codecs
import html.parser
import re
import tempfile
import zipfile
from collections.abc import Iterable
from typing import IO

import attrs

from assistants_client.server.retrieval.errors import InvalidFile, UnsupportedFile

# The `documents` extra: without it, PDF and Word files are refused with a message naming it.
try:
    import pypdf
except ImportError:  # pragma: no cover - depends on the installation
    pypdf = None  # type: ignore[assignment]
try:
    import docx
except ImportError:  # pragma: no cover - depends on the installation
    docx = None  # type: ignore[assignment]

__all__ = ["MAX_TEXT_CHARS", "ParsedDocument", "parse_bytes", "parse_document", "sniff"]

MAX_TEXT_CHARS = 20_000_000
DOCUMENTS_EXTRA = "pip install 'assistants-client[documents]'"
_SNIFF_BYTES = 8192
# Bytes that never appear in text (NUL and the C0 controls but tab, line feed, form feed,
# carriage return and escape).
_BINARY_BYTES = frozenset(range(0, 9)) | {11, 14, 15, *range(16, 27), 28, 29, 30, 31, 127}

_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "unsupported", "a PNG image"),
    (b"\xff\xd8\xff", "unsupported", "a JPEG image"),
    (b"GIF87a", "unsupported", "a GIF image"),
    (b"GIF89a", "unsupported", "a GIF image"),
    (b"II*\x00", "unsupported", "a TIFF image"),
    (b"MM\x00*", "unsupported", "a TIFF image"),
    (b"\x7fELF", "unsupported", "an executable (ELF)"),
    (b"\x1f\x8b", "unsupported", "a gzip archive"),
    (b"BZh", "unsupported", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "unsupported", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "unsupported", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "unsupported", "a RAR archive"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "unsupported",
        "an old binary Office file (.doc, .xls or .ppt); save it as .docx or as text",
    ),
    (b"ID3", "unsupported", "an MP3 audio file"),
    (b"OggS", "unsupported", "an Ogg media file"),
    (b"fLaC", "unsupported", "a FLAC audio file"),
    (b"\x00asm", "unsupported", "a WebAssembly module"),
    (b"SQLite format 3\x00", "unsupported", "a SQLite database"),
    (b"{\\rtf", "unsupported", "an RTF document; save it as .docx or as text"),
    (b"%PDF-", "pdf", "a PDF document"),
    (b"PK\x03\x04", "zip", "a zip archive"),
)
_HTML_EXTENSIONS = frozenset({"html", "htm", "xhtml"})
_BINARY_EXTENSIONS = {
    "png": "a PNG image",
    "jpg": "a JPEG image",
    "jpeg": "a JPEG image",
    "gif": "a GIF image",
    "webp": "a WebP image",
    "bmp": "a bitmap image",
    "ico": "an icon",
    "mp3": "an audio file",
    "wav": "an audio file",
    "mp4": "a video file",
    "mov": "a video file",
    "zip": "a zip archive",
    "tar": "a tar archive",
    "gz": "a gzip archive",
    "exe": "an executable",
    "dll": "a library",
    "so": "a library",
    "xlsx": "an Excel workbook",
    "xls": "an Excel workbook",
    "pptx": "a PowerPoint presentation",
    "ppt": "a PowerPoint presentation",
    "doc": "an old binary Word document; save it as .docx",
}


@attrs.frozen
class ParsedDocument:
    """A document's text and the reader that made it (``text``, ``html``, ``pdf``,
    ``docx``)."""

    text: str
    format: str


def _extension(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(head: bytes, filename: str) -> tuple[str, str]:
    """The reader for a file that starts with ``head`` (``text``, ``html``, ``pdf``,
    ``docx`` or ``unsupported``) and what the file is, in words."""
    extension = _extension(filename)
    for magic, kind, what in _MAGIC:
        if head.startswith(magic):
            if kind == "zip":
                return ("docx", "a Word document") if extension == "docx" else (kind, what)
            return kind, what
    if head[8:12] == b"WEBP" and head.startswith(b"RIFF"):
        return "unsupported", "a WebP image"
    if extension in _BINARY_EXTENSIONS:
        return "unsupported", _BINARY_EXTENSIONS[extension]
    if extension == "pdf":
        return "pdf", "a PDF document"
    if extension == "docx":
        return "docx", "a Word document"
    if extension in _HTML_EXTENSIONS:
        return "html", "an HTML page"
    return "text", "a text file"


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if not head:
        return False
    odd = sum(1 for byte in head if byte in _BINARY_BYTES)
    return b"\x00" in head or odd / len(head) > 0.05


def _decode(pieces: Iterable[bytes], head: bytes, limit: int) -> str:
    """Text from bytes, decoded as they come and capped at ``limit`` characters."""
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    parts: list[bytes] = []
    try:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        texts: list[str] = []
        size = 0
        for piece in pieces:
            if encoding == "utf-8":
                parts.append(piece)
            text = decoder.decode(piece)
            size += len(text)
            if size > limit:
                raise InvalidFile(_too_long(limit))
            texts.append(text)
        texts.append(decoder.decode(b"", final=True))
        return "".join(texts)
    except UnicodeDecodeError:
        if encoding != "utf-8":
            raise InvalidFile(f"the file is not valid {encoding.upper()} text") from None
    # Not UTF-8, yet no binary bytes: text in a legacy Windows/ISO-8859 encoding.
    for piece in pieces:
        parts.append(piece)
        if sum(map(len, parts)) > limit * 4:
            raise InvalidFile(_too_long(limit))
    text = b"".join(parts).decode("cp1252", errors="replace")
    if len(text) > limit:
        raise InvalidFile(_too_long(limit))
    return text


def _too_long(limit: int) -> str:
    return (
        f"the file has more than {limit:,} characters of text, more than a vector store file "
        "may hold; split it into smaller files"
    )


class _HtmlText(html.parser.HTMLParser):
    """Collects the text of an HTML page, block elements on lines of their own."""

    _SKIPPED = frozenset({"script", "style", "noscript", "template", "svg"})
    _BLOCKS = frozenset(
        {
            "p", "div", "section", "article", "header", "footer", "main", "nav", "aside",
            "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre",
            "figure", "form", "dl", "hr", "title", "body",
        }
    )  # fmt: skip
    _LINES = frozenset({"li", "tr", "br", "dt", "dd", "caption", "figcaption"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._head = False
        self._title = False
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag == "head":
            self._head = True
        elif tag == "title":
            self._title = True
        elif tag == "body":
            self._head = False
        elif tag == "pre":
            self._pre += 1
        self._edge(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1
        elif tag == "head":
            self._head = False
        elif tag == "title":
            self._title = False
        elif tag == "pre" and self._pre:
            self._pre -= 1
        elif tag in ("td", "th"):
            self.parts.append("\t")
        if tag in self._BLOCKS:
            self.parts.append("\n\n")

    def _edge(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n\n")
        elif tag in self._LINES:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skipping or (self._head and not self._title):
            return
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [line.strip(" \t") for line in joined.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _html_text(source: str) -> str:
    parser = _HtmlText()
    parser.feed(source)
    parser.close()
    return parser.text()


def _spool(pieces: Iterable[bytes]) -> IO[bytes]:
    spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    for piece in pieces:
        spooled.write(piece)
    spooled.seek(0)
    return spooled


def _pdf_text(stream: IO[bytes]) -> str:
    if pypdf is None:
        raise UnsupportedFile(
            f"PDF files need the 'documents' extra on the server: {DOCUMENTS_EXTRA}"
        )
    try:
        reader = pypdf.PdfReader(stream)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidFile("the PDF is encrypted with a password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except InvalidFile:
        raise
    except Exception as problem:  # pypdf raises many kinds on a damaged file
        raise InvalidFile(f"the PDF could not be read: {_first_line(problem)}") from None
    return "\n\n".join(page.strip() for page in pages if page.strip())


def _docx_text(stream: IO[bytes]) -> str:
    if docx is None:
        raise UnsupportedFile(
            f"Word documents need the 'documents' extra on the server: {DOCUMENTS_EXTRA}"
        )
    try:
        document = docx.Document(stream)
        blocks = [paragraph.text for paragraph in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                blocks.append("\t".join(cell.text for cell in row.cells))
    except Exception as problem:  # a damaged zip, a missing part, bad XML
        raise InvalidFile(f"the Word document could not be read: {_first_line(problem)}") from None
    return "\n\n".join(block.strip() for block in blocks if block.strip())


def _first_line(problem: BaseException) -> str:
    return (str(problem).strip().splitlines() or [type(problem).__name__])[0][:200]


def parse_document(
    filename: str, pieces: Iterable[bytes], *, max_chars: int = MAX_TEXT_CHARS
) -> ParsedDocument:
    """The text of the file ``filename`` whose bytes ``pieces`` yields, read in bounded
    memory (a PDF or a Word file is spooled to a temporary file past 8 MiB).

    Raises :class:`UnsupportedFile` or :class:`InvalidFile` with a message that says why.
    """
    iterator = iter(pieces)
    head = b""
    buffered: list[bytes] = []
    for piece in iterator:
        buffered.append(piece)
        head += piece[: _SNIFF_BYTES - len(head)]
        if len(head) >= _SNIFF_BYTES:
            break

    def everything() -> Iterable[bytes]:
        yield from buffered
        yield from iterator

    kind, what = sniff(head, filename)
    if kind == "unsupported":
        raise UnsupportedFile(f"the file is {what}, which has no text to search")
    if kind == "zip":
        with _spool(everything()) as spooled:
            try:
                names = set(zipfile.ZipFile(spooled).namelist())
            except zipfile.BadZipFile:
                raise InvalidFile("the file is a damaged zip archive") from None
            if "word/document.xml" not in names:
                raise UnsupportedFile("the file is a zip archive, which has no text to search")
            spooled.seek(0)
            text, kind = _docx_text(spooled), "docx"
    elif kind == "pdf":
        with _spool(everything()) as spooled:
            text = _pdf_text(spooled)
    elif kind == "docx":
        with _spool(everything()) as spooled:
            text = _docx_text(spooled)
    else:
        if _looks_binary(head):
            extension = _extension(filename)
            if extension and kind == "html":
                raise InvalidFile(f"the .{extension} file holds binary bytes, not text")
            raise UnsupportedFile(
                "the file holds binary data, not text (no known document format starts this way)"
            )
        text = _decode(everything(), head, max_chars)
        if kind == "html":
            text = _html_text(text)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > max_chars:
        raise InvalidFile(_too_long(max_chars))
    if not text.strip():
        raise InvalidFile(f"the file ({what}) has no text to search: it is empty or blank")
    return ParsedDocument(text=text, format=kind)


def parse_bytes(filename: str, data: bytes) -> ParsedDocument:
    """:func:`parse_document` over bytes in memory (tests and small files)."""
    return parse_document(filename, [data[n : n + 65536] for n in range(0, len(data), 65536)])
