"""The example's views through Django's test client, on an emulator: answers, streams, errors.

Each test is one user (a test client with its own session, so its own thread).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.test import Client, override_settings

from assistants_client.django import get_client
from assistants_client.emulator import Emulator
from tests.django.conftest import API_KEY
from tests.django.sse import parse_frames, text_of

WAIT = 10.0  # seconds: a bound on a hang, not a speed claim


def post_json(web: Client, path: str, body: dict[str, Any]) -> Any:
    return web.post(path, json.dumps(body), content_type="application/json")


def open_stream(web: Client, message: str) -> StreamingHttpResponse:
    sent = post_json(web, "/send", {"message": message})
    assert sent.status_code == 202, sent.content
    response = web.get("/stream")
    assert isinstance(response, StreamingHttpResponse)
    return response


def read_until_text(chunks: Iterator[bytes]) -> list[bytes]:
    """Chunks up to and including the first one carrying text."""
    read = []
    for chunk in chunks:
        read.append(chunk)
        if chunk.startswith(b"event: text"):
            return read
    raise AssertionError(f"the stream ended without text: {read!r}")


def latest_run_of(web: Client) -> tuple[str, str]:
    thread_id = web.session["thread_id"]
    run = get_client().list_runs(thread_id, limit=1).data[0]
    return thread_id, run.id


def test_the_chat_view_runs_the_tool_and_answers_with_the_reply(web: Client) -> None:
    response = post_json(
        web, "/chat", {"message": "What is the weather in Paris? Use get_weather."}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["reply"] == (
        'get_weather returned: {"city":"Paris","temperature_c":18,"sky":"partly cloudy"}'
    )


def test_the_chat_view_keeps_one_thread_per_session(web: Client) -> None:
    first = post_json(web, "/chat", {"message": "first question"}).json()
    thread_id = web.session["thread_id"]
    second = post_json(web, "/chat", {"message": "second question"}).json()

    assert first["reply"] == "You said: first question"
    assert second["reply"] == "You said: second question"
    assert web.session["thread_id"] == thread_id
    texts = [m.text for m in get_client().list_messages(thread_id, order="asc")]
    assert texts == [
        "first question",
        "You said: first question",
        "second question",
        "You said: second question",
    ]


def test_an_empty_message_is_a_400_naming_the_parameter(web: Client) -> None:
    response = post_json(web, "/chat", {"message": "   "})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "content"
    assert error["type"] == "invalid_request_error"


def test_the_stream_opens_at_once_then_sends_the_text_and_done(web: Client) -> None:
    response = open_stream(web, "stream this answer to me please")
    try:
        chunks = iter(response.streaming_content)
        first = next(chunks)
        rest = list(chunks)
    finally:
        response.close()

    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    assert first == b": stream open\n\n"
    frames = parse_frames(rest)
    assert text_of(frames) == "You said: stream this answer to me please"
    assert len([name for name, _ in frames if name == "text"]) > 1
    name, done = frames[-1]
    assert name == "done"
    thread_id, run_id = latest_run_of(web)
    assert done == {"status": "completed", "run_id": run_id, "thread_id": thread_id}


def test_a_weather_question_streams_its_tool_call_then_the_answer_in_a_second_stream(
    web: Client,
) -> None:
    first = open_stream(web, "What is the weather in Paris? Use get_weather.")
    asked = parse_frames(first.streaming_content)
    second = web.get("/stream")  # as the page does when a stream ends in requires_action
    assert isinstance(second, StreamingHttpResponse)
    answered = parse_frames(second.streaming_content)
    third = web.get("/stream")

    (requires_action,) = [data for name, data in asked if name == "thread.run.requires_action"]
    (call,) = requires_action["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert asked[-1][0] == "done" and asked[-1][1]["status"] == "requires_action"
    assert text_of(answered) == (
        'get_weather returned: {"city":"Paris","temperature_c":18,"sky":"partly cloudy"}'
    )
    assert answered[-1] == ("done", {**asked[-1][1], "status": "completed"})
    assert third.status_code == 409  # nothing left to answer


def test_a_stream_is_refused_without_a_message_sent_first(web: Client) -> None:
    post_json(web, "/chat", {"message": "hello"})
    thread_id = web.session["thread_id"]

    response = web.get("/stream")

    assert response.status_code == 409
    assert len(get_client().list_runs(thread_id).data) == 1  # the chat's run only


def test_a_message_while_a_run_streams_is_a_409_naming_the_active_run(web: Client) -> None:
    response = open_stream(web, "a long answer " * 10)
    try:
        read_until_text(iter(response.streaming_content))
        refused = post_json(web, "/chat", {"message": "and another thing"})
        thread_id, run_id = latest_run_of(web)
    finally:
        response.close()

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "thread_has_active_run"
    assert thread_id in error["message"]
    assert run_id in error["message"]


def test_leaving_a_stream_midway_cancels_the_run(web: Client) -> None:
    response = open_stream(web, "an answer long enough to leave in the middle of " * 5)
    read = read_until_text(iter(response.streaming_content))
    thread_id, run_id = latest_run_of(web)

    response.close()

    run = get_client().wait_for_run(thread_id, run_id, timeout=WAIT, poll_interval=0.02)
    assert run.status == "cancelled"
    assert text_of(parse_frames(read))  # some text had arrived: the run was under way


def test_a_stream_closed_before_it_was_read_cancels_its_run(web: Client) -> None:
    response = open_stream(web, "nobody will read this answer " * 5)
    thread_id, run_id = latest_run_of(web)

    response.close()  # as a server does when the page left before the first write

    run = get_client().wait_for_run(thread_id, run_id, timeout=WAIT, poll_interval=0.02)
    assert run.status == "cancelled"


def test_a_run_that_fails_ends_its_stream_with_done_and_the_status(
    web: Client, emulator: Emulator
) -> None:
    emulator.script.queue_failure(code="server_error", message="The backend failed.")
    response = open_stream(web, "this will fail")
    try:
        frames = parse_frames(response.streaming_content)
    finally:
        response.close()

    assert frames[-1][0] == "done"
    assert frames[-1][1]["status"] == "failed"


def test_a_failing_service_is_a_502_without_its_details(web: Client, emulator: Emulator) -> None:
    emulator.faults.fail_posts(1.0, status=500, retry_after=None)
    settings = {"base_url": emulator.base_url, "api_key": API_KEY, "max_retries": 0}
    with override_settings(ASSISTANTS_CLIENT=settings):
        response = post_json(web, "/chat", {"message": "hello"})

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "upstream_error"
    assert error["request_id"].startswith("req_")
    text = response.content.decode()
    assert "injected fault" not in text
    assert API_KEY not in text
    assert emulator.url not in text and "127.0.0.1" not in text


def test_a_thread_gone_from_the_service_is_a_404_with_its_message(web: Client) -> None:
    post_json(web, "/chat", {"message": "hello"})
    thread_id = web.session["thread_id"]
    get_client().delete_thread(thread_id)

    response = post_json(web, "/chat", {"message": "hello again"})

    assert response.status_code == 404
    error = response.json()["error"]
    assert thread_id in error["message"]
    assert API_KEY not in response.content.decode()
