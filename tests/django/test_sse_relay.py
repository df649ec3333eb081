"""``AssistantStream.to_sse()``: what a page receives, and what closing it does upstream.

Against the emulator, a server that cuts or spoils a stream, and a raw socket server that holds
a stream open and reports when the client closes its connection.
"""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from assistants_client import AssistantsClient, InvalidArgumentError
from assistants_client.emulator import Emulator, Timing
from assistants_client.models import RunResponse
from tests import payloads
from tests.django.sse import COMMENT, parse_frames, text_of
from tests.servers.misbehaving import MisbehavingServer, event_stream, sse_bytes

API_KEY = "sk-relay-test-0123456789-DO-NOT-LEAK"
WAIT = 10.0  # seconds: a bound on a hang, not a speed claim


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(timing=Timing(stream_interval=0.01)) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[AssistantsClient]:
    with AssistantsClient(base_url=emulator.base_url, api_key=API_KEY) as made:
        yield made


def started_thread(client: AssistantsClient, text: str) -> tuple[str, str]:
    assistant = client.create_assistant("gpt-4o")
    thread = client.create_thread(messages=[{"role": "user", "content": text}])
    return thread.id, assistant.id


class HoldingServer:
    """Answers one streamed POST with the headers and whatever ``send`` is given, and records
    when the client closes its connection."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"
        self.client_closed = threading.Event()
        self._connection: socket.socket | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        self._connection = connection
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += connection.recv(65536)
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        self._ready.set()
        while True:
            try:
                if not connection.recv(65536):
                    break
            except OSError:
                break
        self.client_closed.set()

    def send(self, data: bytes) -> None:
        assert self._ready.wait(WAIT)
        assert self._connection is not None
        self._connection.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._listener.close()
        self._thread.join(WAIT)


@pytest.fixture
def holding() -> Iterator[HoldingServer]:
    server = HoldingServer()
    yield server
    server.close()


def in_thread(function: Any) -> Any:
    """``function()`` on another thread, within WAIT seconds (a hang fails the test)."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(function()), daemon=True)
    worker.start()
    worker.join(WAIT)
    assert result, f"{function} did not return within {WAIT} s"
    return result[0]


def test_the_opening_comment_goes_out_before_the_service_sends_anything(
    holding: HoldingServer,
) -> None:
    client = AssistantsClient(base_url=holding.base_url, api_key=API_KEY)
    relay = client.stream_run("thread_1", "asst_1").to_sse()

    first = in_thread(lambda: next(relay))

    assert first == b": stream open\n\n"
    relay.close()
    assert holding.client_closed.wait(WAIT)


def test_closing_a_relay_never_iterated_closes_the_connection_to_the_service(
    holding: HoldingServer,
) -> None:
    client = AssistantsClient(base_url=holding.base_url, api_key=API_KEY)
    relay = client.stream_run("thread_1", "asst_1").to_sse()
    holding.send(sse_bytes([("thread.run.created", payloads.run())], done=False))

    relay.close()

    assert holding.client_closed.wait(WAIT)
    assert list(relay) == []


def test_heartbeats_go_out_while_the_service_is_quiet(
    client: AssistantsClient, emulator: Emulator
) -> None:
    thread_id, assistant_id = started_thread(client, "hello after a pause")
    emulator.script.queue_delay(0.6)

    relay = client.stream_run(thread_id, assistant_id).to_sse(heartbeat=0.05)
    frames = parse_frames(relay)

    before_text = frames[: next(i for i, (name, _) in enumerate(frames) if name == "text")]
    pings = [data for name, data in before_text if name == COMMENT and data == "ping"]
    assert len(pings) >= 2
    assert text_of(frames) == "You said: hello after a pause"
    assert frames[-1] == (
        "done",
        {"status": "completed", "run_id": frames[-1][1]["run_id"], "thread_id": thread_id},
    )


def test_named_events_are_relayed_with_their_data(client: AssistantsClient) -> None:
    thread_id, assistant_id = started_thread(client, "name the events")
    stream = client.stream_run(thread_id, assistant_id)

    frames = parse_frames(stream.to_sse(events=["thread.run.created", "thread.run.completed"]))

    names = [name for name, _ in frames if name != COMMENT]
    assert names[0] == "thread.run.created"
    assert names[-2:] == ["thread.run.completed", "done"]
    created = dict(frames)["thread.run.created"]
    completed = dict(frames)["thread.run.completed"]
    assert created["id"] == completed["id"] == stream.final_run.id
    assert completed["status"] == "completed"
    assert "thread.message.delta" not in names


