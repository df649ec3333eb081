"""The Chat Completions responder against a fake backend on a loopback port.

What the backend receives (the recorded request bodies), what the engine gets (increments from
the recorded OpenAI streams and from scripted ones), the faults (statuses, retries, cuts,
silence, errors in the stream), cancellation, secrecy of the key, and concurrent use.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from assistants_client.server.responders import (
    Failure,
    Finish,
    Increment,
    TextDelta,
    ToolCallDelta,
    ToolRound,
    Turn,
    UnsupportedInput,
    Usage,
)
from assistants_client.server.responders.chat import ChatCompletionsResponder
from tests.servers.fake_chat import (
    DONE_FRAME,
    ChatAnswer,
    FakeChatServer,
    ScriptedCall,
    bad_request,
    chunk,
    content_filter_answer,
    cut_answer,
    echo_answer,
    every_position,
    frame,
    length_answer,
    parallel_tool_calls_answer,
    rate_limited,
    recorded_frames,
    replay_answer,
    server_errors,
    silent_answer,
    stall_answer,
    status_answer,
    stream_error_answer,
    text_answer,
    tool_call_answer,
)
from tests.servers.scripted import Reply

KEY = "sk-test-0123456789abcdefSECRET"
BOUND = 5.0  # seconds: the bound on every wait for another thread in these tests


# -- helpers ---------------------------------------------------------------------------------------


def text_part(value: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def message(role: str, *parts: str | dict[str, Any]) -> dict[str, Any]:
    content = [text_part(p) if isinstance(p, str) else p for p in parts]
    return {"id": f"msg_{role}", "object": "thread.message", "role": role, "content": content}


def user(*parts: str | dict[str, Any]) -> dict[str, Any]:
    return message("user", *parts)


def assistant(*parts: str | dict[str, Any]) -> dict[str, Any]:
    return message("assistant", *parts)


def image_url(url: str, detail: str | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"url": url}
    if detail is not None:
        source["detail"] = detail
    return {"type": "image_url", "image_url": source}


def make_turn(**overrides: Any) -> Turn:
    values: dict[str, Any] = {
        "project": "",
        "run_id": "run_1",
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "model": "gpt-4o",
        "instructions": None,
        "messages": [user("What's the weather like in SF?")],
    }
    values.update(overrides)
    return Turn(**values)


class RecordingSleep:
    """Records the waits asked for and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float, cancelled: threading.Event) -> None:
        self.waits.append(seconds)


@dataclass
class Outcome:
    increments: list[Increment]
    text: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage | None = None
    finish: Finish | None = None
    failure: Failure | None = None


def outcome_of(increments: Sequence[Increment]) -> Outcome:
    """The increments folded the way an engine would, checking the port's rules on the way."""
    result = Outcome(list(increments))
    pieces: list[str] = []
    for number, item in enumerate(increments):
        if isinstance(item, (Finish, Failure)):
            assert number == len(increments) - 1, "Finish/Failure must be the last increment"
        if isinstance(item, TextDelta):
            assert item.text, "empty text deltas are noise"
            pieces.append(item.text)
        elif isinstance(item, ToolCallDelta):
            if item.id is not None:
                assert item.index == len(result.calls), "calls are numbered 0, 1, ... in order"
                assert item.name, "a call's first piece carries its name"
                result.calls.append({"id": item.id, "name": item.name, "arguments": ""})
            else:
                assert item.name is None
            result.calls[item.index]["arguments"] += item.arguments
        elif isinstance(item, Usage):
            result.usage = item
        elif isinstance(item, Finish):
            result.finish = item
        elif isinstance(item, Failure):
            result.failure = item
    result.text = "".join(pieces)
    return result


def wait_for(condition: Callable[[], object], bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def backend() -> Iterator[FakeChatServer]:
    with FakeChatServer() as server:
        yield server


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_responder(
    backend: FakeChatServer, sleeps: RecordingSleep
) -> Iterator[Callable[..., ChatCompletionsResponder]]:
    made: list[ChatCompletionsResponder] = []

    def make(**options: Any) -> ChatCompletionsResponder:
        options.setdefault("base_url", backend.base_url)
        options.setdefault("api_key", KEY)
        options.setdefault("sleep", sleeps)
        options.setdefault("read_timeout", 5.0)
        responder = ChatCompletionsResponder(**options)
        made.append(responder)
        return responder

    yield make
    for responder in made:
        responder.close()


@pytest.fixture
def responder(make_responder: Callable[..., ChatCompletionsResponder]) -> ChatCompletionsResponder:
    return make_responder()


def run(responder: ChatCompletionsResponder, turn: Turn | None = None) -> Outcome:
    return outcome_of(list(responder.respond(turn or make_turn(), threading.Event())))


def sent(responder: ChatCompletionsResponder, backend: FakeChatServer, turn: Turn) -> Any:
    """The body the backend received for ``turn``."""
    result = run(responder, turn)
    assert result.finish is not None, result.failure
    return backend.last_body()


# -- what the backend receives ---------------------------------------------------------------------


def test_every_request_streams_and_asks_for_usage(responder, backend):
    body = sent(responder, backend, make_turn())

    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-4o"
    request = backend.chat_requests()[-1]
    assert request.headers["Content-Type"] == "application/json"


def test_the_system_message_joins_instructions_and_additional_instructions(responder, backend):
    turn = make_turn(instructions="You are terse.", additional_instructions="Answer in French.")

    body = sent(responder, backend, turn)

    assert body["messages"][0] == {
        "role": "system",
        "content": "You are terse.\n\nAnswer in French.",
    }


@pytest.mark.parametrize(
    ("instructions", "additional", "expected"),
    [("Be brief.", None, "Be brief."), (None, "Only this.", "Only this."), ("", None, None)],
)
def test_the_system_message_is_left_out_or_made_of_what_is_there(
    responder, backend, instructions, additional, expected
):
    turn = make_turn(instructions=instructions, additional_instructions=additional)

    messages = sent(responder, backend, turn)["messages"]

    system = [m for m in messages if m["role"] == "system"]
    assert system == ([{"role": "system", "content": expected}] if expected else [])


def test_user_and_assistant_text_is_sent_in_thread_order(responder, backend):
    turn = make_turn(
        instructions="Sys",
        messages=[user("Hi", "there"), assistant("Hello!"), user("Weather in SF?")],
    )

    messages = sent(responder, backend, turn)["messages"]

    assert messages == [
        {"role": "system", "content": "Sys"},
        {"role": "user", "content": "Hi\nthere"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Weather in SF?"},
    ]


def test_image_url_parts_become_chat_image_parts(responder, backend):
    turn = make_turn(
        messages=[
            user(
                "What is in these?",
                image_url("https://example.com/a.png", "low"),
                image_url("https://example.com/b.png"),
            )
        ]
    )

    messages = sent(responder, backend, turn)["messages"]

    assert messages == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}},
            ],
        }
    ]


