"""The request parser against h11, a well-kept one, on the same bytes.

The built-in server reads requests with its own parser (``server/framing.py``): the default
install has no dependencies. h11 is the oracle:

* on a corpus of good and hostile requests (those of ``test_framing.py`` and more), both accept
  and read the same method, target, fields and body, or both refuse, or the case is one of
  :data:`ARGUED`, each with the reason this server answers otherwise;
* on generated requests (Hypothesis, mutated at the byte level too), this parser never accepts
  what h11 refuses (an empty line before the request line aside: RFC 9112 section 2.2 says to
  skip it), and when both accept they read the same thing;
* a chunked body decodes the same whatever pieces it arrives in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistants_client.server.framing import (
    MAX_HEAD,
    ChunkedDecoder,
    ProtocolError,
    head_end,
    parse_head,
    skip_empty_lines,
)

from .test_framing import ACCEPTED, REFUSED


@dataclass(frozen=True)
class Read:
    """A request as a parser read it; ``None`` fields for a refused one."""

    accepted: bool
    method: bytes = b""
    target: bytes = b""
    version: bytes = b""
    fields: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""


REFUSED_READ = Read(False)
T = TypeVar("T")
# Framing fields each parser normalises its own way; the body read says what they meant.
_FRAMING = {b"content-length", b"transfer-encoding"}


def ours(data: bytes) -> Read:
    """The first request in ``data`` as this server's parser reads it."""
    end = head_end(data, skip_empty_lines(data))
    if end < 0:
        return REFUSED_READ
    try:
        head = parse_head(data[:end])
        rest = data[end:]
        if head.chunked:
            decoder = ChunkedDecoder()
            pieces, _ = decoder.feed(rest)
            if not decoder.finished:
                return REFUSED_READ
            body = b"".join(pieces)
        else:
            length = head.content_length or 0
            if len(rest) < length:
                return REFUSED_READ
            body = rest[:length]
    except ProtocolError:
        return REFUSED_READ
    fields = tuple(
        (name.lower().encode(), value.encode("latin-1"))
        for name, value in head.fields
        if name.lower().encode() not in _FRAMING
    )
    version = f"{head.version[0]}.{head.version[1]}".encode()
    return Read(True, head.method.encode(), head.target.encode(), version, fields, body)


def theirs(data: bytes) -> Read:
    """The first request in ``data`` as h11 reads it (a server's side, then end of input)."""
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    connection.receive_data(data)
    connection.receive_data(b"")
    body = b""
    try:
        event = connection.next_event()
        if not isinstance(event, h11.Request):
            return REFUSED_READ
        while True:
            part = connection.next_event()
            if isinstance(part, h11.Data):
                body += part.data
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                return REFUSED_READ
    except h11.RemoteProtocolError:
        return REFUSED_READ
    fields = tuple((n, v) for n, v in event.headers.raw_items() if n.lower() not in _FRAMING)
    fields = tuple((n.lower(), v) for n, v in fields)
    version = event.http_version if event.http_version in (b"1.0", b"1.1") else b"1.1"
    return Read(True, event.method, event.target, version, fields, body)


