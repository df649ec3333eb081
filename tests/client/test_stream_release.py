"""A stream left early gives its connection back: after a `break` in a `with` block at once, and
when it is dropped unclosed as soon as it is garbage, without a ResourceWarning. What the stream
holds then (and after an error) is what docs/client.md says.

The server is a loopback socket server whose event stream never ends by itself, so only the
client can end a connection, and the server counts the connections the client closed.
"""

from __future__ import annotations

import gc
import itertools
import json
import select
import socket
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from assistants_client import (
    APIError,
    AssistantsClient,
    AssistantsError,
    StreamError,
    StreamInterruptedError,
)
from tests import payloads
from tests.reliability.rawserver import chunk, read_request

DEADLINE = 10.0  # seconds to wait for the server to notice a close that should already be done


def sse(name: str, data: dict[str, Any]) -> bytes:
    return chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())


def text_delta(text: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": {"value": text}}]},
    }


def events() -> Iterator[bytes]:
    yield sse("thread.run.created", payloads.run(status="queued"))
    yield sse("thread.run.in_progress", payloads.run(status="in_progress"))
    yield sse(
        "thread.message.created",
        payloads.message(status="in_progress", role="assistant", content=[], run_id="run_1"),
    )
    for n in itertools.count():
        yield sse("thread.message.delta", text_delta(f"word{n} "))


class EndlessStreamServer:
    """Answers every request with an event stream that never ends (a run, a message, then a text
    delta every few milliseconds), until the client closes the connection or, with
    ``cut_after``, after that many events (then sending an ``error`` event first, with
    ``error_event``). Counts the connections the client closed."""

    def __init__(self, cut_after: int | None = None, *, error_event: bool = False) -> None:
        self.cut_after = cut_after
        self.error_event = error_event
        self.accepted = 0
        self.closed_by_client = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> EndlessStreamServer:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(DEADLINE)
        self._listener.close()

    def wait_closed_by_client(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.closed_by_client >= count, DEADLINE)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._changed:
                self.accepted += 1
            self._spawn(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            if read_request(connection) is None:
                return self._client_closed()
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\nx-request-id: req_endless\r\n\r\n"
            )
            for sent, event in enumerate(events()):
                if self._stopping.is_set():
                    return None
                if sent == self.cut_after:
                    if self.error_event:
                        error = {
                            "type": "server_error",
                            "message": "the model went away",
                            "code": None,
                        }
                        connection.sendall(sse("error", error))
                    return None
                try:
                    connection.sendall(event)
                    readable, _, _ = select.select([connection], [], [], 0.005)
                    # The client sends nothing more: readable means it closed (or reset).
                    if readable and not connection.recv(1):
                        return self._client_closed()
                except OSError:
                    return self._client_closed()
        return None

    def _client_closed(self) -> None:
        with self._changed:
            self.closed_by_client += 1
            self._changed.notify_all()


@pytest.fixture
def server() -> Iterator[EndlessStreamServer]:
    with EndlessStreamServer() as endless:
        yield endless


