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


# -- files and vector stores (shaped as api.openai.com answered in the openai-dotnet recordings) --


def file(id: str = "file-1", **overrides: Any) -> dict[str, Any]:
    return {
        "object": "file",
        "id": id,
        "purpose": "assistants",
        "filename": "notes.txt",
        "bytes": 21,
        "created_at": 1758064047,
        "expires_at": None,
        "status": "processed",
        "status_details": None,
        **overrides,
    }


def file_counts(**counts: int) -> dict[str, int]:
    found = {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, **counts}
    return {**found, "total": counts.get("total", sum(found.values()))}


def vector_store(id: str = "vs_1", **overrides: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "vector_store",
        "created_at": 1758064051,
        "name": None,
        "description": None,
        "usage_bytes": 0,
        "file_counts": file_counts(),
        "status": "completed",
        "expires_after": None,
        "expires_at": None,
        "last_active_at": 1758064051,
        "metadata": {},
        **overrides,
    }


def vector_store_file(id: str = "file-1", **overrides: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "vector_store.file",
        "usage_bytes": 0,
        "created_at": 1758064051,
        "vector_store_id": "vs_1",
        "status": "in_progress",
        "last_error": None,
        "chunking_strategy": {
            "type": "static",
            "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
        },
        "attributes": {},
        **overrides,
    }


def file_batch(id: str = "vsfb_1", **overrides: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "vector_store.file_batch",
        "created_at": 1758064116,
        "status": "in_progress",
        "vector_store_id": "vs_1",
        "file_counts": file_counts(in_progress=2),
        **overrides,
    }


def file_content_page(text: str = "Filip Carola: cake") -> dict[str, Any]:
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": text}],
        "has_more": False,
        "next_page": None,
    }


def search_results(query: str = "cake") -> dict[str, Any]:
    return {
        "object": "vector_store.search_results.page",
        "search_query": [query],
        "data": [
            {
                "file_id": "file-1",
                "filename": "favorite_foods.txt",
                "score": 0.75,
                "attributes": {"team": "ops", "year": 2024, "draft": False},
                "content": [{"type": "text", "text": "Filip Carola: cake"}],
            }
        ],
        "has_more": False,
        "next_page": None,
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
