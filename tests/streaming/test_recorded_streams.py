"""The stream parser on recorded byte streams cut into chunks of every size."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from assistants_client import (
    APIResponseValidationError,
    StreamError,
    StreamInterruptedError,
)
from assistants_client._streaming import AssistantEventHandler, parse_event_stream
from assistants_client.models import (
    ThreadMessageDeltaEvent,
    ThreadRunCompletedEvent,
    UnknownAssistantStreamEvent,
)
from tests.streaming.recorded import (
    MESSAGE_ID,
    chunked,
    encode,
    sse,
    text_run_events,
    tool_call_events,
)

PIECES = ["Bonjour", " à", " vous", " ☃", " 日本語", " 😀!"]
TEXT = "".join(PIECES)


def read_all(data: bytes, size: int) -> Any:
    return parse_event_stream(iter(chunked(data, size))).until_done()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_chunk_size_gives_the_same_events_and_text(newline: str) -> None:
    data = encode(text_run_events(PIECES), newline=newline)
    sizes = [*range(1, 64), 97, 256, 1000, len(data)]
    for size in sizes:
        stream = read_all(data, size)
        assert stream.done, size
        assert stream.final_run.status == "completed", size
        assert stream.final_messages[0].text == TEXT, size
        assert stream.events_seen == len(text_run_events(PIECES)), size


def test_multibyte_characters_split_across_chunks_are_reassembled() -> None:
    data = encode(text_run_events(PIECES))
    snowman = "☃".encode()
    cut = data.index(snowman) + 1  # inside the three bytes of the snowman
    stream = parse_event_stream(iter([data[:cut], data[cut:]])).until_done()
    assert stream.final_messages[0].text == TEXT


def test_the_accumulated_message_equals_the_servers_completed_message() -> None:
    pieces = [f"part{i} " for i in range(50)]
    stream = read_all(encode(text_run_events(pieces)), 7)
    accumulated = stream.snapshot.accumulated_message(MESSAGE_ID)
    completed = stream.final_messages[0].to_dict()
    assert accumulated is not None
    assert accumulated["content"] == completed["content"]


def test_text_deltas_yield_the_text_as_it_arrives() -> None:
    stream = parse_event_stream(iter(chunked(encode(text_run_events(PIECES)), 5)))
    assert list(stream.text_deltas()) == PIECES


def test_tool_call_arguments_accumulate_by_index_and_requires_action_is_exposed() -> None:
    pieces = ['{"ci', 'ty": "Pa', 'ris"}']
    events = tool_call_events(pieces)
    stream = read_all(encode(events), 3)
    (step,) = stream.final_run_steps
    call = step.step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.function.arguments == '{"city": "Paris"}'
    assert call.function.name == "get_weather"
    assert [c.id for c in stream.required_tool_calls] == ["call_1"]
    assert step.to_dict()["step_details"] == dict(events)["__step_final__"]["step_details"]


def test_a_connection_closed_before_done_raises_with_the_partial_snapshot() -> None:
    data = encode(text_run_events(PIECES), done=False)
    cut = data.index(b"thread.message.completed")
    stream = parse_event_stream(iter(chunked(data[:cut], 10)))
    seen = []
    with pytest.raises(StreamInterruptedError) as info:
        for event in stream:
            seen.append(event)
    assert seen and isinstance(seen[-1], ThreadMessageDeltaEvent)
    assert info.value.partial is stream.snapshot
    assert info.value.partial.text == TEXT


def test_a_stream_ending_without_done_never_looks_complete() -> None:
    data = encode(text_run_events(PIECES), done=False)
    with pytest.raises(StreamInterruptedError):
        read_all(data, 64)


def test_an_event_cut_in_the_middle_is_not_dispatched() -> None:
    data = encode(text_run_events(PIECES))
    # Cut right after a complete `data:` line of the last run event, before its blank line.
    end = data.index(b"event: thread.run.completed")
    line_end = data.index(b"\n", data.index(b"data: ", end)) + 1
    stream = parse_event_stream(iter([data[:line_end]]))
    names = []
    with pytest.raises(StreamInterruptedError, match="cut off"):
        for event in stream:
            names.append(event.event)
    assert "thread.run.completed" not in names


def test_unknown_event_names_arrive_as_generic_events() -> None:
    events = text_run_events(["hi"])
    data = encode(events[:2]).replace(
        b"event: done", b'event: thread.run.future_thing\ndata: {"x": 1}\n\nevent: done'
    )
    stream = parse_event_stream(iter([data]))
    received = list(stream)
    unknown = [e for e in received if isinstance(e, UnknownAssistantStreamEvent)]
    assert [u.event for u in unknown] == ["thread.run.future_thing"]
    assert unknown[0].raw["data"] == {"x": 1}
    assert stream.done


def test_an_error_event_reaches_the_handler_then_raises_with_the_servers_code() -> None:
    class Recorder(AssistantEventHandler):
        errors: ClassVar[list[Any]] = []

        def on_error(self, error: Any) -> None:
            self.errors.append(error)

    data = (
        sse("thread.run.created", text_run_events(["x"])[0][1])
        + sse(
            "error",
            {
                "message": "The server had an error",
                "type": "server_error",
                "param": None,
                "code": "server_error",
            },
        )
    ).encode()
    handler = Recorder()
    with pytest.raises(StreamError) as info:
        parse_event_stream(iter([data]), handler=handler).until_done()
    assert info.value.code == "server_error"
    assert "The server had an error" in str(info.value)
    assert len(handler.errors) == 1


def test_malformed_json_in_an_event_raises_a_typed_error_with_what_was_received() -> None:
    data = (
        sse("thread.run.created", text_run_events(["x"])[0][1])
        + "event: thread.run.queued\ndata: {not json\n\n"
    ).encode()
    with pytest.raises(APIResponseValidationError) as info:
        parse_event_stream(iter([data])).until_done()
    assert info.value.partial is not None
    assert info.value.partial.run.status == "queued"


def test_a_ten_megabyte_event_is_parsed_whole() -> None:
    big = "x" * (10 * 1024 * 1024)
    stream = read_all(encode(text_run_events([big, "!"], annotate=False)), 1 << 16)
    assert stream.final_messages[0].text == big + "!"


class RecordingHandler(AssistantEventHandler):
    """A subclass with state set at class level: no __init__ of its own, no super() call."""

    def on_event(self, event: Any) -> None:
        self.log.append(("event", event.event))

    def on_text_created(self, text: str) -> None:
        self.log.append(("text_created", text))

    def on_text_delta(self, delta: str, snapshot: str) -> None:
        self.log.append(("text_delta", delta, snapshot))

    def on_text_done(self, text: str) -> None:
        self.log.append(("text_done", text))

    def on_message_done(self, message: Any) -> None:
        self.log.append(("message_done", message.id))

    def on_tool_call_created(self, tool_call: Any) -> None:
        self.log.append(("tool_created", tool_call.id))

    def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
        self.log.append(("tool_delta", snapshot.function.arguments))

    def on_run_status(self, run: Any) -> None:
        self.log.append(("run", run.status))

    def on_end(self) -> None:
        self.log.append(("end",))


def test_a_handler_subclass_without_init_receives_text_and_run_callbacks_and_is_reusable() -> None:
    handler = RecordingHandler()
    handler.log = []  # type: ignore[attr-defined]
    parse_event_stream(iter([encode(text_run_events(["Hel", "lo"]))]), handler=handler).until_done()
    first = list(handler.log)  # type: ignore[attr-defined]
    assert ("text_created", "Hel") in first
    assert ("text_delta", "lo", "Hello") in first
    assert ("text_done", "Hello") in first
    assert ("run", "completed") in first
    assert first[-1] == ("end",)
    handler.log = []  # type: ignore[attr-defined]
    parse_event_stream(iter([encode(text_run_events(["Hel", "lo"]))]), handler=handler).until_done()
    assert handler.log == first  # type: ignore[attr-defined]


def test_tool_call_callbacks_see_the_arguments_grow() -> None:
    handler = RecordingHandler()
    handler.log = []  # type: ignore[attr-defined]
    parse_event_stream(
        iter([encode(tool_call_events(['{"a"', ": 1}"]))]), handler=handler
    ).until_done()
    log = handler.log  # type: ignore[attr-defined]
    assert ("tool_created", "call_1") in log
    assert ("tool_delta", '{"a": 1}') in log
    assert ("run", "requires_action") in log


def test_run_events_are_typed() -> None:
    received = list(parse_event_stream(iter([encode(text_run_events(["a"]))])))
    assert isinstance(received[-1], ThreadRunCompletedEvent)
    assert received[-1].data.status == "completed"
