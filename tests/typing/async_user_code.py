"""Code as a user of the async client writes it, type-checked (never run) by
tests/typing/test_type_checkers.py with ``mypy --strict`` and pyright in strict mode: any error
here fails that test. ``assert_type`` pins what each awaited call gives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from typing_extensions import assert_type  # typing.assert_type from Python 3.11

from assistants_client import (
    AssistantEventHandler,
    AsyncAssistantsClient,
    AsyncAssistantStream,
    AsyncPage,
    NotFoundError,
    RawResponse,
    RunFailedError,
    RunReply,
)
from assistants_client.models import (
    Assistant,
    AssistantStreamEvent,
    RunResponse,
    RunStep,
    Thread,
    ThreadMessage,
    ToolCallsStepDetailsDelta,
)


async def basics() -> str:
    async with AsyncAssistantsClient(base_url="http://127.0.0.1:8000/v1") as client:
        assistant = await client.create_assistant("gpt-4o", name="Helper")
        assert_type(assistant, Assistant)
        thread = await client.create_thread(messages=[{"role": "user", "content": "hi"}])
        assert_type(thread, Thread)
        try:
            await client.get_thread("thread_missing")
        except NotFoundError as error:
            assert_type(error.status_code, int | None)
            if error.error is not None:
                assert_type(error.error.message, str)
        page = await client.list_messages(thread.id, order="asc")
        assert_type(page, AsyncPage[ThreadMessage])
        texts = [message.text async for message in page]
        next_page = await page.next_page()
        assert_type(next_page, AsyncPage[ThreadMessage] | None)
        async for later in page.iter_pages():
            assert_type(later, AsyncPage[ThreadMessage])
        raw = await client.with_raw_response.get_thread(thread.id)
        assert_type(raw, RawResponse[Any])
        return "".join(texts)


async def streaming(client: AsyncAssistantsClient, thread_id: str, assistant_id: str) -> str:
    stream = client.stream_run(thread_id, assistant_id, temperature=0.2)
    assert_type(stream, AsyncAssistantStream)
    pieces: list[str] = []
    async with stream:
        async for event in stream:
            assert_type(event, AssistantStreamEvent)
            if event.event == "thread.message.delta":
                for part in event.data.delta.content or []:
                    if part.type == "text" and part.text and part.text.value:
                        pieces.append(part.text.value)
    assert_type(stream.final_run, RunResponse)
    assert_type(stream.final_messages, list[ThreadMessage])
    assert_type(stream.final_run_steps, list[RunStep])
    async with client.stream_run(thread_id, assistant_id) as again:
        deltas = again.text_deltas()
        assert_type(deltas, AsyncIterator[str])
        pieces.extend([text async for text in deltas])
        done = await again.until_done()
        assert_type(done, AsyncAssistantStream)
    return "".join(pieces)


async def reply_or_why_not(client: AsyncAssistantsClient, thread_id: str, assistant_id: str) -> str:
    try:
        return (await client.run_and_get_reply(thread_id, assistant_id)).text
    except RunFailedError as err:
        assert_type(err.run, RunResponse)
        if err.run.last_error is not None:
            return f"{err.run.status}: {err.run.last_error.message}"
    reply = await client.run_and_get_reply(thread_id, assistant_id, check=False)
    assert_type(reply, RunReply)
    return reply.run.status


async def tool_call_names(
    client: AsyncAssistantsClient, thread_id: str, assistant_id: str
) -> list[str]:
    # A field that may be absent is Optional: `is not None`, then its tag, narrows it.
    names: list[str] = []
    async with client.stream_run(thread_id, assistant_id) as stream:
        async for event in stream:
            if event.event == "thread.run.step.delta":
                delta = event.data.delta
                if delta.step_details is not None and delta.step_details.type == "tool_calls":
                    assert_type(delta.step_details, ToolCallsStepDetailsDelta)
                    for call in delta.step_details.tool_calls or []:
                        if call.type == "function" and call.function is not None:
                            names.append(call.function.name or "")
    return names


class Printer(AssistantEventHandler):
    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="")


async def tools(client: AsyncAssistantsClient, thread_id: str, assistant_id: str) -> str:
    def get_weather(city: str) -> dict[str, Any]:
        return {"city": city, "celsius": 18}

    async def get_time(zone: str) -> str:
        await asyncio.sleep(0)
        return "12:00"

    async def on_event(event: AssistantStreamEvent) -> None:
        await asyncio.sleep(0)

    run = await client.run_with_tools(
        thread_id,
        assistant_id,
        {"get_weather": get_weather, "get_time": get_time},
        on_event=on_event,
        poll_interval=0.5,
    )
    assert_type(run, RunResponse)
    reply = await client.run_and_get_reply(thread_id, assistant_id, on_event=Printer())
    assert_type(reply, RunReply)
    waited = await client.create_run_and_wait(thread_id, assistant_id, wait_timeout=60)
    assert_type(waited, RunResponse)
    polled = await client.wait_for_run(thread_id, waited.id, timeout=10)
    return f"{run.status} {reply.text} {polled.status}"


def constructors() -> list[AsyncAssistantsClient]:
    return [
        AsyncAssistantsClient.for_azure("https://res.openai.azure.com", api_key="k"),
        AsyncAssistantsClient.for_foundry(
            "https://res.services.ai.azure.com/api/projects/p", token_provider=lambda: "t"
        ),
    ]


async def many(client: AsyncAssistantsClient, thread_ids: list[str]) -> list[Thread]:
    return list(await asyncio.gather(*(client.get_thread(t) for t in thread_ids)))
