"""Events are dispatched by their generated classes: what each does to the snapshot and handler."""

from __future__ import annotations

from typing import Any

from assistants_client import AssistantEventHandler
from assistants_client._streaming import parse_event_stream
from assistants_client.models import RunResponse, ThreadMessage, UnknownAssistantStreamEvent
from tests.streaming import recorded
from tests.streaming.recorded import MESSAGE_ID, message, run, sse


def _body(events: list[tuple[str, Any]]) -> list[bytes]:
    return [sse(name, data).encode() for name, data in events] + [sse("done", "[DONE]").encode()]


def _text_delta(piece: str) -> tuple[str, Any]:
    return (
        "thread.message.delta",
        {
            "id": MESSAGE_ID,
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": {"value": piece}}]},
        },
    )


def test_an_unknown_thread_run_event_does_not_replace_the_run() -> None:
    events = [
        ("thread.run.created", run("queued")),
        ("thread.run.in_progress", run("in_progress")),
        ("thread.run.paused", {"id": "pause_1", "object": "thread.run.pause", "reason": "x"}),
    ]
    stream = parse_event_stream(iter(_body(events)))
    seen = list(stream)
    assert isinstance(seen[-1], UnknownAssistantStreamEvent)
    assert stream.final_run is not None
    assert stream.final_run.status == "in_progress"


def test_message_in_progress_after_deltas_keeps_the_text_so_far() -> None:
    events = [
        ("thread.run.created", run("queued")),
        ("thread.message.created", message("in_progress", [])),
        _text_delta("Hel"),
        ("thread.message.in_progress", message("in_progress", [])),
        _text_delta("lo"),
    ]
    stream = parse_event_stream(iter(_body(events))).until_done()
    assert stream.snapshot.text == "Hello"
    assert stream.final_messages[0].text == "Hello"
    # Only a completed (or incomplete) message records what its deltas added up to.
    assert stream.snapshot.accumulated_message(MESSAGE_ID) is None


def test_step_in_progress_with_no_calls_keeps_the_calls_streamed_so_far() -> None:
    events = recorded.tool_call_events(['{"city":', '"Paris"}'])
    # The real API repeats `tool_calls: []` after the first delta in some streams.
    at = next(i for i, (name, _) in enumerate(events) if name == "thread.run.step.delta") + 1
    empty_step = next(data for name, data in events if name == "thread.run.step.created")
    events.insert(at, ("thread.run.step.in_progress", empty_step))
    stream = parse_event_stream(iter(_body(events))).until_done()
    step = stream.final_run_steps[0]
    assert step.step_details.tool_calls[0].function.arguments == '{"city":"Paris"}'  # type: ignore[attr-defined]


class _Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_run_status(self, run: RunResponse) -> None:
        self.calls.append(f"run:{run.status}")

    def on_message_created(self, message: ThreadMessage) -> None:
        self.calls.append("message_created")

    def on_message_done(self, message: ThreadMessage) -> None:
        self.calls.append(f"message_done:{message.status}")


def test_each_event_class_reaches_its_callbacks_once() -> None:
    handler = _Recorder()
    stream = parse_event_stream(iter(_body(recorded.text_run_events(["Hi ", "there"]))), handler)
    stream.until_done()
    assert handler.calls == [
        "run:queued",
        "run:queued",
        "run:in_progress",
        "message_created",
        "message_done:completed",
        "run:completed",
    ]