def test_earlier_tool_rounds_follow_the_thread_as_tool_calls_and_tool_outputs(responder, backend):
    first = ToolRound(
        calls=[
            {"id": "call_a", "name": "get_weather", "arguments": '{"city":"SF"}'},
            {"id": "call_b", "name": "get_time", "arguments": "{}"},
        ],
        outputs={"call_a": "18C", "call_b": "10:00"},
    )
    second = ToolRound(
        calls=[{"id": "call_c", "name": "get_weather", "arguments": '{"city":"LA"}'}],
        outputs={"call_c": "25C"},
    )
    turn = make_turn(messages=[user("Weather?")], tool_rounds=[first, second])

    messages = sent(responder, backend, turn)["messages"]

    def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
        function = {"name": name, "arguments": arguments}
        return {"id": call_id, "type": "function", "function": function}

    assert messages == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call("call_a", "get_weather", '{"city":"SF"}'),
                call("call_b", "get_time", "{}"),
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "10:00"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("call_c", "get_weather", '{"city":"LA"}')],
        },
        {"role": "tool", "tool_call_id": "call_c", "content": "25C"},
    ]


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": None,
    },
}


def test_function_tools_tool_choice_and_parallel_tool_calls_are_passed_through(responder, backend):
    choice = {"type": "function", "function": {"name": "get_weather"}}
    turn = make_turn(tools=[WEATHER_TOOL], tool_choice=choice, parallel_tool_calls=False)

    body = sent(responder, backend, turn)

    function = {k: v for k, v in WEATHER_TOOL["function"].items() if v is not None}
    assert body["tools"] == [{"type": "function", "function": function}]
    assert body["tool_choice"] == choice
    assert body["parallel_tool_calls"] is False


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_string_tool_choices_are_passed_through(responder, backend, choice):
    body = sent(responder, backend, make_turn(tools=[WEATHER_TOOL], tool_choice=choice))

    assert body["tool_choice"] == choice


def test_tool_choice_and_parallel_tool_calls_are_left_out_without_tools(responder, backend):
    body = sent(responder, backend, make_turn(tool_choice="none", parallel_tool_calls=True))

    assert "tools" not in body
    assert "tool_choice" not in body
    assert "parallel_tool_calls" not in body


SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "Location", "schema": {"type": "object"}, "strict": True},
}


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        (SCHEMA_FORMAT, SCHEMA_FORMAT),
        ({"type": "json_object"}, {"type": "json_object"}),
        ("auto", None),
        ({"type": "text"}, None),
        ("text", None),
        (None, None),
    ],
)
def test_response_format_is_sent_only_for_json(responder, backend, response_format, expected):
    body = sent(responder, backend, make_turn(response_format=response_format))

    assert body.get("response_format") == expected


def test_sampling_options_and_the_completion_limit_are_sent_when_set(responder, backend):
    turn = make_turn(temperature=0.2, top_p=0.9, max_completion_tokens=256)

    body = sent(responder, backend, turn)

    assert (body["temperature"], body["top_p"], body["max_completion_tokens"]) == (0.2, 0.9, 256)
    assert "max_tokens" not in body


def test_unset_sampling_options_are_not_sent(responder, backend):
    body = sent(responder, backend, make_turn())

    for name in ("temperature", "top_p", "max_completion_tokens", "max_tokens"):
        assert name not in body


def test_the_completion_limit_field_can_be_max_tokens(make_responder, backend):
    responder = make_responder(completion_tokens_field="max_tokens")

    body = sent(responder, backend, make_turn(max_completion_tokens=100))

    assert body["max_tokens"] == 100
    assert "max_completion_tokens" not in body


def numbered_thread(count: int, chars: int = 0) -> list[dict[str, Any]]:
    """Alternating user/assistant messages; message i's text starts with its number."""
    thread = []
    for i in range(count):
        text = f"m{i} ".ljust(chars, "x") if chars else f"m{i}"
        thread.append(user(text) if i % 2 == 0 else assistant(text))
    return thread


def texts(messages: Sequence[dict[str, Any]]) -> list[str]:
    return [m["content"].split()[0] for m in messages if m["role"] in ("user", "assistant")]


def test_last_messages_truncation_sends_the_last_n_messages_and_keeps_the_rest(responder, backend):
    rounds = [ToolRound(calls=[{"id": "c1", "name": "f", "arguments": "{}"}], outputs={"c1": "1"})]
    turn = make_turn(
        instructions="Sys",
        messages=numbered_thread(7),
        tool_rounds=rounds,
        truncation_strategy={"type": "last_messages", "last_messages": 3},
    )

    messages = sent(responder, backend, turn)["messages"]

    assert messages[0] == {"role": "system", "content": "Sys"}
    assert texts(messages[1:4]) == ["m4", "m5", "m6"]
    assert [m["role"] for m in messages[4:]] == ["assistant", "tool"]
    assert messages[4]["tool_calls"][0]["id"] == "c1"


