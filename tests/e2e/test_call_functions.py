"""call_functions: one round of the tool loop, for code that streams each round itself (a run
streamed to a page). The outputs are what run_with_tools would submit, failures are reported or
raised the same way, and nothing is sent to the server. Sync and async, on the emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from assistants_client import (
    AssistantsClient,
    AsyncAssistantsClient,
    InvalidArgumentError,
    ToolCallError,
)
from assistants_client.emulator import Emulator
from assistants_client.models import RunResponse
from tests.payloads import WEATHER_TOOL


def get_weather(city: str) -> dict[str, object]:
    return {"city": city, "celsius": 18}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def waiting_run(
    client: AssistantsClient, emulator: Emulator, *calls: dict[str, object]
) -> RunResponse:
    """A streamed run that stopped in requires_action, asking for ``calls``."""
    emulator.script.queue_tool_calls(list(calls))
    assistant = client.create_assistant("gpt-4o", tools=[WEATHER_TOOL])
    thread = client.create_thread(messages=[{"role": "user", "content": "Weather?"}])
    with client.stream_run(thread.id, assistant.id) as stream:
        stream.until_done()
    assert stream.final_run.status == "requires_action"
    return stream.final_run


def test_a_round_streamed_by_hand_gets_one_output_per_call_and_completes(
    emulator: Emulator,
) -> None:
    with AssistantsClient(base_url=emulator.base_url) as client:
        run = waiting_run(
            client,
            emulator,
            {"name": "get_weather", "arguments": {"city": "Oslo"}},
            {"name": "get_weather", "arguments": {"city": "Rome"}},
        )
        before = len(emulator.requests)
        outputs = client.call_functions(run, {"get_weather": get_weather})
        assert len(emulator.requests) == before  # nothing sent
        assert outputs == [
            {
                "tool_call_id": call.id,
                "output": json.dumps(get_weather(city), separators=(",", ":")),
            }
            for call, city in zip(run.required_tool_calls, ["Oslo", "Rome"], strict=True)
        ]
        with client.stream_tool_outputs(run.thread_id, run.id, outputs) as stream:
            text = "".join(stream.text_deltas())
    assert stream.final_run.status == "completed"
    assert 'get_weather returned: {"city":"Oslo","celsius":18}' in text


def test_a_call_the_functions_cannot_answer_is_reported_by_default_and_raised_on_request(
    emulator: Emulator,
) -> None:
    with AssistantsClient(base_url=emulator.base_url) as client:
        run = waiting_run(client, emulator, {"name": "get_forecast", "arguments": {}})
        (reported,) = client.call_functions(run, {"get_weather": get_weather})
        assert json.loads(reported["output"]) == {"error": "unknown function 'get_forecast'"}
        with pytest.raises(ToolCallError) as raised:
            client.call_functions(run, {"get_weather": get_weather}, on_tool_error="raise")
        assert (raised.value.reason, raised.value.run_id) == ("unknown_function", run.id)
        # Left as it was: the caller decides (cancel it, or answer it).
        assert client.get_run(run.thread_id, run.id).status == "requires_action"


def test_a_run_that_waits_for_nothing_gives_no_outputs(emulator: Emulator) -> None:
    with AssistantsClient(base_url=emulator.base_url) as client:
        assistant = client.create_assistant("gpt-4o")
        thread = client.create_thread(messages=[{"role": "user", "content": "Hello"}])
        run = client.create_run_and_wait(thread.id, assistant.id, poll_interval=0.01)
        assert client.call_functions(run, {"get_weather": get_weather}) == []


@pytest.mark.parametrize(
    ("argument", "value"),
    [("run", {"id": "run_1"}), ("functions", {"get_weather": 42}), ("on_tool_error", "ignore")],
)
def test_bad_arguments_are_refused_by_name(
    emulator: Emulator, argument: str, value: object
) -> None:
    with AssistantsClient(base_url=emulator.base_url) as client:
        run = waiting_run(client, emulator, {"name": "get_weather", "arguments": {"city": "Oslo"}})
        arguments: dict[str, object] = {
            "run": run,
            "functions": {"get_weather": get_weather},
            "on_tool_error": "report",
        }
        arguments[argument] = value
        before = len(emulator.requests)
        with pytest.raises(InvalidArgumentError) as refused:
            client.call_functions(**arguments)  # type: ignore[arg-type]
        assert refused.value.param == argument
        assert len(emulator.requests) == before


def test_the_async_client_awaits_async_functions(emulator: Emulator) -> None:
    async def get_weather_later(city: str) -> dict[str, object]:
        await asyncio.sleep(0)
        return get_weather(city)

    with AssistantsClient(base_url=emulator.base_url) as client:
        run = waiting_run(client, emulator, {"name": "get_weather", "arguments": {"city": "Oslo"}})

    async def answer() -> list[dict[str, str]]:
        async with AsyncAssistantsClient(base_url=emulator.base_url) as client:
            return await client.call_functions(run, {"get_weather": get_weather_later})

    (output,) = asyncio.run(answer())
    assert json.loads(output["output"]) == {"city": "Oslo", "celsius": 18}
