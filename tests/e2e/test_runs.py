"""Runs on the emulator: streamed and polled, tool loops, cancel mid-stream, structured output."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from assistants_client import (
    APITimeoutError,
    AssistantEventHandler,
    AssistantsClient,
    InvalidArgumentError,
    RetryPolicy,
    RunFailedError,
    ToolCallError,
)
from assistants_client.emulator import Emulator, Timing
from assistants_client.models import (
    ThreadCreatedEvent,
    ThreadMessageDeltaEvent,
    ThreadRunCompletedEvent,
    ThreadRunRequiresActionEvent,
)
from tests.payloads import WEATHER_TOOL


@pytest.fixture
def assistant_id(client: AssistantsClient) -> str:
    return client.create_assistant("gpt-4o", tools=[WEATHER_TOOL]).id


def thread_with(client: AssistantsClient, text: str) -> str:
    return client.create_thread(messages=[{"role": "user", "content": text}]).id


def test_a_streamed_run_yields_typed_events_and_the_text_equals_the_stored_message(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    thread_id = thread_with(client, "hello there")
    emulator.script.queue_text("The quick brown fox jumps", chunks=5)
    with client.stream_run(thread_id, assistant_id) as stream:
        texts = list(stream.text_deltas())
    assert len(texts) == 5
    assert stream.done
    assert stream.final_run.status == "completed"
    stored = client.list_messages(thread_id, run_id=stream.final_run.id).data[0]
    assert "".join(texts) == stored.text == stream.final_messages[0].text
    assert stream.final_run_steps[0].type == "message_creation"
    assert stream.request_id and stream.status_code == 200


def test_create_run_with_on_event_accepts_both_callback_shapes(
    client: AssistantsClient, assistant_id: str
) -> None:
    thread_id = thread_with(client, "hi")
    single: list[str] = []
    run = client.create_run(
        thread_id, assistant_id, on_event=lambda event: single.append(event.event)
    )
    assert run.status == "completed"
    assert single[0] == "thread.run.created" and single[-1] == "thread.run.completed"

    client.create_message(thread_id, "user", "again")
    pairs: list[tuple[str, type]] = []

    def two(event_name: str, event: Any) -> None:
        pairs.append((event_name, type(event)))

    client.create_run(thread_id, assistant_id, on_event=two)
    assert ("thread.run.completed", ThreadRunCompletedEvent) in pairs
    assert ("thread.message.delta", ThreadMessageDeltaEvent) in pairs

    client.create_message(thread_id, "user", "keywords")
    names: list[str] = []

    def keywords(*, event_name: str, event: Any) -> None:
        names.append(event_name)

    client.create_run(thread_id, assistant_id, on_event=keywords)
    assert "thread.run.completed" in names


def test_a_stream_ending_in_requires_action_exposes_the_tool_calls_and_continues_with_outputs(
    client: AssistantsClient, assistant_id: str
) -> None:
    thread_id = thread_with(client, "What is the weather? use get_weather for Paris")
    with client.stream_run(thread_id, assistant_id) as stream:
        events = list(stream)
    assert isinstance(events[-1], ThreadRunRequiresActionEvent)
    (call,) = stream.required_tool_calls
    assert call.function.name == "get_weather"
    run_id = stream.final_run.id
    with client.stream_tool_outputs(
        thread_id, run_id, [{"tool_call_id": call.id, "output": "sunny"}]
    ) as rest:
        answer = "".join(rest.text_deltas())
    assert rest.final_run.status == "completed"
    assert "sunny" in answer


def test_a_function_call_streamed_in_pieces_is_snapshotted_with_its_id_and_name_once(
    client: AssistantsClient, assistant_id: str, emulator: Emulator
) -> None:
    # As the live API streams it: a first delta names the call, the rest carry only pieces of
    # its arguments; a snapshot that appends strings must not repeat the id or the name.
    arguments = '{"city": "Paris", "unit": "celsius", "note": "bring an umbrella"}'
    emulator.script.queue_tool_calls([{"name": "get_weather", "arguments": arguments}])
    thread_id = thread_with(client, "hi")
    with client.stream_run(thread_id, assistant_id) as stream:
        deltas = [e for e in stream if e.event == "thread.run.step.delta"]
    assert len(deltas) > 3
    (step,) = stream.final_run_steps
    (call,) = step.step_details.tool_calls  # type: ignore[union-attr]
    (required,) = stream.required_tool_calls
    assert call.id == required.id
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert call.function.arguments == arguments  # type: ignore[union-attr]


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "polling"])
def test_run_with_tools_runs_the_whole_loop(
    client: AssistantsClient, assistant_id: str, stream: bool
) -> None:
    thread_id = thread_with(client, "Weather please: call get_weather")
    seen: list[dict[str, Any]] = []

    def get_weather(city: str) -> dict[str, Any]:
        seen.append({"city": city})
        return {"city": city, "celsius": 21}

    run = client.run_with_tools(
        thread_id, assistant_id, {"get_weather": get_weather}, stream=stream, poll_interval=0.01
    )
    assert run.status == "completed"
    assert len(seen) == 1
    answer = client.list_messages(thread_id, run_id=run.id).data[0].text
    assert '"celsius":21' in answer


def test_a_tool_that_raises_becomes_an_error_output_by_default_and_can_raise(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    def broken(city: str) -> str:
        raise RuntimeError("weather service down")

    thread_id = thread_with(client, "call get_weather")
    run = client.run_with_tools(thread_id, assistant_id, {"get_weather": broken})
    assert run.status == "completed"
    step = client.list_run_steps(thread_id, run.id, order="asc").data[0]
    output = step.step_details.tool_calls[0].function.output  # type: ignore[union-attr]
    assert "RuntimeError" in output and "weather service down" in output

    client.create_message(thread_id, "user", "call get_weather again")
    with pytest.raises(ToolCallError, match="down") as caught:
        client.run_with_tools(
            thread_id, assistant_id, {"get_weather": broken}, on_tool_error="raise"
        )
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert caught.value.reason == "function_raised"
    assert client.get_run(thread_id, caught.value.run_id).status == "cancelled"


def test_an_unknown_function_name_is_an_error_output_not_a_crash(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    thread_id = thread_with(client, "anything")
    emulator.script.queue_tool_calls([{"name": "not_registered", "arguments": {"x": 1}}])
    run = client.run_with_tools(thread_id, assistant_id, {"get_weather": lambda city: city})
    assert run.status == "completed"
    step = client.list_run_steps(thread_id, run.id, order="asc").data[0]
    assert "unknown function 'not_registered'" in step.step_details.tool_calls[0].function.output  # type: ignore[union-attr]


@pytest.fixture
def slow_stream() -> Iterator[tuple[AssistantsClient, str, str]]:
    """A client, a thread and an assistant whose next answer streams 300 deltas, 10 ms apart."""
    with (
        Emulator(timing=Timing(stream_interval=0.01)) as emu,
        AssistantsClient(base_url=emu.base_url) as client,
    ):
        assistant_id = client.create_assistant("gpt-4o").id
        thread_id = thread_with(client, "long answer")
        emu.script.queue_text("word " * 300, chunks=300)
        yield client, thread_id, assistant_id


def test_cancel_mid_stream_ends_the_stream_cancelled(
    slow_stream: tuple[AssistantsClient, str, str],
) -> None:
    client, thread_id, assistant_id = slow_stream
    with client.stream_run(thread_id, assistant_id) as stream:
        names = []
        for event in stream:
            names.append(event.event)
            if event.event == "thread.message.delta" and "cancel" not in names:
                names.append("cancel")
                run = stream.snapshot.run
                assert run is not None
                client.cancel_run(thread_id, run.id)
    assert stream.done
    assert stream.final_run.status == "cancelled"
    assert "thread.run.cancelling" in names or "thread.run.cancelled" in names
    assert names.count("thread.message.delta") < 300


def test_leaving_a_stream_block_early_closes_the_connection(
    slow_stream: tuple[AssistantsClient, str, str],
) -> None:
    client, thread_id, assistant_id = slow_stream
    with client.stream_run(thread_id, assistant_id) as stream:
        for event in stream:
            if event.event == "thread.message.delta":
                break
    assert not stream.done
    with pytest.raises(StopIteration):
        next(iter(stream))
    # The client is still usable: the pool got its connection back or replaced it.
    assert client.get_thread(thread_id).id == thread_id


def test_stream_thread_and_run_starts_with_thread_created(
    client: AssistantsClient, assistant_id: str
) -> None:
    with client.stream_thread_and_run(
        assistant_id, thread={"messages": [{"role": "user", "content": "hey"}]}
    ) as stream:
        first = next(iter(stream))
        stream.until_done()
    assert isinstance(first, ThreadCreatedEvent)
    assert stream.final_run.thread_id == first.data.id


def test_failed_and_incomplete_runs_stream_to_their_terminal_status(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    thread_id = thread_with(client, "x")
    emulator.script.queue_failure(code="server_error", message="boom")
    failed = client.create_run(thread_id, assistant_id, on_event=lambda e: None)
    assert failed.status == "failed" and failed.last_error is not None
    assert failed.last_error.message == "boom"
    client.create_message(thread_id, "user", "y")
    emulator.script.queue_incomplete(reason="max_completion_tokens")
    incomplete = client.create_run(thread_id, assistant_id, on_event=lambda e: None)
    assert incomplete.status == "incomplete"
    assert incomplete.incomplete_details.reason == "max_completion_tokens"  # type: ignore[union-attr]


def cancel_when_running(client: AssistantsClient, thread_id: str) -> threading.Thread:
    """A thread that cancels the thread's run as soon as there is one."""

    def cancel() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            runs = client.list_runs(thread_id).data
            if runs and runs[0].status in ("queued", "in_progress"):
                client.cancel_run(thread_id, runs[0].id)
                return
            time.sleep(0.01)

    canceller = threading.Thread(target=cancel)
    canceller.start()
    return canceller


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "polled"])
@pytest.mark.parametrize(
    ("outcome", "why"),
    [
        ("failed", "server_error: could not reach the backend"),
        ("expired", None),
        ("cancelled", None),
        ("incomplete", "max_completion_tokens"),
    ],
)
def test_run_and_get_reply_raises_run_failed_error_with_the_reply_unless_the_run_completed(
    client: AssistantsClient,
    emulator: Emulator,
    assistant_id: str,
    stream: bool,
    outcome: str,
    why: str | None,
) -> None:
    thread_id = thread_with(client, "x")
    canceller = None
    if outcome == "failed":
        emulator.script.queue_failure(message="could not reach the backend")
    elif outcome == "expired":
        emulator.script.queue_expiry()
    elif outcome == "incomplete":
        emulator.script.queue_incomplete(text="Half an ans")
    else:
        emulator.script.queue_delay(5)
        canceller = cancel_when_running(client, thread_id)
    with pytest.raises(RunFailedError) as caught:
        client.run_and_get_reply(thread_id, assistant_id, stream=stream, poll_interval=0.01)
    if canceller is not None:
        canceller.join()
    error = caught.value
    assert error.run.status == outcome and error.reply.run is error.run
    expected = f"run {error.run.id} ended {outcome}" + (f": {why}" if why else "")
    assert str(error) == expected
    assert error.reply.text == ("Half an ans" if outcome == "incomplete" else "")
    assert error.http_status == (504 if outcome == "expired" else 502)


