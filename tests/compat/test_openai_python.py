"""openai-python's own Assistants API, pointed at the emulator: only ``base_url`` changes.

Each test drives one flow a user of the official SDK has (CRUD, pagination, polling, streaming
with an ``AssistantEventHandler``, tool calls, cancellation, structured output, errors) over a
real loopback socket and asserts on what the SDK hands back: the scripted texts, statuses, ids.
Where a recording of the live API shows what the SDK is built for (tests/fixtures/reference/),
the test asserts that behaviour, so a wire difference fails here naming the field or event.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from openai.types.beta import AssistantStreamEvent, FunctionToolParam
from openai.types.beta.threads import Message, Run, Text, TextDelta
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from openai.types.beta.threads.runs import RunStep, ToolCall, ToolCallDelta

from assistants_client.emulator import Emulator

pytestmark = [
    pytest.mark.timeout(30),
    # openai-python marks the whole Assistants API deprecated; the warning is expected here.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "reference"
MODEL = "gpt-4o"
WEATHER_TOOL: FunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL: FunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature_c": {"type": "number"},
        "conditions": {"type": "string", "enum": ["sunny", "cloudy", "rain"]},
    },
    "required": ["city", "temperature_c", "conditions"],
    "additionalProperties": False,
}


# -- helpers --------------------------------------------------------------------------------


def message_text(message: Message) -> str:
    return "".join(part.text.value for part in message.content if part.type == "text")


def recorded_event_names(name: str) -> list[str]:
    """The event names of a recorded live stream, repeats collapsed (delta counts vary)."""
    names = [
        line.removeprefix("event: ")
        for line in (REFERENCE / name).read_text().splitlines()
        if line.startswith("event: ")
    ]
    return collapse_repeats([event for event in names if event != "done"])


def collapse_repeats(names: list[str]) -> list[str]:
    collapsed: list[str] = []
    for event in names:
        if not collapsed or collapsed[-1] != event:
            collapsed.append(event)
    return collapsed


def function_fields(call: Any) -> tuple[str | None, str | None, str | None]:
    """(id, name, arguments) of a function tool call, whatever model carries it."""
    return call.id, call.function.name, call.function.arguments


def required_calls(run: Run) -> list[tuple[str | None, str | None, str | None]]:
    assert run.required_action is not None, f"run {run.id} is {run.status} without required_action"
    return [function_fields(call) for call in run.required_action.submit_tool_outputs.tool_calls]


def poll_until(client: openai.OpenAI, thread_id: str, run_id: str, statuses: set[str]) -> Run:
    """Retrieve the run until its status is one of ``statuses`` (bounded by the test timeout)."""
    while True:
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status in statuses:
            return run
        time.sleep(0.01)


class RecordingHandler(AssistantEventHandler):
    """Keeps what every callback received; snapshots are copied because the SDK rebuilds them."""

    def __init__(self) -> None:
        super().__init__()
        self.event_names: list[str] = []
        self.text_delta_values: list[str] = []
        self.text_snapshot_values: list[str] = []
        self.texts_created = 0
        self.texts_done: list[str] = []
        self.messages_created: list[str] = []
        self.messages_done: list[Message] = []
        self.steps_created: list[RunStep] = []
        self.steps_done: list[RunStep] = []
        self.tool_calls_created: list[ToolCall] = []
        self.tool_call_argument_pieces: dict[int, list[str]] = {}
        self.tool_calls_done: list[ToolCall] = []

    def on_event(self, event: AssistantStreamEvent) -> None:
        self.event_names.append(event.event)

    def on_text_created(self, text: Text) -> None:
        self.texts_created += 1

    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.text_delta_values.append(delta.value or "")
        self.text_snapshot_values.append(snapshot.value)

    def on_text_done(self, text: Text) -> None:
        self.texts_done.append(text.value)

    def on_message_created(self, message: Message) -> None:
        self.messages_created.append(message.id)

    def on_message_done(self, message: Message) -> None:
        self.messages_done.append(message)

    def on_run_step_created(self, run_step: RunStep) -> None:
        self.steps_created.append(run_step.model_copy(deep=True))

    def on_run_step_done(self, run_step: RunStep) -> None:
        self.steps_done.append(run_step.model_copy(deep=True))

    def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.tool_calls_created.append(tool_call.model_copy(deep=True))

    def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCall) -> None:
        if delta.type == "function" and delta.function is not None:
            pieces = self.tool_call_argument_pieces.setdefault(delta.index, [])
            pieces.append(delta.function.arguments or "")

    def on_tool_call_done(self, tool_call: ToolCall) -> None:
        self.tool_calls_done.append(tool_call.model_copy(deep=True))


@pytest.fixture
def assistant_id(client: openai.OpenAI) -> str:
    return client.beta.assistants.create(
        model=MODEL, name="compat", instructions="Be brief.", tools=[WEATHER_TOOL, TIME_TOOL]
    ).id


@pytest.fixture
def thread_id(client: openai.OpenAI) -> str:
    return client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the weather in Paris?"}]
    ).id


def stream_to_requires_action(
    client: openai.OpenAI, emulator: Emulator, thread_id: str, assistant_id: str, calls: list[Any]
) -> RecordingHandler:
    emulator.script.queue_tool_calls(calls)
    handler = RecordingHandler()
    with client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler
    ) as stream:
        stream.until_done()
    assert handler.current_run is not None
    assert handler.current_run.status == "requires_action"
    return handler


# -- assistants -----------------------------------------------------------------------------


def test_assistants_create_retrieve_update_and_delete_round_trip(client: openai.OpenAI) -> None:
    created = client.beta.assistants.create(
        model=MODEL,
        name="Weather bot",
        description="Answers about the weather.",
        instructions="Answer in one sentence.",
        tools=[WEATHER_TOOL],
        metadata={"team": "compat"},
        temperature=0.5,
    )
    assert created.id.startswith("asst_")
    assert created.object == "assistant"
    assert (created.name, created.model, created.instructions) == (
        "Weather bot",
        MODEL,
        "Answer in one sentence.",
    )
    assert created.temperature == 0.5
    assert created.metadata == {"team": "compat"}
    assert len(created.tools) == 1
    tool = created.tools[0]
    assert tool.type == "function"
    assert tool.function.name == "get_weather"
    assert tool.function.parameters == WEATHER_TOOL["function"]["parameters"]

    retrieved = client.beta.assistants.retrieve(created.id)
    assert retrieved == created

    updated = client.beta.assistants.update(
        created.id, name="Weather bot 2", metadata={"team": "compat", "v": "2"}, tools=[]
    )
    assert updated.id == created.id
    assert updated.name == "Weather bot 2"
    assert updated.metadata == {"team": "compat", "v": "2"}
    assert updated.tools == []
    assert updated.instructions == "Answer in one sentence."

    deleted = client.beta.assistants.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "assistant.deleted")
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(created.id)


def test_assistants_list_auto_iterates_across_pages_in_order(client: openai.OpenAI) -> None:
    ids = [client.beta.assistants.create(model=MODEL, name=f"a{n}").id for n in range(5)]

    first_page = client.beta.assistants.list(limit=2, order="asc")
    assert [a.id for a in first_page.data] == ids[:2]
    assert first_page.has_more is True
    assert first_page.has_next_page()

    assert [a.id for a in client.beta.assistants.list(limit=2, order="asc")] == ids
    assert [a.id for a in client.beta.assistants.list(limit=2)] == ids[::-1]


# -- threads and messages -------------------------------------------------------------------


def test_threads_create_with_messages_then_retrieve_update_and_delete(
    client: openai.OpenAI,
) -> None:
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "first", "metadata": {"n": "1"}},
            {"role": "assistant", "content": "second"},
            {"role": "user", "content": [{"type": "text", "text": "third"}]},
        ],
        metadata={"purpose": "compat"},
    )
    assert thread.id.startswith("thread_")
    assert thread.object == "thread"
    assert thread.metadata == {"purpose": "compat"}

    messages = list(client.beta.threads.messages.list(thread.id, order="asc"))
    assert [(m.role, message_text(m)) for m in messages] == [
        ("user", "first"),
        ("assistant", "second"),
        ("user", "third"),
    ]
    assert messages[0].metadata == {"n": "1"}
    assert all(m.thread_id == thread.id for m in messages)

    # The live API answers a created thread with `tool_resources: {}` and the same thread,
    # retrieved, with an empty code interpreter resource (post_threads--3.json and
    # get_threads_thread_id--1.json in tests/fixtures/reference/responses).
    retrieved = client.beta.threads.retrieve(thread.id)
    assert retrieved.model_copy(update={"tool_resources": None}) == thread.model_copy(
        update={"tool_resources": None}
    )
    assert retrieved.tool_resources is not None
    assert retrieved.tool_resources.code_interpreter is not None
    assert retrieved.tool_resources.code_interpreter.file_ids == []
    updated = client.beta.threads.update(thread.id, metadata={"purpose": "updated"})
    assert updated.metadata == {"purpose": "updated"}

    deleted = client.beta.threads.delete(thread.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (thread.id, True, "thread.deleted")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread.id)


def test_messages_create_retrieve_update_and_delete(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    created = client.beta.threads.messages.create(
        thread.id, role="user", content="Hello there", metadata={"k": "v"}
    )
    assert created.id.startswith("msg_")
    assert (created.role, message_text(created), created.thread_id) == (
        "user",
        "Hello there",
        thread.id,
    )
    assert created.content[0].type == "text"
    assert created.content[0].text.annotations == []

    assert client.beta.threads.messages.retrieve(created.id, thread_id=thread.id) == created

    updated = client.beta.threads.messages.update(
        created.id, thread_id=thread.id, metadata={"k": "changed"}
    )
    assert updated.metadata == {"k": "changed"}
    assert message_text(updated) == "Hello there"

    deleted = client.beta.threads.messages.delete(created.id, thread_id=thread.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (
        created.id,
        True,
        "thread.message.deleted",
    )
    assert list(client.beta.threads.messages.list(thread.id)) == []


def test_messages_list_auto_iterates_every_page(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    texts = [f"message {n}" for n in range(7)]
    for text in texts:
        client.beta.threads.messages.create(thread.id, role="user", content=text)

    ascending = client.beta.threads.messages.list(thread.id, limit=3, order="asc")
    assert [message_text(m) for m in ascending] == texts
    descending = client.beta.threads.messages.list(thread.id, limit=3)
    assert [message_text(m) for m in descending] == texts[::-1]

    pages = list(client.beta.threads.messages.list(thread.id, limit=3, order="asc").iter_pages())
    assert [len(page.data) for page in pages] == [3, 3, 1]


# -- runs: polling --------------------------------------------------------------------------


def test_runs_create_then_poll_reaches_completed_with_the_scripted_reply(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_text("It is sunny in Paris.")

    created = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    assert created.status in {"queued", "in_progress"}
    assert (created.thread_id, created.assistant_id) == (thread_id, assistant_id)

    run = client.beta.threads.runs.poll(created.id, thread_id=thread_id)
    assert run.id == created.id
    assert run.status == "completed"
    assert run.completed_at is not None

    replies = client.beta.threads.messages.list(thread_id, run_id=run.id)
    assert [(m.role, message_text(m)) for m in replies] == [("assistant", "It is sunny in Paris.")]
    assert replies.data[0].assistant_id == assistant_id


def test_runs_create_and_poll_returns_the_terminal_run_with_usage(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_text("Twenty degrees and clear.")

    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, instructions="Answer tersely."
    )
    assert run.status == "completed"
    assert run.instructions == "Answer tersely."
    assert run.usage is not None
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens
    newest = client.beta.threads.messages.list(thread_id, limit=1).data[0]
    assert message_text(newest) == "Twenty degrees and clear."
    assert newest.run_id == run.id


def test_a_failed_run_reports_the_scripted_last_error(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_failure(code="rate_limit_exceeded", message="Slow down.")

    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    assert run.status == "failed"
    assert run.last_error is not None
    assert (run.last_error.code, run.last_error.message) == ("rate_limit_exceeded", "Slow down.")


# -- runs: streaming ------------------------------------------------------------------------


def test_runs_stream_delivers_every_text_delta_to_the_event_handler(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    text = "Sunny, 21 degrees, light wind from the west."
    emulator.script.queue_text(text, chunks=6)
    handler = RecordingHandler()

    with client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler
    ) as stream:
        stream.until_done()

    assert len(handler.text_delta_values) == 6
    assert "".join(handler.text_delta_values) == text
    assert handler.text_snapshot_values[-1] == text
    assert handler.texts_created == 1
    assert handler.texts_done == [text]
    assert [message_text(m) for m in handler.messages_done] == [text]
    assert handler.messages_done[0].status == "completed"
    assert handler.messages_created == [handler.messages_done[0].id]


def test_runs_stream_final_messages_run_steps_and_current_run(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_text("All clear.", chunks=3)
    handler = RecordingHandler()

    with client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler
    ) as stream:
        stream.until_done()
        final_messages = stream.get_final_messages()
        final_steps = stream.get_final_run_steps()
        final_run = stream.get_final_run()
        current_run = stream.current_run

    assert current_run is not None
    assert current_run.status == "completed"
    assert final_run.id == current_run.id
    assert [message_text(m) for m in final_messages] == ["All clear."]
    assert final_messages[0].run_id == final_run.id
    assert len(final_steps) == 1
    assert final_steps[0].type == "message_creation"
    assert final_steps[0].step_details.type == "message_creation"
    assert final_steps[0].step_details.message_creation.message_id == final_messages[0].id
    assert [step.status for step in handler.steps_done] == ["completed"]
    assert [step.id for step in handler.steps_created] == [final_steps[0].id]
    assert handler.steps_done[0].id == final_steps[0].id

    stored = client.beta.threads.runs.retrieve(final_run.id, thread_id=thread_id)
    assert stored.status == "completed"


def test_runs_stream_text_deltas_iterator_yields_the_scripted_pieces(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_text("one two three four")

    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id) as stream:
        pieces = list(stream.text_deltas)

    assert pieces == ["one ", "two ", "three ", "four"]


def test_runs_stream_event_order_matches_the_recorded_api_stream(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_text("Hello! How can I help?", chunks=4)
    handler = RecordingHandler()

    with client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler
    ) as stream:
        stream.until_done()

    assert collapse_repeats(handler.event_names) == recorded_event_names("assistants-text-run.sse")


# -- tool calls -----------------------------------------------------------------------------


def test_a_run_requiring_action_carries_the_scripted_call(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_tool_calls(
        [{"id": "call_weather1", "name": "get_weather", "arguments": {"city": "Paris"}}]
    )

    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)

    assert run.status == "requires_action"
    assert run.required_action is not None
    assert run.required_action.type == "submit_tool_outputs"
    assert required_calls(run) == [("call_weather1", "get_weather", '{"city": "Paris"}')]
    assert json.loads(run.required_action.submit_tool_outputs.tool_calls[0].function.arguments) == {
        "city": "Paris"
    }


def test_submit_tool_outputs_and_poll_completes_with_the_scripted_reply(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_tool_calls([{"name": "get_weather", "arguments": {"city": "Paris"}}])
    emulator.script.queue_text("Paris: 18 degrees and sunny.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    [(call_id, _, _)] = required_calls(run)
    assert call_id is not None

    finished = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call_id, "output": '{"temp_c": 18}'}],
    )

    assert finished.id == run.id
    assert finished.status == "completed"
    assert finished.required_action is None
    newest = client.beta.threads.messages.list(thread_id, limit=1).data[0]
    assert message_text(newest) == "Paris: 18 degrees and sunny."


def test_streamed_tool_call_created_callback_gets_the_call_id_and_name_once(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    # The live API opens a tool_calls step with `tool_calls: []` and sends id/name once, in the
    # first thread.run.step.delta; the SDK concatenates strings, so a server that also puts them
    # in thread.run.step.created (or repeats them) makes the SDK see "call_xcall_x".
    handler = stream_to_requires_action(
        client,
        emulator,
        thread_id,
        assistant_id,
        [{"id": "call_weather1", "name": "get_weather", "arguments": {"city": "Paris"}}],
    )

    assert [(c.id, c.type) for c in handler.tool_calls_created] == [("call_weather1", "function")]
    created = handler.tool_calls_created[0]
    assert created.type == "function"
    assert created.function.name == "get_weather"


def test_streamed_tool_call_snapshot_equals_the_required_action(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    handler = stream_to_requires_action(
        client,
        emulator,
        thread_id,
        assistant_id,
        [{"id": "call_weather1", "name": "get_weather", "arguments": {"city": "Paris"}}],
    )
    assert handler.current_run is not None
    expected = required_calls(handler.current_run)
    assert expected == [("call_weather1", "get_weather", '{"city": "Paris"}')]

    assert [function_fields(call) for call in handler.tool_calls_done] == expected
    [step] = handler.get_final_run_steps()
    assert step.step_details.type == "tool_calls"
    assert [function_fields(call) for call in step.step_details.tool_calls] == expected


def test_streamed_tool_call_arguments_arrive_through_on_tool_call_delta(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    # Live streams announce a call with `arguments: ""` and send the arguments in later deltas,
    # which openai-python hands to on_tool_call_delta; code that accumulates them there must
    # end with the full arguments.
    handler = stream_to_requires_action(
        client,
        emulator,
        thread_id,
        assistant_id,
        [{"id": "call_weather1", "name": "get_weather", "arguments": {"city": "Paris"}}],
    )

    streamed = {
        index: "".join(pieces) for index, pieces in handler.tool_call_argument_pieces.items()
    }
    assert streamed == {0: '{"city": "Paris"}'}, (
        "arguments did not reach on_tool_call_delta: the first step delta of a call must carry "
        'arguments "" and later deltas the argument pieces'
    )


def test_two_parallel_tool_calls_accumulate_separately_by_index(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    handler = stream_to_requires_action(
        client,
        emulator,
        thread_id,
        assistant_id,
        [
            {"id": "call_weather1", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_time1", "name": "get_time", "arguments": {"city": "Oslo"}},
        ],
    )
    assert handler.current_run is not None
    expected = required_calls(handler.current_run)
    assert expected == [
        ("call_weather1", "get_weather", '{"city": "Paris"}'),
        ("call_time1", "get_time", '{"city": "Oslo"}'),
    ]

    assert [c.id for c in handler.tool_calls_created] == ["call_weather1", "call_time1"]
    assert [function_fields(call) for call in handler.tool_calls_done] == expected
    [step] = handler.get_final_run_steps()
    assert step.step_details.type == "tool_calls"
    assert [function_fields(call) for call in step.step_details.tool_calls] == expected


def test_streamed_tool_call_event_order_matches_the_recorded_api_stream(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str
) -> None:
    emulator.script.queue_tool_calls([{"name": "get_weather", "arguments": {}}])
    handler = RecordingHandler()

    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": "Weather?"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()

    assert collapse_repeats(handler.event_names) == recorded_event_names(
        "assistants-tool-call-requires-action.sse"
    )


def test_submit_tool_outputs_stream_streams_the_reply_and_closes_the_tool_step(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_tool_calls([{"name": "get_weather", "arguments": {"city": "Paris"}}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    [(call_id, _, _)] = required_calls(run)
    assert call_id is not None
    reply = "It is 18 degrees and sunny in Paris."
    emulator.script.queue_text(reply, chunks=5)
    handler = RecordingHandler()

    with client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call_id, "output": "18C sunny"}],
        event_handler=handler,
    ) as stream:
        stream.until_done()
        final_messages = stream.get_final_messages()

    assert stream.current_run is not None
    assert stream.current_run.id == run.id
    assert stream.current_run.status == "completed"
    assert "".join(handler.text_delta_values) == reply
    assert len(handler.text_delta_values) == 5
    assert [message_text(m) for m in final_messages] == [reply]

    tool_step, message_step = handler.steps_done
    assert tool_step.step_details.type == "tool_calls"
    [call] = tool_step.step_details.tool_calls
    assert call.type == "function"
    assert (call.id, call.function.name, call.function.output) == (
        call_id,
        "get_weather",
        "18C sunny",
    )
    assert message_step.step_details.type == "message_creation"
    assert message_step.step_details.message_creation.message_id == final_messages[0].id
    assert collapse_repeats(handler.event_names) == recorded_event_names(
        "assistants-submit-tool-outputs.sse"
    )


def test_a_full_streamed_tool_round_uses_the_ids_the_stream_delivered(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    # The usual user code: answer the calls the handler saw, then stream the rest of the run.
    handler = stream_to_requires_action(
        client,
        emulator,
        thread_id,
        assistant_id,
        [{"id": "call_weather1", "name": "get_weather", "arguments": {"city": "Paris"}}],
    )
    assert handler.current_run is not None
    emulator.script.queue_text("Done.")
    outputs: list[ToolOutput] = [
        {"tool_call_id": call.id, "output": "ok"} for call in handler.tool_calls_done
    ]

    second = RecordingHandler()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=handler.current_run.id,
        thread_id=thread_id,
        tool_outputs=outputs,
        event_handler=second,
    ) as stream:
        stream.until_done()

    assert second.current_run is not None
    assert second.current_run.status == "completed"
    assert second.texts_done == ["Done."]


# -- threads.create_and_run -----------------------------------------------------------------


def test_threads_create_and_run_poll_creates_the_thread_and_completes_the_run(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str
) -> None:
    emulator.script.queue_text("Hi, I am the weather bot.")

    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": "Who are you?"}]},
    )

    assert run.status == "completed"
    messages = list(client.beta.threads.messages.list(run.thread_id, order="asc"))
    assert [(m.role, message_text(m)) for m in messages] == [
        ("user", "Who are you?"),
        ("assistant", "Hi, I am the weather bot."),
    ]


def test_threads_create_and_run_stream_announces_the_thread_and_streams_the_reply(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str
) -> None:
    emulator.script.queue_text("Streaming from a new thread.", chunks=4)
    handler = RecordingHandler()

    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": "Go"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()

    assert handler.event_names[0] == "thread.created"
    assert handler.event_names[-1] == "thread.run.completed"
    assert "".join(handler.text_delta_values) == "Streaming from a new thread."
    assert handler.current_run is not None
    thread = client.beta.threads.retrieve(handler.current_run.thread_id)
    assert thread.id == handler.current_run.thread_id
    [message] = handler.get_final_messages()
    assert message.thread_id == thread.id


# -- run steps ------------------------------------------------------------------------------


def test_run_steps_list_and_retrieve_show_the_tool_call_and_the_message(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_tool_calls(
        [{"id": "call_weather1", "name": "get_weather", "arguments": {"city": "Paris"}}]
    )
    emulator.script.queue_text("Sunny.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": "call_weather1", "output": "sunny"}],
    )
    assert run.status == "completed"

    steps = list(client.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc"))
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    tool_step, message_step = steps
    assert tool_step.step_details.type == "tool_calls"
    [call] = tool_step.step_details.tool_calls
    assert call.type == "function"
    assert (call.id, call.function.name, call.function.arguments, call.function.output) == (
        "call_weather1",
        "get_weather",
        '{"city": "Paris"}',
        "sunny",
    )
    assert message_step.step_details.type == "message_creation"
    reply = client.beta.threads.messages.retrieve(
        message_step.step_details.message_creation.message_id, thread_id=thread_id
    )
    assert message_text(reply) == "Sunny."

    for step in steps:
        assert (
            client.beta.threads.runs.steps.retrieve(step.id, thread_id=thread_id, run_id=run.id)
            == step
        )


# -- cancel ---------------------------------------------------------------------------------


def test_cancelling_a_run_in_progress_ends_cancelled(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_delay(5.0)
    emulator.script.queue_text("never sent")
    run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    poll_until(client, thread_id, run.id, {"in_progress"})

    cancelling = client.beta.threads.runs.cancel(run.id, thread_id=thread_id)
    assert cancelling.id == run.id
    assert cancelling.status == "cancelling"

    final = client.beta.threads.runs.poll(run.id, thread_id=thread_id)
    assert final.status == "cancelled"
    assert final.cancelled_at is not None
    texts = [message_text(m) for m in client.beta.threads.messages.list(thread_id)]
    assert "never sent" not in texts


def test_cancelling_a_streamed_run_ends_the_stream_cancelled(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_delay(0.3)
    emulator.script.queue_text("never sent")

    class CancelWhenStarted(RecordingHandler):
        def on_event(self, event: AssistantStreamEvent) -> None:
            super().on_event(event)
            if event.event == "thread.run.in_progress":
                client.beta.threads.runs.cancel(event.data.id, thread_id=thread_id)

    handler = CancelWhenStarted()
    with client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler
    ) as stream:
        stream.until_done()

    assert handler.event_names[-1] == "thread.run.cancelled"
    assert handler.current_run is not None
    assert handler.current_run.status == "cancelled"
    assert handler.text_delta_values == []


# -- structured output ----------------------------------------------------------------------


def test_a_json_schema_response_format_round_trips_and_the_reply_matches_it(
    client: openai.OpenAI, thread_id: str
) -> None:
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "weather_report", "schema": WEATHER_SCHEMA, "strict": True},
    }
    assistant = client.beta.assistants.create(model=MODEL, response_format=response_format)
    assert assistant.response_format is not None
    assert assistant.response_format != "auto"
    assert assistant.response_format.type == "json_schema"
    assert assistant.response_format.json_schema.name == "weather_report"
    assert assistant.response_format.json_schema.strict is True
    assert assistant.response_format.json_schema.schema_ == WEATHER_SCHEMA

    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant.id)

    assert run.status == "completed"
    assert run.response_format is not None
    assert run.response_format != "auto"
    assert run.response_format.type == "json_schema"
    reply = client.beta.threads.messages.list(thread_id, limit=1).data[0]
    jsonschema.validate(json.loads(message_text(reply)), WEATHER_SCHEMA)


def test_a_run_level_json_schema_response_format_is_sent_and_echoed(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    scripted = json.dumps({"city": "Paris", "temperature_c": 18.5, "conditions": "sunny"})
    emulator.script.queue_text(scripted)

    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id,
        assistant_id=assistant_id,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "weather_report", "schema": WEATHER_SCHEMA, "strict": True},
        },
    )

    assert run.status == "completed"
    assert run.response_format is not None
    assert run.response_format != "auto"
    assert run.response_format.type == "json_schema"
    assert run.response_format.json_schema.name == "weather_report"
    reply = client.beta.threads.messages.list(thread_id, limit=1).data[0]
    assert json.loads(message_text(reply)) == json.loads(scripted)


# -- object shapes and the async client ---------------------------------------------------


def test_every_object_validates_against_the_sdk_models_with_no_field_missing(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    # openai-python builds responses without validation, so a missing or mistyped field only
    # surfaces when user code reads it; validating strictly here names the field at once.
    emulator.script.queue_tool_calls([{"name": "get_weather", "arguments": {"city": "Paris"}}])
    emulator.script.queue_text("Sunny.")
    assistant = client.beta.assistants.retrieve(assistant_id)
    thread = client.beta.threads.retrieve(thread_id)
    waiting = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    [(call_id, _, _)] = required_calls(waiting)
    assert call_id is not None
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=waiting.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call_id, "output": "sunny"}],
    )
    steps = list(client.beta.threads.runs.steps.list(done.id, thread_id=thread_id))
    messages = list(client.beta.threads.messages.list(thread_id))
    objects: list[Any] = [assistant, thread, waiting, done, *steps, *messages]
    assert len(steps) == 2
    assert len(messages) == 2

    # The live API leaves these out of the steps and messages it answers, and openai-python
    # reads them as None (tests/fixtures/reference/responses:
    # get_threads_thread_id_runs_run_id_steps--*.json, get_threads_thread_id_messages--*.json).
    recorded_absent = {
        "RunStep": {"expired_at", "metadata"},
        "Message": {"status", "incomplete_details", "completed_at", "incomplete_at"},
    }
    for obj in objects:
        model = type(obj)
        missing = set(model.model_fields) - obj.model_fields_set
        absent = missing & recorded_absent.get(model.__name__, set())
        assert not missing - absent, f"{model.__name__} {obj.id} lacks {sorted(missing)}"
        if not absent:  # the SDK's models require some of the fields the live API leaves out
            model.model_validate(obj.to_dict())


def test_the_async_client_polls_and_streams_like_the_sync_one(
    emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_text("Polled asynchronously.")
    emulator.script.queue_text("Streamed asynchronously.", chunks=3)
    deltas: list[str] = []

    class AsyncRecorder(AsyncAssistantEventHandler):
        async def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
            deltas.append(delta.value or "")

    async def flows() -> tuple[Run, str, Run | None]:
        async with openai.AsyncOpenAI(
            base_url=emulator.base_url, api_key="sk-test", max_retries=0, timeout=10.0
        ) as async_client:
            polled = await async_client.beta.threads.runs.create_and_poll(
                thread_id=thread_id, assistant_id=assistant_id
            )
            page = await async_client.beta.threads.messages.list(thread_id, limit=1)
            async with async_client.beta.threads.runs.stream(
                thread_id=thread_id, assistant_id=assistant_id, event_handler=AsyncRecorder()
            ) as stream:
                await stream.until_done()
                streamed_run = stream.current_run
            return polled, message_text(page.data[0]), streamed_run

    polled, polled_text, streamed_run = asyncio.run(flows())

    assert polled.status == "completed"
    assert polled_text == "Polled asynchronously."
    assert streamed_run is not None
    assert streamed_run.status == "completed"
    assert "".join(deltas) == "Streamed asynchronously."
    assert len(deltas) == 3


# -- errors ---------------------------------------------------------------------------------


def test_an_unknown_assistant_raises_not_found_error_with_the_server_message(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.assistants.retrieve("asst_missing")

    error = caught.value
    assert error.status_code == 404
    assert isinstance(error.body, dict)
    assert error.body["message"] == "No assistant found with id 'asst_missing'."
    assert "No assistant found with id 'asst_missing'." in str(error)
    assert error.type == "invalid_request_error"
    assert error.param == "assistant_id"
    assert error.request_id is not None
    assert error.request_id.startswith("req_")


def test_a_run_on_an_unknown_thread_raises_not_found_error(
    client: openai.OpenAI, assistant_id: str
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.threads.runs.create_and_poll(
            thread_id="thread_missing", assistant_id=assistant_id
        )

    assert caught.value.status_code == 404
    assert "thread_missing" in caught.value.message


def test_an_out_of_range_argument_raises_bad_request_error_with_the_server_message(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.assistants.create(model=MODEL, temperature=5)

    error = caught.value
    assert error.status_code == 400
    sent = error.response.json()["error"]
    assert isinstance(error.body, dict)
    assert error.body["message"] == sent["message"]
    assert sent["message"] in str(error)
    assert "temperature" in sent["message"]
    assert error.param == sent["param"]
    assert error.param is not None
    assert "temperature" in error.param


def test_an_invalid_list_limit_raises_bad_request_error_naming_the_parameter(
    client: openai.OpenAI, thread_id: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.messages.list(thread_id, limit=1000)

    assert caught.value.param == "limit"
    assert "limit" in caught.value.message


def test_an_output_for_an_unknown_tool_call_raises_bad_request_error(
    client: openai.OpenAI, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    emulator.script.queue_tool_calls([{"name": "get_weather", "arguments": {"city": "Paris"}}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    assert run.status == "requires_action"

    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": "call_unknown", "output": "x"}],
        )

    assert "call_unknown" in caught.value.message
    still_waiting = client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    assert still_waiting.status == "requires_action"
