"""Every operation and every helper through AsyncAssistantsClient, on the emulator over loopback.

Each plain operation goes through ``with_raw_response`` too, and its body is checked against
the spec; the first test ends by checking that it called every public method of the client.
"""

from __future__ import annotations

import inspect
import io
import json
from typing import Any

import pytest

from assistants_client import (
    OMIT,
    AsyncAssistantsClient,
    AsyncAssistantStream,
    AsyncPage,
    BadRequestError,
    FileUpload,
    NotFoundError,
)
from assistants_client.emulator import Emulator
from assistants_client.models import (
    Assistant,
    AssistantDeleted,
    FunctionTool,
    MessageDeleted,
    RunResponse,
    RunStep,
    Thread,
    ThreadCreatedEvent,
    ThreadDeleted,
    ThreadMessage,
)
from tests.async_client.support import API_KEY
from tests.emulator.spec_tools import assert_response_valid
from tests.payloads import WEATHER_TOOL
from tests.support.aio import run

CALLED: set[str] = set()  # the methods the first test called


class Calls:
    """Calls the client's methods by name, the plain ones also through with_raw_response."""

    def __init__(self, client: AsyncAssistantsClient) -> None:
        self.client = client

    async def raw(self, operation_id: str, method: str, *args: Any, **kwargs: Any) -> Any:
        CALLED.add(method)
        raw = await getattr(self.client.with_raw_response, method)(*args, **kwargs)
        assert raw.status_code == 200
        assert raw.request_id and raw.request_id.startswith("req_")
        assert_response_valid(operation_id, json.loads(raw.content))
        return raw.parse()

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        CALLED.add(method)
        return await getattr(self.client, method)(*args, **kwargs)

    def stream(self, method: str, *args: Any, **kwargs: Any) -> AsyncAssistantStream:
        CALLED.add(method)
        opened: AsyncAssistantStream = getattr(self.client, method)(*args, **kwargs)
        return opened


def test_the_forty_four_operations_round_trip_through_the_async_client(base_url: str) -> None:
    async def scenario() -> None:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            call = Calls(client)
            assistant = await call.raw(
                "createAssistant",
                "create_assistant",
                "gpt-4o",
                name="E2E",
                tools=[WEATHER_TOOL, {"type": "code_interpreter"}],
                metadata={"suite": "async"},
                temperature=0.5,
            )
            assert isinstance(assistant, Assistant) and isinstance(assistant.tools[0], FunctionTool)
            assert (await call.raw("getAssistant", "get_assistant", assistant.id)).name == "E2E"
            updated = await call.raw(
                "modifyAssistant", "update_assistant", assistant.id, name="E2E 2", instructions=None
            )
            assert (updated.name, updated.instructions) == ("E2E 2", None)
            listing = await call.raw("listAssistants", "list_assistants", limit=5, order="asc")
            assert isinstance(listing, AsyncPage)
            assert assistant.id in [a.id async for a in listing]

            thread = await call.raw(
                "createThread", "create_thread", messages=[{"role": "user", "content": "first"}]
            )
            assert isinstance(thread, Thread)
            assert (await call.raw("getThread", "get_thread", thread.id)).id == thread.id
            changed = await call.raw(
                "modifyThread", "update_thread", thread.id, metadata={"t": "2"}
            )
            assert changed.metadata == {"t": "2"}

            message = await call.raw(
                "createMessage", "create_message", thread.id, "user", "Please use get_weather"
            )
            assert isinstance(message, ThreadMessage)
            got = await call.raw("getMessage", "get_message", thread.id, message.id)
            assert got.text == "Please use get_weather"
            modified = await call.raw(
                "modifyMessage", "update_message", thread.id, message.id, metadata={"m": "2"}
            )
            assert modified.metadata == {"m": "2"}
            messages = await call.raw("listMessages", "list_messages", thread.id, order="asc")
            assert [m.text async for m in messages] == ["first", "Please use get_weather"]

            created = await call.raw("createRun", "create_run", thread.id, assistant.id)
            assert isinstance(created, RunResponse)
            waiting = await call("wait_for_run", thread.id, created.id, poll_interval=0.01)
            assert waiting.status == "requires_action"
            (tool_call,) = waiting.required_tool_calls
            submitted = await call.raw(
                "submitToolOuputsToRun",
                "submit_tool_outputs",
                thread.id,
                created.id,
                [{"tool_call_id": tool_call.id, "output": "sunny"}],
            )
            assert submitted.id == created.id
            done = await call("wait_for_run", thread.id, created.id, poll_interval=0.01)
            assert done.status == "completed"
            assert (
                await call.raw("getRun", "get_run", thread.id, created.id)
            ).status == "completed"
            tagged = await call.raw(
                "modifyRun", "update_run", thread.id, created.id, metadata={"r": "2"}
            )
            assert tagged.metadata == {"r": "2"}
            runs = await call.raw("listRuns", "list_runs", thread.id, limit=3)
            assert created.id in [r.id for r in runs.data]
            steps = await call.raw(
                "listRunSteps", "list_run_steps", thread.id, created.id, order="asc", include=[]
            )
            assert [s.type async for s in steps] == ["tool_calls", "message_creation"]
            step = await call.raw(
                "getRunStep", "get_run_step", thread.id, created.id, steps.data[0].id
            )
            assert isinstance(step, RunStep) and step.step_details.type == "tool_calls"

            other = await call.raw(
                "createThreadAndRun",
                "create_thread_and_run",
                assistant.id,
                thread={"messages": [{"role": "user", "content": "hi"}]},
            )
            assert other.thread_id != thread.id
            await call("wait_for_run", other.thread_id, other.id, poll_interval=0.01)

            deleted = await call.raw("deleteMessage", "delete_message", thread.id, message.id)
            assert isinstance(deleted, MessageDeleted) and deleted.deleted
            gone = await call.raw("deleteThread", "delete_thread", other.thread_id)
            assert isinstance(gone, ThreadDeleted) and gone.deleted

            await helpers(call, assistant.id, thread.id)
            await files_and_stores(call)

            cancelled_thread = await call("create_thread")
            await call("create_message", cancelled_thread.id, "user", "slow")
            slow = await call("create_run", cancelled_thread.id, assistant.id)
            cancelling = await call.raw("cancelRun", "cancel_run", cancelled_thread.id, slow.id)
            assert cancelling.status in ("cancelling", "cancelled")
            final = await call("wait_for_run", cancelled_thread.id, slow.id, poll_interval=0.01)
            assert final.status == "cancelled"

            removed = await call.raw("deleteAssistant", "delete_assistant", assistant.id)
            assert isinstance(removed, AssistantDeleted) and removed.deleted

    run(scenario())
    public = {
        name
        for name, member in inspect.getmembers(AsyncAssistantsClient)
        if not name.startswith("_") and callable(member) and not isinstance(member, type)
    }
    assert public - {"close", "for_azure", "for_foundry"} <= CALLED, sorted(public - CALLED)


