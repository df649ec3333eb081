"""Every operation through AssistantsClient against the emulator; every body checked against the spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from assistants_client import OMIT, AssistantsClient, BadRequestError, NotFoundError, SyncPage
from assistants_client.emulator import Emulator
from assistants_client.models import (
    Assistant,
    AssistantDeleted,
    FunctionTool,
    MessageContentText,
    MessageDeleted,
    RunResponse,
    RunStep,
    Thread,
    ThreadDeleted,
    ThreadMessage,
)

FUNCTION = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look something up",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
        },
    },
}


def test_the_twenty_three_operations_round_trip_through_the_client(
    client: AssistantsClient, raw_call: Callable[..., Any]
) -> None:
    assistant = raw_call(
        "createAssistant",
        "create_assistant",
        "gpt-4o",
        name="E2E",
        description="end to end",
        instructions="Be brief.",
        tools=[FUNCTION, {"type": "code_interpreter"}],
        metadata={"suite": "e2e"},
        temperature=0.5,
        top_p=0.9,
        response_format="auto",
    )
    assert isinstance(assistant, Assistant)
    assert isinstance(assistant.tools[0], FunctionTool)
    assert raw_call("getAssistant", "get_assistant", assistant.id).name == "E2E"
    updated = raw_call(
        "modifyAssistant", "update_assistant", assistant.id, name="E2E 2", metadata={"v": "2"}
    )
    assert (updated.name, updated.metadata) == ("E2E 2", {"v": "2"})
    listing = raw_call("listAssistants", "list_assistants", limit=5, order="asc")
    assert assistant.id in [a.id for a in listing.data]

    thread = raw_call(
        "createThread",
        "create_thread",
        messages=[{"role": "user", "content": "first"}],
        metadata={"t": "1"},
    )
    assert isinstance(thread, Thread)
    assert raw_call("getThread", "get_thread", thread.id).metadata == {"t": "1"}
    assert raw_call("modifyThread", "update_thread", thread.id, metadata={"t": "2"}).metadata == {
        "t": "2"
    }

    message = raw_call(
        "createMessage",
        "create_message",
        thread.id,
        "user",
        "Please lookup the answer",
        metadata={"m": "1"},
    )
    assert isinstance(message, ThreadMessage) and isinstance(message.content[0], MessageContentText)
    assert (
        raw_call("getMessage", "get_message", thread.id, message.id).text
        == "Please lookup the answer"
    )
    assert raw_call(
        "modifyMessage", "update_message", thread.id, message.id, metadata={"m": "2"}
    ).metadata == {"m": "2"}
    messages = raw_call("listMessages", "list_messages", thread.id, order="asc", limit=10)
    assert [m.text for m in messages.data] == ["first", "Please lookup the answer"]

    run = raw_call(
        "createRun",
        "create_run",
        thread.id,
        assistant.id,
        instructions="Use the tool.",
        metadata={"r": "1"},
    )
    assert isinstance(run, RunResponse)
    run = client.wait_for_run(thread.id, run.id, timeout=10, poll_interval=0.01)
    assert run.status == "requires_action"
    call = run.required_tool_calls[0]
    assert call.function.name == "lookup"
    submitted = raw_call(
        "submitToolOuputsToRun",
        "submit_tool_outputs",
        thread.id,
        run.id,
        [{"tool_call_id": call.id, "output": "42"}],
    )
    assert submitted.id == run.id
    done = client.wait_for_run(thread.id, run.id, timeout=10, poll_interval=0.01)
    assert done.status == "completed"
    assert raw_call("getRun", "get_run", thread.id, run.id).status == "completed"
    assert raw_call("modifyRun", "update_run", thread.id, run.id, metadata={"r": "2"}).metadata == {
        "r": "2"
    }
    assert run.id in [r.id for r in raw_call("listRuns", "list_runs", thread.id, limit=3).data]

    steps = raw_call("listRunSteps", "list_run_steps", thread.id, run.id, order="asc", include=[])
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
    step = raw_call("getRunStep", "get_run_step", thread.id, run.id, steps.data[0].id)
    assert isinstance(step, RunStep) and step.step_details.type == "tool_calls"

    answer = client.list_messages(thread.id, run_id=run.id).data[0]
    assert "42" in answer.text
    assert (answer.run_id, answer.assistant_id) == (run.id, assistant.id)

    second = raw_call(
        "createThreadAndRun",
        "create_thread_and_run",
        assistant.id,
        thread={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert second.thread_id != thread.id
    assert second.assistant_id == assistant.id

    deleted_message = raw_call("deleteMessage", "delete_message", thread.id, message.id)
    assert isinstance(deleted_message, MessageDeleted) and deleted_message.deleted
    deleted_thread = raw_call("deleteThread", "delete_thread", thread.id)
    assert isinstance(deleted_thread, ThreadDeleted) and deleted_thread.deleted
    deleted_assistant = raw_call("deleteAssistant", "delete_assistant", assistant.id)
    assert isinstance(deleted_assistant, AssistantDeleted) and deleted_assistant.deleted


def test_cancel_run_moves_a_run_to_cancelling_then_cancelled(
    client: AssistantsClient, emulator: Emulator, raw_call: Callable[..., Any]
) -> None:
    assistant = client.create_assistant("gpt-4o")
    thread = client.create_thread(messages=[{"role": "user", "content": "slow one"}])
    emulator.script.queue_delay(2.0)
    run = client.create_run(thread.id, assistant.id)
    cancelling = raw_call("cancelRun", "cancel_run", thread.id, run.id)
    assert cancelling.status in ("cancelling", "cancelled")
    final = client.wait_for_run(thread.id, run.id, timeout=10, poll_interval=0.01)
    assert final.status == "cancelled"
    with pytest.raises(BadRequestError) as info:
        client.cancel_run(thread.id, run.id)
    assert info.value.status_code == 400 and info.value.request_id


def test_an_update_with_none_clears_a_field_and_omit_leaves_it(client: AssistantsClient) -> None:
    assistant = client.create_assistant("gpt-4o", name="keep", instructions="clear me")
    updated = client.update_assistant(assistant.id, instructions=None, name=OMIT)
    assert updated.instructions is None
    assert updated.name == "keep"


def test_pagination_walks_every_message_across_pages_in_order(client: AssistantsClient) -> None:
    thread = client.create_thread()
    for i in range(25):
        client.create_message(thread.id, "user", f"m{i}")
    page = client.list_messages(thread.id, limit=10, order="asc")
    assert isinstance(page, SyncPage) and len(page.data) == 10 and page.has_more
    assert [m.text for m in page] == [f"m{i}" for i in range(25)]
    assert [len(p.data) for p in page.iter_pages()] == [10, 10, 5]


def test_a_missing_resource_is_a_typed_404_with_the_servers_error(client: AssistantsClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get_thread("thread_does_not_exist")
    error = info.value
    assert error.status_code == 404
    assert error.request_id and error.request_id.startswith("req_")
    assert error.type == "invalid_request_error"
    assert "thread_does_not_exist" in (error.error or {}).get("message", "")


def test_one_active_run_per_thread_is_enforced_and_surfaces_as_bad_request(
    client: AssistantsClient, emulator: Emulator
) -> None:
    assistant = client.create_assistant("gpt-4o")
    thread = client.create_thread(messages=[{"role": "user", "content": "x"}])
    emulator.script.queue_delay(1.0)
    run = client.create_run(thread.id, assistant.id)
    with pytest.raises(BadRequestError):
        client.create_message(thread.id, "user", "while running")
    client.cancel_run(thread.id, run.id)
    client.wait_for_run(thread.id, run.id, timeout=10, poll_interval=0.01)