def test_last_messages_truncation_never_drops_the_last_user_message(responder, backend):
    thread = [user("m0"), user("m1 question"), assistant("m2"), assistant("m3")]
    turn = make_turn(
        messages=thread, truncation_strategy={"type": "last_messages", "last_messages": 1}
    )

    messages = sent(responder, backend, turn)["messages"]

    assert texts(messages) == ["m1", "m3"]


def test_auto_truncation_drops_the_oldest_messages_until_the_estimate_fits(responder, backend):
    # Each message is 400 characters: 4 + 400 / 4 = 104 tokens; the system message "S" is 5.
    turn = make_turn(
        instructions="S",
        messages=numbered_thread(5, chars=400),
        truncation_strategy={"type": "auto"},
        max_prompt_tokens=5 + 3 * 104,
    )

    messages = sent(responder, backend, turn)["messages"]

    assert messages[0] == {"role": "system", "content": "S"}
    assert texts(messages) == ["m2", "m3", "m4"]


def test_auto_truncation_keeps_the_last_user_message_even_when_nothing_fits(responder, backend):
    thread = [*numbered_thread(4, chars=400), assistant("m4 ".ljust(400, "x"))]
    turn = make_turn(messages=thread, truncation_strategy=None, max_prompt_tokens=10)

    messages = sent(responder, backend, turn)["messages"]

    assert texts(messages) == ["m2"]


def test_auto_truncation_without_max_prompt_tokens_sends_everything(responder, backend):
    turn = make_turn(messages=numbered_thread(6, chars=400), truncation_strategy={"type": "auto"})

    assert texts(sent(responder, backend, turn)["messages"]) == [f"m{i}" for i in range(6)]


def test_the_model_map_renames_models_and_others_are_sent_as_they_are(make_responder, backend):
    responder = make_responder(model_map={"gpt-4o": "llama3.1:8b"})

    assert sent(responder, backend, make_turn(model="gpt-4o"))["model"] == "llama3.1:8b"
    assert sent(responder, backend, make_turn(model="gpt-4o-mini"))["model"] == "gpt-4o-mini"


def test_the_key_is_sent_as_a_bearer_token(responder, backend):
    sent(responder, backend, make_turn())

    assert backend.chat_requests()[-1].headers["Authorization"] == f"Bearer {KEY}"


def test_without_a_key_no_authorization_header_is_sent(make_responder, backend):
    responder = make_responder(api_key=None)

    sent(responder, backend, make_turn())

    assert "Authorization" not in backend.chat_requests()[-1].headers


def test_extra_headers_and_body_fields_are_added_without_replacing_the_request(
    make_responder, backend
):
    responder = make_responder(
        extra_headers={"api-key": "azure-key-0123456789"},
        extra_body={"options": {"num_ctx": 8192}, "stream": False},
    )

    body = sent(responder, backend, make_turn())

    assert body["options"] == {"num_ctx": 8192}
    assert body["stream"] is True
    assert backend.chat_requests()[-1].headers["api-key"] == "azure-key-0123456789"


def test_requests_go_to_chat_completions_under_the_base_path_keeping_its_query(sleeps):
    with FakeChatServer(base_path="/openai/v1") as azure_like:
        base_url = f"{azure_like.base_url}/?api-version=preview"
        with ChatCompletionsResponder(base_url, api_key=KEY, sleep=sleeps) as responder:
            result = run(responder)

        request = azure_like.chat_requests()[-1]
    assert result.finish == Finish("stop")
    assert request.path == "/openai/v1/chat/completions"
    assert request.query == {"api-version": ["preview"]}


def test_a_finished_stream_leaves_its_connection_for_the_next_turn(responder, backend):
    run(responder)
    run(responder)

    first, second = backend.chat_requests()
    assert first.client_port == second.client_port


def test_a_consumer_that_stops_at_finish_leaves_the_connection_for_the_next_turn(
    responder, backend
):
    increments = responder.respond(make_turn(), threading.Event())
    while not isinstance(next(increments), Finish):
        pass

    run(responder)

    first, second = backend.chat_requests()
    assert first.client_port == second.client_port
    increments.close()


# -- check ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"tools": [WEATHER_TOOL, {"type": "code_interpreter"}]}, "tools[1]"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0]"),
        ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "code_interpreter"}}, "tool_choice"),
        (
            {
                "messages": [
                    user("a"),
                    user("b"),
                    assistant("c"),
                    user("look", {"type": "image_file", "image_file": {"file_id": "file_1"}}),
                ]
            },
            "messages[3].content[1]",
        ),
        (
            {"messages": [assistant("see", image_url("https://example.com/x.png"))]},
            "messages[0].content[1]",
        ),
        ({"messages": [user({"type": "audio", "audio": {}})]}, "messages[0].content[0]"),
    ],
)
def test_check_rejects_what_the_backend_cannot_take_naming_the_item(responder, overrides, param):
    with pytest.raises(UnsupportedInput) as caught:
        responder.check(make_turn(**overrides))

    assert caught.value.param == param
    assert caught.value.message


def test_check_accepts_function_tools_text_and_image_urls(responder):
    turn = make_turn(
        tools=[WEATHER_TOOL],
        tool_choice="required",
        messages=[user("hi", image_url("https://example.com/x.png")), assistant("hello")],
    )

    responder.check(turn)


def test_respond_to_unsupported_input_fails_without_calling_the_backend(responder, backend):
    result = run(responder, make_turn(tools=[{"type": "code_interpreter"}]))

    assert result.failure is not None
    assert result.failure.code == "invalid_prompt"
    assert "tools[0]" in result.failure.message
    assert backend.chat_requests() == []


# -- what the engine gets: recorded streams ------------------------------------------------------


