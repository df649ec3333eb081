"""``AsyncAssistantStream.to_sse()``: what a page receives under ASGI, and what leaving does.

The page receives what the sync relay sends (test_sse_relay.py). A page that goes away is a
cancelled task (what an ASGI server does on ``http.disconnect``) or ``aclose()``: the stream
is closed and ``on_disconnect`` called once, and awaited, with the run.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from assistants_client import AsyncAssistantsClient, AsyncSSERelay, InvalidArgumentError
from assistants_client.emulator import Emulator, Timing
from assistants_client.models import RunResponse
from tests import payloads
from tests.django.sse import COMMENT, parse_frames, text_of
from tests.django.test_sse_relay import HoldingServer
from tests.servers.misbehaving import MisbehavingServer, event_stream, sse_bytes
from tests.support.aio import run

API_KEY = "sk-async-relay-test-0123456789-DO-NOT-LEAK"
WAIT = 10.0  # seconds: a bound on a hang, not a speed claim


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(timing=Timing(stream_interval=0.01)) as emu:
        yield emu


@pytest.fixture
def holding() -> Iterator[HoldingServer]:
    server = HoldingServer()
    yield server
    server.close()


async def started(client: AsyncAssistantsClient, text: str) -> tuple[str, str]:
    assistant = await client.create_assistant("gpt-4o")
    thread = await client.create_thread(messages=[{"role": "user", "content": text}])
    return thread.id, assistant.id


async def read_all(relay: AsyncSSERelay) -> list[tuple[str, Any]]:
    return parse_frames([chunk async for chunk in relay])


def test_the_opening_comment_goes_out_before_the_service_sends_anything(
    holding: HoldingServer,
) -> None:
    async def scenario() -> bytes:
        async with AsyncAssistantsClient(base_url=holding.base_url, api_key=API_KEY) as client:
            relay = client.stream_run("thread_1", "asst_1").to_sse()
            first = await anext(relay)
            await asyncio.sleep(0.05)  # the service said nothing yet
            await relay.aclose()
            assert [chunk async for chunk in relay] == []
            return first

    assert run(scenario()) == b": stream open\n\n"
    assert holding.client_closed.wait(WAIT)


def test_heartbeats_go_out_while_the_service_is_quiet_then_text_and_done(
    emulator: Emulator,
) -> None:
    emulator.script.queue_delay(0.6)

    async def scenario() -> tuple[list[tuple[str, Any]], str]:
        async with AsyncAssistantsClient(base_url=emulator.base_url) as client:
            thread_id, assistant_id = await started(client, "hello after a pause")
            relay = client.stream_run(thread_id, assistant_id).to_sse(heartbeat=0.05)
            return await read_all(relay), thread_id

    frames, thread_id = run(scenario())
    first_text = next(i for i, (name, _) in enumerate(frames) if name == "text")
    pings = [data for name, data in frames[:first_text] if name == COMMENT and data == "ping"]
    assert len(pings) >= 2
    assert text_of(frames) == "You said: hello after a pause"
    assert frames[-1][0] == "done"
    assert frames[-1][1]["status"] == "completed" and frames[-1][1]["thread_id"] == thread_id


def test_named_events_are_relayed_with_their_data(emulator: Emulator) -> None:
    async def scenario() -> list[tuple[str, Any]]:
        async with AsyncAssistantsClient(base_url=emulator.base_url) as client:
            thread_id, assistant_id = await started(client, "name the events")
            stream = client.stream_run(thread_id, assistant_id)
            return await read_all(stream.to_sse(events=["thread.run.completed"]))

    frames = run(scenario())
    names = [name for name, _ in frames if name != COMMENT]
    assert names[-2:] == ["thread.run.completed", "done"]
    assert dict(frames)["thread.run.completed"]["status"] == "completed"


def test_a_stream_cut_midway_ends_with_an_error_event_without_secret_or_stack() -> None:
    data = sse_bytes([("thread.run.created", payloads.run())], done=False)

    async def scenario(url: str) -> list[tuple[str, Any]]:
        async with AsyncAssistantsClient(base_url=url, api_key=API_KEY, max_retries=0) as client:
            return await read_all(client.stream_run("thread_1", "asst_1").to_sse())

    with MisbehavingServer() as server:
        server.enqueue(event_stream(data, cut_at=len(data) - 5))
        frames = run(scenario(server.base_url))
    name, body = frames[-1]
    assert name == "error" and body["error"]["type"] == "upstream_error"
    assert body["error"]["request_id"] == "req_1"
    for leak in (API_KEY, "Traceback", "127.0.0.1", "/threads/"):
        assert leak not in repr(frames)


def test_a_page_that_leaves_midway_cancels_the_run_through_an_awaited_on_disconnect(
    emulator: Emulator,
) -> None:
    async def scenario() -> tuple[list[RunResponse], str]:
        async with AsyncAssistantsClient(base_url=emulator.base_url) as client:
            thread_id, assistant_id = await started(client, "a long answer to leave " * 20)
            seen: list[RunResponse] = []

            async def on_disconnect(run: RunResponse) -> None:
                seen.append(run)
                await client.cancel_run(run.thread_id, run.id)

            relay = client.stream_run(thread_id, assistant_id).to_sse(on_disconnect=on_disconnect)

            async def send_to_page() -> None:
                async for chunk in relay:
                    if chunk.startswith(b"event: text"):
                        await asyncio.sleep(30)  # the page goes away meanwhile

            sending = asyncio.create_task(send_to_page())
            await asyncio.sleep(0.3)
            sending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sending
            await relay.aclose()  # a second close does nothing more
            final = await client.wait_for_run(thread_id, seen[0].id, poll_interval=0.02)
            return seen, final.status

    seen, status = run(scenario())
    assert len(seen) == 1 and not seen[0].is_terminal
    assert status == "cancelled"


def test_a_relay_closed_before_any_run_event_reads_on_to_the_run_for_on_disconnect(
    emulator: Emulator,
) -> None:
    async def scenario() -> tuple[list[str], str]:
        async with AsyncAssistantsClient(base_url=emulator.base_url) as client:
            thread_id, assistant_id = await started(client, "closed at once")
            called = asyncio.Event()
            seen: list[str] = []

            def on_disconnect(run: RunResponse) -> None:
                seen.append(run.thread_id)
                called.set()

            relay = client.stream_run(thread_id, assistant_id).to_sse(on_disconnect=on_disconnect)
            await anext(relay)
            await relay.aclose()
            await asyncio.wait_for(called.wait(), WAIT)
            return seen, thread_id

    seen, thread_id = run(scenario())
    assert seen == [thread_id]


def test_closing_after_the_end_does_not_call_on_disconnect(emulator: Emulator) -> None:
    async def scenario() -> tuple[list[tuple[str, Any]], list[RunResponse]]:
        async with AsyncAssistantsClient(base_url=emulator.base_url) as client:
            thread_id, assistant_id = await started(client, "read to the end")
            seen: list[RunResponse] = []
            relay = client.stream_run(thread_id, assistant_id).to_sse(on_disconnect=seen.append)
            frames = await read_all(relay)
            await relay.aclose()
            relay.close()
            return frames, seen

    frames, seen = run(scenario())
    assert frames[-1][0] == "done"
    assert seen == []


def test_close_from_another_thread_closes_the_connection_on_the_loop(
    holding: HoldingServer,
) -> None:
    async def scenario() -> None:
        async with AsyncAssistantsClient(base_url=holding.base_url, api_key=API_KEY) as client:
            relay = client.stream_run("thread_1", "asst_1").to_sse()
            await anext(relay)
            created = sse_bytes([("thread.run.created", payloads.run())], done=False)
            await asyncio.to_thread(holding.send, created)
            await asyncio.sleep(0.1)
            closer = threading.Thread(target=relay.close)  # as a server's closing hook may
            closer.start()
            closer.join(WAIT)
            for _ in range(100):
                if relay.closed:
                    break
                await asyncio.sleep(0.01)
            assert relay.closed

    run(scenario())
    assert holding.client_closed.wait(WAIT)


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"heartbeat": 0}, "heartbeat"),
        ({"heartbeat": math.nan}, "heartbeat"),
        ({"events": "thread.run.created"}, "events"),
        ({"events": [""]}, "events"),
        ({"on_disconnect": "cancel"}, "on_disconnect"),
    ],
)
def test_bad_arguments_are_refused_naming_the_parameter(
    arguments: dict[str, Any], param: str
) -> None:
    client = AsyncAssistantsClient(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(InvalidArgumentError) as caught:
        client.stream_run("thread_1", "asst_1").to_sse(**arguments)
    assert caught.value.param == param
