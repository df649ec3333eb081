"""What the backend receives when runs are made through the server's API.

Each test makes a run over HTTP with this library's client, then reads the Chat Completions
request the fake backend recorded: the system message, the thread's messages and the run's
additional ones, images, earlier tool rounds, tools and tool_choice, response formats,
sampling options, the completion limit, truncation, model renaming, and the backend key (sent
as a bearer token, never logged, never shown to a client). What the backend cannot take is
refused at run creation, naming the item, before anything is stored.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from assistants_client import AssistantsClient, BadRequestError
from assistants_client.models import RunResponse
from tests.server.support import BACKEND_KEY, RunningServer
from tests.servers.fake_chat import (
    FakeChatServer,
    bad_request,
    stream_error_answer,
    text_answer,
    tool_call_answer,
)

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def finished(
    client: AssistantsClient, thread_id: str, assistant_id: str, **params: Any
) -> RunResponse:
    """A streamed run, read to its end."""
    with client.stream_run(thread_id, assistant_id, **params) as stream:
        stream.until_done()
    assert stream.final_run is not None
    return stream.final_run


def thread_with(client: AssistantsClient, *texts: str) -> str:
    return client.create_thread(messages=[{"role": "user", "content": t} for t in texts]).id


def roles_and_texts(body: Any) -> list[tuple[str, Any]]:
    return [(m["role"], m.get("content")) for m in body["messages"]]


# -- the prompt ------------------------------------------------------------------------------------


def test_the_assistants_instructions_are_the_system_message(client, backend):
    assistant = client.create_assistant("gpt-4o", instructions="Answer in French.")
    finished(client, thread_with(client, "Hi"), assistant.id)

    assert roles_and_texts(backend.last_body()) == [
        ("system", "Answer in French."),
        ("user", "Hi"),
    ]


def test_the_runs_instructions_replace_the_assistants_and_additional_ones_follow(client, backend):
    assistant = client.create_assistant("gpt-4o", instructions="Answer in French.")
    finished(
        client,
        thread_with(client, "Hi"),
        assistant.id,
        instructions="Answer in German.",
        additional_instructions="Be brief.",
    )

    assert backend.last_body()["messages"][0] == {
        "role": "system",
        "content": "Answer in German.\n\nBe brief.",
    }


def test_additional_instructions_alone_follow_the_assistants_instructions(client, backend):
    assistant = client.create_assistant("gpt-4o", instructions="Answer in French.")
    finished(client, thread_with(client, "Hi"), assistant.id, additional_instructions="Be brief.")

    assert backend.last_body()["messages"][0]["content"] == "Answer in French.\n\nBe brief."


def test_without_any_instructions_no_system_message_is_sent(client, backend):
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id)

    assert [m["role"] for m in backend.last_body()["messages"]] == ["user"]


def test_the_threads_messages_go_in_order_then_the_runs_additional_messages(client, backend):
    assistant = client.create_assistant("gpt-4o")
    thread = client.create_thread(
        messages=[
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
        ]
    )
    client.create_message(thread.id, "user", "three")
    finished(
        client,
        thread.id,
        assistant.id,
        additional_messages=[
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": [{"type": "text", "text": "five"}]},
        ],
    )

    assert roles_and_texts(backend.last_body()) == [
        ("user", "one"),
        ("assistant", "two"),
        ("user", "three"),
        ("assistant", "four"),
        ("user", "five"),
    ]
    stored = [m.role for m in client.list_messages(thread.id, order="asc")]
    assert stored == ["user", "assistant", "user", "assistant", "user", "assistant"]


def test_an_answer_of_an_earlier_run_is_sent_as_an_assistant_message(client, backend):
    assistant = client.create_assistant("gpt-4o")
    thread_id = thread_with(client, "Hi")
    backend.script(text_answer("Hello! How can I help?", chunks=3))
    finished(client, thread_id, assistant.id)
    client.create_message(thread_id, "user", "Tell me a joke.")
    finished(client, thread_id, assistant.id)

    assert roles_and_texts(backend.last_body()) == [
        ("user", "Hi"),
        ("assistant", "Hello! How can I help?"),
        ("user", "Tell me a joke."),
    ]


def test_image_url_parts_are_sent_as_chat_image_parts(client, backend):
    assistant = client.create_assistant("gpt-4o")
    thread = client.create_thread()
    client.create_message(
        thread.id,
        "user",
        [
            {"type": "text", "text": "What is in this picture?"},
            {
                "type": "image_url",
                "image_url": {"url": "https://example.com/a.png", "detail": "low"},
            },
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ],
    )
    finished(client, thread.id, assistant.id)

    assert backend.last_body()["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        }
    ]


def test_earlier_tool_rounds_are_sent_as_assistant_tool_calls_and_tool_messages(client, backend):
    assistant = client.create_assistant("gpt-4o", tools=[WEATHER])
    thread_id = thread_with(client, "Weather in Paris and Rome?")
    backend.script(
        tool_call_answer("get_weather", '{"city": "Paris"}', call_id="call_p", splits=[4]),
        tool_call_answer("get_weather", '{"city": "Rome"}', call_id="call_r"),
        text_answer("Sunny in both.", chunks=2),
    )

    run = client.run_with_tools(
        thread_id, assistant.id, {"get_weather": lambda city: f"sunny in {city}"}
    )

    assert run.status == "completed"
    first, second, third = backend.chat_bodies()
    assert roles_and_texts(first) == [("user", "Weather in Paris and Rome?")]
    paris_round = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_p",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_p", "content": "sunny in Paris"},
    ]
    assert second["messages"] == first["messages"] + paris_round
    assert third["messages"][: len(second["messages"])] == second["messages"]
    assert third["messages"][len(second["messages"]) :] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_r",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_r", "content": "sunny in Rome"},
    ]


# -- tools and options -----------------------------------------------------------------------------


def test_function_tools_are_sent_as_tools(client, backend):
    assistant = client.create_assistant("gpt-4o", tools=[WEATHER])
    finished(client, thread_with(client, "Hi"), assistant.id)

    body = backend.last_body()
    assert body["tools"] == [WEATHER]
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is True


def test_the_runs_tools_replace_the_assistants(client, backend):
    other = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    assistant = client.create_assistant("gpt-4o", tools=[WEATHER])
    finished(client, thread_with(client, "Hi"), assistant.id, tools=[other])

    assert backend.last_body()["tools"] == [other]


@pytest.mark.parametrize(
    "choice",
    ["auto", "none", "required", {"type": "function", "function": {"name": "get_weather"}}],
    ids=["auto", "none", "required", "named"],
)
def test_tool_choice_is_passed_through(client, backend, choice):
    assistant = client.create_assistant("gpt-4o", tools=[WEATHER])
    finished(client, thread_with(client, "Hi"), assistant.id, tool_choice=choice)

    assert backend.last_body()["tool_choice"] == choice


def test_parallel_tool_calls_false_is_passed_through(client, backend):
    assistant = client.create_assistant("gpt-4o", tools=[WEATHER])
    finished(client, thread_with(client, "Hi"), assistant.id, parallel_tool_calls=False)

    assert backend.last_body()["parallel_tool_calls"] is False


def test_without_tools_no_tool_fields_are_sent(client, backend):
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id)

    body = backend.last_body()
    assert "tools" not in body
    assert "tool_choice" not in body
    assert "parallel_tool_calls" not in body


SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


@pytest.mark.parametrize(
    "response_format", [{"type": "json_object"}, SCHEMA_FORMAT], ids=["json_object", "json_schema"]
)
def test_a_json_response_format_is_passed_through(client, backend, response_format):
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id, response_format=response_format)

    assert backend.last_body()["response_format"] == response_format


def test_the_assistants_response_format_applies_when_the_run_gives_none(client, backend):
    assistant = client.create_assistant("gpt-4o", response_format={"type": "json_object"})
    finished(client, thread_with(client, "Hi"), assistant.id)

    assert backend.last_body()["response_format"] == {"type": "json_object"}


def test_the_auto_response_format_sends_none(client, backend):
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id, response_format="auto")

    assert "response_format" not in backend.last_body()


def test_temperature_and_top_p_of_the_run_are_sent(client, backend):
    assistant = client.create_assistant("gpt-4o", temperature=0.9, top_p=0.8)
    finished(client, thread_with(client, "Hi"), assistant.id, temperature=0.2, top_p=0.5)

    body = backend.last_body()
    assert (body["temperature"], body["top_p"]) == (0.2, 0.5)


def test_temperature_and_top_p_of_the_assistant_apply_when_the_run_gives_none(client, backend):
    assistant = client.create_assistant("gpt-4o", temperature=0.3, top_p=0.4)
    finished(client, thread_with(client, "Hi"), assistant.id)

    body = backend.last_body()
    assert (body["temperature"], body["top_p"]) == (0.3, 0.4)


def test_the_default_temperature_and_top_p_are_not_sent(client, backend):
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id)

    body = backend.last_body()
    assert "temperature" not in body
    assert "top_p" not in body


def test_max_completion_tokens_is_the_backends_limit(client, backend):
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id, max_completion_tokens=321)

    body = backend.last_body()
    assert body["max_completion_tokens"] == 321
    assert "max_tokens" not in body


def test_the_limit_goes_under_max_tokens_when_the_server_is_told_so(make_server, backend):
    server = make_server("--completion-tokens-field", "max_tokens")
    client = server.client()
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id, max_completion_tokens=321)

    body = backend.last_body()
    assert body["max_tokens"] == 321
    assert "max_completion_tokens" not in body


def test_without_a_limit_none_is_sent(client, backend):
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id)

    assert "max_completion_tokens" not in backend.last_body()


# -- truncation ------------------------------------------------------------------------------------


def test_last_messages_truncation_sends_the_last_n_messages(client, backend):
    assistant = client.create_assistant("gpt-4o", instructions="Be brief.")
    thread_id = thread_with(client, "one", "two", "three", "four")
    finished(
        client,
        thread_id,
        assistant.id,
        truncation_strategy={"type": "last_messages", "last_messages": 2},
    )

    assert roles_and_texts(backend.last_body()) == [
        ("system", "Be brief."),
        ("user", "three"),
        ("user", "four"),
    ]


def test_auto_truncation_drops_the_oldest_messages_to_fit_max_prompt_tokens(client, backend):
    assistant = client.create_assistant("gpt-4o")
    old = [f"{n} " + "x" * 400 for n in range(4)]  # about 104 estimated tokens each
    thread_id = thread_with(client, *old, "And now?")
    finished(
        client,
        thread_id,
        assistant.id,
        truncation_strategy={"type": "auto", "last_messages": None},
        max_prompt_tokens=300,
    )

    sent = [text for _, text in roles_and_texts(backend.last_body())]
    assert sent == [old[2], old[3], "And now?"]


def test_auto_truncation_without_max_prompt_tokens_sends_the_whole_thread(client, backend):
    assistant = client.create_assistant("gpt-4o")
    old = [f"{n} " + "x" * 400 for n in range(4)]
    finished(client, thread_with(client, *old, "And now?"), assistant.id)

    assert len(backend.last_body()["messages"]) == 5


# -- the model and the key -------------------------------------------------------------------------


def test_model_map_renames_the_models_it_names_and_sends_others_as_they_are(make_server, backend):
    server = make_server("--model-map", "gpt-4o=llama3.1:8b", "--model-map", "gpt-4o-mini=qwen2")
    client = server.client()
    thread_id = thread_with(client, "Hi")
    models = []
    for model in ("gpt-4o", "gpt-4o-mini", "mistral"):
        assistant = client.create_assistant(model)
        run = finished(client, thread_id, assistant.id)
        assert run.model == model  # the API still shows the model that was asked for
        models.append(backend.last_body()["model"])

    assert models == ["llama3.1:8b", "qwen2", "mistral"]


def test_the_run_model_overrides_the_assistants_before_the_map(make_server, backend):
    server = make_server("--model-map", "gpt-4o-mini=qwen2")
    client = server.client()
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id, model="gpt-4o-mini")

    assert backend.last_body()["model"] == "qwen2"


def test_the_backend_key_is_sent_as_a_bearer_token(client, backend):
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id)

    (request,) = backend.chat_requests()
    assert request.headers["Authorization"] == f"Bearer {BACKEND_KEY}"


def test_without_a_backend_key_no_authorization_is_sent(make_server, backend):
    server = make_server(environ={})
    client = server.client()
    assistant = client.create_assistant("gpt-4o")
    finished(client, thread_with(client, "Hi"), assistant.id)

    (request,) = backend.chat_requests()
    assert request.headers.get("Authorization") is None


def test_the_backend_key_is_never_logged_nor_shown_to_a_client(
    server: RunningServer, client, backend: FakeChatServer, caplog
):
    caplog.set_level(logging.DEBUG, logger="assistants_client")
    assistant = client.create_assistant("gpt-4o")
    thread_id = thread_with(client, "Hi")
    backend.script(
        # Backends that echo the credential they were given, in an error and in a stream.
        bad_request(f"Incorrect API key provided: {BACKEND_KEY}."),
        stream_error_answer(f"key {BACKEND_KEY} is over quota", text_before="Partial"),
        text_answer("Fine.", chunks=2),
    )
    runs = [finished(client, thread_id, assistant.id) for _ in range(2)]
    runs.append(client.create_run_and_wait(thread_id, assistant.id, poll_interval=0.02))
    for run in runs:
        client.get_run(thread_id, run.id)
        list(client.list_run_steps(thread_id, run.id))
    list(client.list_messages(thread_id))

    assert [run.status for run in runs] == ["failed", "failed", "completed"]
    assert runs[0].last_error is not None and runs[0].last_error.code == "invalid_prompt"
    assert "Incorrect API key provided: [redacted]." in runs[0].last_error.message
    assert backend.chat_requests()[0].headers["Authorization"] == f"Bearer {BACKEND_KEY}"
    logged = [record.getMessage() for record in caplog.records]
    assert any("chat/completions" in line for line in logged), "the calls were logged at DEBUG"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert BACKEND_KEY not in text, record
    assert BACKEND_KEY.encode() not in server.answers
    assert b"[redacted]" in server.answers


# -- what the backend cannot take ------------------------------------------------------------------


def assert_refused(error: BadRequestError, param: str, *words: str) -> None:
    assert error.status_code == 400
    assert error.param == param
    for word in words:
        assert word in error.message


def test_an_image_file_part_in_additional_messages_is_refused_and_nothing_is_stored(
    client, backend
):
    assistant = client.create_assistant("gpt-4o")
    thread_id = thread_with(client, "Hi")
    image_file = {"type": "image_file", "image_file": {"file_id": "file_abc"}}

    with pytest.raises(BadRequestError) as refused:
        client.create_run(
            thread_id,
            assistant.id,
            additional_messages=[
                {"role": "user", "content": [{"type": "text", "text": "Look"}, image_file]}
            ],
        )

    assert_refused(refused.value, "additional_messages[0].content[1]", "image_file")
    assert list(client.list_runs(thread_id)) == []
    assert [m.content[0].text.value for m in client.list_messages(thread_id)] == ["Hi"]
    assert backend.chat_requests() == []


def test_an_image_file_part_in_the_thread_is_refused_naming_the_message(client, backend):
    assistant = client.create_assistant("gpt-4o")
    thread_id = thread_with(client, "Hi")
    client.create_message(
        thread_id, "user", [{"type": "image_file", "image_file": {"file_id": "file_abc"}}]
    )

    with pytest.raises(BadRequestError) as refused:
        client.create_run(thread_id, assistant.id)

    assert_refused(refused.value, "messages[1].content[0]", "image_file")
    assert list(client.list_runs(thread_id)) == []
    assert backend.chat_requests() == []


def test_an_assistant_code_interpreter_tool_is_refused_at_run_creation(client, backend):
    kind = "code_interpreter"
    assistant = client.create_assistant("gpt-4o", tools=[WEATHER, {"type": kind}])
    thread_id = thread_with(client, "Hi")
    messages_before = len(list(client.list_messages(thread_id)))

    with pytest.raises(BadRequestError) as refused:
        client.create_run(
            thread_id, assistant.id, additional_messages=[{"role": "user", "content": "more"}]
        )

    assert_refused(refused.value, "tools[1]", kind)
    assert list(client.list_runs(thread_id)) == []
    assert len(list(client.list_messages(thread_id))) == messages_before
    assert backend.chat_requests() == []


def test_a_run_tool_other_than_a_function_is_refused_on_a_streamed_run_too(client, backend):
    assistant = client.create_assistant("gpt-4o")
    thread_id = thread_with(client, "Hi")

    with pytest.raises(BadRequestError) as refused:
        client.stream_run(thread_id, assistant.id, tools=[{"type": "code_interpreter"}])

    assert_refused(refused.value, "tools[0]", "code_interpreter")
    assert list(client.list_runs(thread_id)) == []
    assert backend.chat_requests() == []


def test_create_thread_and_run_refused_leaves_no_thread_behind(
    server: RunningServer, client, backend
):
    assistant = client.create_assistant("gpt-4o", tools=[{"type": "code_interpreter"}])
    threads_before = server.count("thread")
    messages_before = server.count("message")

    with pytest.raises(BadRequestError) as refused:
        client.create_thread_and_run(
            assistant.id, thread={"messages": [{"role": "user", "content": "Hi"}]}
        )

    assert_refused(refused.value, "tools[0]", "code_interpreter")
    assert server.count("thread") == threads_before
    assert server.count("message") == messages_before
    assert server.count("run") == 0
    assert backend.chat_requests() == []
