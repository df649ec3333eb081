"""What clients receive: the events of runs answered by the backend, their order and shapes.

Streams are read raw off the wire. Every event's data is checked against the spec (with the
overlay of what real servers send), and where a stream recorded from api.openai.com exists
for the case, against it: the same events in the same order and the same keys. Runs that are
not streamed execute in the background and are followed by polling.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.server.support import (
    BOUND,
    RunningServer,
    assert_like_recording,
    assert_valid_events,
    collapsed,
    names,
    only,
    recording,
    stream_events,
    wait_until,
)
from tests.servers.fake_chat import (
    FakeChatServer,
    ScriptedCall,
    content_filter_answer,
    length_answer,
    parallel_tool_calls_answer,
    text_answer,
    tool_call_answer,
)

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Gets the user's current weather",
        "parameters": {"type": "object", "properties": {}},
        "strict": False,
    },
}


@pytest.fixture
def assistant_id(client) -> str:
    return client.create_assistant("gpt-4o").id


@pytest.fixture
def tool_assistant_id(client) -> str:
    return client.create_assistant("gpt-4o", tools=[WEATHER]).id


@pytest.fixture
def thread_id(client) -> str:
    return client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id


def stream_run(server: RunningServer, thread_id: str, assistant_id: str, **body: Any) -> list[Any]:
    found = stream_events(
        server.base_url, f"/threads/{thread_id}/runs", {"assistant_id": assistant_id, **body}
    )
    assert_valid_events(found)
    return found


def submit(server: RunningServer, run: dict[str, Any], outputs: dict[str, str]) -> list[Any]:
    found = stream_events(
        server.base_url,
        f"/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": k, "output": v} for k, v in outputs.items()]},
    )
    assert_valid_events(found)
    return found


def last_run(found: list[Any]) -> dict[str, Any]:
    runs = [data for name, data in found if name.startswith("thread.run.") and "step" not in name]
    return runs[-1]  # type: ignore[no-any-return]


# -- text ------------------------------------------------------------------------------------------


def test_a_text_run_streams_as_the_live_api_does(server, backend, thread_id, assistant_id):
    backend.script(text_answer("Hello! How can I help you today?", chunks=5))

    found = stream_run(server, thread_id, assistant_id)

    assert_like_recording(found, recording("assistants-text-run.sse"))


def test_each_backend_chunk_is_one_message_delta_in_order(server, backend, thread_id, assistant_id):
    pieces = ["Hel", "lo", ", wor", "ld", "!"]
    backend.script(text_answer("", pieces=pieces))

    found = stream_run(server, thread_id, assistant_id)

    deltas = only(found, "thread.message.delta")
    assert [d["delta"]["content"][0]["text"]["value"] for d in deltas] == pieces
    (message,) = only(found, "thread.message.created")
    assert {d["id"] for d in deltas} == {message["id"]}
    (completed,) = only(found, "thread.message.completed")
    assert completed["status"] == "completed"
    assert completed["content"][0]["text"]["value"] == "Hello, world!"
    assert completed["role"] == "assistant"
    run = last_run(found)
    assert (completed["run_id"], completed["assistant_id"]) == (run["id"], assistant_id)


def test_the_step_and_the_run_carry_the_backends_usage(server, backend, thread_id, assistant_id):
    backend.script(text_answer("Hello!", usage=(123, 45)))

    found = stream_run(server, thread_id, assistant_id)

    step = only(found, "thread.run.step.completed")[-1]
    run = last_run(found)
    for usage in (step["usage"], run["usage"]):
        assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
            123,
            45,
            168,
        )
    assert run["status"] == "completed"
    assert run["completed_at"] is not None


def test_the_stored_message_and_step_match_what_was_streamed(
    server, client, backend, thread_id, assistant_id
):
    backend.script(text_answer("Stored as streamed.", chunks=4))

    found = stream_run(server, thread_id, assistant_id)

    (completed,) = only(found, "thread.message.completed")
    message = client.get_message(thread_id, completed["id"])
    assert message.content[0].text.value == "Stored as streamed."
    run = last_run(found)
    steps = list(client.list_run_steps(thread_id, run["id"]))
    assert [(s.type, s.status) for s in steps] == [("message_creation", "completed")]
    assert steps[0].step_details.message_creation.message_id == completed["id"]


def test_the_first_delta_reaches_the_client_before_the_backend_sends_its_second_chunk(
    server, backend, thread_id, assistant_id
):
    second_chunk = threading.Event()
    answer = text_answer("", pieces=["Hello", " world"]).held_before(2, second_chunk)
    backend.script(answer)
    seen: dict[str, Any] = {}

    def on_event(name: str, data: Any) -> None:
        if name == "thread.message.delta" and not seen:
            exchange = backend.exchange(0)
            seen.update(frames=exchange.frames_sent, released=second_chunk.is_set())
            second_chunk.set()

    found = stream_events(
        server.base_url,
        f"/threads/{thread_id}/runs",
        {"assistant_id": assistant_id},
        on_event=on_event,
    )

    # The role chunk and "Hello" were sent; " world" was still held back by the backend.
    assert seen == {"frames": 2, "released": False}
    assert last_run(found)["status"] == "completed"


def test_an_empty_answer_is_an_empty_completed_message(server, backend, thread_id, assistant_id):
    backend.script(text_answer("", pieces=[]))

    found = stream_run(server, thread_id, assistant_id)

    (completed,) = only(found, "thread.message.completed")
    assert completed["content"] == []
    assert last_run(found)["status"] == "completed"


# -- tool calls ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "recorded",
    [
        "assistants-tool-call-requires-action.sse",
        "assistants-tool-call-requires-action-4o-mini.sse",
    ],
)
def test_a_tool_call_streams_as_the_live_api_does(server, backend, tool_assistant_id, recorded):
    backend.script(tool_call_answer("get_current_weather", "{}"))

    found = stream_events(
        server.base_url,
        "/threads/runs",
        {
            "assistant_id": tool_assistant_id,
            "thread": {"messages": [{"role": "user", "content": "Weather?"}]},
        },
    )

    assert_valid_events(found)
    assert_like_recording(found, recording(recorded))


def test_tool_call_deltas_give_the_call_once_then_only_argument_pieces(
    server, backend, thread_id, tool_assistant_id
):
    arguments = '{"location": "San Francisco, CA", "unit": "celsius"}'
    backend.script(
        tool_call_answer("get_current_weather", arguments, call_id="call_1", splits=[1, 14, 30])
    )

    found = stream_run(server, thread_id, tool_assistant_id)

    for name in ("thread.run.step.created", "thread.run.step.in_progress"):
        (step,) = only(found, name)
        assert step["type"] == "tool_calls"
        assert step["step_details"] == {"type": "tool_calls", "tool_calls": []}
    deltas = [
        d["delta"]["step_details"]["tool_calls"] for d in only(found, "thread.run.step.delta")
    ]
    assert deltas[0] == [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_current_weather", "arguments": "", "output": None},
        }
    ]
    pieces = [arguments[:1], arguments[1:14], arguments[14:30], arguments[30:]]
    assert deltas[1:] == [
        [{"index": 0, "type": "function", "function": {"arguments": piece}}] for piece in pieces
    ]
    run = last_run(found)
    assert run["status"] == "requires_action"
    assert run["required_action"] == {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_current_weather", "arguments": arguments},
                }
            ]
        },
    }
    assert names(found)[-2:] == ["thread.run.requires_action", "done"]


@pytest.mark.parametrize(
    "recorded", ["assistants-submit-tool-outputs.sse", "assistants-submit-tool-outputs-4o-mini.sse"]
)
def test_submitting_outputs_streams_as_the_live_api_does_and_continues_on_the_backend(
    server, backend, thread_id, tool_assistant_id, recorded
):
    backend.script(
        tool_call_answer("get_current_weather", "{}", call_id="call_1"),
        text_answer("It is 22 degrees and sunny.", chunks=6),
    )
    run = last_run(stream_run(server, thread_id, tool_assistant_id))

    found = submit(server, run, {"call_1": '{"temperature": 22}'})

    assert_like_recording(found, recording(recorded))
    tool_step = found[0][1]
    assert tool_step["status"] == "completed"
    assert tool_step["step_details"]["tool_calls"][0]["function"]["output"] == '{"temperature": 22}'
    assert backend.last_body()["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"temperature": 22}',
    }
    assert last_run(found)["status"] == "completed"


def test_usage_is_per_step_and_summed_over_the_tool_rounds_in_the_run(
    server, client, backend, thread_id, tool_assistant_id
):
    backend.script(
        tool_call_answer("get_current_weather", "{}", call_id="call_1", usage=(40, 12)),
        text_answer("Sunny.", usage=(60, 5)),
    )
    run = last_run(stream_run(server, thread_id, tool_assistant_id))
    assert run["usage"] is None  # as recorded: no usage while the run waits for outputs

    found = submit(server, run, {"call_1": "sunny"})

    usage = last_run(found)["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        100,
        17,
        117,
    )
    steps = {s.type: s for s in client.list_run_steps(thread_id, run["id"])}
    assert (
        steps["tool_calls"].usage.prompt_tokens,
        steps["tool_calls"].usage.completion_tokens,
    ) == (40, 12)
    assert (
        steps["message_creation"].usage.prompt_tokens,
        steps["message_creation"].usage.completion_tokens,
    ) == (60, 5)


def test_parallel_tool_calls_are_asked_for_together_in_order(
    server, backend, thread_id, tool_assistant_id
):
    calls = [
        ScriptedCall("call_a", "get_current_weather", '{"city": "Paris"}', splits=[5]),
        ScriptedCall("call_b", "get_current_weather", '{"city": "Rome"}', splits=[3]),
    ]
    backend.script(parallel_tool_calls_answer(calls, interleave=True), text_answer("Both sunny."))

    found = stream_run(server, thread_id, tool_assistant_id)

    openings = [
        (c["index"], c["id"])
        for d in only(found, "thread.run.step.delta")
        for c in d["delta"]["step_details"]["tool_calls"]
        if "id" in c
    ]
    assert openings == [(0, "call_a"), (1, "call_b")]
    required = last_run(found)["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert [(c["id"], c["function"]["arguments"]) for c in required] == [
        ("call_a", '{"city": "Paris"}'),
        ("call_b", '{"city": "Rome"}'),
    ]
    found = submit(server, last_run(found), {"call_b": "sunny", "call_a": "sunny too"})
    assert [m["role"] for m in backend.last_body()["messages"][-3:]] == [
        "assistant",
        "tool",
        "tool",
    ]
    assert last_run(found)["status"] == "completed"


def test_text_before_a_tool_call_is_a_completed_message_then_a_tool_step(
    server, backend, thread_id, tool_assistant_id
):
    backend.script(tool_call_answer("get_current_weather", "{}", text_before="Let me check."))

    found = stream_run(server, thread_id, tool_assistant_id)

    assert collapsed(names(found)) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.requires_action",
        "done",
    ]
    (message,) = only(found, "thread.message.completed")
    assert message["content"][0]["text"]["value"] == "Let me check."


# -- incomplete answers ----------------------------------------------------------------------------


def test_a_length_stop_leaves_the_run_and_the_message_incomplete(
    server, backend, thread_id, assistant_id
):
    backend.script(length_answer("The answer was cut sh"))

    found = stream_run(server, thread_id, assistant_id, max_completion_tokens=256)

    (message,) = only(found, "thread.message.incomplete")
    assert message["status"] == "incomplete"
    assert message["incomplete_details"] == {"reason": "max_tokens"}
    assert message["content"][0]["text"]["value"] == "The answer was cut sh"
    run = last_run(found)
    assert names(found)[-2] == "thread.run.incomplete"
    assert run["status"] == "incomplete"
    assert run["incomplete_details"] == {"reason": "max_completion_tokens"}
    assert run["usage"]["completion_tokens"] == 7


def test_a_content_filter_stop_leaves_the_message_incomplete_and_fails_the_run(
    server, backend, thread_id, assistant_id
):
    backend.script(content_filter_answer("I can tell you that", chunks=2))

    found = stream_events(
        server.base_url, f"/threads/{thread_id}/runs", {"assistant_id": assistant_id}
    )

    # Every event as the spec says: the spec names the filter as a message's reason to be
    # incomplete, and has no such reason for a run, which fails instead.
    assert_valid_events(found)
    (message,) = only(found, "thread.message.incomplete")
    assert message["incomplete_details"] == {"reason": "content_filter"}
    assert message["content"][0]["text"]["value"] == "I can tell you that"
    (step,) = only(found, "thread.run.step.failed")
    assert step["last_error"]["code"] == "server_error"  # the spec's codes for a step
    run = last_run(found)
    assert run["status"] == "failed"
    assert run["last_error"] == {
        "code": "invalid_prompt",
        "message": "The backend's content filter stopped the answer.",
    }


# -- runs in the background ------------------------------------------------------------------------


def test_a_run_that_is_not_streamed_answers_queued_at_once_then_polls_to_the_end(
    server, client, backend, thread_id, assistant_id
):
    answer_may_start = threading.Event()
    backend.script(
        text_answer("Done in the background.", chunks=3).held_before(0, answer_may_start)
    )

    run = client.create_run(thread_id, assistant_id)
    assert run.status == "queued"  # answered while the backend has not said a word

    statuses = []

    def in_progress() -> bool:
        statuses.append(client.get_run(thread_id, run.id).status)
        return statuses[-1] == "in_progress"

    wait_until(in_progress, what="the run in progress")
    answer_may_start.set()
    final = client.wait_for_run(thread_id, run.id, timeout=BOUND, poll_interval=0.01)

    assert set(statuses) <= {"queued", "in_progress"}
    assert final.status == "completed"
    assert final.usage is not None and final.usage.total_tokens == 18
    messages = list(client.list_messages(thread_id, run_id=run.id))
    assert [m.content[0].text.value for m in messages] == ["Done in the background."]
    assert server.stored("message", messages[0].id)["status"] == "completed"


def test_a_tool_loop_in_the_background_continues_on_the_backend(
    client, backend: FakeChatServer, thread_id, tool_assistant_id
):
    backend.script(
        tool_call_answer("get_current_weather", "{}", call_id="call_1"),
        text_answer("Sunny."),
    )

    run = client.create_run_and_wait(thread_id, tool_assistant_id, poll_interval=0.01)
    assert run.status == "requires_action"
    assert [c.id for c in run.required_tool_calls] == ["call_1"]
    submitted = client.submit_tool_outputs(
        thread_id, run.id, [{"tool_call_id": "call_1", "output": "sunny"}]
    )
    assert submitted.status == "queued"
    final = client.wait_for_run(thread_id, run.id, timeout=BOUND, poll_interval=0.01)

    assert final.status == "completed"
    assert backend.last_body()["messages"][-1]["role"] == "tool"
