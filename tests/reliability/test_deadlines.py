"""No peer can hold a call past its deadline, and a stream can be closed from any thread.

The servers trickle, ping or say nothing at all. Every bound asserted is the deadline plus one
second (the promise), to catch a hang, not to measure speed.

Scenarios:

1. A status line and headers trickled a byte every 0.3 s (each byte well within the 1 s read
   timeout): APITimeoutError at the read timeout, not when the trickle ends.
2. The same with retries and a total timeout of 2.5 s: the call, retries and waits included,
   ends within the total timeout plus a second; no retry starts that could not end in time.
3. A total timeout also bounds a body that drips within its read timeout.
4. A stream of ``: ping`` comments every 0.2 s and no event: APITimeoutError at ``stream_idle``,
   with the events read before it in ``partial``.
5. Events that never stop: APITimeoutError at ``stream_total``.
6. A silent stream with ``stream_idle``: APITimeoutError at ``stream_idle``, long before the
   read timeout.
7. Without those options a stream may last longer than the read timeout, as long as no gap does.
8. ``close()`` from another thread while the reader is blocked on a silent server: the reader
   raises StreamClosedError within a second, with the partial; ``close()`` raises nothing and
   the server sees the connection closed.
9. ``close()`` from another thread while the reader is busy between two events: the reader
   raises StreamClosedError at its next step, never ``ValueError`` nor ``AttributeError``.
10. ``close()`` from a handler callback in the reading thread: the iteration just ends.
11. Two threads reading one stream: the second gets AssistantsError, not a generator error.
12. The same as 8 with a ``session`` of your own (its pools are not the client's).
13. ``close()`` at 40 moments of a stream being read: the reader either reads it to the end or
    raises StreamClosedError; nothing else, ever.
14. The same watchdog, as the server uses it: a deadline watching an event (a run's cancel)
    cuts the socket once the event is set; one given a socket's descriptor (a database
    connection's) cuts it at its time, and leaves the descriptor open.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from assistants_client import (
    APITimeoutError,
    AssistantEventHandler,
    AssistantsClient,
    AssistantsError,
    RetryPolicy,
    StreamClosedError,
    StreamInterruptedError,
    Timeout,
)
from assistants_client._deadline import Deadline
from tests import payloads

from .conftest import API_KEY
from .rawserver import RawServer, chunk, head

SSE_HEAD = head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
SLACK = 1.0  # how far past its deadline a call may end


def sse(name: str, data: object) -> bytes:
    return chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())


def delta(text: str) -> dict[str, object]:
    return {
        "id": "msg_1",
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": {"value": text}}]},
    }


START = (
    sse("thread.run.created", payloads.run(status="queued"))
    + sse(
        "thread.message.created",
        payloads.message(status="in_progress", role="assistant", content=[], run_id="run_1"),
    )
    + sse("thread.message.delta", delta("hello "))
)


def trickle(text: bytes) -> Iterator[bytes]:
    for byte in text:
        yield bytes([byte])


def client_for(server: RawServer, timeout: Timeout, **kwargs: object) -> AssistantsClient:
    options: dict[str, object] = {"max_retries": 0, **kwargs}
    return AssistantsClient(API_KEY, base_url=server.base_url, timeout=timeout, **options)  # type: ignore[arg-type]


def elapsed_since(started: float) -> float:
    return time.monotonic() - started


# -- plain calls -----------------------------------------------------------------------------


def trickled_headers(server_ref: list[RawServer]) -> object:
    def handler(conn: socket.socket, request: bytes) -> None:
        endless_head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000
        server_ref[0].send_all(conn, trickle(endless_head), delay=0.3)

    return handler


def test_headers_trickled_a_byte_at_a_time_time_out_at_the_read_timeout() -> None:
    ref: list[RawServer] = []
    with RawServer(trickled_headers(ref)) as server:  # type: ignore[arg-type]
        ref.append(server)
        client = client_for(server, Timeout(connect=1, read=1))
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            client.get_thread("thread_1")
        assert elapsed_since(started) < 1 + SLACK
        assert "read timeout" in str(caught.value)
        client.close()


def test_a_total_timeout_bounds_every_attempt_and_retry_wait_of_a_call() -> None:
    ref: list[RawServer] = []
    with RawServer(trickled_headers(ref)) as server:  # type: ignore[arg-type]
        ref.append(server)
        client = client_for(
            server,
            Timeout(connect=1, read=1, total=2.5),
            max_retries=10,
            retry_policy=RetryPolicy(jitter=0),
        )
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.get_thread("thread_1")
        assert elapsed_since(started) < 2.5 + SLACK
        # Attempts at 0 s and 1.5 s (after a 0.5 s wait); a third would start after another
        # second's wait, at 3.5 s, past the total: it is not started.
        assert server.connections == 2
        client.close()


def test_a_total_timeout_per_call_bounds_a_dripping_body() -> None:
    body = json.dumps(payloads.thread()).encode()

    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        )
        server.send_all(conn, trickle(body), delay=0.2)

    with RawServer(handler) as server:
        client = client_for(server, Timeout(connect=1, read=30))
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            client.get_thread("thread_1", timeout=Timeout(connect=1, read=30, total=1.5))
        assert elapsed_since(started) < 1.5 + SLACK
        assert "total timeout" in str(caught.value)
        client.close()


# -- streams ---------------------------------------------------------------------------------


def test_a_stream_of_pings_without_events_times_out_at_stream_idle() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + START)
        server.send_all(conn, iter(lambda: chunk(b": ping\n\n"), None), delay=0.2)

    with RawServer(handler) as server:
        client = client_for(server, Timeout(connect=1, read=30, stream_idle=1))
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            client.stream_run("thread_1", "asst_1").until_done()
        assert elapsed_since(started) < 1 + SLACK
        assert "stream_idle" in str(caught.value)
        assert caught.value.partial.text == "hello "
        client.close()


def test_events_that_never_end_time_out_at_stream_total() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + START)
        server.send_all(conn, iter(lambda: sse("thread.message.delta", delta("more ")), None), 0.05)

    with RawServer(handler) as server:
        client = client_for(server, Timeout(connect=1, read=30, stream_idle=1, stream_total=1.5))
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            client.stream_run("thread_1", "asst_1").until_done()
        assert elapsed_since(started) < 1.5 + SLACK
        assert "stream_total" in str(caught.value)
        assert caught.value.partial.text.startswith("hello more more ")
        client.close()


def test_a_silent_stream_times_out_at_stream_idle_long_before_the_read_timeout() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + START)
        server.stopping.wait()

    with RawServer(handler) as server:
        client = client_for(server, Timeout(connect=1, read=60))
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.stream_run(
                "thread_1", "asst_1", timeout=Timeout(1, 60, stream_idle=0.5)
            ).until_done()
        assert elapsed_since(started) < 0.5 + SLACK
        client.close()


def test_a_stream_may_outlast_its_read_timeout_when_no_gap_does() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + START)
        server.send_all(conn, (sse("thread.message.delta", delta("x")) for _ in range(12)), 0.1)
        conn.sendall(chunk(b"event: done\ndata: [DONE]\n\n") + b"0\r\n\r\n")

    with RawServer(handler) as server:
        client = client_for(server, Timeout(connect=1, read=0.5))
        stream = client.stream_run("thread_1", "asst_1").until_done()
        assert stream.done
        assert stream.snapshot.text == "hello " + "x" * 12
        client.close()


# -- closing from another thread -------------------------------------------------------------


def silent_after_start(server_ref: list[RawServer], hung_up: threading.Event) -> object:
    """Sends the first events, then nothing; sets ``hung_up`` when the client closes."""

    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + START)
        conn.settimeout(0.05)
        while not server_ref[0].stopping.is_set():
            try:
                if conn.recv(1) == b"":
                    hung_up.set()
                    return
            except TimeoutError:
                continue

    return handler


def test_close_from_another_thread_wakes_a_reader_blocked_on_a_silent_server() -> None:
    ref: list[RawServer] = []
    hung_up = threading.Event()
    with RawServer(silent_after_start(ref, hung_up)) as server:  # type: ignore[arg-type]
        ref.append(server)
        client = client_for(server, Timeout(connect=1, read=60))
        stream = client.stream_run("thread_1", "asst_1")
        outcome: list[BaseException] = []
        ended = threading.Event()

        def read() -> None:
            try:
                stream.until_done()
            except BaseException as exc:
                outcome.append(exc)
            finally:
                ended.set()

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.3)  # the reader has read the first events and waits on the socket
        assert not ended.is_set()
        closed_at = time.monotonic()
        stream.close()  # raises nothing
        assert ended.wait(SLACK), "the reader stayed blocked"
        assert elapsed_since(closed_at) < SLACK
        reader.join()
        assert len(outcome) == 1 and isinstance(outcome[0], StreamClosedError)
        assert isinstance(outcome[0], StreamInterruptedError)
        assert outcome[0].partial.text == "hello "
        assert stream.ended and not stream.done
        assert hung_up.wait(SLACK), "the server did not see the connection close"
        client.close()


def test_close_from_another_thread_between_two_events_stops_the_reader_at_its_next_step() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + START)
        server.send_all(conn, iter(lambda: sse("thread.message.delta", delta("x")), None), 0.01)

    closer_done = threading.Event()
    errors: list[BaseException] = []

    class Slow(AssistantEventHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            if len(snapshot) > 20 and not closer_done.is_set():
                # Another thread closes the stream while this one is inside a callback.
                closer = threading.Thread(target=lambda: (stream.close(), closer_done.set()))
                closer.start()
                closer_done.wait(5)

    with RawServer(handler) as server:
        client = client_for(server, Timeout(connect=1, read=30))
        stream = client.stream_run("thread_1", "asst_1", event_handler=Slow())
        started = time.monotonic()
        try:
            stream.until_done()
        except BaseException as exc:
            errors.append(exc)
        assert elapsed_since(started) < 5
        assert closer_done.is_set()
        assert len(errors) == 1 and isinstance(errors[0], StreamClosedError), errors
        client.close()


def test_close_from_a_callback_of_the_reading_thread_just_ends_the_iteration() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + START)
        server.send_all(conn, iter(lambda: sse("thread.message.delta", delta("x")), None), 0.01)

    class Stopper(AssistantEventHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            if len(snapshot) > 10:
                stream.close()

    with RawServer(handler) as server:
        client = client_for(server, Timeout(connect=1, read=30))
        stream = client.stream_run("thread_1", "asst_1", event_handler=Stopper())
        seen = sum(1 for _ in stream)
        assert seen >= 5
        assert stream.ended and not stream.done
        assert list(stream) == []
        client.close()


def test_a_second_thread_reading_the_same_stream_gets_a_library_error() -> None:
    ref: list[RawServer] = []
    with RawServer(silent_after_start(ref, threading.Event())) as server:  # type: ignore[arg-type]
        ref.append(server)
        client = client_for(server, Timeout(connect=1, read=60))
        stream = client.stream_run("thread_1", "asst_1")
        outcome: list[BaseException] = []

        def read() -> None:
            try:
                stream.until_done()
            except BaseException as exc:
                outcome.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.3)
        with pytest.raises(AssistantsError) as caught:
            next(iter(stream))
        assert not isinstance(caught.value, StreamClosedError)
        assert "another thread" in str(caught.value)
        stream.close()
        reader.join(5)
        assert not reader.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], StreamClosedError)
        client.close()


def test_close_wakes_a_blocked_reader_also_with_a_session_of_your_own() -> None:
    ref: list[RawServer] = []
    with (
        RawServer(silent_after_start(ref, threading.Event())) as server,  # type: ignore[arg-type]
        requests.Session() as session,
    ):
        ref.append(server)
        client = client_for(server, Timeout(connect=1, read=60), session=session)
        stream = client.stream_run("thread_1", "asst_1")
        outcome: list[BaseException] = []

        def read() -> None:
            try:
                stream.until_done()
            except BaseException as exc:
                outcome.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.3)
        closed_at = time.monotonic()
        stream.close()
        reader.join(SLACK)
        assert not reader.is_alive(), "the reader stayed blocked"
        assert elapsed_since(closed_at) < SLACK
        assert isinstance(outcome[0], StreamClosedError)
        client.close()


def test_close_at_any_moment_gives_the_reader_the_whole_stream_or_stream_closed_error() -> None:
    def handler(conn: socket.socket, request: bytes) -> None:
        conn.sendall(SSE_HEAD + START)
        pieces = (
            b"".join(sse("thread.message.delta", delta("x")) for _ in range(10)) for _ in range(30)
        )
        server.send_all(conn, pieces, delay=0.002)  # some 60 ms in all
        conn.sendall(chunk(b"event: done\ndata: [DONE]\n\n") + b"0\r\n\r\n")

    with RawServer(handler) as server:
        client = client_for(server, Timeout(connect=1, read=10))
        outcomes: set[str] = set()
        for attempt in range(40):
            stream = client.stream_run("thread_1", "asst_1")
            outcome: list[BaseException] = []

            def read(stream: Any = stream, outcome: list[BaseException] = outcome) -> None:
                try:
                    stream.until_done()
                except BaseException as exc:
                    outcome.append(exc)

            reader = threading.Thread(target=read)
            reader.start()
            time.sleep(attempt * 0.002)  # from before the first event to after the last
            stream.close()
            reader.join(5)
            assert not reader.is_alive()
            if outcome:
                assert isinstance(outcome[0], StreamClosedError), repr(outcome[0])
                outcomes.add("closed")
            else:
                assert stream.done
                outcomes.add("done")
        assert "closed" in outcomes  # (and "done" when the close came after the end)
        client.close()


# -- the one watchdog, for the server's backend calls and its database's statements ----------------


def blocked_reader(sock: socket.socket) -> tuple[threading.Thread, list[bytes]]:
    """A thread blocked reading ``sock``; what its read returned (once it returned)."""
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(sock.recv(10)), daemon=True)
    thread.start()
    return thread, got


def test_a_deadline_watching_an_event_cuts_its_socket_within_a_second_of_the_event() -> None:
    ours, peer = socket.socketpair()
    with ours, peer:
        deadline = Deadline()
        deadline.bind_socket(ours)
        cancelled = threading.Event()
        deadline.watch(cancelled)
        reader, got = blocked_reader(ours)
        time.sleep(0.2)
        assert reader.is_alive() and not deadline.fired

        started = time.monotonic()
        cancelled.set()
        reader.join(SLACK)

        assert got == [b""] and deadline.fired
        assert elapsed_since(started) < SLACK
        deadline.disarm()


def test_a_deadline_cuts_a_socket_given_by_its_descriptor_and_leaves_it_open() -> None:
    ours, peer = socket.socketpair()
    with ours, peer:
        deadline = Deadline()
        deadline.bind_socket(ours.fileno())  # as a database driver's connection gives it
        reader, got = blocked_reader(ours)
        deadline.arm(time.monotonic() + 0.3)
        reader.join(0.3 + SLACK)

        assert got == [b""] and deadline.fired
        assert ours.fileno() != -1  # shut down, not closed: it is still its owner's to close
