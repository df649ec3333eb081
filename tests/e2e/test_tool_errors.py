"""run_with_tools when a tool call fails: the three failures told apart, reported to the model and
logged by default, or raised after the run was cancelled; never a leak of the caller's other
function names. Both loops, streamed and polled, against the emulator over loopback."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from assistants_client import AssistantsClient, BadRequestError, ToolCallError
from assistants_client.emulator import Emulator
from tests.payloads import WEATHER_TOOL

# A function of the caller's that the model was never told about: it must not reach the server.
PRIVATE_NAME = "internal_billing_adjustment"

MODES = pytest.mark.parametrize("stream", [True, False], ids=["streaming", "polling"])


def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "celsius": 18}


def raises_runtime_error(city: str) -> str:
    raise RuntimeError("weather service down")


def raises_type_error_inside(city: str) -> str:
    # A TypeError from inside the function is the function's failure, not a binding failure.
    return city + 1  # type: ignore[operator,no-any-return]


def private_function() -> str:  # pragma: no cover - never called
    raise AssertionError("the model cannot call a function it does not know")


# (what the model asks for, the function registered under get_weather, expected reason, a
# piece of the message, the type of the exception behind it, or None)
FAILURES = {
    "function_raises": (
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        raises_runtime_error,
        "function_raised",
        "get_weather raised RuntimeError: weather service down",
        RuntimeError,
    ),
    "type_error_inside": (
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        raises_type_error_inside,
        "function_raised",
        "get_weather raised TypeError",
        TypeError,
    ),
    "unknown_name": (
        {"name": "get_forecast", "arguments": {"city": "Paris"}},
        get_weather,
        "unknown_function",
        "unknown function 'get_forecast'",
        None,
    ),
    "arguments_do_not_bind": (
        {"name": "get_weather", "arguments": {"town": "Paris"}},
        get_weather,
        "invalid_arguments",
        "the arguments do not fit 'get_weather'",
        TypeError,
    ),
    "arguments_not_json": (
        {"name": "get_weather", "arguments": '{"city": "Par'},
        get_weather,
        "invalid_arguments",
        "the arguments of 'get_weather' are not valid JSON",
        ValueError,
    ),
}
FAILURE_CASES = pytest.mark.parametrize(
    ("call", "function", "reason", "message", "cause"),
    list(FAILURES.values()),
    ids=list(FAILURES),
)


@pytest.fixture
def assistant_id(client: AssistantsClient) -> str:
    return client.create_assistant("gpt-4o", tools=[WEATHER_TOOL]).id


@pytest.fixture
def thread_id(client: AssistantsClient) -> str:
    return client.create_thread(messages=[{"role": "user", "content": "hello"}]).id


def functions_with(function: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    return {"get_weather": function, PRIVATE_NAME: private_function}


def tool_outputs_sent(emulator: Emulator) -> list[dict[str, Any]]:
    return [
        output
        for request in emulator.requests
        if request.method == "POST" and request.path.endswith("/submit_tool_outputs")
        for output in request.body["tool_outputs"]
    ]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "assistants_client" and record.levelno == logging.WARNING
    ]


@MODES
@FAILURE_CASES
def test_a_failed_call_is_reported_to_the_model_with_its_reason_and_logged_at_warning(
    client: AssistantsClient,
    emulator: Emulator,
    assistant_id: str,
    thread_id: str,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
    call: dict[str, Any],
    function: Callable[..., Any],
    reason: str,
    message: str,
    cause: type[BaseException] | None,
) -> None:
    emulator.script.queue_tool_calls([call])
    caplog.set_level(logging.DEBUG, logger="assistants_client")
    run = client.run_with_tools(
        thread_id, assistant_id, functions_with(function), stream=stream, poll_interval=0.01
    )

    assert run.status == "completed"
    (sent,) = tool_outputs_sent(emulator)
    (required,) = [
        c
        for step in client.list_run_steps(thread_id, run.id, order="asc")
        if step.step_details.type == "tool_calls"
        for c in step.step_details.tool_calls
        if c.type == "function"
    ]
    assert sent["tool_call_id"] == required.id
    assert message in json.loads(sent["output"])["error"]
    assert required.function.output == sent["output"]

    (record,) = warnings_of(caplog)
    logged = record.getMessage()
    assert run.id in logged and required.id in logged and call["name"] in logged
    assert reason in logged and message in logged
    assert (record.run_id, record.tool_call_id) == (run.id, required.id)  # type: ignore[attr-defined]
    assert (record.function_name, record.reason) == (call["name"], reason)  # type: ignore[attr-defined]
    # The traceback of the user's own exception goes with the log record; not the model's.
    if reason == "function_raised":
        assert record.exc_info is not None and isinstance(record.exc_info[1], cause)  # type: ignore[arg-type]
    else:
        assert record.exc_info is None


@MODES
@FAILURE_CASES
def test_the_error_sent_to_the_server_never_names_the_callers_other_functions(
    client: AssistantsClient,
    emulator: Emulator,
    assistant_id: str,
    thread_id: str,
    stream: bool,
    call: dict[str, Any],
    function: Callable[..., Any],
    reason: str,
    message: str,
    cause: type[BaseException] | None,
) -> None:
    emulator.script.queue_tool_calls([call])
    client.run_with_tools(
        thread_id, assistant_id, functions_with(function), stream=stream, poll_interval=0.01
    )
    (sent,) = tool_outputs_sent(emulator)
    assert message in sent["output"]  # the failure was reported: this is the right request
    assert PRIVATE_NAME not in sent["output"]
    for request in emulator.requests:
        assert PRIVATE_NAME.encode() not in request.raw_body, request.path


@MODES
@FAILURE_CASES
def test_on_tool_error_raise_cancels_the_run_then_raises_with_the_call_and_the_cause(
    client: AssistantsClient,
    emulator: Emulator,
    assistant_id: str,
    thread_id: str,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
    call: dict[str, Any],
    function: Callable[..., Any],
    reason: str,
    message: str,
    cause: type[BaseException] | None,
) -> None:
    emulator.script.queue_tool_calls([call])
    caplog.set_level(logging.DEBUG, logger="assistants_client")
    with pytest.raises(ToolCallError) as caught:
        client.run_with_tools(
            thread_id,
            assistant_id,
            functions_with(function),
            stream=stream,
            on_tool_error="raise",
            poll_interval=0.01,
        )
    error = caught.value
    (step,) = client.list_run_steps(thread_id, error.run_id).data
    assert step.step_details.type == "tool_calls"
    (asked,) = step.step_details.tool_calls
    assert asked.type == "function"
    assert (error.tool_call_id, error.function_name, error.reason) == (
        asked.id,
        call["name"],
        reason,
    )
    assert message in str(error) and error.run_id in str(error)
    if cause is None:
        assert error.__cause__ is None
    else:
        assert isinstance(error.__cause__, cause)
    if reason == "function_raised":
        assert error.__cause__.__traceback__ is not None  # type: ignore[union-attr]

    # Nothing was submitted; the run was cancelled, and waited for, before the error was raised.
    assert tool_outputs_sent(emulator) == []
    assert client.get_run(thread_id, error.run_id).status == "cancelled"
    assert not warnings_of(caplog)
    # So the thread takes a new run at once.
    emulator.script.queue_text("a new run")
    assert client.create_run_and_wait(thread_id, assistant_id, poll_interval=0.01).status == (
        "completed"
    )


def test_a_thread_whose_run_waits_for_tool_outputs_takes_no_new_run(
    client: AssistantsClient, emulator: Emulator, assistant_id: str, thread_id: str
) -> None:
    # Why on_tool_error="raise" must cancel: without it, the thread stays locked.
    emulator.script.queue_tool_calls([{"name": "get_weather", "arguments": {"city": "Paris"}}])
    waiting = client.create_run_and_wait(thread_id, assistant_id, poll_interval=0.01)
    assert waiting.status == "requires_action"
    with pytest.raises(BadRequestError, match="active run"):
        client.create_run(thread_id, assistant_id)


@MODES
def test_a_call_that_fails_among_several_raises_for_that_call_and_calls_none_after_it(
    client: AssistantsClient,
    emulator: Emulator,
    assistant_id: str,
    thread_id: str,
    stream: bool,
) -> None:
    called: list[str] = []

    def recording(city: str) -> str:
        called.append(city)
        if city == "Lyon":
            raise RuntimeError("no station in Lyon")
        return "sunny"

    emulator.script.queue_tool_calls(
        [
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "get_weather", "arguments": {"city": "Lyon"}},
            {"name": "get_weather", "arguments": {"city": "Nice"}},
        ]
    )
    with pytest.raises(ToolCallError, match="no station in Lyon") as caught:
        client.run_with_tools(
            thread_id,
            assistant_id,
            {"get_weather": recording},
            stream=stream,
            on_tool_error="raise",
            poll_interval=0.01,
        )
    assert called == ["Paris", "Lyon"]
    (step,) = client.list_run_steps(thread_id, caught.value.run_id).data
    assert step.step_details.type == "tool_calls"
    second = step.step_details.tool_calls[1]
    assert second.type == "function" and second.function.arguments == '{"city": "Lyon"}'
    assert caught.value.tool_call_id == second.id
    assert client.get_run(thread_id, caught.value.run_id).status == "cancelled"


@MODES
def test_a_callable_policy_chooses_the_output_of_a_raising_function_only(
    client: AssistantsClient,
    emulator: Emulator,
    assistant_id: str,
    thread_id: str,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
) -> None:
    handled: list[tuple[str, BaseException]] = []

    def policy(call: Any, exc: BaseException) -> str:
        handled.append((call.function.name, exc))
        return "the weather service is down; answer without it"

    emulator.script.queue_tool_calls(
        [
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "get_forecast", "arguments": {}},
        ]
    )
    caplog.set_level(logging.DEBUG, logger="assistants_client")
    run = client.run_with_tools(
        thread_id,
        assistant_id,
        {"get_weather": raises_runtime_error},
        stream=stream,
        on_tool_error=policy,
        poll_interval=0.01,
    )
    assert run.status == "completed"
    first, second = tool_outputs_sent(emulator)
    assert first["output"] == "the weather service is down; answer without it"
    assert "unknown function 'get_forecast'" in second["output"]
    assert [(name, type(exc)) for name, exc in handled] == [("get_weather", RuntimeError)]
    # The model's own mistake is still reported and logged as under the default policy.
    (record,) = warnings_of(caplog)
    assert record.reason == "unknown_function"  # type: ignore[attr-defined]