def expected_from_recording(name: str) -> Outcome:
    """What a recording says, read line by line without the responder's code."""
    text, calls, usage, finish = [], {}, None, None
    for payload in recorded_frames(name):
        data = payload.decode().removeprefix("data: ").strip()
        if data == "[DONE]":
            break
        chunk_ = json.loads(data)
        for choice in chunk_["choices"]:
            delta = choice["delta"]
            text.append(delta.get("content") or "")
            for piece in delta.get("tool_calls") or []:
                call = calls.setdefault(piece["index"], {"id": None, "name": None, "arguments": ""})
                call["id"] = piece.get("id") or call["id"]
                call["name"] = (piece.get("function") or {}).get("name") or call["name"]
                call["arguments"] += (piece.get("function") or {}).get("arguments") or ""
            finish = choice["finish_reason"] or finish
        if chunk_.get("usage"):
            usage = Usage(chunk_["usage"]["prompt_tokens"], chunk_["usage"]["completion_tokens"])
    return Outcome(
        [],
        text="".join(text),
        calls=[calls[i] for i in sorted(calls)],
        usage=usage,
        finish=Finish(finish),
    )


RECORDINGS = [
    "chat-text-usage.sse",
    "chat-text-include-usage-2026.sse",
    "chat-tool-call.sse",
    "chat-tool-call-strict.sse",
    "chat-parallel-tool-calls.sse",
    "chat-length.sse",
]


@pytest.mark.parametrize("name", RECORDINGS)
def test_a_recorded_stream_gives_its_text_tool_calls_usage_and_finish(responder, backend, name):
    backend.script(replay_answer(name))
    expected = expected_from_recording(name)

    result = run(responder)

    assert result.failure is None
    assert result.text == expected.text
    assert result.calls == expected.calls
    assert result.usage == expected.usage
    assert result.finish == expected.finish


def test_the_recordings_say_what_they_are_known_to_say():
    # Guards the line-by-line reading above against reading nothing at all.
    tool = expected_from_recording("chat-tool-call.sse")
    assert tool.calls == [
        {
            "id": "call_4XzlGBLtUe9dy3GVNV4jhq7h",
            "name": "get_weather",
            "arguments": '{"city":"New York City"}',
        }
    ]
    assert (tool.usage, tool.finish) == (Usage(44, 16), Finish("tool_calls"))
    parallel = expected_from_recording("chat-parallel-tool-calls.sse")
    assert [c["name"] for c in parallel.calls] == ["GetWeatherArgs", "get_stock_price"]
    assert json.loads(parallel.calls[1]["arguments"]) == {"ticker": "AAPL", "exchange": "NASDAQ"}
    length = expected_from_recording("chat-length.sse")
    assert (length.text, length.usage, length.finish) == ('{"', Usage(79, 1), Finish("length"))
    assert expected_from_recording("chat-text-include-usage-2026.sse").usage == Usage(22, 712)
    assert expected_from_recording("chat-text-usage.sse").text.startswith("I'm unable to")


def test_each_content_chunk_is_its_own_text_delta(responder, backend):
    backend.script(text_answer("", pieces=["The", " best", " pizza"]))

    result = run(responder)

    assert [i for i in result.increments if isinstance(i, TextDelta)] == [
        TextDelta("The"),
        TextDelta(" best"),
        TextDelta(" pizza"),
    ]
    assert result.increments[-2:] == [Usage(11, 7), Finish("stop")]


def test_text_is_yielded_before_the_backend_has_finished(responder, backend):
    backend.script(stall_answer("Hello"))
    cancelled = threading.Event()
    increments = responder.respond(make_turn(), cancelled)

    first = next(increments)

    assert first == TextDelta("Hello")
    assert not backend.exchanges[0].answered.is_set()
    cancelled.set()
    assert list(increments) == []


ARGUMENTS = [
    '{"city":"New York City"}',
    '{"q":"caf\\u00e9 \\"quoted\\" \\\\ done","n":[1,2.5,null,true]}',
    '{"emoji":"\U0001f327 rain","text":"日本語"}',
]


@pytest.mark.parametrize("arguments", ARGUMENTS)
def test_tool_call_arguments_split_at_every_position_reassemble_exactly(
    responder, backend, arguments
):
    backend.script(tool_call_answer("get_weather", arguments, splits=every_position(arguments)))

    result = run(responder)

    assert result.calls == [{"id": "call_fake_1", "name": "get_weather", "arguments": arguments}]
    assert result.finish == Finish("tool_calls")


def test_tool_call_arguments_split_in_two_anywhere_reassemble_exactly(responder, backend):
    arguments = ARGUMENTS[1]
    for position in range(1, len(arguments)):
        backend.script(tool_call_answer("f", arguments, splits=[position]))

        result = run(responder)

        assert result.calls[0]["arguments"] == arguments, position


def test_parallel_tool_calls_interleaved_come_out_per_call(responder, backend):
    calls = [
        ScriptedCall("call_1", "get_weather", '{"city":"Paris"}', every_position("xxxxxx")),
        ScriptedCall("call_2", "get_stock_price", '{"ticker":"AAPL"}', [3, 9]),
        ScriptedCall("call_3", "get_time", "{}", []),
    ]
    backend.script(parallel_tool_calls_answer(calls, interleave=True))

    result = run(responder)

    assert result.calls == [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
    assert result.finish == Finish("tool_calls")


def test_text_before_a_tool_call_is_kept(responder, backend):
    backend.script(tool_call_answer("f", '{"a":1}', text_before="Let me check. "))

    result = run(responder)

    assert result.text == "Let me check. "
    assert result.calls[0]["arguments"] == '{"a":1}'


def custom_answer(deltas: Sequence[dict[str, Any]], finish_reason: str | None) -> ChatAnswer:
    frames = [frame(chunk(d, completion_id="chatcmpl-x")) for d in deltas]
    if finish_reason is not None:
        frames.append(frame(chunk({}, finish_reason, completion_id="chatcmpl-x")))
    return ChatAnswer(frames=[*frames, DONE_FRAME])


def test_calls_that_a_backend_numbers_all_zero_stay_separate(responder, backend):
    def opening(call_id: str, name: str, arguments: str) -> dict[str, Any]:
        function = {"name": name, "arguments": arguments}
        return {
            "tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": function}]
        }

    backend.script(
        custom_answer([opening("c1", "a", "{}"), opening("c2", "b", '{"x":1}')], "tool_calls")
    )

    result = run(responder)

    assert result.calls == [
        {"id": "c1", "name": "a", "arguments": "{}"},
        {"id": "c2", "name": "b", "arguments": '{"x":1}'},
    ]