async def files_and_stores(call: Calls) -> None:
    """Files, vector stores, vector store files, file batches and search, with their waits."""
    text = b"ERR-4411 means the data volume is full.\n"
    made = await call.raw("createFile", "upload_file", text, "assistants", filename="a.md")
    other = await call("upload_file", io.BytesIO(b"second file"), "assistants", filename="b.txt")
    assert await call("get_file_content", made.id) == text
    assert (await call.raw("retrieveFile", "get_file", made.id)).filename == "a.md"
    files = await call.raw("listFiles", "list_files", purpose="assistants", order="asc")
    assert [f.id async for f in files] == [made.id, other.id]

    store = await call.raw("createVectorStore", "create_vector_store", name="docs")
    assert (await call.raw("getVectorStore", "get_vector_store", store.id)).name == "docs"
    renamed = await call.raw(
        "modifyVectorStore", "update_vector_store", store.id, metadata={"k": "v"}
    )
    assert renamed.metadata == {"k": "v"}
    stores = await call.raw("listVectorStores", "list_vector_stores")
    assert [s.id async for s in stores] == [store.id]

    added = await call.raw("createVectorStoreFile", "create_vector_store_file", store.id, made.id)
    assert added.status == "in_progress"
    done = await call("wait_for_vector_store_file", store.id, made.id, poll_interval=0.01)
    assert done.status == "completed"
    again = await call("create_vector_store_file_and_poll", store.id, other.id, attributes={"n": 1})
    assert again.status == "completed"
    got = await call.raw("getVectorStoreFile", "get_vector_store_file", store.id, made.id)
    assert got.status == "completed"
    changed = await call.raw(
        "updateVectorStoreFileAttributes",
        "update_vector_store_file",
        store.id,
        made.id,
        attributes={"team": "ops"},
    )
    assert changed.attributes == {"team": "ops"}
    listed = await call.raw(
        "listVectorStoreFiles", "list_vector_store_files", store.id, filter="completed"
    )
    assert len([f async for f in listed]) == 2
    content = await call.raw(
        "retrieveVectorStoreFileContent", "get_vector_store_file_content", store.id, made.id
    )
    assert "ERR-4411" in content.data[0].text
    found = await call.raw("searchVectorStore", "search_vector_store", store.id, "ERR-4411")
    assert found.data[0].file_id == made.id

    batch = await call.raw(
        "createVectorStoreFileBatch",
        "create_vector_store_file_batch",
        store.id,
        file_ids=[made.id, other.id],
    )
    waited = await call("wait_for_file_batch", store.id, batch.id, poll_interval=0.01)
    assert waited.file_counts.completed == 2
    seen = await call.raw(
        "getVectorStoreFileBatch", "get_vector_store_file_batch", store.id, batch.id
    )
    assert seen.id == batch.id
    batch_files = await call.raw(
        "listFilesInVectorStoreBatch", "list_vector_store_file_batch_files", store.id, batch.id
    )
    assert len(batch_files.data) == 2
    cancelled = await call.raw(
        "cancelVectorStoreFileBatch", "cancel_vector_store_file_batch", store.id, batch.id
    )
    assert cancelled.id == batch.id
    polled = await call("create_file_batch_and_poll", store.id, file_ids=[made.id])
    assert polled.status == "completed"
    uploaded = await call(
        "upload_files_and_poll",
        store.id,
        [FileUpload.of(b"third", filename="c.txt"), FileUpload.of(b"fourth", filename="d.txt")],
        max_concurrency=2,
    )
    assert uploaded.file_counts.completed == 2

    removed = await call.raw(
        "deleteVectorStoreFile", "delete_vector_store_file", store.id, other.id
    )
    assert removed.deleted
    assert (await call.raw("deleteVectorStore", "delete_vector_store", store.id)).deleted
    assert (await call.raw("deleteFile", "delete_file", made.id)).deleted


