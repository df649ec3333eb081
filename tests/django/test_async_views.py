"""The example's async views (its ASGI face) through Django's AsyncClient, on an emulator.

The same answers, streams and errors as the sync views (test_views.py), from ``async def``
views on the process's async client. Each test runs on an event loop of its own, and the
process's async client serves them all: it is bound to no loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import AsyncClient, override_settings

from assistants_client import AsyncAssistantsClient
from assistants_client.django import get_async_client, get_client
from assistants_client.emulator import Emulator
from tests.django.conftest import API_KEY
from tests.django.sse import parse_frames, text_of
from tests.support.aio import run

WAIT = 10.0  # seconds: a bound on a hang, not a speed claim


@pytest.fixture(autouse=True)
def async_views(emulator: Emulator) -> Iterator[None]:
    with override_settings(ROOT_URLCONF="chat_site.urls_async"):
        yield


async def post_json(web: AsyncClient, path: str, body: dict[str, Any]) -> Any:
    return await web.post(path, json.dumps(body), content_type="application/json")


async def open_stream(web: AsyncClient, message: str) -> StreamingHttpResponse:
    sent = await post_json(web, "/send", {"message": message})
    assert sent.status_code == 202, sent.content
    response = await web.get("/stream")
    assert isinstance(response, StreamingHttpResponse) and response.is_async
    return response


async def thread_of(web: AsyncClient) -> str:
    thread_id = await (await web.asession()).aget("thread_id")
    assert isinstance(thread_id, str)
    return thread_id


async def latest_run(web: AsyncClient) -> tuple[str, str]:
    thread_id = await thread_of(web)
    listed = await get_async_client().list_runs(thread_id, limit=1)
    return thread_id, listed.data[0].id


def test_the_async_chat_view_runs_the_tool_and_answers_with_the_reply() -> None:
    async def scenario() -> Any:
        web = AsyncClient()
        first = await post_json(
            web, "/chat", {"message": "What is the weather in Rome? Use get_weather."}
        )
        second = await post_json(web, "/chat", {"message": "thanks"})
        return first, second, await thread_of(web)

    first, second, thread_id = run(scenario())
    assert first.status_code == 200 and first.json()["status"] == "completed"
    assert first.json()["reply"] == (
        'get_weather returned: {"city":"Rome","temperature_c":18,"sky":"partly cloudy"}'
    )
    assert second.json()["reply"] == "You said: thanks"
    assert len(get_client().list_runs(thread_id).data) == 2  # one thread for the session


def test_the_async_stream_opens_at_once_then_sends_the_text_and_done() -> None:
    async def scenario() -> tuple[StreamingHttpResponse, list[bytes], str, str]:
        web = AsyncClient()
        response = await open_stream(web, "stream this answer to me please")
        chunks = [chunk async for chunk in response.streaming_content]  # type: ignore[union-attr]
        thread_id, run_id = await latest_run(web)
        return response, chunks, thread_id, run_id

    response, chunks, thread_id, run_id = run(scenario())
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert chunks[0] == b": stream open\n\n"
    frames = parse_frames(chunks[1:])
    assert text_of(frames) == "You said: stream this answer to me please"
    assert frames[-1] == ("done", {"status": "completed", "run_id": run_id, "thread_id": thread_id})


def test_an_async_weather_question_streams_its_tool_call_then_the_answer() -> None:
    async def read(response: StreamingHttpResponse) -> list[tuple[str, Any]]:
        return parse_frames([chunk async for chunk in response.streaming_content])  # type: ignore[union-attr]

    async def scenario() -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
        web = AsyncClient()
        asked = await read(await open_stream(web, "What is the weather in Oslo? Use get_weather."))
        answered = await read(await web.get("/stream"))
        return asked, answered

    asked, answered = run(scenario())
    (requires_action,) = [data for name, data in asked if name == "thread.run.requires_action"]
    (call,) = requires_action["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert asked[-1][1]["status"] == "requires_action"
    assert text_of(answered) == (
        'get_weather returned: {"city":"Oslo","temperature_c":18,"sky":"partly cloudy"}'
    )
    assert answered[-1][1]["status"] == "completed"


def test_a_page_that_leaves_an_async_stream_cancels_its_run() -> None:
    # Under ASGI the server cancels the task sending the response when the page goes away.
    async def scenario() -> tuple[str, str, str]:
        web = AsyncClient()
        response = await open_stream(web, "an answer long enough to leave in the middle of " * 5)
        body: AsyncIterator[bytes] = response.streaming_content  # type: ignore[assignment]
        got_text = asyncio.Event()
        seen: list[bytes] = []

        async def send_to_page() -> None:
            async for chunk in body:
                seen.append(chunk)
                if chunk.startswith(b"event: text"):
                    got_text.set()

        sending = asyncio.create_task(send_to_page())
        await asyncio.wait_for(got_text.wait(), WAIT)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        thread_id, run_id = await latest_run(web)
        final = await get_async_client().wait_for_run(thread_id, run_id, poll_interval=0.02)
        return text_of(parse_frames(seen[1:])), final.status, run_id

    text, status, _ = run(scenario())
    assert text  # the run was under way
    assert status == "cancelled"


def test_async_views_answer_the_librarys_errors_as_the_sync_views_do(emulator: Emulator) -> None:
    async def scenario() -> tuple[Any, Any, Any]:
        web = AsyncClient()
        empty = await post_json(web, "/chat", {"message": "   "})
        await post_json(web, "/chat", {"message": "hello"})
        await get_async_client().delete_thread(await thread_of(web))
        gone = await post_json(web, "/chat", {"message": "hello again"})
        emulator.faults.fail_posts(1.0, status=500, retry_after=None)
        settings = {"base_url": emulator.base_url, "api_key": API_KEY, "max_retries": 0}
        with override_settings(ASSISTANTS_CLIENT=settings):
            failing = await post_json(AsyncClient(), "/chat", {"message": "hello"})
        return empty, gone, failing

    empty, gone, failing = run(scenario())
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "content"
    assert gone.status_code == 404 and "thread" in gone.json()["error"]["message"]
    assert failing.status_code == 502
    assert failing.json()["error"]["type"] == "upstream_error"
    assert API_KEY not in failing.content.decode() and "127.0.0.1" not in failing.content.decode()


def test_a_stream_is_refused_without_a_message_sent_first() -> None:
    async def scenario() -> Any:
        return await AsyncClient().get("/stream")

    assert run(scenario()).status_code == 409


def test_the_process_async_client_serves_one_event_loop_after_another() -> None:
    async def use() -> tuple[AsyncAssistantsClient, str]:
        client = get_async_client()
        thread = await client.create_thread()
        return client, (await client.get_thread(thread.id)).id

    first, _ = run(use())
    second, _ = run(use())
    assert first is second