def test_a_call_without_index_or_id_gets_a_made_up_id_and_continues_by_position(responder, backend):
    deltas = [
        {"tool_calls": [{"function": {"name": "lookup", "arguments": '{"q":'}}]},
        {"tool_calls": [{"function": {"arguments": '"x"}'}}]},
    ]
    backend.script(custom_answer(deltas, "tool_calls"))

    result = run(responder)

    assert len(result.calls) == 1
    assert result.calls[0]["id"].startswith("call_")
    assert (result.calls[0]["name"], result.calls[0]["arguments"]) == ("lookup", '{"q":"x"}')


def test_tool_calls_reported_as_stop_finish_as_tool_calls(responder, backend):
    opening = {
        "index": 0,
        "id": "c1",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    backend.script(custom_answer([{"tool_calls": [opening]}], "stop"))

    assert run(responder).finish == Finish("tool_calls")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (length_answer("Once upon a"), "length"),
        (content_filter_answer("I can"), "content_filter"),
        (text_answer("ok", finish_reason="function_call"), "tool_calls"),
        (text_answer("ok", finish_reason="eos"), "stop"),
        (text_answer("ok", finish_reason="stop"), "stop"),
    ],
)
def test_finish_reasons_map_to_the_port(responder, backend, answer, expected):
    backend.script(answer)

    assert run(responder).finish == Finish(expected)


def test_chunks_that_are_not_completion_chunks_are_skipped(responder, backend):
    # Azure OpenAI opens with prompt filter results and may add content filter annotations,
    # both with an empty `object`.
    prompt_filter = {"id": "", "object": "", "choices": [], "prompt_filter_results": []}
    annotation = {
        "id": "",
        "object": "",
        "choices": [{"index": 0, "delta": {"content": "not text"}, "finish_reason": None}],
    }
    answer = text_answer("Filtered fine.", chunks=2)
    frames = [frame(prompt_filter), *answer.frames[:2], frame(annotation), *answer.frames[2:]]
    backend.script(ChatAnswer(frames=frames))

    result = run(responder)

    assert (result.text, result.finish) == ("Filtered fine.", Finish("stop"))


def test_done_ends_the_stream_whatever_follows(responder, backend):
    answer = text_answer("kept")
    after = frame(chunk({"content": " ignored"}, completion_id="chatcmpl-x"))
    backend.script(ChatAnswer(frames=[*answer.frames, after]))

    result = run(responder)

    assert (result.text, result.finish) == ("kept", Finish("stop"))


def test_a_stream_with_a_finish_reason_but_no_done_finishes(responder, backend):
    backend.script(text_answer("Fine.").without_done())

    result = run(responder)

    assert (result.text, result.usage, result.finish) == ("Fine.", Usage(11, 7), Finish("stop"))


def test_a_whole_completion_sent_as_json_is_understood(responder, backend):
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Whole answer."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }
    backend.script(Reply.json(completion))

    result = run(responder)

    assert (result.text, result.usage, result.finish) == (
        "Whole answer.",
        Usage(5, 3),
        Finish("stop"),
    )


# -- faults -----------------------------------------------------------------------------------------


def test_rate_limits_are_retried_after_the_wait_the_backend_asks_for(responder, backend, sleeps):
    backend.script(rate_limited(2, retry_after=7), text_answer("Finally."))

    result = run(responder)

    assert result.text == "Finally."
    assert len(backend.chat_requests()) == 3
    assert sleeps.waits == [7.0, 7.0]


def test_retry_after_ms_is_honoured_in_milliseconds(responder, backend, sleeps):
    backend.script(rate_limited(1, retry_after_ms=250), text_answer("ok"))

    run(responder)

    assert sleeps.waits == [0.25]


def test_a_retry_after_date_is_honoured(responder, backend, sleeps):
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    backend.script(rate_limited(1, retry_after=when), text_answer("ok"))

    run(responder)

    assert 25 <= sleeps.waits[0] <= 31


def test_a_long_retry_after_is_capped(make_responder, backend, sleeps):
    responder = make_responder(max_retry_wait=30.0)
    backend.script(rate_limited(1, retry_after=3600), text_answer("ok"))

    run(responder)

    assert sleeps.waits == [30.0]


def test_without_a_retry_header_the_backoff_grows_exponentially_with_jitter(
    make_responder, backend, sleeps
):
    responder = make_responder(backoff_initial=0.5, backoff_max=1.5)
    backend.script(server_errors(3, status=503), text_answer("ok"))

    assert run(responder).finish == Finish("stop")

    first, second, third = sleeps.waits
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0
    assert 0.75 <= third <= 1.5


def test_server_errors_past_max_retries_fail_as_server_error(make_responder, backend, sleeps):
    responder = make_responder(max_retries=2)
    backend.script(server_errors(3, status=502))

    result = run(responder)

    assert result.failure is not None
    assert result.failure.code == "server_error"
    assert "502" in result.failure.message
    assert "The server had an error" in result.failure.message
    assert len(backend.chat_requests()) == 3
    assert len(sleeps.waits) == 2


def test_rate_limits_past_max_retries_fail_as_rate_limit_exceeded(responder, backend):
    backend.script(rate_limited(4, retry_after=1))

    result = run(responder)

    assert result.failure is not None
    assert result.failure.code == "rate_limit_exceeded"
    assert "Rate limit reached" in result.failure.message
    assert len(backend.chat_requests()) == 4


