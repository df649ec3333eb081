"""The run state machine: completion, tool calls, cancel, scripted outcomes, one active run."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import Api
from .spec_tools import assert_response_valid

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1},
            },
            "required": ["city", "unit", "days"],
        },
    },
}


def _steps(api: Api, thread_id: str, run_id: str) -> list[dict[str, Any]]:
    page = api.call(
        "GET", f"/threads/{thread_id}/runs/{run_id}/steps", "listRunSteps", params={"order": "asc"}
    )
    return page["data"]  # type: ignore[no-any-return]


def test_a_default_run_completes_within_fifty_milliseconds(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("Hello")
    run = api.run(thread["id"], assistant["id"])
    time.sleep(0.05)
    done = api.get_run(thread["id"], run["id"])
    assert done["status"] == "completed"
    assert done["started_at"] is not None and done["completed_at"] is not None


def test_a_run_passes_through_in_progress_before_completing(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("Hello")
    api.emulator.script.queue_delay(0.3)
    run = api.run(thread["id"], assistant["id"])
    seen = api.wait_run(thread["id"], run["id"], lambda s: s == "in_progress")
    assert seen["status"] == "in_progress"
    assert api.wait_run(thread["id"], run["id"])["status"] == "completed"


def test_run_reads_carry_the_poll_after_header(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("Hello")
    run = api.run(thread["id"], assistant["id"])
    response = api.session.get(f"{api.base}/threads/{thread['id']}/runs/{run['id']}")
    assert response.headers["openai-poll-after-ms"] == "20"


def test_the_default_reply_echoes_the_last_user_message_with_usage(api: Api) -> None:
    assistant = api.assistant(instructions="Answer well")
    thread = api.thread("one two three")
    run = api.wait_run(thread["id"], api.run(thread["id"], assistant["id"])["id"])
    reply = api.messages(thread["id"])["data"][0]
    assert reply["content"][0]["text"]["value"] == "You said: one two three"
    assert reply["run_id"] == run["id"] and reply["assistant_id"] == assistant["id"]
    usage = run["usage"]
    assert usage == {
        "prompt_tokens": 5,
        "completion_tokens": 5,
        "total_tokens": 10,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    (step,) = _steps(api, thread["id"], run["id"])
    assert step["type"] == "message_creation"
    assert step["status"] == "completed"
    assert step["step_details"]["message_creation"]["message_id"] == reply["id"]
    assert step["usage"] == usage


def test_a_run_copies_the_assistant_settings_unless_overridden(api: Api) -> None:
    assistant = api.assistant(
        model="gpt-4o-mini", instructions="Base.", tools=[WEATHER_TOOL], temperature=0.5
    )
    thread = api.thread()
    copied = api.run(thread["id"], assistant["id"])
    assert copied["model"] == "gpt-4o-mini"
    assert copied["instructions"] == "Base."
    # As recorded, a function tool comes back with strict: false when none was given.
    assert copied["tools"] == [
        {"type": "function", "function": {**WEATHER_TOOL["function"], "strict": False}}
    ]
    assert copied["temperature"] == 0.5
    api.wait_run(thread["id"], copied["id"])
    overridden = api.run(
        thread["id"],
        assistant["id"],
        model="gpt-4.1",
        tools=[],
        additional_instructions="Extra.",
        top_p=0.2,
    )
    assert overridden["model"] == "gpt-4.1"
    assert overridden["tools"] == []
    assert overridden["instructions"] == "Base.\n\nExtra."
    assert overridden["top_p"] == 0.2


def test_additional_messages_join_the_thread_before_the_run_answers(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("first")
    run = api.run(
        thread["id"],
        assistant["id"],
        additional_messages=[{"role": "user", "content": "second"}],
    )
    api.wait_run(thread["id"], run["id"])
    texts = [m["content"][0]["text"]["value"] for m in api.messages(thread["id"])["data"]]
    assert texts == ["You said: second", "second", "first"]


def test_naming_a_function_asks_for_it_and_the_outputs_shape_the_answer(api: Api) -> None:
    assistant = api.assistant(tools=[WEATHER_TOOL])
    thread = api.thread("Please call get_weather for Paris")
    run = api.run(thread["id"], assistant["id"])
    waiting = api.wait_run(thread["id"], run["id"], lambda s: s == "requires_action")
    assert waiting["status"] == "requires_action"
    (call,) = waiting["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    arguments = json.loads(call["function"]["arguments"])
    assert arguments == {"city": "Paris", "unit": "celsius", "days": 1}
    (tool_step,) = _steps(api, thread["id"], run["id"])
    assert tool_step["type"] == "tool_calls" and tool_step["status"] == "in_progress"

    api.call(
        "POST",
        f"/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
        "submitToolOuputsToRun",
        json_body={"tool_outputs": [{"tool_call_id": call["id"], "output": "sunny, 21C"}]},
    )
    done = api.wait_run(thread["id"], run["id"])
    assert done["status"] == "completed"
    assert done["required_action"] is None
    reply = api.messages(thread["id"])["data"][0]
    assert "sunny, 21C" in reply["content"][0]["text"]["value"]
    steps = _steps(api, thread["id"], run["id"])
    assert [s["type"] for s in steps] == ["tool_calls", "message_creation"]
    assert steps[0]["status"] == "completed"
    assert steps[0]["step_details"]["tool_calls"][0]["function"]["output"] == "sunny, 21C"


@pytest.mark.parametrize(
    "outputs",
    [
        [],
        [{"tool_call_id": "call_unknown", "output": "x"}],
        [{"output": "no id"}],
    ],
)
def test_tool_outputs_must_answer_exactly_the_pending_calls(
    api: Api, outputs: list[dict[str, str]]
) -> None:
    assistant = api.assistant()
    thread = api.thread("hi")
    api.emulator.script.queue_tool_calls([{"name": "f", "arguments": {}}])
    run = api.run(thread["id"], assistant["id"])
    api.wait_run(thread["id"], run["id"], lambda s: s == "requires_action")
    body = api.call(
        "POST",
        f"/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
        json_body={"tool_outputs": outputs},
        expect=400,
    )
    assert body["error"]["param"].startswith("body.tool_outputs")
    assert api.get_run(thread["id"], run["id"])["status"] == "requires_action"


def test_tool_outputs_are_refused_when_the_run_is_not_waiting_for_them(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.wait_run(thread["id"], api.run(thread["id"], assistant["id"])["id"])
    body = api.call(
        "POST",
        f"/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
        json_body={"tool_outputs": []},
        expect=400,
    )
    assert "completed" in body["error"]["message"]


def test_a_json_schema_response_format_yields_a_document_valid_for_the_schema(api: Api) -> None:
    import jsonschema

    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 18},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}},
            "kind": {"enum": ["a", "b"]},
            "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "ok": {"type": "boolean"},
        },
        "required": ["name", "age", "tags", "kind", "nickname", "ok"],
        "additionalProperties": False,
        "$defs": {"tag": {"type": "object", "properties": {"label": {"type": "string"}}}},
    }
    assistant = api.assistant(
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    )
    thread = api.thread("Describe someone")
    api.wait_run(thread["id"], api.run(thread["id"], assistant["id"])["id"])
    text = api.messages(thread["id"])["data"][0]["content"][0]["text"]["value"]
    jsonschema.validate(json.loads(text), schema)


def test_scripted_text_replaces_the_default_reply(api: Api) -> None:
    api.emulator.script.queue_text("hello world", chunks=5)
    assistant = api.assistant()
    thread = api.thread("anything")
    api.wait_run(thread["id"], api.run(thread["id"], assistant["id"])["id"])
    assert api.messages(thread["id"])["data"][0]["content"][0]["text"]["value"] == "hello world"
    assert api.emulator.script.pending == 0


def test_a_scripted_failure_fails_the_run_with_last_error(api: Api) -> None:
    api.emulator.script.queue_failure(code="rate_limit_exceeded", message="slow down")
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.wait_run(thread["id"], api.run(thread["id"], assistant["id"])["id"])
    assert run["status"] == "failed"
    assert run["last_error"] == {"code": "rate_limit_exceeded", "message": "slow down"}
    assert run["failed_at"] is not None


def test_a_scripted_incomplete_ends_the_run_and_its_message_incomplete(api: Api) -> None:
    api.emulator.script.queue_incomplete(reason="max_completion_tokens", text="partial")
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.wait_run(thread["id"], api.run(thread["id"], assistant["id"])["id"])
    assert run["status"] == "incomplete"
    assert run["incomplete_details"] == {"reason": "max_completion_tokens"}
    message = api.messages(thread["id"])["data"][0]
    # Read outside a stream too, the message says what the run did (the spec requires it).
    assert message["status"] == "incomplete"
    assert message["incomplete_details"] == {"reason": "max_tokens"}
    assert message["incomplete_at"] is not None and message["completed_at"] is None
    assert message["run_id"] == run["id"]
    assert message["content"][0]["text"]["value"] == "partial"


def test_a_scripted_expiry_expires_the_run(api: Api) -> None:
    api.emulator.script.queue_expiry()
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.wait_run(thread["id"], api.run(thread["id"], assistant["id"])["id"])
    assert run["status"] == "expired"


def test_cancelling_moves_through_cancelling_to_cancelled_and_stays_there(api: Api) -> None:
    api.emulator.script.queue_delay(0.05)
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.run(thread["id"], assistant["id"])
    cancelling = api.call("POST", f"/threads/{thread['id']}/runs/{run['id']}/cancel", "cancelRun")
    assert cancelling["status"] == "cancelling"
    cancelled = api.wait_run(thread["id"], run["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] is not None
    time.sleep(0.1)
    assert api.get_run(thread["id"], run["id"])["status"] == "cancelled"
    assert api.messages(thread["id"], run_id=run["id"])["data"] == []


def test_cancelling_a_run_waiting_for_tool_outputs_cancels_its_tool_step(api: Api) -> None:
    api.emulator.script.queue_tool_calls([{"name": "f", "arguments": {}}])
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.run(thread["id"], assistant["id"])
    api.wait_run(thread["id"], run["id"], lambda s: s == "requires_action")
    api.call("POST", f"/threads/{thread['id']}/runs/{run['id']}/cancel", "cancelRun")
    assert api.wait_run(thread["id"], run["id"])["status"] == "cancelled"
    (step,) = _steps(api, thread["id"], run["id"])
    assert step["status"] == "cancelled" and step["cancelled_at"] is not None


def test_cancelling_a_finished_run_is_a_400(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.wait_run(thread["id"], api.run(thread["id"], assistant["id"])["id"])
    body = api.call("POST", f"/threads/{thread['id']}/runs/{run['id']}/cancel", expect=400)
    assert "completed" in body["error"]["message"]


def test_a_thread_with_an_active_run_refuses_new_messages_and_runs(api: Api) -> None:
    api.emulator.script.queue_delay(5)
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.run(thread["id"], assistant["id"])
    blocked_message = api.call(
        "POST",
        f"/threads/{thread['id']}/messages",
        json_body={"role": "user", "content": "more"},
        expect=400,
    )
    assert run["id"] in blocked_message["error"]["message"]
    blocked_run = api.call(
        "POST",
        f"/threads/{thread['id']}/runs",
        json_body={"assistant_id": assistant["id"]},
        expect=400,
    )
    assert blocked_run["error"]["type"] == "invalid_request_error"
    api.call("POST", f"/threads/{thread['id']}/runs/{run['id']}/cancel", "cancelRun")
    api.wait_run(thread["id"], run["id"])
    assert api.message(thread["id"], "more")["role"] == "user"


def test_every_intermediate_run_state_validates_against_the_run_schema(api: Api) -> None:
    api.emulator.script.queue_delay(0.05)
    api.emulator.script.queue_tool_calls([{"name": "f", "arguments": {"a": 1}}])
    assistant = api.assistant()
    thread = api.thread("hi")
    run = api.run(thread["id"], assistant["id"])
    seen = set()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        current = api.get_run(thread["id"], run["id"])
        assert_response_valid("getRun", current)
        seen.add(current["status"])
        if current["status"] == "requires_action":
            break
    assert {"in_progress", "requires_action"} <= seen