def test_a_stream_cut_midway_ends_with_an_error_event_without_secret_or_stack() -> None:
    data = sse_bytes(
        [
            ("thread.run.created", payloads.run()),
            (
                "thread.message.delta",
                {
                    "id": "msg_1",
                    "object": "thread.message.delta",
                    "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "Hel"}}]},
                },
            ),
        ],
        done=False,
    )
    with MisbehavingServer() as server:
        server.enqueue(event_stream(data, cut_at=len(data) - 5))
        client = AssistantsClient(base_url=server.base_url, api_key=API_KEY, max_retries=0)
        frames = parse_frames(client.stream_run("thread_1", "asst_1").to_sse())
        port = str(server.port)

    name, body = frames[-1]
    assert name == "error"
    assert body["error"]["type"] == "upstream_error"
    assert body["error"]["request_id"] == "req_1"
    text = repr(frames)
    for leak in (API_KEY, "Traceback", "127.0.0.1", port, "/threads/"):
        assert leak not in text


def test_an_error_event_from_the_service_reaches_the_page_without_its_message() -> None:
    data = sse_bytes(
        [
            ("thread.run.created", payloads.run()),
            (
                "error",
                {
                    "message": f"backend said: bad key {API_KEY}",
                    "type": "server_error",
                    "code": "server_error",
                },
            ),
        ],
        done=False,
    )
    with MisbehavingServer() as server:
        server.enqueue(event_stream(data))
        client = AssistantsClient(base_url=server.base_url, api_key=API_KEY, max_retries=0)
        frames = parse_frames(client.stream_run("thread_1", "asst_1").to_sse())

    name, body = frames[-1]
    assert name == "error"
    assert body["error"]["message"] == ("The assistant service failed to answer. Try again later.")
    assert API_KEY not in repr(frames)
    assert "backend said" not in repr(frames)


def test_closing_midway_calls_on_disconnect_once_with_the_run(client: AssistantsClient) -> None:
    thread_id, assistant_id = started_thread(client, "a long answer to leave " * 20)
    seen: list[RunResponse] = []
    relay = client.stream_run(thread_id, assistant_id).to_sse(on_disconnect=seen.append)
    for chunk in relay:
        if chunk.startswith(b"event: text"):
            break

    relay.close()
    relay.close()

    assert len(seen) == 1
    assert seen[0].thread_id == thread_id
    assert not seen[0].is_terminal
    assert list(relay) == []


def test_a_relay_closed_before_any_run_event_reads_on_to_the_run_for_on_disconnect(
    client: AssistantsClient,
) -> None:
    thread_id, assistant_id = started_thread(client, "closed at once")
    called = threading.Event()
    seen: list[RunResponse] = []

    def on_disconnect(run: RunResponse) -> None:
        seen.append(run)
        called.set()

    relay = client.stream_run(thread_id, assistant_id).to_sse(on_disconnect=on_disconnect)
    relay.close()

    assert called.wait(WAIT)
    assert [run.thread_id for run in seen] == [thread_id]


def test_closing_after_the_end_does_not_call_on_disconnect(client: AssistantsClient) -> None:
    thread_id, assistant_id = started_thread(client, "read to the end")
    seen: list[RunResponse] = []
    relay = client.stream_run(thread_id, assistant_id).to_sse(on_disconnect=seen.append)

    frames = parse_frames(relay)
    relay.close()

    assert frames[-1][0] == "done"
    assert seen == []


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"heartbeat": 0}, "heartbeat"),
        ({"heartbeat": -1.0}, "heartbeat"),
        ({"heartbeat": math.nan}, "heartbeat"),
        ({"heartbeat": True}, "heartbeat"),
        ({"events": "thread.run.created"}, "events"),
        ({"events": ["thread.run.created\ndata: x"]}, "events"),
        ({"events": [""]}, "events"),
        ({"on_disconnect": "cancel"}, "on_disconnect"),
    ],
)
def test_bad_arguments_are_refused_naming_the_parameter(
    client: AssistantsClient, arguments: dict[str, Any], param: str
) -> None:
    thread_id, assistant_id = started_thread(client, "bad arguments")
    with (
        client.stream_run(thread_id, assistant_id) as stream,
        pytest.raises(InvalidArgumentError) as caught,
    ):
        stream.to_sse(**arguments)

    assert caught.value.param == param
