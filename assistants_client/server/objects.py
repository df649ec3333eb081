"""The API's objects, shaped as the live API sends them.

Field for field, null for null and in the same key order as the answers recorded from
api.openai.com (tests/fixtures/reference), which depart from the spec in places
(openapi/overlay.yaml lists where): a run's ``instructions`` are ``null`` when none were
given, run steps carry ``expires_at`` and no ``metadata``, messages read outside a stream have
no ``status`` nor ``*_at`` timestamps, and an empty list has ``null`` cursors.

The engine keeps every object in its full, streamed form; :func:`message_view` and
:func:`page` shape what an answer outside a stream shows.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DEFAULT_TRUNCATION",
    "JSONDict",
    "assistant",
    "deleted",
    "message",
    "message_view",
    "new_id",
    "now",
    "page",
    "run",
    "step",
    "thread",
    "tool_resources",
    "usage",
]

JSONDict = dict[str, Any]

DEFAULT_TRUNCATION: JSONDict = {"type": "auto", "last_messages": None}
# Fields a message read outside a stream does not show (the live API leaves them out).
_STREAM_ONLY_MESSAGE_FIELDS = ("status", "incomplete_details", "incomplete_at", "completed_at")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


def tool_resources(value: Any, *, code_interpreter_default: bool = False) -> JSONDict:
    """Tool resources as objects report them (vector stores created inline get ids).

    Entries of tool types the spec does not know (a vendor's) are kept as sent.
    """
    result: JSONDict = {}
    if isinstance(value, Mapping):
        for key, entry in value.items():
            if key == "code_interpreter" and isinstance(entry, Mapping):
                result[key] = {"file_ids": list(entry.get("file_ids", []))}
            elif key == "file_search" and isinstance(entry, Mapping):
                ids = list(entry.get("vector_store_ids", []))
                ids.extend(new_id("vs") for _ in entry.get("vector_stores", []))
                result[key] = {"vector_store_ids": ids}
            elif key not in ("code_interpreter", "file_search"):
                result[key] = copy.deepcopy(entry)
    if code_interpreter_default and "code_interpreter" not in result:
        result = {"code_interpreter": {"file_ids": []}, **result}
    return result


def assistant(body: Mapping[str, Any], *, metadata: JSONDict) -> JSONDict:
    return {
        "id": new_id("asst"),
        "object": "assistant",
        "created_at": now(),
        "name": body.get("name"),
        "description": body.get("description"),
        "model": body["model"],
        "instructions": body.get("instructions"),
        "tools": copy.deepcopy(body.get("tools") or []),
        "top_p": 1.0 if body.get("top_p") is None else body["top_p"],
        "temperature": 1.0 if body.get("temperature") is None else body["temperature"],
        "reasoning_effort": body.get("reasoning_effort"),
        "tool_resources": tool_resources(body.get("tool_resources")),
        "metadata": metadata,
        "response_format": body.get("response_format") or "auto",
    }


def thread(body: Mapping[str, Any], *, metadata: JSONDict) -> JSONDict:
    return {
        "id": new_id("thread"),
        "object": "thread",
        "created_at": now(),
        "metadata": metadata,
        "tool_resources": tool_resources(body.get("tool_resources"), code_interpreter_default=True),
    }


def _content(content: Any) -> list[JSONDict]:
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    parts: list[JSONDict] = []
    for part in content:
        if part.get("type") == "text":
            parts.append({"type": "text", "text": {"value": part["text"], "annotations": []}})
        else:
            parts.append(copy.deepcopy(part))
    return parts


def message(
    thread_id: str,
    body: Mapping[str, Any],
    *,
    run_id: str | None = None,
    assistant_id: str | None = None,
    status: str = "completed",
) -> JSONDict:
    created = now()
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": created,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "run_id": run_id,
        "status": status,
        "incomplete_details": None,
        "incomplete_at": None,
        "completed_at": created if status == "completed" else None,
        "role": body["role"],
        "content": _content(body.get("content", [])),
        "attachments": copy.deepcopy(body.get("attachments") or []),
        "metadata": dict(body.get("metadata") or {}),
    }


def message_view(stored: Mapping[str, Any], *, modified: bool = False) -> JSONDict:
    """A message as an answer outside a stream shows it.

    ``modified``: the answer to a modify-message call, which the live API still gives in its
    first version's shape (``file_ids`` in place of ``attachments``).
    """
    view = {k: copy.deepcopy(v) for k, v in stored.items() if k not in _STREAM_ONLY_MESSAGE_FIELDS}
    if modified:
        view = {("file_ids" if k == "attachments" else k): v for k, v in view.items()}
        view["file_ids"] = [a["file_id"] for a in stored.get("attachments") or [] if "file_id" in a]
    return view


def run(
    thread_id: str,
    assistant_id: str,
    body: Mapping[str, Any],
    *,
    instructions: str | None,
    tools: Sequence[Any],
    resources: JSONDict,
    expires_at: int,
    defaults: Mapping[str, Any],
    metadata: JSONDict,
) -> JSONDict:
    """A new, queued run; ``defaults`` are the assistant's settings where the run gives none."""

    def pick(name: str, fallback: Any) -> Any:
        value = body.get(name)
        if value is None:
            value = defaults.get(name)
        return fallback if value is None else value

    return {
        "id": new_id("run"),
        "object": "thread.run",
        "created_at": now(),
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": expires_at,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": None,
        "last_error": None,
        "model": body.get("model") or defaults["model"],
        "instructions": instructions,
        "tools": copy.deepcopy(list(tools)),
        "tool_resources": resources,
        "metadata": metadata,
        "temperature": pick("temperature", 1.0),
        "top_p": pick("top_p", 1.0),
        "reasoning_effort": pick("reasoning_effort", None),
        "max_completion_tokens": body.get("max_completion_tokens"),
        "max_prompt_tokens": body.get("max_prompt_tokens"),
        "truncation_strategy": body.get("truncation_strategy") or dict(DEFAULT_TRUNCATION),
        "incomplete_details": None,
        "usage": None,
        "response_format": pick("response_format", "auto"),
        "tool_choice": body.get("tool_choice") or "auto",
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
    }


def step(record_run: Mapping[str, Any], kind: str, details: JSONDict) -> JSONDict:
    return {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": now(),
        "run_id": record_run["id"],
        "assistant_id": record_run["assistant_id"],
        "thread_id": record_run["thread_id"],
        "type": kind,
        "status": "in_progress",
        "cancelled_at": None,
        "completed_at": None,
        "expires_at": record_run["expires_at"],
        "failed_at": None,
        "last_error": None,
        "step_details": details,
        "usage": None,
    }


def usage(prompt: int, completion: int) -> JSONDict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def deleted(object_id: str, kind: str) -> JSONDict:
    return {"id": object_id, "object": f"{kind}.deleted", "deleted": True}


def page(items: list[JSONDict], has_more: bool, *, foundry: bool = False) -> JSONDict:
    """One page of a list; Foundry's lists have neither ``object`` nor ``first_id``."""
    first = items[0]["id"] if items else None
    last = items[-1]["id"] if items else None
    if foundry:
        shaped: JSONDict = {"data": items}
        if last is not None:
            shaped["last_id"] = last
        shaped["has_more"] = has_more
        return shaped
    return {
        "object": "list",
        "data": items,
        "first_id": first,
        "last_id": last,
        "has_more": has_more,
    }
