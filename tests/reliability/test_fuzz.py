"""A bounded fuzz pass: whatever bytes arrive, only the library's own errors come out.

Hypothesis generates the inputs, derandomized (the same examples on every run, so a failure
reproduces) and bounded (a few hundred examples each, a few seconds in all):

1. The response decoder (``parse_model``, the reading of every plain answer) over bytes,
   JSON of any shape and depth and real payloads with a field replaced: a model, or an
   AssistantsError. The reading of error answers (``_status_error``) always gives a status
   error.
2. The event stream reader over arbitrary chunks, with a small event limit: events, or an
   AssistantsError (most often StreamInterruptedError: no ``done``).
3. The framing of server-sent events, against sseclient-py reading the same bytes unframed:
   the same events, fields and values, however the bytes are cut into chunks.
4. The emulator's HTTP parsing over raw bytes on a socket (garbage, and requests with odd
   methods, versions, paths, lengths, codings and bodies): an HTTP answer that is not a 500,
   or a closed connection, never a hang; no error logged; the emulator still answers after.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sseclient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from assistants_client import APIStatusError, AssistantsClient, AssistantsError
from assistants_client._response import parse_model
from assistants_client._sse import EventFramer, event_of
from assistants_client._streaming import parse_event_stream
from assistants_client._transport import TransportResponse
from assistants_client.emulator import Emulator
from assistants_client.models import (
    Assistant,
    MessageList,
    RunResponse,
    RunStep,
    Thread,
    ThreadMessage,
)
from tests import payloads

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=30,
)

SAMPLES: dict[type[Any], dict[str, Any]] = {
    Thread: payloads.thread(),
    ThreadMessage: payloads.message(),
    RunResponse: payloads.run(),
    Assistant: payloads.assistant(),
}


@st.composite
def mutated_payload(draw: st.DrawFn) -> tuple[type[Any], bytes]:
    """A real payload of a model with one field replaced by anything (or removed)."""
    cls = draw(st.sampled_from(sorted(SAMPLES, key=lambda c: c.__name__)))
    payload = json.loads(json.dumps(SAMPLES[cls]))
    key = draw(st.sampled_from(sorted(payload)))
    if draw(st.booleans()):
        del payload[key]
    else:
        payload[key] = draw(json_values)
    return cls, json.dumps(payload).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.integers(0, 100_000).map(lambda n: b'{"id": ' + b"[" * n + b"]" * n + b"}"),
    st.integers(0, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)
models = st.sampled_from([Thread, ThreadMessage, RunResponse, RunStep, Assistant, MessageList])
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/html", "", "x+json", "\u00e9"]
)


def transport_response(status: int, content_type: str, body: bytes) -> TransportResponse:
    http = requests.Response()
    http.status_code = status
    http.headers = CaseInsensitiveDict({"Content-Type": content_type, "x-request-id": "req_1"})
    http.request = requests.Request("GET", "http://127.0.0.1/v1/threads/t").prepare()
    http.url = "http://127.0.0.1/v1/threads/t"
    return TransportResponse(
        http_response=http, content=body, method="GET", url=http.url, elapsed=0.0, retries_taken=0
    )


# -- the response decoder --------------------------------------------------------------------


@FUZZ
@given(body=bodies, cls=models, content_type=content_types)
def test_the_response_decoder_raises_only_library_errors(
    body: bytes, cls: type[Any], content_type: str
) -> None:
    with contextlib.suppress(AssistantsError):
        assert isinstance(parse_model(transport_response(200, content_type, body), cls), cls)


@FUZZ
@given(case=mutated_payload(), strict=st.booleans())
def test_real_payloads_with_a_field_replaced_are_read_or_refused_as_library_errors(
    case: tuple[type[Any], bytes], strict: bool
) -> None:
    cls, body = case
    with contextlib.suppress(AssistantsError):
        parse_model(transport_response(200, "application/json", body), cls, strict=strict)


@FUZZ
@given(body=bodies, status=st.integers(300, 599))
def test_an_error_answer_always_reads_as_a_status_error(body: bytes, status: int) -> None:
    with AssistantsClient(base_url="http://127.0.0.1:9/v1") as client:
        response = transport_response(status, "application/json", body).http_response
        error = client._transport._status_error(response, body, "GET", "http://127.0.0.1/v1/t")
    assert isinstance(error, APIStatusError)
    assert error.status_code == status


# -- the event stream reader -----------------------------------------------------------------

NAMES = ["thread.run.created", "thread.message.delta", "thread.message.completed", "done", "x"]
SSE_LINES = st.one_of(
    st.sampled_from(NAMES).map(lambda name: f"event: {name}"),
    json_values.map(lambda value: f"data: {json.dumps(value)}"),
    st.just('data: {"id": "msg_1", "delta": {"content": [{"index": 0, "type": "text"}]}}'),
    st.just("data: [DONE]"),
    st.just(": ping"),
    st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t),
)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


@FUZZ
@given(
    lines=st.lists(SSE_LINES, max_size=30),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    points=st.lists(st.integers(0, 10_000), max_size=10),
    noise=st.binary(max_size=40),
)
def test_the_stream_reader_raises_only_library_errors(
    lines: list[str], newline: str, points: list[int], noise: bytes
) -> None:
    data = newline.join(lines).encode() + noise
    stream = parse_event_stream(iter(cut(data, points)), max_event_bytes=512)
    try:
        for _ in stream:
            pass
    except AssistantsError:
        pass


FIELD_LINES = st.one_of(
    st.sampled_from(["event: a", "event: b", "event", "event:c", "id: 1", "id", "retry: 5"]),
    st.text("abc :{}", max_size=12).map(lambda text: f"data: {text}"),
    st.just("data"),
    st.just(": comment"),
    st.just("unknown: field"),
    st.just("  "),
)
EVENTS = st.lists(
    st.lists(FIELD_LINES, min_size=1, max_size=8).filter(
        lambda lines: sum(line.startswith("data") for line in lines) <= 16
    ),
    max_size=12,
)


def fields(events: Iterator[Any]) -> list[tuple[Any, ...]]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


@FUZZ
@given(events=EVENTS, points=st.lists(st.integers(0, 10_000), max_size=12))
def test_framed_events_are_the_events_sseclient_reads_from_the_same_bytes(
    events: list[list[str]], points: list[int]
) -> None:
    data = "".join("\n".join(lines) + "\n\n" for lines in events).encode()
    chunks = cut(data, points)
    expected = fields(sseclient.SSEClient(iter(chunks)).events())
    framed = fields(sseclient.SSEClient(EventFramer(1 << 20).frames(iter(chunks))).events())
    assert framed == expected
    # The frames read without sseclient (as the server reads its backend) say the same.
    framer = EventFramer(1 << 20)
    read = [event_of(frame) for chunk in chunks for frame in framer.feed(chunk)]
    assert [(name, value.decode()) for name, value in read] == [e[:2] for e in expected]


# -- the emulator's HTTP parsing ---------------------------------------------------------------


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def watched_emulator() -> Iterator[tuple[Emulator, _Errors]]:
    errors = _Errors()
    logger = logging.getLogger("assistants_client")
    logger.addHandler(errors)
    try:
        with Emulator() as emu:
            yield emu, errors
    finally:
        logger.removeHandler(errors)


HEADER_LINES = st.one_of(
    st.sampled_from(
        [
            "Content-Type: application/json",
            "Content-Length: 2",
            "Content-Length: 0",
            "Content-Length: -1",
            "Content-Length: 99999999999999999999",
            "Content-Length: 1e3",
            "Transfer-Encoding: chunked",
            "Transfer-Encoding: gzip",
            "Expect: 100-continue",
            "Connection: close",
            "Authorization: Bearer x",
            "Idempotency-Key: k",
        ]
    ),
    st.text(max_size=40).filter(lambda t: "\r" not in t and "\n" not in t),
)
REQUESTS = st.one_of(
    st.binary(max_size=400),
    st.builds(
        lambda method, path, version, headers, body: (
            (
                f"{method} {path} {version}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
            ).encode("utf-8", "surrogatepass")
            + body
        ),
        st.sampled_from(["GET", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW", "G\u00e9T"]),
        st.one_of(
            st.sampled_from(["/v1/threads", "/v1/assistants", "/v1/threads/t/runs", "/", "*"]),
            st.text(max_size=60).map(lambda t: "/v1/" + t.replace(" ", "%20")),
        ),
        st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9", "FOO"]),
        st.lists(HEADER_LINES, max_size=8),
        st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())),
    ),
)


def exchange(emu: Emulator, request: bytes) -> bytes:
    with socket.create_connection((emu.host, emu.port), timeout=5) as sock:
        try:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # answered and closed while the request was still being sent
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


@FUZZ
@given(request=REQUESTS)
def test_the_emulator_answers_any_bytes_with_http_or_a_closed_connection(
    watched_emulator: tuple[Emulator, _Errors], request: bytes
) -> None:
    emu, errors = watched_emulator
    answer = exchange(emu, request)  # a hang fails here, on the socket's 5 s timeout
    if answer:
        assert answer.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), answer[:100]
        status = int(answer.split(b" ", 2)[1])
        assert 100 <= status < 600 and status != 500, answer[:300]
    assert not errors.records, [r.getMessage() for r in errors.records]


def test_the_emulator_still_answers_after_the_fuzzing(
    watched_emulator: tuple[Emulator, _Errors],
) -> None:
    emu, errors = watched_emulator
    with AssistantsClient(base_url=emu.base_url) as client:
        assert client.create_thread().object == "thread"
    assert not errors.records