def test_a_client_error_fails_at_once_with_the_backend_message(responder, backend, sleeps):
    backend.script(bad_request("Invalid 'messages[1].content': string too long.", param="messages"))

    result = run(responder)

    assert result.failure == Failure(
        "invalid_prompt",
        "the backend refused the request (400): Invalid 'messages[1].content': string too long.",
    )
    assert len(backend.chat_requests()) == 1
    assert sleeps.waits == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"object": "error", "message": "vLLM says no", "type": "BadRequestError"}, "vLLM says no"),
        ({"error": "model 'x' not found"}, "model 'x' not found"),
        ({"detail": "Not Found"}, "Not Found"),
    ],
)
def test_error_bodies_of_other_backends_give_their_message(responder, backend, body, message):
    backend.script(Reply.json(body, status=404))

    result = run(responder)

    assert result.failure is not None
    assert result.failure.code == "invalid_prompt"
    assert result.failure.message.endswith(message)


def test_a_backends_x_should_retry_decides_whether_an_error_is_retried(responder, backend, sleeps):
    overloaded = Reply.json(
        {"error": {"message": "Overloaded"}}, status=503, headers={"x-should-retry": "false"}
    )
    conflict = Reply.json(
        {"error": {"message": "Busy"}}, status=409, headers={"x-should-retry": "true"}
    )
    backend.script(overloaded, conflict, text_answer("At last."))

    first, second = run(responder), run(responder)

    assert first.failure == Failure("server_error", "the backend failed (503): Overloaded")
    assert second.text == "At last."
    assert len(backend.chat_requests()) == 3
    assert len(sleeps.waits) == 1


def test_the_proxy_settings_of_the_environment_are_read_once_when_the_responder_is_made(
    backend, sleeps, monkeypatch
):
    unreachable_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with ChatCompletionsResponder(
        backend.base_url, api_key=KEY, sleep=sleeps, max_retries=0
    ) as made_before:
        monkeypatch.setenv("HTTP_PROXY", unreachable_proxy)
        monkeypatch.setenv("http_proxy", unreachable_proxy)
        with ChatCompletionsResponder(
            backend.base_url, api_key=KEY, sleep=sleeps, max_retries=0
        ) as made_after:
            direct = run(made_before)
            proxied = run(made_after)

    assert direct.text == "What's the weather like in SF?"
    assert proxied.failure is not None
    assert "could not reach the backend" in proxied.failure.message
    assert len(backend.chat_requests()) == 1


def test_connection_errors_before_the_answer_are_retried(responder, backend, sleeps):
    backend.script(Reply(reset="before_headers"), text_answer("Back."))

    result = run(responder)

    assert result.text == "Back."
    assert len(backend.chat_requests()) == 2
    assert len(sleeps.waits) == 1


def test_an_unreachable_backend_fails_as_server_error_after_the_retries(sleeps):
    port = closed_port()
    base_url = f"http://user:pw-{KEY}@127.0.0.1:{port}/v1?api-key={KEY}"
    with ChatCompletionsResponder(
        base_url, api_key=KEY, max_retries=2, sleep=sleeps, connect_timeout=2
    ) as responder:
        result = run(responder)

    assert result.failure is not None
    assert result.failure.code == "server_error"
    assert result.failure.message == (
        f"could not reach the backend at http://127.0.0.1:{port}/v1/chat/completions "
        "(ConnectionError)"
    )
    assert len(sleeps.waits) == 2


def test_the_probe_asks_for_the_models_and_takes_any_answer_but_a_refused_key(backend):
    with ChatCompletionsResponder(backend.base_url, api_key=KEY) as responder:
        assert responder.probe() is None  # the fake backend has no /models: 404 is an answer
        backend.enqueue(Reply.error(401, "Incorrect API key provided"))
        refused = responder.probe()
    (models, _) = [r for r in backend.requests if r.method == "GET"]
    assert models.path == "/v1/models"
    assert models.headers["Authorization"] == f"Bearer {KEY}"
    assert refused == (
        f"the backend at {backend.base_url} refuses its key (GET /models answered 401): "
        "runs fail until it is right"
    )
    assert backend.chat_requests() == []


def test_the_probe_names_the_url_without_its_secrets_when_the_backend_is_down_or_silent():
    port = closed_port()
    url = f"http://user:pw-{KEY}@127.0.0.1:{port}/v1?api-key={KEY}"
    with ChatCompletionsResponder(url, api_key=KEY) as responder:
        down = responder.probe()
    assert down == (
        f"the backend at http://127.0.0.1:{port}/v1 cannot be reached (ConnectionError): "
        "runs fail until it can"
    )
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # takes the connection, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        with ChatCompletionsResponder(url, api_key=KEY) as responder:
            quiet = responder.probe(timeout=0.5)
    assert quiet == (
        f"the backend at {url} does not answer (no answer within 0.5 s): runs fail until it does"
    )


def test_a_cut_stream_keeps_the_text_so_far_and_fails(responder, backend, sleeps):
    backend.script(cut_answer("Hello there world", chunks=3, after=3))

    result = run(responder)

    assert result.text == "Hello there "
    assert result.failure is not None
    assert result.failure.code == "server_error"
    assert len(backend.chat_requests()) == 1
    assert sleeps.waits == []


def test_a_stream_that_ends_cleanly_without_finish_or_done_is_a_cut(responder, backend):
    answer = text_answer("Half an", chunks=2)
    backend.script(ChatAnswer(frames=answer.frames[:3]))

    result = run(responder)

    assert result.text == "Half an"
    assert result.failure is not None
    assert result.failure.code == "server_error"
    assert "closed the stream" in result.failure.message


def test_silence_after_the_headers_fails_after_the_read_timeout(make_responder, backend):
    responder = make_responder(read_timeout=0.3)
    backend.script(stall_answer("Partial", chunks=1))

    result = run(responder)

    assert result.text == "Partial"
    assert result.failure == Failure("server_error", "the backend sent nothing for 0.3 s")


def test_silence_before_the_headers_fails_after_the_read_timeout_without_retry(
    make_responder, backend, sleeps
):
    responder = make_responder(read_timeout=0.3)
    backend.script(silent_answer())

    result = run(responder)

    assert result.failure == Failure("server_error", "the backend sent nothing for 0.3 s")
    assert len(backend.chat_requests()) == 1
    assert sleeps.waits == []


