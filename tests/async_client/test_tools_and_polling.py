"""Tool loops and polling through the async client, on the emulator.

``async def`` tool functions are awaited on the loop, plain ones run on a worker thread; the
tool-error policies and their errors are the sync client's; polling waits on the loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from assistants_client import (
    APITimeoutError,
    AssistantsClient,
    AsyncAssistantsClient,
    InvalidArgumentError,
    RetryPolicy,
    RunFailedError,
    ToolCallError,
)
from assistants_client._plan import Plan
from assistants_client._response import decode_json
from assistants_client._runs import Waiting, check_wait, poll_plan
from assistants_client.emulator import Emulator
from tests.async_client.support import API_KEY
from tests.payloads import WEATHER_TOOL
from tests.servers.misbehaving import MisbehavingServer
from tests.servers.scripted import Reply
from tests.support.aio import run


def no_blocking_sleep(seconds: float) -> None:
    raise AssertionError(f"a blocking sleep of {seconds} s in the async client")


def client_for(base_url: str) -> AsyncAssistantsClient:
    policy = RetryPolicy(sleep=no_blocking_sleep)
    return AsyncAssistantsClient(API_KEY, base_url=base_url, retry_policy=policy)


async def weather_thread(client: AsyncAssistantsClient, text: str) -> tuple[str, str]:
    assistant = await client.create_assistant("gpt-4o", tools=[WEATHER_TOOL])
    thread = await client.create_thread(messages=[{"role": "user", "content": text}])
    return thread.id, assistant.id


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "polling"])
@pytest.mark.parametrize("kind", ["async def", "plain"])
def test_run_with_tools_calls_async_functions_on_the_loop_and_plain_ones_on_a_thread(
    base_url: str, stream: bool, kind: str
) -> None:
    called_on: list[int] = []

    def plain(city: str) -> dict[str, Any]:
        called_on.append(threading.get_ident())
        return {"city": city, "celsius": 21}

    async def awaited(city: str) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return plain(city)

    async def scenario() -> tuple[str, str, int]:
        async with client_for(base_url) as client:
            thread_id, assistant_id = await weather_thread(client, "Weather please: get_weather")
            function = awaited if kind == "async def" else plain
            finished = await client.run_with_tools(
                thread_id, assistant_id, {"get_weather": function}, stream=stream
            )
            answer = (await client.list_messages(thread_id, run_id=finished.id)).data[0].text
            return finished.status, answer, threading.get_ident()

    status, answer, loop_thread = run(scenario())
    assert status == "completed" and '"celsius":21' in answer
    assert len(called_on) == 1
    assert (called_on[0] == loop_thread) == (kind == "async def")


def test_an_async_tool_that_raises_is_reported_or_raises_tool_call_error_and_cancels(
    base_url: str,
) -> None:
    async def broken(city: str) -> str:
        raise RuntimeError("weather service down")

    async def scenario() -> tuple[str, ToolCallError, str]:
        async with client_for(base_url) as client:
            thread_id, assistant_id = await weather_thread(client, "call get_weather")
            reported = await client.run_with_tools(thread_id, assistant_id, {"get_weather": broken})
            await client.create_message(thread_id, "user", "call get_weather again")
            with pytest.raises(ToolCallError, match="down") as caught:
                await client.run_with_tools(
                    thread_id, assistant_id, {"get_weather": broken}, on_tool_error="raise"
                )
            cancelled = await client.get_run(thread_id, caught.value.run_id)
            return reported.status, caught.value, cancelled.status

    reported, error, cancelled = run(scenario())
    assert reported == "completed"
    assert isinstance(error.__cause__, RuntimeError) and error.reason == "function_raised"
    assert cancelled == "cancelled"


def test_run_and_get_reply_reads_the_reply_when_polling_too(base_url: str) -> None:
    async def scenario() -> list[str]:
        async with client_for(base_url) as client:
            thread_id, assistant_id = await weather_thread(client, "hello")
            streamed = await client.run_and_get_reply(thread_id, assistant_id)
            await client.create_message(thread_id, "user", "hello again")
            polled = await client.run_and_get_reply(thread_id, assistant_id, stream=False)
            return [streamed.text, polled.text]

    assert run(scenario()) == ["You said: hello", "You said: hello again"]


def test_run_and_get_reply_raises_run_failed_error_for_a_failed_run_unless_check_is_false(
    base_url: str, emulator: Emulator
) -> None:
    async def scenario() -> tuple[RunFailedError, str]:
        async with client_for(base_url) as client:
            thread_id, assistant_id = await weather_thread(client, "hello")
            emulator.script.queue_failure(message="the backend is down")
            with pytest.raises(RunFailedError) as caught:
                await client.run_and_get_reply(thread_id, assistant_id, stream=False)
            emulator.script.queue_failure(message="the backend is down")
            reply = await client.run_and_get_reply(thread_id, assistant_id, check=False)
            return caught.value, reply.run.status

    error, status = run(scenario())
    assert error.run.status == status == "failed"
    assert str(error).endswith("ended failed: server_error: the backend is down")


def test_wait_for_run_raises_a_timeout_at_its_deadline_without_blocking_the_loop(
    base_url: str, emulator: Emulator
) -> None:
    emulator.script.queue_delay(5.0)
    ticks = 0

    async def scenario() -> None:
        nonlocal ticks
        async with client_for(base_url) as client:
            thread_id, assistant_id = await weather_thread(client, "slow")
            created = await client.create_run(thread_id, assistant_id)

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticking = asyncio.create_task(ticker())
            with pytest.raises(APITimeoutError, match="still"):
                await client.wait_for_run(thread_id, created.id, timeout=0.3, poll_interval=0.05)
            ticking.cancel()
            await client.cancel_run(thread_id, created.id)

    run(scenario())
    assert ticks >= 10


def test_bad_tool_loop_arguments_are_refused_before_any_request(
    base_url: str, emulator: Emulator
) -> None:
    async def scenario() -> None:
        async with client_for(base_url) as client:
            before = emulator.request_count
            with pytest.raises(InvalidArgumentError):
                await client.run_with_tools("thread_1", "asst_1", {"f": "not callable"})  # type: ignore[dict-item]
            with pytest.raises(InvalidArgumentError):
                await client.run_with_tools("thread_1", "asst_1", {}, max_rounds=0)
            with pytest.raises(InvalidArgumentError):
                await client.create_run_and_wait("thread_1", "asst_1", poll_interval=-1)
            assert emulator.request_count == before

    run(scenario())


def test_a_poll_plan_written_once_blocks_in_the_sync_client_and_awaits_in_the_async_one() -> None:
    # How a create-and-poll helper of any object with a status plugs into both clients.
    def processing(status: str) -> Reply:
        return Reply.json({"id": "file_1", "object": "vector_store.file", "status": status})

    def plan_for(client: Any) -> Plan[dict[str, Any]]:
        transport = client._transport
        waiting: Waiting[dict[str, Any]] = Waiting(
            "vector store file file_1",
            lambda found: str(found["status"]),
            10,
            check_wait(transport, 10, 0.01),
        )
        return poll_plan(
            transport,
            "/vector_stores/vs_1/files/file_1",
            parse=decode_json,
            is_done=lambda found: found["status"] != "in_progress",
            waiting=waiting,
            poll_interval=0.01,
        )

    with MisbehavingServer() as server:
        server.enqueue(
            processing("in_progress"), processing("in_progress"), processing("completed")
        )
        slept: list[float] = []
        sync = AssistantsClient(
            API_KEY, base_url=server.base_url, retry_policy=RetryPolicy(sleep=slept.append)
        )
        assert sync._run(plan_for(sync))["status"] == "completed"
        assert slept == [0.01, 0.01]

        server.enqueue(processing("in_progress"), processing("failed"))
        client = client_for(server.base_url)
        found = run(client._runner.run(plan_for(client._core)))
        assert found["status"] == "failed" and server.request_count == 5


def test_the_async_clients_transport_refuses_a_request_outside_a_plan() -> None:
    client = client_for("http://127.0.0.1:9/v1")
    with pytest.raises(RuntimeError, match="blocking request"):
        client._core._transport.request("GET", "/threads/thread_1")
