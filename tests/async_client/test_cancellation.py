"""Cancelling a task that uses the async client ends it at once and leaves nothing behind.

Whatever the task is doing (reading a stream, waiting for an answer that does not come, waiting
between two polls or before a retry), it ends within a second of ``cancel()``, and then no thread
of the client is left blocked on a socket: the tests look at every thread's stack. Waits are
``asyncio.sleep``: each client here has a retry policy whose blocking ``sleep`` fails the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from assistants_client import AsyncAssistantsClient, RetryPolicy
from assistants_client.emulator import Emulator, Timing
from tests import payloads
from tests.async_client.support import API_KEY, blocked_client_threads, eventually
from tests.servers.misbehaving import MisbehavingServer, status
from tests.servers.scripted import Reply
from tests.support.aio import run

CANCEL_WITHIN = 1.0  # seconds, the promise


def no_blocking_sleep(seconds: float) -> None:
    raise AssertionError(f"a blocking sleep of {seconds} s in the async client")


POLICY = RetryPolicy(sleep=no_blocking_sleep, random=lambda: 0.0)


def client_for(base_url: str, **options: Any) -> AsyncAssistantsClient:
    return AsyncAssistantsClient(API_KEY, base_url=base_url, retry_policy=POLICY, **options)


async def cancel_after(started: asyncio.Event, work: Coroutine[Any, Any, Any]) -> float:
    """Start ``work``, cancel it once ``started`` is set; seconds from cancel() to its end."""
    task = asyncio.create_task(work)
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    assert not task.done(), task
    waiting.cancel()
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.monotonic() - cancelled_at


def assert_nothing_left_behind() -> None:
    """No thread is inside an HTTP attempt or reading a stream: each went back to its pool."""
    assert eventually(lambda: not blocked_client_threads(), within=0.5), blocked_client_threads()


@pytest.fixture
def slow_emulator() -> Iterator[Emulator]:
    """An emulator whose answers stream a piece every 20 ms."""
    with Emulator(api_key=API_KEY, timing=Timing(stream_interval=0.02)) as emu:
        yield emu


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as scripted:
        yield scripted


def test_a_cancelled_streaming_task_ends_within_a_second_and_leaves_no_thread(
    slow_emulator: Emulator,
) -> None:
    slow_emulator.script.queue_text("word " * 300, chunks=300)

    async def scenario() -> tuple[float, int]:
        async with client_for(slow_emulator.base_url) as client:
            assistant = await client.create_assistant("gpt-4o")
            thread = await client.create_thread(messages=[{"role": "user", "content": "go"}])
            started = asyncio.Event()
            seen = 0

            async def read() -> None:
                nonlocal seen
                async with client.stream_run(thread.id, assistant.id) as stream:
                    async for _ in stream:
                        seen += 1
                        if seen == 5:
                            started.set()

            took = await cancel_after(started, read())
            assert_nothing_left_behind()
            # The client goes on: the connection went back to the pool or was replaced.
            assert (await client.get_thread(thread.id)).id == thread.id
            return took, seen

    took, seen = run(scenario())
    assert took < CANCEL_WITHIN
    assert seen < 300


def test_a_cancelled_text_deltas_consumer_ends_and_leaves_no_thread(
    slow_emulator: Emulator,
) -> None:
    slow_emulator.script.queue_text("word " * 300, chunks=300)

    async def scenario() -> float:
        async with client_for(slow_emulator.base_url) as client:
            assistant = await client.create_assistant("gpt-4o")
            thread = await client.create_thread(messages=[{"role": "user", "content": "go"}])
            started = asyncio.Event()

            async def read() -> None:
                stream = client.stream_run(thread.id, assistant.id)
                async for _ in stream.text_deltas():  # no `async with`: cancelling still closes
                    started.set()

            took = await cancel_after(started, read())
            assert_nothing_left_behind()
            return took

    assert run(scenario()) < CANCEL_WITHIN


@pytest.mark.parametrize("method", ["get_thread", "stream_run"])
def test_a_call_waiting_for_a_stalled_server_is_cancelled_at_once(
    server: MisbehavingServer, method: str
) -> None:
    server.enqueue(Reply(delay=30.0))

    async def scenario() -> float:
        async with client_for(server.base_url, max_retries=0) as client:
            started = asyncio.Event()

            async def call() -> None:
                asyncio.get_running_loop().call_later(0.2, started.set)
                if method == "stream_run":
                    async with client.stream_run("thread_1", "asst_1"):
                        pass
                else:
                    await client.get_thread("thread_1")

            took = await cancel_after(started, call())
            assert_nothing_left_behind()
            return took

    assert run(scenario()) < CANCEL_WITHIN


def test_asyncio_timeouts_work_around_a_call(server: MisbehavingServer) -> None:
    server.enqueue(Reply(delay=30.0))

    async def scenario() -> None:
        async with client_for(server.base_url, max_retries=0) as client:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.get_thread("thread_1"), 0.2)
            assert_nothing_left_behind()

    run(scenario())


def test_polling_waits_on_the_loop_and_a_cancelled_poll_ends_at_once(
    server: MisbehavingServer,
) -> None:
    server.enqueue(Reply.json(payloads.run(status="in_progress")))
    ticks = 0

    async def scenario() -> float:
        nonlocal ticks
        async with client_for(server.base_url) as client:
            started = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1
                    if ticks == 20:
                        started.set()

            ticking = asyncio.create_task(ticker())
            poll = client.wait_for_run("thread_1", "run_1", timeout=60, poll_interval=30)
            took = await cancel_after(started, poll)
            ticking.cancel()
            assert server.request_count == 1  # one poll, then the wait that was cancelled
            assert_nothing_left_behind()
            return took

    assert run(scenario()) < CANCEL_WITHIN
    assert ticks >= 20  # the loop went on while the poll waited


def test_retries_wait_on_the_loop_and_a_cancelled_retry_wait_ends_at_once(
    server: MisbehavingServer,
) -> None:
    server.enqueue(
        status(503, "busy", headers={"retry-after-ms": "50"}),
        Reply.json(payloads.thread()),
        status(503, "busy", headers={"retry-after": "30"}),
    )

    async def scenario() -> float:
        async with client_for(server.base_url, max_retries=2) as client:
            assert (await client.get_thread("thread_1")).id  # retried after 50 ms
            assert server.request_count == 2
            started = asyncio.Event()
            asyncio.get_running_loop().call_later(0.3, started.set)
            took = await cancel_after(started, client.get_thread("thread_1"))
            assert server.request_count == 3  # cancelled in its 30 s wait, not retried
            assert_nothing_left_behind()
            return took

    assert run(scenario()) < CANCEL_WITHIN
