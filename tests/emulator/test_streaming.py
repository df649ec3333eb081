"""Streamed runs: the API's event sequence, valid payloads, deltas adding up to the message."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from .conftest import Api, parse_events
from .spec_tools import assert_event_valid

TEXT_SEQUENCE = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
]


def _names(events: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in events]


def _check_all(events: list[tuple[str, Any]]) -> None:
    for name, data in events:
        assert_event_valid(name, data)


def test_a_streamed_run_emits_the_full_event_sequence_and_deltas_add_up(api: Api) -> None:
    api.emulator.script.queue_text("hello streaming world", chunks=5)
    assistant = api.assistant()
    thread = api.thread("hi")
    events = api.stream(f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    _check_all(events)
    names = _names(events)
    assert names == [
        *TEXT_SEQUENCE,
        *["thread.message.delta"] * 5,
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
        "done",
    ]
    deltas = [
        data["delta"]["content"][0] for name, data in events if name == "thread.message.delta"
    ]
    assert all(d["index"] == 0 and d["type"] == "text" for d in deltas)
    completed = next(data for name, data in events if name == "thread.message.completed")
    text = completed["content"][0]["text"]["value"]
    assert "".join(d["text"]["value"] for d in deltas) == text == "hello streaming world"
    assert events[-1] == ("done", "[DONE]")
    stored = api.messages(thread["id"])["data"][0]
    assert stored["content"][0]["text"]["value"] == text


def test_create_thread_and_run_streams_thread_created_first(api: Api) -> None:
    assistant = api.assistant()
    events = api.stream(
        "/threads/runs",
        {
            "assistant_id": assistant["id"],
            "thread": {"messages": [{"role": "user", "content": "yo"}]},
        },
    )
    _check_all(events)
    assert _names(events)[:2] == ["thread.created", "thread.run.created"]
    assert _names(events)[-2:] == ["thread.run.completed", "done"]
    completed = next(data for name, data in events if name == "thread.message.completed")
    assert completed["content"][0]["text"]["value"] == "You said: yo"


def test_a_streamed_tool_call_ends_with_requires_action_and_resumes_on_submit(api: Api) -> None:
    api.emulator.script.queue_tool_calls([{"name": "lookup", "arguments": {"q": "cats"}}])
    assistant = api.assistant()
    thread = api.thread("hi")
    events = api.stream(f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    _check_all(events)
    assert _names(events) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.delta",
        "thread.run.step.delta",
        "thread.run.requires_action",
        "done",
    ]
    step = events[3][1]
    assert step["step_details"] == {"type": "tool_calls", "tool_calls": []}
    deltas = [
        data["delta"]["step_details"]["tool_calls"][0]
        for name, data in events
        if name == "thread.run.step.delta"
    ]
    assert deltas[0]["function"] == {"name": "lookup", "arguments": "", "output": None}
    assert all(set(d) == {"index", "type", "function"} for d in deltas[1:])
    assert "".join(d["function"]["arguments"] for d in deltas) == '{"q": "cats"}'
    run = events[-2][1]
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    resumed = api.stream(
        f"/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": call_id, "output": "purr"}]},
    )
    _check_all(resumed)
    names = _names(resumed)
    assert names[:3] == ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress"]
    assert names[-2:] == ["thread.run.completed", "done"]
    completed = next(data for name, data in resumed if name == "thread.message.completed")
    assert "purr" in completed["content"][0]["text"]["value"]


def test_a_streamed_failure_ends_with_run_failed(api: Api) -> None:
    api.emulator.script.queue_failure(code="server_error", message="boom")
    assistant = api.assistant()
    thread = api.thread("hi")
    events = api.stream(f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    _check_all(events)
    assert _names(events)[-2:] == ["thread.run.failed", "done"]
    assert events[-2][1]["last_error"]["message"] == "boom"


def test_a_streamed_incomplete_ends_with_message_and_run_incomplete(api: Api) -> None:
    api.emulator.script.queue_incomplete(reason="max_prompt_tokens", text="cut short", chunks=2)
    assistant = api.assistant()
    thread = api.thread("hi")
    events = api.stream(f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    _check_all(events)
    assert _names(events)[-4:] == [
        "thread.message.incomplete",
        "thread.run.step.completed",
        "thread.run.incomplete",
        "done",
    ]


def test_cancelling_a_streamed_run_emits_cancelling_cancelled_and_done(api: Api) -> None:
    api.emulator.script.queue_text("a b c d e f g h", chunks=8)
    api.emulator.script.queue_delay(0.2)
    assistant = api.assistant()
    thread = api.thread("hi")
    response = api.session.post(
        f"{api.base}/threads/{thread['id']}/runs",
        json={"assistant_id": assistant["id"], "stream": True},
        stream=True,
        timeout=10,
    )
    chunks = response.iter_content(chunk_size=None)
    received = b""
    while b"\n\n" not in received:
        received += next(chunks)
    run_id = received.split(b'"id":"', 1)[1].split(b'"', 1)[0].decode()
    assert run_id.startswith("run_")
    cancel = requests.post(f"{api.base}/threads/{thread['id']}/runs/{run_id}/cancel", timeout=5)
    assert cancel.status_code == 200
    rest = (received + b"".join(chunks)).decode()
    events = parse_events(rest)
    _check_all(events)
    names = _names(events)
    assert "thread.run.cancelling" in names
    assert names[-2:] == ["thread.run.cancelled", "done"]
    assert "thread.run.completed" not in names
    time.sleep(0.02)
    assert api.get_run(thread["id"], run_id)["status"] == "cancelled"


def test_a_client_that_hangs_up_mid_stream_still_leaves_a_finished_run(api: Api) -> None:
    api.emulator.script.queue_text("x " * 50, chunks=50)
    assistant = api.assistant()
    thread = api.thread("hi")
    response = api.session.post(
        f"{api.base}/threads/{thread['id']}/runs",
        json={"assistant_id": assistant["id"], "stream": True},
        stream=True,
        timeout=10,
    )
    next(response.iter_content(chunk_size=64))
    response.close()
    runs = api.call("GET", f"/threads/{thread['id']}/runs", "listRuns")
    run_id = runs["data"][0]["id"]
    assert api.wait_run(thread["id"], run_id)["status"] == "completed"


def test_streams_from_several_threads_run_concurrently(api: Api) -> None:
    assistant = api.assistant()
    threads = [api.thread(f"n{index}") for index in range(4)]
    results: dict[str, list[tuple[str, Any]]] = {}

    def consume(thread_id: str) -> None:
        with requests.Session() as session:
            response = session.post(
                f"{api.base}/threads/{thread_id}/runs",
                json={"assistant_id": assistant["id"], "stream": True},
                timeout=10,
            )
            results[thread_id] = parse_events(response.text)

    workers = [threading.Thread(target=consume, args=(t["id"],)) for t in threads]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(
        _names(events)[-2:] == ["thread.run.completed", "done"] for events in results.values()
    )
    assert len(results) == 4
