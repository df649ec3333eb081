"""Minimal response bodies that fit the generated response models, and a tool to give a run."""

from __future__ import annotations

from typing import Any


def assistant(id: str = "asst_1", **overrides: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "assistant",
        "created_at": 1,
        "name": None,
        "description": None,
        "model": "gpt-4o",
        "instructions": None,
        "tools": [],
        "metadata": {},
        **overrides,
    }


def thread(id: str = "thread_1", **overrides: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "thread",
        "created_at": 1,
        "tool_resources": None,
        "metadata": {},
        **overrides,
    }


def message(id: str = "msg_1", thread_id: str = "thread_1", **overrides: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "thread.message",
        "created_at": 1,
        "thread_id": thread_id,
        "status": "completed",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": "user",
        "content": [{"type": "text", "text": {"value": "hi", "annotations": []}}],
        "assistant_id": None,
        "run_id": None,
        "attachments": None,
        "metadata": {},
        **overrides,
    }


def run(id: str = "run_1", thread_id: str = "thread_1", **overrides: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "thread.run",
        "created_at": 1,
        "thread_id": thread_id,
        "assistant_id": "asst_1",
        "status": "queued",
        "required_action": None,
        "last_error": None,
        "expires_at": None,
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "incomplete_details": None,
        "model": "gpt-4o",
        "instructions": "",
        "tools": [],
        "metadata": {},
        "usage": None,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": None,
        "tool_choice": None,
        "parallel_tool_calls": True,
        "response_format": None,
        **overrides,
    }


def run_step(id: str = "step_1", **overrides: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "thread.run.step",
        "created_at": 1,
        "assistant_id": "asst_1",
        "thread_id": "thread_1",
        "run_id": "run_1",
        "type": "message_creation",
        "status": "completed",
        "step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_1"}},
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
        **overrides,
    }


def deleted(id: str, object: str) -> dict[str, Any]:
    return {"id": id, "object": object, "deleted": True}


def listing(items: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else "",
        "last_id": items[-1]["id"] if items else "",
        "has_more": has_more,
    }


WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
"""A function tool, ``get_weather(city)``, as an assistant is created with it."""