async def helpers(call: Calls, assistant_id: str, thread_id: str) -> None:
    """The helpers beyond the operations: waiting, tool loops, replies, the three streams."""
    created = await call("create_run_and_wait", thread_id, assistant_id, poll_interval=0.01)
    assert created.status == "completed"

    await call("create_message", thread_id, "user", "What is the weather? use get_weather")
    finished = await call(
        "run_with_tools", thread_id, assistant_id, {"get_weather": lambda city: f"{city}: sun"}
    )
    assert finished.status == "completed"

    await call("create_message", thread_id, "user", "say hello")
    reply = await call("run_and_get_reply", thread_id, assistant_id)
    assert reply.run.status == "completed" and reply.text == "You said: say hello"

    await call("create_message", thread_id, "user", "use get_weather for Oslo")
    async with call.stream("stream_run", thread_id, assistant_id) as stream:
        await stream.until_done()
    assert stream.final_run.status == "requires_action"
    (tool_call,) = stream.required_tool_calls
    outputs = await call("call_functions", stream.final_run, {"get_weather": lambda city: "snow"})
    assert outputs == [{"tool_call_id": tool_call.id, "output": "snow"}]
    async with call.stream("stream_tool_outputs", thread_id, stream.final_run.id, outputs) as rest:
        text = "".join([piece async for piece in rest.text_deltas()])
    assert rest.final_run.status == "completed" and "snow" in text

    new_thread = {"messages": [{"role": "user", "content": "hey"}]}
    async with call.stream("stream_thread_and_run", assistant_id, thread=new_thread) as fresh:
        first = await anext(fresh)
        await fresh.until_done()
    assert isinstance(first, ThreadCreatedEvent)
    assert fresh.final_run.thread_id == first.data.id


def test_an_update_with_none_clears_a_field_and_omit_leaves_it(base_url: str) -> None:
    async def scenario() -> Assistant:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            made = await client.create_assistant("gpt-4o", name="keep", instructions="clear")
            return await client.update_assistant(made.id, instructions=None, name=OMIT)

    updated = run(scenario())
    assert (updated.instructions, updated.name) == (None, "keep")


def test_async_for_walks_every_message_across_pages_one_page_at_a_time(
    base_url: str, emulator: Emulator
) -> None:
    async def scenario() -> tuple[list[str], list[int], AsyncPage[Any] | None]:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            thread = await client.create_thread()
            for i in range(25):
                await client.create_message(thread.id, "user", f"m{i}")
            emulator.reset_requests()
            page = await client.list_messages(thread.id, limit=10, order="asc")
            fetched_first = emulator.request_count
            texts = [m.text async for m in page]
            sizes = [len(p.data) async for p in page.iter_pages()]
            last = await (await page.next_page()).next_page()  # type: ignore[union-attr]
            assert fetched_first == 1
            return texts, sizes, await last.next_page() if last else None

    texts, sizes, beyond = run(scenario())
    assert texts == [f"m{i}" for i in range(25)]
    assert sizes == [10, 10, 5]
    assert beyond is None


def test_a_missing_resource_and_a_busy_thread_raise_the_sync_clients_error_classes(
    base_url: str, emulator: Emulator
) -> None:
    async def scenario() -> None:
        async with AsyncAssistantsClient(API_KEY, base_url=base_url) as client:
            with pytest.raises(NotFoundError) as missing:
                await client.get_thread("thread_does_not_exist")
            assert missing.value.status_code == 404
            assert (missing.value.request_id or "").startswith("req_")
            assistant = await client.create_assistant("gpt-4o")
            thread = await client.create_thread(messages=[{"role": "user", "content": "x"}])
            emulator.script.queue_delay(1.0)
            busy = await client.create_run(thread.id, assistant.id)
            with pytest.raises(BadRequestError):
                await client.create_message(thread.id, "user", "while running")
            await client.cancel_run(thread.id, busy.id)
            await client.wait_for_run(thread.id, busy.id, poll_interval=0.01)

    run(scenario())
