"""A peer cannot make the client hold more than it allows: bodies, gzip bombs, huge events.

Each attack runs against a real loopback server. Where memory is the point, the client runs in
a fresh interpreter (``isolated.run_isolated``) that reports its peak resident memory; the
bounds are generous (what the attack grew it by before the limits: 1.3 to 1.5 GB).

Scenarios:

1. A JSON body that never ends (chunked, no length): ResponseTooLargeError at the default
   64 MiB, memory grows by less than 160 MB.
2. A declared Content-Length over the limit: refused before the body is read.
3. The limit set per client and per call.
4. A gzip bomb (1 MB on the wire, 1 GiB inflated): ResponseTooLargeError on the inflated size.
5. An error answer (a 500) whose body never ends: the status error, its body cut short.
6. A 200 MB event line without a newline: ResponseTooLargeError at the default 16 MiB, fast,
   memory grows by less than 100 MB; the events before it are kept in ``partial``.
7. ``max_event_bytes`` per client and per call.
8. Linear reading: an 8 MiB event in 1 KiB pieces, 4 MiB of comment lines inside one event,
   and an event of 100,000 ``data`` lines are all read whole, in a few seconds at most.
"""

from __future__ import annotations

import json
import socket
import time
import zlib
from collections.abc import Iterator

import pytest

from assistants_client import (
    APIResponseValidationError,
    AssistantsClient,
    InternalServerError,
    ResponseTooLargeError,
    Timeout,
)
from assistants_client._streaming import parse_event_stream
from tests import payloads

from .conftest import API_KEY
from .isolated import run_isolated
from .rawserver import RawServer, chunk, head

MiB = 1 << 20
SSE_HEAD = head(
    200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked", "x-request-id": "r"}
)


def endless(piece: bytes) -> Iterator[bytes]:
    while True:
        yield piece


def sse(name: str, data: object) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def delta(text: str) -> dict[str, object]:
    return {
        "id": "msg_1",
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": {"value": text}}]},
    }


STREAM_START = [
    sse("thread.run.created", payloads.run(status="queued")),
    sse(
        "thread.message.created",
        payloads.message(status="in_progress", role="assistant", content=[], run_id="run_1"),
    ),
    sse("thread.message.delta", delta("kept ")),
]


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """1 GiB of zeros, gzipped: about 1 MB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    parts = [compressor.compress(zeros) for _ in range(1024)]
    parts.append(compressor.flush())
    return b"".join(parts)


CALL_GET_THREAD = """
from assistants_client import AssistantsClient
client = AssistantsClient("sk-test", base_url=ARGS[0], max_retries=0, timeout=20)
client.get_thread("thread_1")
"""

STREAM_RUN = """
from assistants_client import AssistantsClient
client = AssistantsClient("sk-test", base_url=ARGS[0], max_retries=0, timeout=20)
try:
    with client.stream_run("thread_1", "asst_1") as stream:
        for _ in stream:
            pass
except Exception as exc:
    out["partial_text"] = exc.partial.text if getattr(exc, "partial", None) else None
    raise