@pytest.fixture
def client(server: EndlessStreamServer) -> Iterator[AssistantsClient]:
    with AssistantsClient("sk-release", base_url=server.base_url, max_retries=0) as made:
        yield made


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Warnings as errors; what a finalizer raised (a ResourceWarning, say) is collected here.

    Whatever earlier tests left for the collector is collected first, so that it is not blamed
    on this test."""
    gc.collect()
    raised: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", raised.append)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield raised
        gc.collect()


def describe(raised: list[Any]) -> list[str]:
    return [f"{type(item.exc_value).__name__}: {item.exc_value}" for item in raised]


def test_the_check_sees_a_socket_dropped_unclosed(
    server: EndlessStreamServer, unraisable: list[Any]
) -> None:
    # The checks below would notice a leak: a socket dropped unclosed warns, then closes.
    leaked = socket.create_connection(("127.0.0.1", server.port))
    del leaked
    gc.collect()
    assert any(isinstance(item.exc_value, ResourceWarning) for item in unraisable)
    assert server.wait_closed_by_client(1)
    unraisable.clear()


def test_breaking_out_of_a_with_block_closes_the_connection_at_once(
    client: AssistantsClient, server: EndlessStreamServer, unraisable: list[Any]
) -> None:
    gc.disable()  # the close must come from leaving the block, not from the collector
    try:
        with client.stream_run("thread_1", "asst_1") as stream:
            for event in stream:
                if event.event == "thread.message.delta":
                    break
        assert server.wait_closed_by_client(1)
    finally:
        gc.enable()
    assert server.accepted == 1
    assert not stream.done and stream.ended
    # As docs/client.md says: the run of the last run event read, the message so far.
    assert stream.final_run.status == "in_progress"
    (message,) = stream.final_messages
    assert message.text == "word0 "
    assert list(stream) == []  # a closed stream ends at once
    assert describe(unraisable) == []


def test_a_stream_dropped_after_a_break_closes_its_connection_without_a_warning(
    client: AssistantsClient, server: EndlessStreamServer, unraisable: list[Any]
) -> None:
    stream = client.stream_run("thread_1", "asst_1")
    for event in stream:
        if event.event == "thread.message.delta":
            break
    del stream, event
    gc.collect()
    assert server.wait_closed_by_client(1)
    assert describe(unraisable) == []


def test_a_stream_dropped_before_any_read_closes_its_connection_without_a_warning(
    client: AssistantsClient, server: EndlessStreamServer, unraisable: list[Any]
) -> None:
    stream = client.stream_run("thread_1", "asst_1")
    del stream
    gc.collect()
    assert server.wait_closed_by_client(1)
    assert describe(unraisable) == []


def test_text_deltas_left_after_the_first_piece_close_the_connection_without_a_warning(
    client: AssistantsClient, server: EndlessStreamServer, unraisable: list[Any]
) -> None:
    first = next(client.stream_run("thread_1", "asst_1").text_deltas())
    gc.collect()
    assert first == "word0 "
    assert server.wait_closed_by_client(1)
    assert describe(unraisable) == []


def test_many_streams_left_early_leave_no_connection_open(
    client: AssistantsClient, server: EndlessStreamServer, unraisable: list[Any]
) -> None:
    for _ in range(10):
        stream = client.stream_run("thread_1", "asst_1")
        next(iter(stream))
        del stream
    gc.collect()
    assert server.wait_closed_by_client(10)
    assert server.accepted == 10
    assert describe(unraisable) == []


def test_final_run_is_refused_while_the_stream_is_open(
    client: AssistantsClient, server: EndlessStreamServer
) -> None:
    with client.stream_run("thread_1", "asst_1") as stream:
        next(iter(stream))
        for read in ("final_run", "final_messages", "final_run_steps"):
            with pytest.raises(AssistantsError, match=f"{read} is read once the stream has ended"):
                getattr(stream, read)
    assert stream.final_run.status == "queued"


@pytest.mark.parametrize(
    ("error_event", "error"),
    [(False, StreamInterruptedError), (True, StreamError)],
    ids=["connection-cut", "error-event"],
)
def test_after_an_error_final_run_holds_the_last_run_event_and_the_error_the_partial(
    unraisable: list[Any], error_event: bool, error: type[APIError]
) -> None:
    with (
        EndlessStreamServer(cut_after=5, error_event=error_event) as cutting,
        AssistantsClient(base_url=cutting.base_url, max_retries=0) as client,
        pytest.raises(error) as caught,
        client.stream_run("thread_1", "asst_1") as stream,
    ):
        stream.until_done()
    assert not stream.done and stream.ended
    assert stream.final_run.status == "in_progress"
    assert [m.text for m in stream.final_messages] == ["word0 word1 "]
    assert caught.value.partial is stream.snapshot
    assert describe(unraisable) == []
