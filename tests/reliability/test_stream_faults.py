"""What every kind of misbehaving server does to a streamed run.

The server answers ``POST /v1/threads/{id}/runs`` with ``text/event-stream`` over chunked
framing, one HTTP chunk per piece, so each test decides where the client's reads are split.
Each test states how many attempts reach the server and the waits between them (the client's
sleep is replaced; no jitter), the typed error with its status and request id, what the error
keeps of the stream in ``.partial`` (a StreamSnapshot: ``.text``, ``.run``, ``.messages``),
and that the stream ends within a generous bound of its read timeout.

A stream that has started is never sent again (the run exists on the server): only failures
before the first byte of the event stream are retried.

Scenarios (24), numbered after the 33 of ``test_faults.py`` (57 in all):

34. A whole stream: every event, the text, the completed run; one attempt.
35. 503, then the stream: 2 attempts with one Idempotency-Key, one 0.5 s wait.
36. 429 with ``retry-after-ms: 200``, then the stream: one 0.2 s wait.
37. 500 every time: InternalServerError(500, ``req_3``) before any event, after 3 attempts.
38. A reset before the headers every time: APIConnectionError after 3 attempts.
39. A stall before the headers every time: APITimeoutError, 3 attempts, ~3 read timeouts.
40. Cut (FIN) in the middle of an event: StreamInterruptedError; ``.partial`` has the text of
    the deltas before the cut, the run in progress and the message.
41. Cut between two events, before ``done``: StreamInterruptedError with the whole text and
    the completed run: a stream never ends as if it were complete.
42. Reset (RST) in the middle of an event: StreamInterruptedError with ``.partial``.
43. A stall mid-stream past the read timeout: APITimeoutError with ``.partial``, at ~0.5 s.
44. Every byte in its own chunk: the same events and text.
45. Events far apart, each gap within the read timeout, the whole longer than it: complete
    (a read timeout bounds silence, not the length of a stream).
46. Malformed JSON in an event: APIResponseValidationError with ``.partial``.
47. Unknown event names among the known ones: passed on as UnknownAssistantStreamEvent.
48. CR-only line endings, split between the two CRs of a boundary: complete.
49. CRLF line endings, split inside ``\\r\\n\\r\\n``: complete.
50. Multi-byte characters (2, 3 and 4 bytes) split at every inner byte: the exact text.
51. A 10 MB event: its text arrives whole, within the time bound.
52. A 10 MB event cut in its middle: StreamInterruptedError; the text before it is kept.
53. An ``error`` event mid-stream: StreamError with the server's message and code, and
    ``.partial``.
54. An HTML page with 502 instead of the stream: InternalServerError(502) after 3 attempts.
55. A 400 JSON error instead of the stream: BadRequestError at once, 1 attempt.
56. A 200 that is not an event stream (an HTML page; a JSON run from a server that ignored
    ``stream: true``): APIResponseValidationError naming the content type.
57. Text deltas without ``annotations`` (optional in the spec) cut short: ``.partial`` still
    gives the messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from assistants_client import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    StreamError,
    StreamInterruptedError,
)
from assistants_client._client import AssistantsClient
from assistants_client._streaming import AssistantStream
from assistants_client.models import UnknownAssistantStreamEvent
from tests.servers.misbehaving import MisbehavingServer, event_stream, html, status
from tests.servers.scripted import Reply
from tests.streaming.recorded import MESSAGE_ID, encode, sse, text_run_events

PIECES = ["Grüße", " à", " tous", " ☃", " 日本語", " 😀!"]
TEXT = "".join(PIECES)


def api_events(pieces: list[str]) -> list[tuple[str, Any]]:
    """A text run as the API streams it: every text delta carries ``annotations: []``."""
    events = text_run_events(pieces, annotate=False)
    for name, data in events:
        if name == "thread.message.delta":
            data["delta"]["content"][0]["text"]["annotations"] = []
    return events


EVENTS = api_events(PIECES)
DATA = encode(EVENTS)
RUNS_PATH = r"/v1/threads/[^/]+/runs"
BACKOFF = [0.5, 1.0]


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.2f}s, bound {seconds}s"


def event_pieces(data: bytes) -> list[bytes]:
    """One piece per event (each ends with its blank line)."""
    separator = b"\n\n"
    parts = data.split(separator)
    return [part + separator for part in parts if part]


def offset_of(data: bytes, name: str, nth: int = 0) -> int:
    """Where the ``nth`` event called ``name`` starts."""
    marker = f"event: {name}\n".encode()
    at = -1
    for _ in range(nth + 1):
        at = data.index(marker, at + 1)
    return at


def read(client: AssistantsClient, **options: Any) -> AssistantStream:
    with client.stream_run("thread_1", "asst_1", **options) as stream:
        stream.until_done()
    return stream


def failure(client: AssistantsClient, error: type[Exception], **options: Any) -> Any:
    """The error raised while opening or reading a stream."""
    with (
        pytest.raises(error) as caught,
        client.stream_run("thread_1", "asst_1", **options) as stream,
    ):
        stream.until_done()
    return caught.value


def serve(server: MisbehavingServer, *replies: Reply) -> None:
    server.enqueue(*replies)


def assert_complete(stream: AssistantStream, text: str = TEXT) -> None:
    assert stream.done
    assert stream.final_run is not None
    assert stream.final_run.status == "completed"
    assert stream.snapshot.text == text
    assert stream.final_messages[0].text == text


# -- whole streams and retries before the first event ------------------------------------------


def test_a_whole_stream_gives_every_event_the_text_and_the_completed_run(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    serve(server, event_stream(DATA, pieces=event_pieces(DATA)))
    with bounded(2):
        stream = read(client)
    assert_complete(stream)
    assert stream.events_seen == len(EVENTS)
    assert stream.request_id == "req_1"
    assert server.request_count == 1
    assert server.requests[0].path == "/v1/threads/thread_1/runs"
    assert server.requests[0].json()["stream"] is True
    assert sleeps == []


def test_a_503_before_the_stream_is_retried_with_the_same_idempotency_key(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    serve(server, status(503), event_stream(DATA))
    assert_complete(read(client))
    first, second = server.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert sleeps == [0.5]


def test_a_429_with_retry_after_ms_before_the_stream_waits_that_long(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    serve(server, status(429, headers={"retry-after-ms": "200"}), event_stream(DATA))
    assert_complete(read(client))
    assert server.request_count == 2
    assert sleeps == [0.2]


def test_500_every_time_raises_before_any_event(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: status(500, "run failed to start")
    with bounded(2):
        error = failure(client, InternalServerError)
    assert error.status_code == 500
    assert error.request_id == "req_3"
    assert server.request_count == 3
    assert sleeps == BACKOFF


def test_a_reset_before_the_headers_every_time_raises_a_connection_error(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: Reply(reset="before_headers")
    with bounded(2):
        error = failure(client, APIConnectionError)
    assert not isinstance(error, APITimeoutError)
    assert server.request_count == 3
    assert sleeps == BACKOFF


def test_a_stall_before_the_headers_times_out_on_every_attempt(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: Reply(
        headers={"Content-Type": "text/event-stream"}, body=DATA, delay=30
    )
    with bounded(3.5):
        failure(client, APITimeoutError)
    assert server.request_count == 3
    assert sleeps == BACKOFF


# -- streams cut short ------------------------------------------------------------------------


def test_a_stream_cut_inside_an_event_keeps_what_came_before(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    cut = offset_of(DATA, "thread.message.delta", nth=2) + 30
    serve(server, event_stream(DATA, pieces=event_pieces(DATA), cut_at=cut))
    with bounded(2):
        error = failure(client, StreamInterruptedError)
    partial = error.partial
    assert partial.text == "".join(PIECES[:2])
    assert partial.run.status == "in_progress"
    assert [m.id for m in partial.messages] == [MESSAGE_ID]
    assert partial.messages[0].text == "".join(PIECES[:2])
    assert error.status_code == 200
    assert error.request_id == "req_1"
    assert server.request_count == 1  # a started stream is not sent again
    assert sleeps == []


def test_a_stream_cut_between_events_before_done_is_not_taken_as_complete(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    cut = offset_of(DATA, "done")
    serve(server, event_stream(DATA, pieces=event_pieces(DATA), cut_at=cut))
    error = failure(client, StreamInterruptedError)
    assert error.partial.text == TEXT
    assert error.partial.run.status == "completed"
    assert server.request_count == 1


def test_a_stream_reset_inside_an_event_keeps_what_came_before(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    cut = offset_of(DATA, "thread.message.delta", nth=4) + 5
    serve(server, event_stream(DATA, pieces=event_pieces(DATA), cut_at=cut, abort="reset"))
    with bounded(2):
        error = failure(client, StreamInterruptedError)
    assert error.partial.text == "".join(PIECES[:4])
    assert error.request_id == "req_1"
    assert server.request_count == 1


def test_a_stream_that_stalls_mid_way_times_out_and_keeps_what_came_before(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    at = offset_of(DATA, "thread.message.delta", nth=3)
    serve(server, event_stream(DATA, pieces=[DATA[:at], DATA[at:]], piece_delay=30))
    with bounded(1.5):
        error = failure(client, APITimeoutError)
    assert error.partial.text == "".join(PIECES[:3])
    assert error.request_id == "req_1"
    assert server.request_count == 1


# -- slow, odd and huge streams ---------------------------------------------------------------


def test_a_stream_sent_one_byte_per_chunk_gives_the_same_events(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    serve(server, event_stream(DATA, piece_size=1))
    with bounded(10):
        stream = read(client)
    assert_complete(stream)
    assert stream.events_seen == len(EVENTS)


def test_a_stream_longer_than_the_read_timeout_completes_when_no_gap_exceeds_it(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    pieces = event_pieces(DATA)
    serve(server, event_stream(DATA, pieces=pieces, piece_delay=0.1))
    started = time.monotonic()
    stream = read(client)  # read timeout 0.5 s
    assert time.monotonic() - started > 0.1 * (len(pieces) - 1) > 0.5
    assert_complete(stream)


def test_malformed_json_in_an_event_is_a_validation_error_that_keeps_the_partial(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    at = offset_of(DATA, "thread.message.delta", nth=1)
    broken = DATA[:at] + sse("thread.message.delta", '{"id": "msg_rec", "delta": {').encode()
    serve(server, event_stream(broken + DATA[at:], pieces=event_pieces(broken + DATA[at:])))
    error = failure(client, APIResponseValidationError)
    assert "not JSON" in str(error)
    assert error.partial.text == PIECES[0]
    assert error.request_id == "req_1"


def test_unknown_event_names_are_passed_on_and_the_stream_completes(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    at = offset_of(DATA, "thread.message.delta", nth=2)
    extra = (
        sse("thread.run.reticulating", {"splines": 3}) + sse("vendor.ping", {"seq": 1})
    ).encode()
    data = DATA[:at] + extra + DATA[at:]
    serve(server, event_stream(data, pieces=event_pieces(data)))
    with client.stream_run("thread_1", "asst_1") as stream:
        events = list(stream)
    unknown = [e for e in events if isinstance(e, UnknownAssistantStreamEvent)]
    assert [e.event for e in unknown] == ["thread.run.reticulating", "vendor.ping"]
    assert unknown[0].raw["data"] == {"splines": 3}
    assert_complete(stream)


def test_cr_only_line_endings_split_between_the_two_crs_are_read(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    data = encode(EVENTS, newline="\r")
    boundary = data.index(b"\r\r") + 1
    serve(server, event_stream(data, pieces=[data[:boundary], data[boundary:]]))
    assert_complete(read(client))


def test_crlf_line_endings_split_inside_the_blank_line_are_read(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    data = encode(EVENTS, newline="\r\n")
    cuts = [data.index(b"\r\n\r\n", 100) + k for k in (1, 2, 3)]
    pieces = [data[: cuts[0]], data[cuts[0] : cuts[1]], data[cuts[1] : cuts[2]], data[cuts[2] :]]
    serve(server, event_stream(data, pieces=pieces))
    assert_complete(read(client))


@pytest.mark.parametrize("character", ["ü", "☃", "日", "😀"])
def test_a_multibyte_character_split_at_every_inner_byte_is_reassembled(
    client: AssistantsClient, server: MisbehavingServer, character: str
) -> None:
    encoded = character.encode()
    start = DATA.index(encoded)
    for inner in range(1, len(encoded)):
        cut = start + inner
        serve(server, event_stream(DATA, pieces=[DATA[:cut], DATA[cut:]]))
        assert_complete(read(client))
    assert server.request_count == len(encoded) - 1


def big_event_stream(size: int) -> tuple[bytes, str]:
    """A run whose second delta carries ``size`` characters of text."""
    big = ("0123456789abcdef" * (size // 16 + 1))[:size]
    pieces = ["start ", big, " end"]
    return encode(api_events(pieces)), "".join(pieces)


def test_a_ten_megabyte_event_arrives_whole(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    data, text = big_event_stream(10 * 1024 * 1024)
    serve(server, event_stream(data, piece_size=64 * 1024))
    with bounded(20):
        stream = read(client, timeout=5)
    assert_complete(stream, text)
    assert len(stream.snapshot.text) > 10 * 1024 * 1024


def test_a_ten_megabyte_event_cut_in_its_middle_keeps_the_text_before_it(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    data, _ = big_event_stream(10 * 1024 * 1024)
    cut = offset_of(data, "thread.message.delta", nth=1) + 5 * 1024 * 1024
    serve(server, event_stream(data, piece_size=64 * 1024, cut_at=cut))
    with bounded(20):
        error = failure(client, StreamInterruptedError, timeout=5)
    assert error.partial.text == "start "


def test_an_error_event_mid_stream_raises_stream_error_with_the_partial(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    at = offset_of(DATA, "thread.message.delta", nth=3)
    error_event = sse(
        "error",
        {
            "message": "The server had an error.",
            "type": "server_error",
            "param": None,
            "code": "boom",
        },
    ).encode()
    data = DATA[:at] + error_event
    serve(server, event_stream(data, pieces=event_pieces(data)))
    error = failure(client, StreamError)
    assert error.message == "The server had an error."
    assert error.code == "boom"
    assert error.partial.text == "".join(PIECES[:3])
    assert error.request_id == "req_1"


# -- something other than a stream ------------------------------------------------------------


def test_an_html_502_instead_of_the_stream_is_retried_then_raised(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: html(502)
    error = failure(client, InternalServerError)
    assert error.status_code == 502
    assert error.request_id == "req_3"
    assert "Bad Gateway" in error.body
    assert sleeps == BACKOFF


def test_a_400_instead_of_the_stream_is_raised_at_once(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    serve(server, status(400, "stream is not supported here", type="invalid_request_error"))
    error = failure(client, BadRequestError)
    assert error.message.endswith("stream is not supported here")
    assert error.request_id == "req_1"
    assert server.request_count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "reply",
    [html(200, "Maintenance"), Reply.json({"id": "run_1", "object": "thread.run"})],
    ids=["html", "json"],
)
def test_a_200_that_is_not_an_event_stream_is_a_validation_error(
    client: AssistantsClient, server: MisbehavingServer, reply: Reply
) -> None:
    serve(server, reply)
    error = failure(client, APIResponseValidationError)
    assert "text/event-stream" in str(error)
    assert error.status_code == 200
    assert error.request_id == "req_1"
    assert server.request_count == 1


def test_text_deltas_without_annotations_still_give_the_partial_messages(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    data = encode(text_run_events(PIECES, annotate=False))
    cut = offset_of(data, "thread.message.delta", nth=2) + 30
    serve(server, event_stream(data, pieces=event_pieces(data), cut_at=cut))
    error = failure(client, StreamInterruptedError)
    assert error.partial.text == "".join(PIECES[:2])
    assert error.partial.messages[0].text == "".join(PIECES[:2])