def test_run_and_get_reply_with_check_false_returns_the_reply_of_a_run_that_failed(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    thread_id = thread_with(client, "x")
    emulator.script.queue_incomplete(text="Cut")
    reply = client.run_and_get_reply(thread_id, assistant_id, check=False)
    assert (reply.run.status, reply.text) == ("incomplete", "Cut")
    before = emulator.request_count
    with pytest.raises(InvalidArgumentError, match="check"):
        client.run_and_get_reply(thread_id, assistant_id, check="no")  # type: ignore[arg-type]
    assert emulator.request_count == before


@attrs.define
class Weather:
    city: str
    celsius: float
    conditions: list[str]
    warning: str | None


def test_structured_output_sends_a_strict_schema_and_parses_the_answer(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    thread_id = thread_with(client, "Describe the weather")
    run = client.create_run_and_wait(
        thread_id, assistant_id, response_format=Weather, poll_interval=0.01
    )
    assert run.status == "completed"
    sent = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/runs")][
        -1
    ].body
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    message = client.list_messages(thread_id, run_id=run.id).data[0]
    weather = message.parse(Weather)
    assert isinstance(weather, Weather) and isinstance(weather.conditions, list)


def test_wait_for_run_raises_a_timeout_at_its_deadline(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    thread_id = thread_with(client, "slow")
    emulator.script.queue_delay(5.0)
    run = client.create_run(thread_id, assistant_id)
    with pytest.raises(APITimeoutError, match="still"):
        client.wait_for_run(thread_id, run.id, timeout=0.3, poll_interval=0.05)
    client.cancel_run(thread_id, run.id)


def test_wait_for_run_honours_the_servers_poll_after_hint(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    thread_id = thread_with(client, "x")
    emulator.script.queue_delay(0.3)
    run = client.create_run(thread_id, assistant_id)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    polling = AssistantsClient(base_url=client.base_url, retry_policy=RetryPolicy(sleep=sleep))
    polling.wait_for_run(thread_id, run.id, timeout=10, poll_interval=5.0)
    assert waits and all(w < 1.0 for w in waits)  # the header's few ms, not the 5 s default


class Collector(AssistantEventHandler):
    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.snapshots.append(snapshot)  # type: ignore[attr-defined]

    def on_run_status(self, run: Any) -> None:
        self.statuses.append(run.status)  # type: ignore[attr-defined]


def test_one_handler_serves_several_streams_from_several_threads(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    handler = Collector()
    handler.snapshots = []  # type: ignore[attr-defined]
    handler.statuses = []  # type: ignore[attr-defined]
    threads = [thread_with(client, f"say {i}") for i in range(4)]
    errors: list[BaseException] = []

    def work(tid: str) -> None:
        try:
            with client.stream_run(tid, assistant_id, event_handler=handler) as stream:
                stream.until_done()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in threads]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert not errors
    assert handler.statuses.count("completed") == 4  # type: ignore[attr-defined]


def test_bad_callback_arguments_are_refused_before_any_request(
    client: AssistantsClient, emulator: Emulator, assistant_id: str
) -> None:
    thread_id = thread_with(client, "x")
    before = emulator.request_count
    with pytest.raises(InvalidArgumentError):
        client.create_run(thread_id, assistant_id, on_event=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        client.run_with_tools(thread_id, assistant_id, {"f": "not callable"})  # type: ignore[dict-item]
    assert emulator.request_count == before