def test_an_error_object_in_the_stream_fails_after_the_text_so_far(responder, backend):
    backend.script(stream_error_answer("The model is overloaded.", text_before="Par"))

    result = run(responder)

    assert result.text == "Par"
    assert result.failure is not None
    assert result.failure.code == "server_error"
    assert "The model is overloaded." in result.failure.message


def test_an_event_larger_than_the_cap_fails_instead_of_growing(make_responder, backend):
    responder = make_responder(max_event_bytes=4096)
    backend.script(text_answer("x" * 10_000, chunks=1))

    result = run(responder)

    assert result.text == ""
    assert result.failure is not None
    assert result.failure.code == "server_error"
    assert "larger than 4096 bytes" in result.failure.message


def test_an_endless_event_without_a_blank_line_fails_at_the_cap(make_responder, backend):
    responder = make_responder(max_event_bytes=4096)
    endless = b"data: " + b"y" * 200_000
    backend.script(ChatAnswer(frames=[endless[i : i + 1000] for i in range(0, len(endless), 1000)]))

    result = run(responder)

    assert result.failure is not None
    assert "larger than 4096 bytes" in result.failure.message


def test_an_event_that_is_not_json_fails(responder, backend):
    backend.script(ChatAnswer(frames=[b"data: {not json\n\n", DONE_FRAME]))

    result = run(responder)

    assert result.failure == Failure("server_error", "the backend sent an event that is not JSON")


def test_a_total_timeout_bounds_a_slow_stream(make_responder, backend):
    responder = make_responder(total_timeout=0.4)
    backend.script(text_answer("a b c d e f g h i j", chunks=10, pacing=0.1))

    result = run(responder)

    assert result.text and result.text != "a b c d e f g h i j"
    assert result.failure == Failure("server_error", "the backend did not finish within 0.4 s")
    assert backend.exchanges[0].client_closed.wait(BOUND)


def test_text_past_the_cap_fails_the_answer_keeping_the_text_before(make_responder, backend):
    responder = make_responder(max_answer_text=25)
    backend.script(text_answer("0123456789" * 5, chunks=5))

    result = run(responder)

    assert result.text == "0123456789" * 2
    assert result.failure == Failure(
        "server_error",
        "the backend's answer passed the limit of 25 characters of text and tool calls; the "
        "text before it is kept",
    )


def test_tool_call_arguments_count_toward_the_cap_even_before_the_call_is_named(
    make_responder, backend
):
    responder = make_responder(max_answer_text=100)
    nameless = [
        frame(
            chunk(
                {"tool_calls": [{"index": 0, "function": {"arguments": "x" * 30}}]},
                completion_id="c",
            )
        )
    ] * 5
    backend.script(ChatAnswer(frames=[*nameless, DONE_FRAME]))

    result = run(responder)

    assert result.calls == []
    assert result.failure is not None
    assert "limit of 100 characters" in result.failure.message


def test_a_whole_completion_past_the_text_cap_fails(make_responder, backend):
    responder = make_responder(max_answer_text=10)
    completion = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "x" * 11},
                "finish_reason": "stop",
            }
        ]
    }
    backend.script(Reply.json(completion))

    result = run(responder)

    assert result.text == ""
    assert result.failure is not None
    assert "limit of 10 characters" in result.failure.message


def test_a_body_past_64_bytes_per_character_of_the_cap_fails(make_responder, backend):
    responder = make_responder(max_answer_text=2048)  # a body of at most 128 KiB
    empty = frame(chunk(None, completion_id="c"))
    frames = [frame(chunk({"content": "Hi"}, completion_id="c"))] + [empty * 100] * 100
    backend.script(ChatAnswer(frames=[*frames, DONE_FRAME]))

    result = run(responder)

    assert result.text == "Hi"
    assert result.failure == Failure(
        "server_error",
        "the backend's answer passed the limit of 131072 bytes; the text before it is kept",
    )


def test_nan_and_infinity_in_chunks_are_null_and_the_answer_goes_on(responder, backend):
    odd = (
        b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"logprobs":NaN}],'
        b'"usage":{"prompt_tokens":Infinity,"completion_tokens":1e999}}\n\n'
    )
    backend.script(
        ChatAnswer(frames=[odd, frame(chunk({}, "stop", completion_id="c")), DONE_FRAME])
    )

    result = run(responder)

    assert (result.text, result.finish) == ("ok", Finish("stop"))
    assert result.usage == Usage(0, 0)


def test_bytes_that_are_not_utf8_and_lone_surrogates_become_replacement_characters(
    responder, backend
):
    frames = [
        b'data: {"choices":[{"index":0,"delta":{"content":"a\xffb"}}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"\\udc00c\\ud83d\\ude00"}}]}\n\n',
        frame(chunk({}, "stop", completion_id="c")),
        DONE_FRAME,
    ]
    backend.script(ChatAnswer(frames=frames))

    result = run(responder)

    assert result.text == "a\ufffdb\ufffdc\U0001f600"
    assert result.finish == Finish("stop")


def test_done_ends_an_answer_whose_connection_would_close_without_reading_on(
    make_responder, backend
):
    responder = make_responder(read_timeout=30.0)
    answer = text_answer("Hello!").stall_after(5)  # [DONE] sent, then the connection held
    answer.headers["Connection"] = "close"
    backend.script(answer)
    started = time.monotonic()

    result = run(responder)

    assert (result.text, result.finish) == ("Hello!", Finish("stop"))
    assert time.monotonic() - started < 5.0  # not the read timeout of 30 s
    assert backend.exchanges[0].client_closed.wait(BOUND)


# -- cancellation -----------------------------------------------------------------------------------


