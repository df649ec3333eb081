"""One valid call per client method, and the endpoint and answer it maps to."""

from __future__ import annotations

from typing import Any

from tests import payloads

ID_PARAMS = ("thread_id", "message_id", "run_id", "step_id", "assistant_id")

# method -> (valid keyword arguments, HTTP method, path under /v1, answer)
CALLS: dict[str, tuple[dict[str, Any], str, str, Any]] = {
    "create_assistant": ({"model": "gpt-4o"}, "POST", "/assistants", payloads.assistant()),
    "list_assistants": ({}, "GET", "/assistants", payloads.listing([payloads.assistant()])),
    "get_assistant": (
        {"assistant_id": "asst_1"},
        "GET",
        "/assistants/asst_1",
        payloads.assistant(),
    ),
    "update_assistant": (
        {"assistant_id": "asst_1"},
        "POST",
        "/assistants/asst_1",
        payloads.assistant(),
    ),
    "delete_assistant": (
        {"assistant_id": "asst_1"},
        "DELETE",
        "/assistants/asst_1",
        payloads.deleted("asst_1", "assistant.deleted"),
    ),
    "create_thread": ({}, "POST", "/threads", payloads.thread()),
    "get_thread": ({"thread_id": "thread_1"}, "GET", "/threads/thread_1", payloads.thread()),
    "update_thread": ({"thread_id": "thread_1"}, "POST", "/threads/thread_1", payloads.thread()),
    "delete_thread": (
        {"thread_id": "thread_1"},
        "DELETE",
        "/threads/thread_1",
        payloads.deleted("thread_1", "thread.deleted"),
    ),
    "create_message": (
        {"thread_id": "thread_1", "role": "user", "content": "Hello"},
        "POST",
        "/threads/thread_1/messages",
        payloads.message(),
    ),
    "list_messages": (
        {"thread_id": "thread_1"},
        "GET",
        "/threads/thread_1/messages",
        payloads.listing([payloads.message()]),
    ),
    "get_message": (
        {"thread_id": "thread_1", "message_id": "msg_1"},
        "GET",
        "/threads/thread_1/messages/msg_1",
        payloads.message(),
    ),
    "update_message": (
        {"thread_id": "thread_1", "message_id": "msg_1"},
        "POST",
        "/threads/thread_1/messages/msg_1",
        payloads.message(),
    ),
    "delete_message": (
        {"thread_id": "thread_1", "message_id": "msg_1"},
        "DELETE",
        "/threads/thread_1/messages/msg_1",
        payloads.deleted("msg_1", "thread.message.deleted"),
    ),
    "create_run": (
        {"thread_id": "thread_1", "assistant_id": "asst_1"},
        "POST",
        "/threads/thread_1/runs",
        payloads.run(),
    ),
    "create_thread_and_run": ({"assistant_id": "asst_1"}, "POST", "/threads/runs", payloads.run()),
    "list_runs": (
        {"thread_id": "thread_1"},
        "GET",
        "/threads/thread_1/runs",
        payloads.listing([payloads.run()]),
    ),
    "get_run": (
        {"thread_id": "thread_1", "run_id": "run_1"},
        "GET",
        "/threads/thread_1/runs/run_1",
        payloads.run(),
    ),
    "update_run": (
        {"thread_id": "thread_1", "run_id": "run_1"},
        "POST",
        "/threads/thread_1/runs/run_1",
        payloads.run(),
    ),
    "cancel_run": (
        {"thread_id": "thread_1", "run_id": "run_1"},
        "POST",
        "/threads/thread_1/runs/run_1/cancel",
        payloads.run(status="cancelling"),
    ),
    "submit_tool_outputs": (
        {
            "thread_id": "thread_1",
            "run_id": "run_1",
            "tool_outputs": [{"tool_call_id": "call_1", "output": "42"}],
        },
        "POST",
        "/threads/thread_1/runs/run_1/submit_tool_outputs",
        payloads.run(),
    ),
    "list_run_steps": (
        {"thread_id": "thread_1", "run_id": "run_1"},
        "GET",
        "/threads/thread_1/runs/run_1/steps",
        payloads.listing([payloads.run_step()]),
    ),
    "get_run_step": (
        {"thread_id": "thread_1", "run_id": "run_1", "step_id": "step_1"},
        "GET",
        "/threads/thread_1/runs/run_1/steps/step_1",
        payloads.run_step(),
    ),
}

ID_CASES = [
    (name, param) for name, (kwargs, *_) in CALLS.items() for param in kwargs if param in ID_PARAMS
]