"""


def assert_raised(result: dict[str, object], cls: type[BaseException]) -> None:
    assert result["error"] == cls.__name__, result


# -- plain bodies ----------------------------------------------------------------------------


def test_an_endless_json_body_stops_at_64_mib_without_growing_memory() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        )
        conn.sendall(chunk(b'{"id": "thread_1", "metadata": {"a": "'))
        server.send_all(conn, endless(chunk(b"x" * 65536)))

    with RawServer(handler) as server:
        result = run_isolated(CALL_GET_THREAD, server.base_url)
    assert_raised(result, ResponseTooLargeError)
    assert "64" in str(result["message"]) or str(64 * MiB) in str(result["message"])
    assert result["peak_mb"] - result["base_mb"] < 160, result  # type: ignore[operator]
    assert result["seconds"] < 20, result  # type: ignore[operator]


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read() -> None:
    sent: list[int] = []

    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            head(200, {"Content-Type": "application/json", "Content-Length": "2000000000"})
        )
        try:
            server.send_all(conn, endless(b"x" * 65536))
        finally:
            sent.append(1)

    with RawServer(handler) as server:
        client = AssistantsClient(API_KEY, base_url=server.base_url, max_retries=0, timeout=5)
        started = time.monotonic()
        with pytest.raises(ResponseTooLargeError) as caught:
            client.get_thread("thread_1")
        assert time.monotonic() - started < 5
        assert caught.value.limit == 64 * MiB
        assert "2000000000" in str(caught.value)
        client.close()


@pytest.mark.parametrize("where", ["client", "call"])
def test_the_body_limit_is_set_per_client_and_per_call(where: str) -> None:
    body = json.dumps({**payloads.thread(), "metadata": {"a": "x" * 300_000}}).encode()

    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        )
        conn.sendall(chunk(body) + b"0\r\n\r\n")

    with RawServer(handler) as server:
        per_client = {"max_response_bytes": 100_000} if where == "client" else {}
        per_call = {"max_response_bytes": 100_000} if where == "call" else {}
        with AssistantsClient(API_KEY, base_url=server.base_url, **per_client) as client:  # type: ignore[arg-type]
            with pytest.raises(ResponseTooLargeError) as caught:
                client.get_thread("thread_1", **per_call)  # type: ignore[arg-type]
            assert caught.value.limit == 100_000
            assert caught.value.status_code == 200
            # The same answer fits the default limit.
            if where == "call":
                assert client.get_thread("thread_1").id == payloads.thread()["id"]


def test_a_gzip_bomb_is_cut_off_at_the_limit_on_its_inflated_size(gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < 2 * MiB

    def handler(conn: socket.socket, request: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(gzip_bomb)),
        }
        conn.sendall(head(200, headers) + gzip_bomb)

    with RawServer(handler) as server:
        result = run_isolated(CALL_GET_THREAD, server.base_url)
    assert_raised(result, ResponseTooLargeError)
    assert result["peak_mb"] - result["base_mb"] < 160, result  # type: ignore[operator]
    assert result["seconds"] < 20, result  # type: ignore[operator]


def test_an_error_answer_with_an_endless_body_raises_the_status_error_with_the_start_of_it() -> (
    None
):
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            head(500, {"Content-Type": "text/html", "Transfer-Encoding": "chunked"}, "Oops")
        )
        server.send_all(conn, endless(chunk(b"<p>" + b"x" * 65533)))

    with RawServer(handler) as server:
        client = AssistantsClient(API_KEY, base_url=server.base_url, max_retries=0, timeout=10)
        started = time.monotonic()
        with pytest.raises(InternalServerError) as caught:
            client.get_thread("thread_1")
        assert time.monotonic() - started < 10
        assert caught.value.status_code == 500
        assert caught.value.body is not None and caught.value.body.startswith("<p>x")
        client.close()


# -- events ----------------------------------------------------------------------------------


def test_a_200_mb_event_line_is_cut_off_at_16_mib_quickly_and_without_growing_memory() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + b"".join(chunk(event) for event in STREAM_START))
        conn.sendall(chunk(b"event: thread.message.delta\ndata: "))
        piece = chunk(b"x" * 65536)
        server.send_all(conn, (piece for _ in range(200 * 16)))  # 200 MiB, no newline

    with RawServer(handler) as server:
        result = run_isolated(STREAM_RUN, server.base_url)
    assert_raised(result, ResponseTooLargeError)
    assert "APIResponseValidationError" in result["mro"]  # type: ignore[operator]
    assert result["partial_text"] == "kept "
    assert result["peak_mb"] - result["base_mb"] < 100, result  # type: ignore[operator]
    assert result["seconds"] < 20, result  # type: ignore[operator]


@pytest.mark.parametrize("where", ["client", "call"])
def test_the_event_limit_is_set_per_client_and_per_call(where: str) -> None:
    big = sse("thread.message.delta", delta("y" * 200_000))

    def handler(conn: socket.socket, request: bytes) -> None:
        events = [*STREAM_START, big, b"event: done\ndata: [DONE]\n\n"]
        conn.sendall(SSE_HEAD + b"".join(chunk(e) for e in events) + b"0\r\n\r\n")

    with RawServer(handler) as server:
        per_client = {"max_event_bytes": 100_000} if where == "client" else {}
        per_call = {"max_event_bytes": 100_000} if where == "call" else {}
        with AssistantsClient(API_KEY, base_url=server.base_url, **per_client) as client:  # type: ignore[arg-type]
            with pytest.raises(ResponseTooLargeError) as caught:
                client.stream_run("thread_1", "asst_1", **per_call).until_done()  # type: ignore[arg-type]
            assert caught.value.limit == 100_000
            assert caught.value.partial.text == "kept "
            if where == "call":  # the default limit takes it
                stream = client.stream_run("thread_1", "asst_1").until_done()
                assert stream.snapshot.text == "kept " + "y" * 200_000


def timed_read(chunks: list[bytes]) -> tuple[float, str]:
    started = time.monotonic()
    stream = parse_event_stream(iter(chunks)).until_done()
    return time.monotonic() - started, stream.snapshot.text


def test_an_8_mib_event_in_1_kib_pieces_is_read_in_linear_time() -> None:
    event = sse("thread.message.delta", delta("z" * (8 * MiB)))
    pieces = [event[i : i + 1024] for i in range(0, len(event), 1024)]
    seconds, text = timed_read([*STREAM_START, *pieces, b"event: done\ndata: [DONE]\n\n"])
    assert text == "kept " + "z" * (8 * MiB)
    assert seconds < 5  # a quadratic join of 8,192 pieces copies some 32 GB


def test_comment_lines_inside_an_event_are_dropped_as_they_come() -> None:
    pings = b": ping\n" * (4 * MiB // 7)
    event = b"event: thread.message.delta\n" + pings + b"data: " + json.dumps(delta("!")).encode()
    pieces = [event[i : i + 4096] for i in range(0, len(event), 4096)] + [b"\n\n"]
    seconds, text = timed_read([*STREAM_START, *pieces, b"event: done\ndata: [DONE]\n\n"])
    assert text == "kept !"
    assert seconds < 5  # 600,000 lines joined one by one: minutes


def test_an_event_of_100_000_data_lines_is_read_whole_in_linear_time() -> None:
    parts = [{"index": 0, "type": "text", "text": {"value": "a"}}] * 100_000
    lines = [
        '{"id": "msg_1", "object": "thread.message.delta", "delta": {"content": [',
        *(json.dumps(part) + "," for part in parts[:-1]),
        json.dumps(parts[-1]),
        "]}}",
    ]
    event = (
        "event: thread.message.delta\n" + "".join(f"data: {x}\n" for x in lines) + "\n"
    ).encode()
    seconds, text = timed_read([*STREAM_START, event, b"event: done\ndata: [DONE]\n\n"])
    assert text == "kept " + "a" * 100_000
    assert seconds < 10


def test_a_stream_limit_does_not_cut_a_stream_that_sends_many_small_events() -> None:
    events = [sse("thread.message.delta", delta("w" * 1000)) for _ in range(2000)]
    stream = parse_event_stream(
        iter([*STREAM_START, *events, b"event: done\ndata: [DONE]\n\n"]), max_event_bytes=4096
    ).until_done()
    assert stream.done
    assert len(stream.snapshot.text) == len("kept ") + 2_000_000


def test_invalid_utf8_in_an_event_is_a_validation_error() -> None:
    stream = parse_event_stream(iter([*STREAM_START, b"event: x\ndata: \xff\xfe\n\n"]))
    with pytest.raises(APIResponseValidationError) as caught:
        stream.until_done()
    assert caught.value.partial.text == "kept "


def test_a_tiny_limit_is_refused_when_the_client_is_built() -> None:
    from assistants_client import InvalidArgumentError

    for name in ("max_response_bytes", "max_event_bytes"):
        with pytest.raises(InvalidArgumentError) as caught:
            AssistantsClient(API_KEY, base_url="http://127.0.0.1:9/v1", **{name: 10})  # type: ignore[arg-type]
        assert caught.value.param == name


def test_the_default_timeout_is_unchanged() -> None:
    assert AssistantsClient(API_KEY, base_url="http://127.0.0.1:9/v1").timeout == Timeout(
        5.0, 600.0
    )
