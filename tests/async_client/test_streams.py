"""Streamed runs through the async client: the sync stream's guarantees, on the event loop.

On the emulator: typed events, the text, ``final_*`` once ended, handler callbacks in the
loop's thread with snapshots as of each event, ``async def`` callbacks awaited. On small
servers that send exactly what a test needs: events handed over in batches, a bounded buffer
under a slow consumer, the sync stream's error classes, ``close()`` from another task.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from assistants_client import (
    AssistantEventHandler,
    AssistantsClient,
    AssistantsError,
    AsyncAssistantsClient,
    AsyncAssistantStream,
    InvalidArgumentError,
    StreamClosedError,
    StreamError,
    StreamInterruptedError,
)
from assistants_client import _async_streaming as async_streaming
from assistants_client.emulator import Emulator
from assistants_client.models import AssistantStreamEvent, ThreadMessageDeltaEvent
from tests.async_client.support import API_KEY, blocked_client_threads, eventually
from tests.servers.misbehaving import MisbehavingServer, event_stream
from tests.streaming import recorded
from tests.support.aio import run


async def new_thread(client: AsyncAssistantsClient, text: str) -> tuple[str, str]:
    assistant = await client.create_assistant("gpt-4o")
    thread = await client.create_thread(messages=[{"role": "user", "content": text}])
    return thread.id, assistant.id


def test_async_for_yields_typed_events_and_final_results_once_ended(
    base_url: str, emulator: Emulator
) -> None:
    emulator.script.queue_text("The quick brown fox jumps", chunks=5)

    async def scenario() -> None:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            thread_id, assistant_id = await new_thread(client, "hello")
            stream = client.stream_run(thread_id, assistant_id)
            assert not stream.opened and stream.status_code is None  # nothing sent yet
            with pytest.raises(AssistantsError, match="once the stream has ended"):
                _ = stream.final_run
            async with stream:
                assert stream.opened and stream.status_code == 200 and stream.request_id
                events = [event async for event in stream]
            assert all(isinstance(e, AssistantStreamEvent.__args__) for e in events)  # type: ignore[attr-defined]
            assert stream.done and stream.ended
            assert stream.final_run.status == "completed"
            stored = (await client.list_messages(thread_id, run_id=stream.final_run.id)).data[0]
            assert stored.text == stream.final_messages[0].text == "The quick brown fox jumps"
            assert stream.final_run_steps[0].type == "message_creation"
            assert stream.events_seen == len(events)

    run(scenario())


def test_text_deltas_is_an_async_iterator_of_the_pieces(base_url: str, emulator: Emulator) -> None:
    emulator.script.queue_text("one two three four five six", chunks=6)

    async def scenario() -> list[str]:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            thread_id, assistant_id = await new_thread(client, "hi")
            async with client.stream_run(thread_id, assistant_id) as stream:
                pieces = stream.text_deltas()
                assert hasattr(pieces, "__anext__")
                return [piece async for piece in pieces]

    pieces = run(scenario())
    assert len(pieces) == 6 and "".join(pieces) == "one two three four five six"


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.snapshots: list[tuple[str, str]] = []
        self.ended = 0

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.threads.add(threading.get_ident())
        self.snapshots.append((delta, snapshot))

    def on_end(self) -> None:
        self.ended += 1


def test_the_handlers_callbacks_run_on_the_loop_with_the_snapshot_as_of_each_event(
    base_url: str, emulator: Emulator
) -> None:
    emulator.script.queue_text("a b c d e f g h i j k l", chunks=12)
    handler = Recorder()

    async def scenario() -> int:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            thread_id, assistant_id = await new_thread(client, "x")
            async with client.stream_run(thread_id, assistant_id, event_handler=handler) as s:
                await s.until_done()
            return threading.get_ident()

    loop_thread = run(scenario())
    assert handler.threads == {loop_thread}
    so_far = ""
    for delta, snapshot in handler.snapshots:
        so_far += delta
        assert snapshot == so_far  # never ahead of the event it comes with
    assert so_far == "a b c d e f g h i j k l" and handler.ended == 1


def test_an_async_on_event_callback_is_awaited_on_the_loop_for_every_event_in_order(
    base_url: str,
) -> None:
    seen: list[str] = []
    threads: set[int] = set()

    async def on_event(event: AssistantStreamEvent) -> None:
        await asyncio.sleep(0)
        threads.add(threading.get_ident())
        seen.append(event.event)

    async def scenario() -> int:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            thread_id, assistant_id = await new_thread(client, "x")
            finished = await client.create_run(thread_id, assistant_id, on_event=on_event)
            assert finished.status == "completed"
            return threading.get_ident()

    loop_thread = run(scenario())
    assert threads == {loop_thread}
    assert seen[0] == "thread.run.created" and seen[-1] == "thread.run.completed"
    assert "thread.message.delta" in seen


def test_the_sync_client_refuses_async_callables_before_any_request(
    base_url: str, emulator: Emulator
) -> None:
    async def on_event(event: Any) -> None:
        pass

    async def get_weather(city: str) -> str:
        return city

    with AssistantsClient(API_KEY, base_url=base_url) as client:
        before = emulator.request_count
        with pytest.raises(InvalidArgumentError, match="AsyncAssistantsClient"):
            client.create_run("thread_1", "asst_1", on_event=on_event)
        with pytest.raises(InvalidArgumentError, match="AsyncAssistantsClient"):
            client.run_with_tools("thread_1", "asst_1", {"get_weather": get_weather})
        assert emulator.request_count == before


# -- on servers that send exactly what the test needs ------------------------------------------


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as scripted:
        yield scripted


def many_deltas(count: int) -> bytes:
    return recorded.encode(recorded.text_run_events([f"w{i} " for i in range(count)]))


def test_a_fast_stream_is_handed_to_the_loop_in_batches_not_one_hop_per_event(
    server: MisbehavingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.enqueue(event_stream(many_deltas(3000)))
    wakes = 0
    wake = async_streaming._wake

    def counting(waiter: asyncio.Future[None]) -> None:
        nonlocal wakes
        wakes += 1
        wake(waiter)

    monkeypatch.setattr(async_streaming, "_wake", counting)

    async def scenario() -> int:
        async with (
            AsyncAssistantsClient(API_KEY, base_url=server.base_url) as client,
            client.stream_run("thread_1", "asst_1") as stream,
        ):
            return len([e async for e in stream if isinstance(e, ThreadMessageDeltaEvent)])

    assert run(scenario()) == 3000
    assert wakes < 300, f"{wakes} wake-ups of the loop for 3000 events"


def test_a_slow_consumer_holds_the_reader_back_within_the_buffers_bound(
    server: MisbehavingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(async_streaming, "MAX_PENDING_EVENTS", 8)
    server.enqueue(event_stream(many_deltas(400)))
    largest = 0

    async def scenario() -> int:
        nonlocal largest
        count = 0
        async with (
            AsyncAssistantsClient(API_KEY, base_url=server.base_url) as client,
            client.stream_run("thread_1", "asst_1") as stream,
        ):
            async for _ in stream:
                count += 1
                reader = stream._reader
                assert reader is not None
                largest = max(largest, len(reader._items))
                assert len(stream._batch) <= 8  # the batch being handed out, at most as many
                await asyncio.sleep(0.0005)
        return count

    assert run(scenario()) > 400
    assert 0 < largest <= 8 + 1  # the bound, and the end marker the reader always hands over


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            event_stream(recorded.encode(recorded.text_run_events(["a", "b"]), done=False)),
            StreamInterruptedError,
        ),
        (
            event_stream(
                recorded.encode(
                    [("error", {"message": "boom", "type": "server_error", "code": "x"})]
                )
            ),
            StreamError,
        ),
    ],
    ids=["cut-before-done", "error-event"],
)
def test_stream_failures_raise_the_sync_streams_error_classes(
    server: MisbehavingServer, reply: Any, error: type[Exception]
) -> None:
    server.enqueue(reply)

    async def scenario() -> AsyncAssistantStream:
        async with AsyncAssistantsClient(API_KEY, base_url=server.base_url) as client:
            stream = client.stream_run("thread_1", "asst_1")
            with pytest.raises(error) as caught:
                async with stream:
                    await stream.until_done()
            assert caught.value.partial is stream.snapshot  # type: ignore[attr-defined]
            return stream

    stream = run(scenario())
    assert stream.ended and not stream.done


def test_close_from_another_task_ends_the_readers_wait_with_stream_closed_error(
    server: MisbehavingServer,
) -> None:
    data = many_deltas(50)
    server.enqueue(event_stream(data, piece_size=200, piece_delay=0.05))

    async def scenario() -> int:
        async with AsyncAssistantsClient(API_KEY, base_url=server.base_url) as client:
            stream = client.stream_run("thread_1", "asst_1")
            seen = 0

            async def read() -> None:
                nonlocal seen
                async with stream:
                    async for _ in stream:
                        seen += 1

            reader = asyncio.create_task(read())
            while seen < 3:
                await asyncio.sleep(0.01)
            await stream.close()
            with pytest.raises(StreamClosedError):
                await reader
            assert stream.ended and not stream.done
            assert [e async for e in stream] == []  # iterating a closed stream just ends
            return seen

    assert run(scenario()) < 100


def test_a_stream_is_read_by_one_task_at_a_time(server: MisbehavingServer) -> None:
    server.enqueue(event_stream(many_deltas(20), piece_size=100, piece_delay=0.05))

    async def scenario() -> None:
        async with (
            AsyncAssistantsClient(API_KEY, base_url=server.base_url) as client,
            client.stream_run("thread_1", "asst_1") as stream,
        ):
            first = asyncio.create_task(anext(stream))
            await asyncio.sleep(0)
            with pytest.raises(AssistantsError, match="another task"):
                await anext(stream)
            await first

    run(scenario())


def test_an_async_callback_that_raises_ends_the_stream_with_its_error(base_url: str) -> None:
    async def on_event(event: AssistantStreamEvent) -> None:
        if event.event == "thread.message.delta":
            raise LookupError("the page is gone")

    async def scenario() -> None:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            thread_id, assistant_id = await new_thread(client, "x")
            with pytest.raises(LookupError, match="the page is gone"):
                await client.create_run(thread_id, assistant_id, on_event=on_event)
            assert eventually(lambda: not blocked_client_threads(), within=0.5)

    run(scenario())
