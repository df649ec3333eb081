"""Recorded event streams, built from spec-shaped payloads, for parser and accumulation tests."""

from __future__ import annotations

import json
from typing import Any

from tests import payloads

THREAD_ID = "thread_rec"
RUN_ID = "run_rec"
MESSAGE_ID = "msg_rec"
STEP_ID = "step_rec"


def run(status: str, **extra: Any) -> dict[str, Any]:
    return payloads.run(
        RUN_ID,
        THREAD_ID,
        assistant_id="asst_rec",
        status=status,
        created_at=1700000000,
        truncation_strategy={"type": "auto", "last_messages": None},
        tool_choice="auto",
        response_format="auto",
        **extra,
    )


def message(status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return payloads.message(
        MESSAGE_ID,
        THREAD_ID,
        created_at=1700000001,
        status=status,
        completed_at=1700000002 if status == "completed" else None,
        role="assistant",
        content=content,
        assistant_id="asst_rec",
        run_id=RUN_ID,
        attachments=[],
    )


def step(status: str, details: dict[str, Any]) -> dict[str, Any]:
    return payloads.run_step(
        STEP_ID,
        created_at=1700000001,
        assistant_id="asst_rec",
        thread_id=THREAD_ID,
        run_id=RUN_ID,
        type=details["type"],
        status=status,
        step_details=details,
        completed_at=None,
    )


def sse(event: str, data: Any, newline: str = "\n") -> str:
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event: {event}{newline}data: {body}{newline}{newline}"


def text_run_events(pieces: list[str], *, annotate: bool = True) -> list[tuple[str, Any]]:
    """A run answering with the given text pieces, one thread.message.delta each."""
    text = "".join(pieces)
    annotation = {
        "type": "file_citation",
        "text": "[1]",
        "file_citation": {"file_id": "file_1"},
        "start_index": 0,
        "end_index": 3,
    }
    events: list[tuple[str, Any]] = [
        ("thread.run.created", run("queued")),
        ("thread.run.queued", run("queued")),
        ("thread.run.in_progress", run("in_progress", started_at=1700000001)),
        (
            "thread.run.step.created",
            step(
                "in_progress",
                {"type": "message_creation", "message_creation": {"message_id": MESSAGE_ID}},
            ),
        ),
        ("thread.message.created", message("in_progress", [])),
        ("thread.message.in_progress", message("in_progress", [])),
    ]
    for i, piece in enumerate(pieces):
        text_delta: dict[str, Any] = {"value": piece}
        if annotate and i == 1:
            text_delta["annotations"] = [{"index": 0, **annotation}]
        events.append(
            (
                "thread.message.delta",
                {
                    "id": MESSAGE_ID,
                    "object": "thread.message.delta",
                    "delta": {"content": [{"index": 0, "type": "text", "text": text_delta}]},
                },
            )
        )
    final_text = {
        "value": text,
        "annotations": [annotation] if annotate and len(pieces) > 1 else [],
    }
    events += [
        ("thread.message.completed", message("completed", [{"type": "text", "text": final_text}])),
        (
            "thread.run.step.completed",
            step(
                "completed",
                {"type": "message_creation", "message_creation": {"message_id": MESSAGE_ID}},
            ),
        ),
        ("thread.run.completed", run("completed", started_at=1700000001, completed_at=1700000003)),
    ]
    return events


def tool_call_events(arguments_pieces: list[str]) -> list[tuple[str, Any]]:
    """A run that streams a function call's arguments, then waits for its output."""
    arguments = "".join(arguments_pieces)
    call_done = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments, "output": None},
    }
    events: list[tuple[str, Any]] = [
        ("thread.run.created", run("queued")),
        ("thread.run.in_progress", run("in_progress")),
        ("thread.run.step.created", step("in_progress", {"type": "tool_calls", "tool_calls": []})),
    ]
    for i, piece in enumerate(arguments_pieces):
        call: dict[str, Any] = {"index": 0, "type": "function", "function": {"arguments": piece}}
        if i == 0:
            call = {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": piece, "output": None},
            }
        events.append(
            (
                "thread.run.step.delta",
                {
                    "id": STEP_ID,
                    "object": "thread.run.step.delta",
                    "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}},
                },
            )
        )
    required = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                }
            ]
        },
    }
    events.append(("thread.run.requires_action", run("requires_action", required_action=required)))
    events.append(
        ("__step_final__", step("in_progress", {"type": "tool_calls", "tool_calls": [call_done]}))
    )
    return events


def encode(events: list[tuple[str, Any]], *, newline: str = "\n", done: bool = True) -> bytes:
    text = "".join(sse(name, data, newline) for name, data in events if not name.startswith("__"))
    if done:
        text += sse("done", "[DONE]", newline)
    return text.encode("utf-8")


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