# Where this server answers otherwise than h11, and why: name -> (ours accepts, h11 accepts).
ARGUED: dict[str, tuple[bool, bool, str]] = {
    "an obs-fold continuation line": (
        False,
        True,
        "RFC 9112 5.2 lets a server refuse obs-fold; unfolding is a guess a proxy may not share",
    ),
    "a control character in a value": (
        False,
        True,
        "RFC 9110 5.5: a field value has no CTL; h11 lets all but NUL and whitespace through",
    ),
    "a bare LF ending a line": (
        False,
        True,
        "RFC 9112 2.2 only allows a bare LF; a proxy that ends lines at CRLF sees other fields",
    ),
    "chunk size with a trailing space": (
        False,
        True,
        "RFC 9112 7.1: BWS only before a chunk extension; h11 is lenient on purpose",
    ),
    "a chunk extension that is not name=value": (
        False,
        True,
        "RFC 9112 7.1.1 grammar; h11 takes anything after ';' and ignores it",
    ),
    "a bare CR in a chunk extension": (
        False,
        True,
        "a bare CR is a line end to some parsers: the chunk-smuggling shape",
    ),
    "Transfer-Encoding in HTTP/1.0": (
        False,
        True,
        "RFC 9112 6.1: a server MUST treat such a message's framing as faulty",
    ),
    "a target without a slash": (
        False,
        True,
        "RFC 9112 3.2: origin-form starts with '/'; h11 takes any visible characters",
    ),
    "a target with a fragment": (
        False,
        True,
        "RFC 9112 3.2: no fragment in a request target; where the path ends would be a guess",
    ),
    "a version 2.0 request": (
        False,
        True,
        "answered 505: this server speaks HTTP/1.x only",
    ),
    "an empty line before the request line": (
        True,
        False,
        "RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line",
    ),
    "an unknown method": (False, True, "answered 501 (RFC 9110 9.1)"),
    "CONNECT": (False, True, "answered 501: this server is not a proxy"),
    "an asterisk target with GET": (False, True, "RFC 9112 3.2.4: '*' is for OPTIONS only"),
    "two Content-Type headers": (
        False,
        True,
        "RFC 9110 5.3: a singleton field twice is ambiguous (gunicorn refuses it too)",
    ),
    "an invalid Host": (False, True, "RFC 9112 3.2: a server MUST answer 400 to an invalid Host"),
    "an obs-fold line in the trailers": (False, True, "as in the head"),
    "Content-Length and Transfer-Encoding": (
        False,
        True,
        "RFC 9112 6.1: a proxy may have framed it by Content-Length; h11 lets chunked win, "
        "this server refuses and closes, as gunicorn does",
    ),
    "chunk extensions, quoted and not, and a trailer": (
        True,
        False,
        "RFC 9112 7.1.1: BWS may come before ';' (gunicorn agrees); h11 allows none",
    ),
}

