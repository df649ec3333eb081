"""Backends that fail: rate limits, errors, cut and silent answers; cancels; expiry.

The fake backend misbehaves on purpose. Retries wait as the backend asks (small Retry-After
values keep the tests fast). Whatever the fault, the run ends (failed, cancelled or expired)
with what the client should see, the text received so far is kept, and nothing hangs: every
wait here is bounded.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from assistants_client import BadRequestError
from tests.server.support import (
    BACKEND_KEY,
    BOUND,
    RunningServer,
    assert_valid_events,
    names,
    only,
    stream_events,
    wait_until,
)
from tests.servers.fake_chat import (
    FakeChatServer,
    bad_request,
    cut_answer,
    rate_limited,
    server_errors,
    silent_answer,
    stall_answer,
    status_answer,
    stream_error_answer,
    text_answer,
    tool_call_answer,
)
from tests.servers.scripted import RecordedRequest, Reply

TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
}


@pytest.fixture
def assistant_id(client) -> str:
    return client.create_assistant("gpt-4o").id


@pytest.fixture
def thread_id(client) -> str:
    return client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id


def polled(client, thread_id: str, assistant_id: str, **params: Any) -> Any:
    return client.create_run_and_wait(
        thread_id, assistant_id, wait_timeout=BOUND * 2, poll_interval=0.01, **params
    )


def streamed(server: RunningServer, thread_id: str, assistant_id: str) -> list[Any]:
    found = stream_events(
        server.base_url, f"/threads/{thread_id}/runs", {"assistant_id": assistant_id}
    )
    assert_valid_events(found)
    return found


def run_message(server: RunningServer, client, thread_id: str, run_id: str) -> dict[str, Any]:
    (message,) = client.list_messages(thread_id, run_id=run_id)
    return server.stored("message", message.id)


def text_of(message: dict[str, Any]) -> str:
    return "".join(part["text"]["value"] for part in message["content"])


# -- statuses --------------------------------------------------------------------------------------


def test_rate_limits_are_retried_and_the_run_completes(client, backend, thread_id, assistant_id):
    backend.script(*rate_limited(2, retry_after_ms=10), text_answer("Made it."))

    run = polled(client, thread_id, assistant_id)

    assert run.status == "completed"
    assert len(backend.chat_requests()) == 3


def test_retries_wait_as_long_as_retry_after_asks(client, backend, thread_id, assistant_id):
    arrivals: list[float] = []

    def timed(reply: Reply) -> Any:
        def answer(request: RecordedRequest) -> Reply:
            arrivals.append(time.monotonic())
            return reply

        return answer

    backend.script(
        timed(status_answer(429, "slow down", retry_after="0.3")),
        timed(status_answer(503, "busy", retry_after_ms=300)),
        timed(text_answer("Made it.")),
    )

    run = polled(client, thread_id, assistant_id)

    assert run.status == "completed"
    assert len(arrivals) == 3
    assert arrivals[1] - arrivals[0] >= 0.3
    assert arrivals[2] - arrivals[1] >= 0.3


def test_rate_limits_past_the_retries_fail_the_run_as_rate_limit_exceeded(
    client, backend, thread_id, assistant_id
):
    backend.script(*rate_limited(4, retry_after_ms=5))

    run = polled(client, thread_id, assistant_id)

    assert run.status == "failed"
    assert run.last_error.code == "rate_limit_exceeded"
    assert "429" in run.last_error.message
    assert len(backend.chat_requests()) == 4  # the first try and 3 retries
    assert run.failed_at is not None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_past_the_retries_fail_the_run_as_server_error(make_server, backend, status):
    server = make_server("--backend-retries", "1")
    client = server.client()
    assistant_id = client.create_assistant("gpt-4o").id
    thread_id = client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id
    backend.script(*server_errors(2, status=status, retry_after=0))

    run = polled(client, thread_id, assistant_id)

    assert run.status == "failed"
    assert run.last_error.code == "server_error"
    assert str(status) in run.last_error.message
    assert len(backend.chat_requests()) == 2


def test_a_client_error_fails_the_run_at_once_as_invalid_prompt_with_the_backends_message(
    client, backend, thread_id, assistant_id
):
    backend.script(bad_request("This model's maximum context length is 8192 tokens."))

    run = polled(client, thread_id, assistant_id)

    assert run.status == "failed"
    assert run.last_error.code == "invalid_prompt"
    assert "maximum context length is 8192 tokens" in run.last_error.message
    assert len(backend.chat_requests()) == 1


def test_an_unknown_model_fails_as_invalid_prompt(client, backend, thread_id, assistant_id):
    backend.script(Reply.error(404, "The model `gpt-9` does not exist.", code="model_not_found"))

    run = polled(client, thread_id, assistant_id)

    assert (run.status, run.last_error.code) == ("failed", "invalid_prompt")
    assert "gpt-9" in run.last_error.message


def test_an_unreachable_backend_fails_the_run_as_server_error(make_server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = make_server("--backend-retries", "1", backend_url=f"http://127.0.0.1:{port}/v1")
    client = server.client()
    assistant_id = client.create_assistant("gpt-4o").id
    thread_id = client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id

    run = polled(client, thread_id, assistant_id)

    assert (run.status, run.last_error.code) == ("failed", "server_error")
    backend_url = f"http://127.0.0.1:{port}/v1/chat/completions"
    assert f"could not reach the backend at {backend_url}" in run.last_error.message
    assert BACKEND_KEY not in run.last_error.message


def test_an_error_in_the_stream_fails_the_run_and_keeps_the_text(
    server, client, backend, thread_id, assistant_id
):
    backend.script(stream_error_answer("overloaded", text_before="Half an"))

    found = streamed(server, thread_id, assistant_id)

    run = found[-2][1]
    assert (found[-2][0], run["last_error"]["code"]) == ("thread.run.failed", "server_error")
    assert "overloaded" in run["last_error"]["message"]
    (message,) = only(found, "thread.message.incomplete")
    assert text_of(message) == "Half an"
    assert message["incomplete_details"] == {"reason": "run_failed"}


# -- cut and silent answers ------------------------------------------------------------------------


def test_a_cut_stream_fails_the_run_and_leaves_the_message_incomplete_with_its_text(
    server, client, backend, thread_id, assistant_id
):
    backend.script(cut_answer("Hello there, world", chunks=3, after=3))

    found = streamed(server, thread_id, assistant_id)

    assert names(found)[-3:] == ["thread.run.step.failed", "thread.run.failed", "done"]
    run = found[-2][1]
    assert run["status"] == "failed"
    assert run["last_error"]["code"] == "server_error"
    (message,) = only(found, "thread.message.incomplete")
    assert message["incomplete_details"] == {"reason": "run_failed"}
    assert text_of(message) == "Hello there,"
    stored = run_message(server, client, thread_id, run["id"])
    assert (stored["status"], text_of(stored)) == ("incomplete", "Hello there,")
    assert client.get_run(thread_id, run["id"]).status == "failed"


def test_a_cut_stream_in_the_background_fails_the_run_the_same_way(
    server, client, backend, thread_id, assistant_id
):
    backend.script(cut_answer("Hello there, world", chunks=3, after=2))

    run = polled(client, thread_id, assistant_id)

    assert (run.status, run.last_error.code) == ("failed", "server_error")
    stored = run_message(server, client, thread_id, run.id)
    assert (stored["status"], text_of(stored)) == ("incomplete", "Hello ")


def test_a_backend_that_sends_nothing_fails_the_run_after_the_backend_timeout(make_server, backend):
    server = make_server("--backend-timeout", "0.3")
    client = server.client()
    assistant_id = client.create_assistant("gpt-4o").id
    thread_id = client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id
    backend.script(silent_answer())

    run = polled(client, thread_id, assistant_id)

    assert (run.status, run.last_error.code) == ("failed", "server_error")
    assert "sent nothing for 0.3 s" in run.last_error.message
    assert len(backend.chat_requests()) == 1  # silence is not retried
    assert backend.exchange(0).client_closed.wait(BOUND)


def test_a_backend_that_goes_silent_mid_answer_fails_the_streamed_run_keeping_the_text(
    make_server, backend
):
    server = make_server("--backend-timeout", "0.3")
    client = server.client()
    assistant_id = client.create_assistant("gpt-4o").id
    thread_id = client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id
    backend.script(stall_answer("Partial answer", chunks=2))

    found = streamed(server, thread_id, assistant_id)

    assert found[-2][0] == "thread.run.failed"
    assert found[-2][1]["last_error"]["code"] == "server_error"
    (message,) = only(found, "thread.message.incomplete")
    assert text_of(message) == "Partial answer"


# -- cancel ----------------------------------------------------------------------------------------


def test_cancelling_a_streamed_run_closes_the_backend_connection_and_keeps_the_text(
    server, client, backend: FakeChatServer, thread_id, assistant_id
):
    backend.script(stall_answer("Once upon a time", chunks=2))
    cancelled_at: list[float] = []

    def cancel_on_first_delta(name: str, data: Any) -> None:
        if name == "thread.message.delta" and not cancelled_at:
            wait_until(lambda: backend.exchange(0).frames_sent == 3, what="both text chunks sent")
            threading.Thread(target=cancel, args=(data,), daemon=True).start()

    def cancel(delta: dict[str, Any]) -> None:
        run_id = client.list_runs(thread_id).data[0].id
        cancelled_at.append(time.monotonic())
        client.cancel_run(thread_id, run_id)

    found = stream_events(
        server.base_url,
        f"/threads/{thread_id}/runs",
        {"assistant_id": assistant_id},
        on_event=cancel_on_first_delta,
    )

    exchange = backend.exchange(0)
    assert exchange.client_closed.wait(BOUND)
    assert exchange.closed_at is not None
    assert exchange.closed_at - cancelled_at[0] < 1.0
    assert_valid_events(found)
    assert names(found)[-5:] == [
        "thread.run.cancelling",
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
        "done",
    ]
    (message,) = only(found, "thread.message.incomplete")
    assert message["incomplete_details"] == {"reason": "run_cancelled"}
    assert text_of(message) == "Once upon a time"
    run = client.get_run(thread_id, found[-2][1]["id"])
    assert run.status == "cancelled"
    assert run.cancelled_at is not None
    stored = run_message(server, client, thread_id, run.id)
    assert (stored["status"], text_of(stored)) == ("incomplete", "Once upon a time")


def test_cancelling_a_run_in_the_background_closes_the_backend_connection(
    server, client, backend: FakeChatServer, thread_id, assistant_id
):
    backend.script(stall_answer("Once upon", chunks=1))

    run = client.create_run(thread_id, assistant_id)
    exchange = backend.exchange(0)
    wait_until(lambda: exchange.frames_sent == 2, what="the text sent")
    wait_until(
        lambda: client.list_messages(thread_id, run_id=run.id).data,
        what="the message stored",
    )
    started = time.monotonic()
    answer = client.cancel_run(thread_id, run.id)

    assert answer.status == "cancelling"
    assert exchange.client_closed.wait(BOUND)
    assert exchange.closed_at is not None and exchange.closed_at - started < 1.0
    final = client.wait_for_run(thread_id, run.id, timeout=BOUND, poll_interval=0.01)
    assert final.status == "cancelled"
    stored = run_message(server, client, thread_id, run.id)
    assert (stored["status"], text_of(stored)) == ("incomplete", "Once upon")


def test_cancelling_while_the_backend_has_not_answered_yet_ends_the_run_cancelled(
    server, client, backend: FakeChatServer, thread_id, assistant_id
):
    backend.script(silent_answer())

    run = client.create_run(thread_id, assistant_id)
    exchange = backend.exchange(0)
    client.cancel_run(thread_id, run.id)

    assert exchange.client_closed.wait(BOUND)
    final = client.wait_for_run(thread_id, run.id, timeout=BOUND, poll_interval=0.01)
    assert final.status == "cancelled"
    assert list(client.list_messages(thread_id, run_id=run.id)) == []


def test_a_finished_run_cannot_be_cancelled(client, backend, thread_id, assistant_id):
    run = polled(client, thread_id, assistant_id)

    with pytest.raises(BadRequestError) as refused:
        client.cancel_run(thread_id, run.id)

    assert "completed" in refused.value.message


# -- expiry ----------------------------------------------------------------------------------------


def test_a_run_left_in_requires_action_past_its_expiry_becomes_expired(make_server, backend):
    # expires_at is in whole seconds: a run may expire up to a second before the setting says,
    # so 3 s leaves at least 2 s to see it waiting first.
    server = make_server("--run-expiry", "3")
    client = server.client()
    assistant_id = client.create_assistant("gpt-4o", tools=[TOOL]).id
    thread_id = client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id
    backend.script(tool_call_answer("lookup", "{}", call_id="call_1"))

    with client.stream_run(thread_id, assistant_id) as stream:
        stream.until_done()
    run = stream.final_run
    assert run is not None and run.status == "requires_action"
    # created_at is rounded down and expires_at up (a run never expires early).
    assert run.expires_at is not None and run.expires_at - run.created_at <= 4

    wait_until(lambda: client.get_run(thread_id, run.id).status == "expired", what="expired")
    expired = client.get_run(thread_id, run.id)
    assert expired.required_action is None
    assert expired.expires_at is None
    (step,) = client.list_run_steps(thread_id, run.id)
    assert step.status == "expired"
    with pytest.raises(BadRequestError):
        client.submit_tool_outputs(thread_id, run.id, [{"tool_call_id": "call_1", "output": "x"}])
    assert len(backend.chat_requests()) == 1
