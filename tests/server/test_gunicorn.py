"""The WSGI application under gunicorn, configured from the environment as a team would run it:

    gunicorn -k gthread --threads 32 --bind 127.0.0.1:PORT 'assistants_client.server:wsgi_app()'

A streamed run, a tool loop and a polled run go through this library's client with a client
key, and a client that leaves in the middle of a stream leaves its run to finish.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from assistants_client import AssistantsClient, AuthenticationError
from bench.common import first_answer, free_port, running
from tests.server.support import BACKEND_KEY, BOUND, server_environ
from tests.servers.fake_chat import FakeChatServer, text_answer, tool_call_answer

CLIENT_KEY = "sk-gunicorn-client-0123456789"
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        },
    },
}


@pytest.fixture
def gunicorn(backend: FakeChatServer) -> Iterator[str]:
    """The base URL of the server under gunicorn (one worker process, 32 threads)."""
    port = free_port()
    env = server_environ(
        ASSISTANTS_BACKEND_URL=backend.base_url,
        ASSISTANTS_BACKEND_API_KEY=BACKEND_KEY,
        ASSISTANTS_SERVER_API_KEYS=CLIENT_KEY,
    )
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "gthread",
        "--threads",
        "32",
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "2",
        "assistants_client.server:wsgi_app()",
    ]
    base_url = f"http://127.0.0.1:{port}/v1"
    with running(
        argv, stop_within=BOUND, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as process:
        answer = first_answer(process, f"{base_url}/assistants", within=BOUND * 2)
        assert answer.status_code == 401, answer.text
        yield base_url


@pytest.fixture
def client(gunicorn: str) -> Iterator[AssistantsClient]:
    with AssistantsClient(api_key=CLIENT_KEY, base_url=gunicorn, timeout=BOUND) as made:
        yield made


def test_runs_stream_loop_over_tools_and_poll_under_gunicorn(gunicorn, client, backend):
    stranger = AssistantsClient(api_key="sk-wrong", base_url=gunicorn, max_retries=0)
    with stranger, pytest.raises(AuthenticationError):
        stranger.create_thread()
    assistant = client.create_assistant("gpt-4o", instructions="Be exact.", tools=[TOOL])
    thread = client.create_thread(messages=[{"role": "user", "content": "Hi"}])

    backend.script(text_answer("Hello from gunicorn.", chunks=4))
    with client.stream_run(thread.id, assistant.id) as stream:
        streamed = "".join(stream.text_deltas())
    assert streamed == "Hello from gunicorn."
    assert stream.final_run is not None and stream.final_run.status == "completed"

    client.create_message(thread.id, "user", "What is 2 + 3?")
    backend.script(
        tool_call_answer("add", '{"a": 2, "b": 3}', call_id="call_add", splits=[4, 9]),
        text_answer("2 + 3 = 5.", chunks=3),
    )
    looped = client.run_with_tools(thread.id, assistant.id, {"add": lambda a, b: a + b})
    assert looped.status == "completed"
    assert backend.last_body()["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_add",
        "content": "5",
    }

    backend.script(text_answer("Polled.", chunks=2))
    polled = client.create_run_and_wait(
        thread.id, assistant.id, wait_timeout=BOUND, poll_interval=0.01
    )
    assert polled.status == "completed"
    assert polled.usage is not None and polled.usage.total_tokens == 18

    texts = [m.content[0].text.value for m in client.list_messages(thread.id, order="asc")]
    assert texts == ["Hi", "Hello from gunicorn.", "What is 2 + 3?", "2 + 3 = 5.", "Polled."]
    assert {r.headers["Authorization"] for r in backend.chat_requests()} == {
        f"Bearer {BACKEND_KEY}"
    }


def test_a_client_leaving_mid_stream_under_gunicorn_leaves_the_run_to_finish(client, backend):
    rest = threading.Event()
    backend.script(text_answer("", pieces=["One, ", "two, ", "three."]).held_before(2, rest))
    assistant = client.create_assistant("gpt-4o")
    thread = client.create_thread(messages=[{"role": "user", "content": "Count"}])

    with client.stream_run(thread.id, assistant.id) as stream:
        first = next(iter(stream.text_deltas()))
        run_id = client.list_runs(thread.id).data[0].id
    rest.set()
    final = client.wait_for_run(thread.id, run_id, timeout=BOUND, poll_interval=0.01)

    assert first == "One, "
    assert final.status == "completed"
    (message,) = client.list_messages(thread.id, run_id=run_id)
    assert message.content[0].text.value == "One, two, three."
    # A later run on the same thread is not blocked by the one left behind.
    backend.script(text_answer("Again."))
    again = client.create_run_and_wait(
        thread.id, assistant.id, wait_timeout=BOUND, poll_interval=0.01
    )
    assert again.status == "completed"