MORE = [
    ("an unknown method", b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
    ("an asterisk target with GET", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
    (
        "two Content-Type headers",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
    ),
    ("an invalid Host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
    ("an empty Host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n"),
    ("a space in a field name", b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"),
    ("an empty field name", b"GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n"),
    (
        "a trailing comma in Content-Length",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2,\r\n\r\nab",
    ),
    (
        "chunked with a trailing comma",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n",
    ),
    (
        "a bare LF after chunk data",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\n0\r\n\r\n",
    ),
    (
        "a bare LF after a chunk size",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n",
    ),
    (
        "an obs-fold line in the trailers",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n",
    ),
    ("a trailing space after the version", b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n"),
    ("whitespace around a value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: \t v w \t\r\n\r\n"),
    ("obs-text in a value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n\r\n"),
    ("obs-text in the target", b"GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("HTTP/1.2, read as 1.1", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n"),
    (
        "upper-case chunked",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
    ),
    (
        "a body as a list of equal lengths",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nab",
    ),
]
CORPUS = [(case.name, case.data) for case in REFUSED + ACCEPTED] + MORE


def test_the_corpus_names_are_unique_and_every_argued_case_is_in_it() -> None:
    names = [name for name, _ in CORPUS]
    assert len(names) == len(set(names))
    assert set(ARGUED) <= set(names)


@pytest.mark.parametrize(("name", "data"), CORPUS, ids=[name for name, _ in CORPUS])
def test_the_parser_reads_the_corpus_as_h11_does_or_says_why_not(name: str, data: bytes) -> None:
    mine, oracle = ours(data), theirs(data)
    if name in ARGUED:
        accepted, h11_accepted, _ = ARGUED[name]
        assert (mine.accepted, oracle.accepted) == (accepted, h11_accepted)
    else:
        assert mine == oracle


# -- generated requests ------------------------------------------------------------------------


def mostly(usual: st.SearchStrategy[T], odd: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``usual`` nine times in ten, ``odd`` otherwise: requests mostly valid, yet not always."""
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda n: usual if n else odd)


TOKENS = mostly(
    st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"HEAD"]),
    st.sampled_from([b"BREW", b"get", b"CONNECT", b"G\xc9T", b""]),
)
TARGETS = mostly(
    st.sampled_from([b"/", b"/v1/threads", b"/a%2Fb?x=1", b"http://h/p?q", b"/p;q?r=s&t"]),
    st.one_of(
        st.sampled_from([b"*", b"/#f", b"p", b"//x"]),
        st.binary(max_size=12).map(lambda raw: b"/" + raw),
    ),
)
VERSIONS = mostly(
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]),
    st.sampled_from([b"HTTP/1.2", b"HTTP/2.0", b"http/1.1", b"HTTP/1", b"HTTP/1.1 "]),
)
# CR and LF come in through the line ends and the byte-level mutation.
VALUE_BYTES = st.sampled_from([*b'ab0 ,;=\t\x00\x01\x7f\x80\xff"\\'])
MUTATIONS = st.sampled_from([*b"\r\n\r\n \t:;,\x00\x7f\x800aA"])
VALUES = mostly(
    st.sampled_from([b"v", b"a b", b"x, y", b"caf\xe9", b"\tpadded ", b"close", b"", b'"q"']),
    st.lists(VALUE_BYTES, max_size=8).map(bytes),
)
NAMES = mostly(
    st.sampled_from([b"X-A", b"X-B", b"Content-Type", b"Connection", b"Expect", b"Host"]),
    st.sampled_from([b"X_C", b"Bad Name", b"", b"X-A ", b"\tX"]),
)
FIELDS = st.lists(st.tuples(NAMES, VALUES), max_size=4).map(
    lambda pairs: [name + b": " + value for name, value in pairs]
)
SIZE_LINES = mostly(
    st.sampled_from([b"%x", b"%X", b"00%x", b"%x;a=b", b'%x;a="b c"']),
    st.sampled_from([b"0x%x", b"+%x", b" %x", b"%x ", b"%x;", b"%x;a b", b"-%x"]),
)
CHUNKS = st.lists(st.binary(min_size=1, max_size=6), max_size=3)
LINE_ENDS = mostly(st.just(b"\r\n"), st.sampled_from([b"\n", b"\r", b"\r\r\n"]))


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    end = draw(LINE_ENDS)
    fields = draw(FIELDS)
    if draw(st.integers(0, 4)):
        fields.insert(0, b"Host: x")
    framing = draw(
        mostly(
            st.sampled_from(["none", "length", "chunked"]),
            st.sampled_from(["both", "te-list", "lengths"]),
        )
    )
    chunks = draw(CHUNKS)
    payload = b"".join(chunks)
    body = b""
    if framing in ("length", "both"):
        fields.append(b"Content-Length: %d" % len(payload))
        body = payload
    if framing == "lengths":
        fields.append(b"Content-Length: %d, %d" % (len(payload), draw(st.integers(0, 9))))
        body = payload
    if framing in ("chunked", "both", "te-list"):
        coding = (
            b"chunked"
            if framing != "te-list"
            else draw(st.sampled_from([b"gzip, chunked", b"chunked, chunked", b"identity"]))
        )
        fields.append(b"Transfer-Encoding: " + coding)
        size_line = draw(SIZE_LINES)
        body = b"".join((size_line % len(c)) + b"\r\n" + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    line = draw(TOKENS) + b" " + draw(TARGETS) + b" " + draw(VERSIONS)
    data = end.join([line, *fields, b"", b""]) + body
    if draw(st.integers(0, 3)) == 0:  # one byte changed, dropped or added anywhere
        at = draw(st.integers(0, len(data)))
        change = draw(st.sampled_from(["set", "drop", "add"]))
        byte = bytes([draw(MUTATIONS)])
        if change == "set":
            data = data[:at] + byte + data[at + 1 :]
        elif change == "drop":
            data = data[:at] + data[at + 1 :]
        else:
            data = data[:at] + byte + data[at:]
    return data


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=requests())
def test_the_parser_never_accepts_what_h11_refuses_and_reads_the_same(data: bytes) -> None:
    mine = ours(data)
    if not mine.accepted or data.startswith((b"\r\n", b"\n")):
        return
    assert theirs(data) == mine


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=40), max_size=6),
    extension=st.sampled_from([b"", b";a", b' ; q="x\\"y"']),
    cuts=st.lists(st.integers(0, 400), max_size=8),
)
def test_a_chunked_body_decodes_the_same_in_any_pieces(
    chunks: list[bytes], extension: bytes, cuts: list[int]
) -> None:
    wire = b"".join(b"%x%s\r\n%s\r\n" % (len(c), extension, c) for c in chunks if c)
    wire += b"0\r\nX-T: v\r\n\r\nNEXT"
    decoder = ChunkedDecoder()
    body, used, at = b"", 0, 0
    for cut in [*sorted(c for c in cuts if c < len(wire)), len(wire)]:
        if cut < at or decoder.finished:
            continue
        pieces, taken = decoder.feed(wire[at:cut])
        body += b"".join(pieces)
        used, at = at + taken, cut
    assert decoder.finished
    assert body == b"".join(chunks)
    assert wire[used:] == b"NEXT"
