"""The server end to end, through this library's client and through openai-python's beta.threads.

Streamed and polled runs, tool loops, structured output and cancels, each as an application
would write it, against the server in front of the fake backend.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import attrs
import openai
import pytest
from openai import AssistantEventHandler as OpenAIEventHandler

from assistants_client import AssistantEventHandler, AssistantsClient
from tests.server.support import BOUND, RunningServer
from tests.servers.fake_chat import FakeChatServer, stall_answer, text_answer, tool_call_answer

ADD: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}


@attrs.define
class Weather:
    city: str
    celsius: int
    conditions: list[str]


@pytest.fixture
def assistant_id(client: AssistantsClient) -> str:
    return client.create_assistant("gpt-4o", instructions="Be exact.", tools=[ADD]).id


@pytest.fixture
def thread_id(client: AssistantsClient) -> str:
    return client.create_thread(messages=[{"role": "user", "content": "What is 2 + 3?"}]).id


# -- this library's client -------------------------------------------------------------------------


def test_a_streamed_run_through_the_client(client, backend, thread_id, assistant_id):
    backend.script(text_answer("2 + 3 = 5.", chunks=4))

    with client.stream_run(thread_id, assistant_id) as stream:
        deltas = list(stream.text_deltas())

    assert "".join(deltas) == "2 + 3 = 5."
    assert len(deltas) == 4
    assert stream.final_run is not None and stream.final_run.status == "completed"
    assert stream.final_messages[-1].text == "2 + 3 = 5."
    assert [s.type for s in stream.final_run_steps] == ["message_creation"]


def test_a_streamed_thread_and_run_through_the_client(client, backend, assistant_id):
    backend.script(text_answer("Hello.", chunks=2))

    with client.stream_thread_and_run(
        assistant_id, thread={"messages": [{"role": "user", "content": "Hi"}]}
    ) as stream:
        events = [event.event for event in stream]

    assert events[0] == "thread.created"
    assert events[-1] == "thread.run.completed"
    assert stream.final_messages[-1].text == "Hello."


def test_a_polled_run_through_the_client(client, backend, thread_id, assistant_id):
    backend.script(text_answer("Five.", chunks=2))

    run = client.create_run_and_wait(
        thread_id, assistant_id, wait_timeout=BOUND, poll_interval=0.01
    )

    assert run.status == "completed"
    assert client.list_messages(thread_id, limit=1).data[0].text == "Five."


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "polled"])
def test_run_with_tools_answers_the_calls_until_the_run_completes(
    client, backend, thread_id, assistant_id, stream
):
    backend.script(
        tool_call_answer("add", '{"a": 2, "b": 3}', call_id="call_1", splits=[3, 8]),
        text_answer("The sum is 5.", chunks=3),
    )
    calls: list[tuple[int, int]] = []

    def add(a: int, b: int) -> int:
        calls.append((a, b))
        return a + b

    run = client.run_with_tools(
        thread_id, assistant_id, {"add": add}, stream=stream, poll_interval=0.01
    )

    assert run.status == "completed"
    assert calls == [(2, 3)]
    assert client.list_messages(thread_id, limit=1).data[0].text == "The sum is 5."
    assert backend.last_body()["messages"][-1]["content"] == "5"


def test_structured_output_from_an_attrs_class(client, backend, thread_id, assistant_id):
    answer = '{"city": "Paris", "celsius": 21, "conditions": ["sunny", "dry"]}'
    backend.script(text_answer(answer, chunks=5))

    with client.stream_run(thread_id, assistant_id, response_format=Weather) as stream:
        stream.until_done()

    sent = backend.last_body()["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Weather"
    assert sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"]["required"] == ["city", "celsius", "conditions"]
    message = stream.final_messages[-1]
    assert message.parse(Weather) == Weather("Paris", 21, ["sunny", "dry"])
    stored = client.get_message(thread_id, message.id)
    assert stored.parse(Weather) == Weather("Paris", 21, ["sunny", "dry"])


def test_cancelling_mid_answer_through_the_client(
    server: RunningServer, client, backend: FakeChatServer, thread_id, assistant_id
):
    backend.script(stall_answer("Let me think", chunks=2))
    canceller = server.client()

    class CancelOnFirstText(AssistantEventHandler):
        def on_text_delta(self, delta: str, snapshot: str) -> None:
            if snapshot == delta:
                run_id = canceller.list_runs(thread_id).data[0].id
                threading.Thread(
                    target=canceller.cancel_run, args=(thread_id, run_id), daemon=True
                ).start()

    with client.stream_run(thread_id, assistant_id, event_handler=CancelOnFirstText()) as stream:
        stream.until_done()

    assert stream.final_run is not None and stream.final_run.status == "cancelled"
    assert backend.exchange(0).client_closed.wait(BOUND)
    (message,) = client.list_messages(thread_id, run_id=stream.final_run.id)
    assert message.text.startswith("Let me")


# -- openai-python ---------------------------------------------------------------------------------

# beta.threads is deprecated in openai-python (the Assistants API is being retired upstream).
openai_beta = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def openai_client(server: RunningServer) -> Any:
    made = openai.OpenAI(
        api_key="sk-unused", base_url=server.base_url, max_retries=0, timeout=BOUND
    )
    yield made
    made.close()


class Collecting(OpenAIEventHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.deltas: list[str] = []
        self.tool_calls: list[Any] = []
        self.end = False

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.deltas.append(delta.value)

    def on_tool_call_done(self, tool_call: Any) -> None:
        self.tool_calls.append(tool_call)

    def on_end(self) -> None:
        self.end = True


@openai_beta
def test_openai_python_streams_a_run_with_its_event_handler(
    openai_client, backend, thread_id, assistant_id
):
    backend.script(text_answer("", pieces=["2 + ", "3 = ", "5", "."]))
    handler = Collecting()

    with openai_client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler
    ) as stream:
        stream.until_done()
        final_run = stream.get_final_run()
        final_messages = stream.get_final_messages()

    assert handler.deltas == ["2 + ", "3 = ", "5", "."]
    assert handler.end
    assert final_run.status == "completed"
    assert final_run.usage.total_tokens == 18
    assert final_messages[-1].content[0].text.value == "2 + 3 = 5."


@openai_beta
def test_openai_python_creates_and_polls_a_run(openai_client, backend, thread_id, assistant_id):
    backend.script(text_answer("Five.", chunks=2))

    run = openai_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=10
    )

    assert run.status == "completed"
    messages = openai_client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id)
    assert [m.content[0].text.value for m in messages.data] == ["Five."]


@openai_beta
def test_openai_python_submits_tool_outputs_as_a_stream(
    openai_client, backend, thread_id, assistant_id
):
    backend.script(
        tool_call_answer("add", '{"a": 2, "b": 3}', call_id="call_1", splits=[3, 8]),
        text_answer("The sum is 5.", chunks=3),
    )
    first = Collecting()
    with openai_client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=first
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert run.status == "requires_action"
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "add",
        '{"a": 2, "b": 3}',
    )
    assert [(c.id, c.function.arguments) for c in first.tool_calls] == [
        ("call_1", '{"a": 2, "b": 3}')
    ]

    second = Collecting()
    with openai_client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread_id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": "call_1", "output": "5"}],
        event_handler=second,
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()

    assert final.status == "completed"
    assert "".join(second.deltas) == "The sum is 5."
    assert backend.last_body()["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "5",
    }


@openai_beta
def test_openai_python_polls_a_tool_loop(openai_client, backend, thread_id, assistant_id):
    backend.script(
        tool_call_answer("add", '{"a": 2, "b": 3}', call_id="call_1"),
        text_answer("Five."),
    )

    run = openai_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=10
    )
    assert run.status == "requires_action"
    run = openai_client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread_id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": "call_1", "output": "5"}],
        poll_interval_ms=10,
    )

    assert run.status == "completed"
    steps = openai_client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=run.id)
    assert sorted(s.type for s in steps.data) == ["message_creation", "tool_calls"]


@openai_beta
def test_openai_python_asks_for_structured_output(openai_client, backend, thread_id, assistant_id):
    answer = '{"city": "Rome", "celsius": 25, "conditions": ["clear"]}'
    backend.script(text_answer(answer, chunks=4))
    schema_format = {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": {"type": "object"}, "strict": False},
    }

    run = openai_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id,
        assistant_id=assistant_id,
        response_format=schema_format,
        poll_interval_ms=10,
    )

    assert run.status == "completed"
    assert backend.last_body()["response_format"] == schema_format
    messages = openai_client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id)
    assert json.loads(messages.data[0].content[0].text.value)["city"] == "Rome"


@openai_beta
def test_openai_python_cancels_a_run_mid_answer(
    openai_client, backend: FakeChatServer, thread_id, assistant_id
):
    backend.script(stall_answer("Let me think", chunks=2))

    class CancelOnFirstText(OpenAIEventHandler):  # type: ignore[misc]
        def on_text_delta(self, delta: Any, snapshot: Any) -> None:
            if delta.value == snapshot.value:
                run_id = self.current_run.id
                threading.Thread(
                    target=openai_client.beta.threads.runs.cancel,
                    kwargs={"thread_id": thread_id, "run_id": run_id},
                    daemon=True,
                ).start()

    with openai_client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=CancelOnFirstText()
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()

    assert final.status == "cancelled"
    assert backend.exchange(0).client_closed.wait(BOUND)
    messages = openai_client.beta.threads.messages.list(thread_id=thread_id, run_id=final.id)
    assert messages.data[0].content[0].text.value.startswith("Let me")