class Consumer:
    """Runs respond() in its own thread, as an engine worker would."""

    def __init__(self, responder: ChatCompletionsResponder, turn: Turn) -> None:
        self.cancelled = threading.Event()
        self.increments: list[Increment] = []
        self.first_text = threading.Event()
        self.thread = threading.Thread(target=self._consume, args=(responder, turn), daemon=True)
        self.thread.start()

    def _consume(self, responder: ChatCompletionsResponder, turn: Turn) -> None:
        for increment in responder.respond(turn, self.cancelled):
            self.increments.append(increment)
            if isinstance(increment, TextDelta):
                self.first_text.set()


def test_cancelling_while_the_backend_is_silent_closes_the_connection_within_a_second(
    responder, backend
):
    backend.script(silent_answer())
    consumer = Consumer(responder, make_turn())
    wait_for(lambda: backend.exchanges)

    consumer.cancelled.set()

    assert backend.exchanges[0].client_closed.wait(1.0)
    consumer.thread.join(1.0)
    assert not consumer.thread.is_alive()
    assert consumer.increments == []


def test_cancelling_a_stalled_stream_closes_the_connection_within_a_second(responder, backend):
    backend.script(stall_answer("Thinking", chunks=1))
    consumer = Consumer(responder, make_turn())
    assert consumer.first_text.wait(BOUND)

    consumer.cancelled.set()

    assert backend.exchanges[0].client_closed.wait(1.0)
    consumer.thread.join(1.0)
    assert not consumer.thread.is_alive()
    assert consumer.increments == [TextDelta("Thinking")]


def test_cancelling_a_slow_stream_stops_it_and_closes_the_connection(responder, backend):
    full = "one two three four five six seven eight nine ten"
    backend.script(text_answer(full, chunks=10, pacing=0.2))
    consumer = Consumer(responder, make_turn())
    assert consumer.first_text.wait(BOUND)

    consumer.cancelled.set()

    assert backend.exchanges[0].client_closed.wait(1.0)
    consumer.thread.join(1.0)
    assert not consumer.thread.is_alive()
    result = outcome_of(consumer.increments)
    assert full.startswith(result.text) and result.text != full
    assert (result.finish, result.failure) == (None, None)


def test_a_run_that_cannot_be_sent_as_json_fails_without_calling_the_backend(responder, backend):
    result = run(responder, make_turn(temperature=float("nan")))

    assert result.failure is not None
    assert result.failure.code == "invalid_prompt"
    assert backend.chat_requests() == []


def test_a_cancelled_turn_sends_nothing(responder, backend):
    cancelled = threading.Event()
    cancelled.set()

    assert list(responder.respond(make_turn(), cancelled)) == []
    assert backend.chat_requests() == []


def test_cancelling_during_a_retry_wait_stops_at_once(make_responder, backend):
    waited: list[float] = []

    def sleep_until_cancelled(seconds: float, cancelled: threading.Event) -> None:
        waited.append(seconds)
        cancelled.set()

    responder = make_responder(sleep=sleep_until_cancelled)
    backend.script(rate_limited(1, retry_after=5), text_answer("never"))

    assert list(responder.respond(make_turn(), threading.Event())) == []
    assert waited == [5.0]
    assert len(backend.chat_requests()) == 1


# -- secrecy ----------------------------------------------------------------------------------------


def test_the_key_appears_in_no_failure_log_line_or_repr(make_responder, backend, caplog):
    caplog.set_level(logging.DEBUG)
    responder = make_responder(max_retries=1)
    backend.script(
        bad_request(f"Incorrect API key provided: {KEY}."),
        server_errors(2),
        status_answer(500, f"echo {KEY}"),
        status_answer(500, f"echo {KEY}"),
        stream_error_answer(f"bad key {KEY}", text_before="x"),
        status_answer(401, f"Unauthorized {KEY}", type="invalid_request_error"),
    )
    failures = [run(responder).failure for _ in range(5)]
    with ChatCompletionsResponder(
        f"http://user:{KEY}@127.0.0.1:{closed_port()}/v1?key={KEY}",
        api_key=KEY,
        max_retries=1,
        sleep=RecordingSleep(),
    ) as unreachable:
        failures.append(run(unreachable).failure)

    assert all(f is not None for f in failures)
    for failure in failures:
        assert failure is not None
        assert KEY not in failure.message
    assert any("[redacted]" in f.message for f in failures if f is not None)
    assert caplog.records
    for record in caplog.records:
        assert KEY not in record.getMessage()
    assert KEY not in repr(responder)
    assert KEY not in repr(unreachable)
    assert backend.chat_requests()[0].headers["Authorization"] == f"Bearer {KEY}"


def test_each_request_is_logged_at_debug_and_each_retry_as_a_warning(responder, backend, caplog):
    caplog.set_level(logging.DEBUG, logger="assistants_client.server")
    backend.script(rate_limited(1, retry_after=1), text_answer("ok"))

    run(responder)

    ours = [r for r in caplog.records if r.name == "assistants_client.server"]
    requests_logged = [
        r for r in ours if r.levelno == logging.DEBUG and r.getMessage().startswith("POST ")
    ]
    assert [r.getMessage().split(" in ")[0] for r in requests_logged] == [
        f"POST {backend.base_url}/chat/completions -> 429",
        f"POST {backend.base_url}/chat/completions -> 200",
    ]
    warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "retry 1 of 3" in warnings[0]


# -- concurrency -------------------------------------------------------------------------------------


def test_one_responder_streams_sixteen_runs_at_once(responder, backend):
    backend.default_answer = lambda request: echo_answer(request).paced(0.01)
    results: dict[int, Outcome] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def one_run(number: int) -> None:
        try:
            start.wait(BOUND)
            words = f"run {number} asks about the weather in city number {number}"
            turn = make_turn(run_id=f"run_{number}", messages=[user(words)])
            results[number] = run(responder, turn)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one_run, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND * 2)

    assert errors == []
    assert sorted(results) == list(range(16))
    for number, result in results.items():
        assert result.text == f"run {number} asks about the weather in city number {number}"
        assert result.finish == Finish("stop")
