"""The API's objects, built and shaped as the live API sends them and as its spec requires.

api.openai.com departs from its own spec (``openapi/overlay.yaml`` lists where; the answers
recorded in ``tests/fixtures/reference`` show it). A client written to the spec breaks on a
field that is missing, and no client breaks on a field that is there, so every object carries
both: every field the spec requires, and every field the recordings show beyond it, with the
recordings' nulls and key order (a field only the spec has goes where the spec puts it).

* A message has ``status``, ``incomplete_details``, ``completed_at`` and ``incomplete_at``
  everywhere (the recordings show them in streamed events only), with the values of what the
  run did. The answer to a modify-message call also carries ``file_ids``, as recorded, beside
  the spec's ``attachments``.
* A run's ``instructions`` are ``null`` when neither the run nor its assistant gives any; runs
  carry ``tool_resources`` and ``reasoning_effort``; assistants carry ``reasoning_effort``.
* A run step has the spec's ``expired_at`` (set when its run expires) and ``metadata``, and the
  recordings' ``expires_at`` (its run's, ``null`` once the run has ended).
* Usage objects carry ``prompt_token_details`` and ``completion_tokens_details``.
* An empty list page has ``first_id`` and ``last_id`` ``null``. Azure AI Foundry's lists (its
  own spec's) have neither ``object`` nor ``first_id``, and ``last_id`` only when the page is
  not empty.
* A function tool comes back with ``parameters`` (an empty object schema when none was given)
  and ``strict`` (``false`` unless given).
* ``tool_resources`` gain an empty ``code_interpreter`` entry where the recordings show one
  that was never given (:func:`code_interpreter_default`).

The engine keeps every object in the form it answers; the views here shape what an answer
shows of a stored object.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ASSISTANT_KEYS",
    "DEFAULT_TRUNCATION",
    "FOUNDRY_TOOL_TYPES",
    "JSONDict",
    "OPENAI_TOOL_RESOURCES",
    "assistant",
    "code_interpreter_default",
    "deleted",
    "message",
    "message_view",
    "modified_message_view",
    "new_id",
    "normalize_tools",
    "now",
    "ordered",
    "page",
    "run",
    "step",
    "step_view",
    "thread",
    "tool_resources",
    "usage",
]

JSONDict = dict[str, Any]

DEFAULT_TRUNCATION: JSONDict = {"type": "auto", "last_messages": None}
ASSISTANT_KEYS = (
    "id",
    "object",
    "created_at",
    "name",
    "description",
    "model",
    "instructions",
    "tools",
    "top_p",
    "temperature",
    "reasoning_effort",
    "tool_resources",
    "metadata",
    "response_format",
)
OPENAI_TOOL_RESOURCES = frozenset({"code_interpreter", "file_search"})
# Tools only Azure AI Foundry's Agent Service knows; a Foundry-mode engine (and the tool_resources
# entries of the same names, such as azure_ai_search and mcp) keeps them as given.
FOUNDRY_TOOL_TYPES = frozenset(
    {
        "azure_ai_search",
        "bing_grounding",
        "bing_custom_search",
        "azure_function",
        "openapi",
        "connected_agent",
        "fabric_dataagent",
        "sharepoint_grounding",
        "deep_research",
        "mcp",
        "browser_automation",
    }
)
_EMPTY_PARAMETERS: JSONDict = {"type": "object", "properties": {}}
# What a file_search tool and its calls show for the ranker ``auto`` (as the live API showed it).
SHOWN_RANKER = "default_2024_08_21"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


def ordered(obj: Mapping[str, Any], keys: Iterable[str]) -> JSONDict:
    """A deep copy of ``obj`` with ``keys`` first, in that order, and any other keys after."""
    result: JSONDict = {}
    for key in keys:
        if key in obj:
            result[key] = copy.deepcopy(obj[key])
    for key, value in obj.items():
        if key not in result:
            result[key] = copy.deepcopy(value)
    return result


def usage(prompt: int, completion: int) -> JSONDict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


# -- tools and their resources -------------------------------------------------------------


def tool_resources(value: Any) -> JSONDict:
    """Tool resources as objects report them (vector stores created inline get ids).

    Entries of other tool types (accepted only where the engine knows them) are kept as given.
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
            elif key not in OPENAI_TOOL_RESOURCES:
                result[key] = copy.deepcopy(entry)
    return result


def code_interpreter_default(resources: JSONDict) -> JSONDict:
    """``resources`` with an empty code interpreter entry added after the others if it has none.

    Recorded: a thread read with GET, a thread and a run sent in a stream, and an assistant
    with a code interpreter tool report one, even when none was given.
    """
    if "code_interpreter" in resources:
        return resources
    return {**resources, "code_interpreter": {"file_ids": []}}


def _assistant_resources(resources: JSONDict, tools: list[JSONDict]) -> JSONDict:
    if any(isinstance(tool, Mapping) and tool.get("type") == "code_interpreter" for tool in tools):
        return code_interpreter_default(resources)
    return resources


def _function_tool(tool: Mapping[str, Any]) -> JSONDict:
    function = tool.get("function")
    if not isinstance(function, Mapping):
        return copy.deepcopy(dict(tool))
    shaped: JSONDict = {"name": function.get("name")}
    if "description" in function:
        shaped["description"] = function["description"]
    parameters = function.get("parameters")
    shaped["parameters"] = copy.deepcopy(
        parameters if parameters is not None else _EMPTY_PARAMETERS
    )
    strict = function.get("strict")
    shaped["strict"] = False if strict is None else strict
    for key, value in function.items():
        if key not in shaped:
            shaped[key] = copy.deepcopy(value)
    return {
        **{k: copy.deepcopy(v) for k, v in tool.items() if k != "function"},
        "function": shaped,
    }


def _file_search_tool(tool: Mapping[str, Any]) -> JSONDict:
    """A file_search tool as recorded: its ranking options filled in (the ranker ``auto``
    shown as the one it stands for), ``hybrid_search`` null."""
    settings = tool.get("file_search")
    settings = dict(settings) if isinstance(settings, Mapping) else {}
    given = settings.get("ranking_options")
    ranking = dict(given) if isinstance(given, Mapping) else {}
    ranker = ranking.get("ranker")
    shaped: JSONDict = {}
    if settings.get("max_num_results") is not None:
        shaped["max_num_results"] = settings["max_num_results"]
    shaped["ranking_options"] = {
        **ranking,
        "ranker": SHOWN_RANKER if ranker in (None, "auto") else ranker,
        "score_threshold": ranking.get("score_threshold") or 0.0,
        "hybrid_search": ranking.get("hybrid_search"),
    }
    for key, value in settings.items():
        if key not in shaped:
            shaped[key] = copy.deepcopy(value)
    return {**{k: copy.deepcopy(v) for k, v in tool.items()}, "file_search": shaped}


def normalize_tools(tools: Any) -> list[JSONDict]:
    """Tools as an assistant or a run reports them; a ``function`` and a ``file_search``
    completed as recorded, every other type as given."""
    result: list[JSONDict] = []
    for tool in tools or []:
        if isinstance(tool, Mapping) and tool.get("type") == "function":
            result.append(_function_tool(tool))
        elif isinstance(tool, Mapping) and tool.get("type") == "file_search":
            result.append(_file_search_tool(tool))
        else:
            result.append(copy.deepcopy(tool))
    return result


# -- objects ---------------------------------------------------------------------------------


def assistant(body: Mapping[str, Any], *, metadata: JSONDict) -> JSONDict:
    tools = normalize_tools(body.get("tools"))
    return {
        "id": new_id("asst"),
        "object": "assistant",
        "created_at": now(),
        "name": body.get("name"),
        "description": body.get("description"),
        "model": body["model"],
        "instructions": body.get("instructions"),
        "tools": tools,
        "top_p": 1.0 if body.get("top_p") is None else body["top_p"],
        "temperature": 1.0 if body.get("temperature") is None else body["temperature"],
        "reasoning_effort": body.get("reasoning_effort"),
        "tool_resources": _assistant_resources(tool_resources(body.get("tool_resources")), tools),
        "metadata": metadata,
        "response_format": body.get("response_format") or "auto",
    }


def update_assistant(stored: JSONDict, body: Mapping[str, Any], metadata: JSONDict | None) -> None:
    """Apply a modify-assistant body to the stored assistant."""
    for key in ("model", "name", "description", "instructions", "reasoning_effort"):
        if key in body:
            stored[key] = body[key]
    if "tools" in body:
        stored["tools"] = normalize_tools(body["tools"])
    if "tool_resources" in body:
        stored["tool_resources"] = tool_resources(body["tool_resources"])
    stored["tool_resources"] = _assistant_resources(stored["tool_resources"], stored["tools"])
    if metadata is not None:
        stored["metadata"] = metadata
    for key in ("temperature", "top_p"):
        if key in body:
            stored[key] = 1.0 if body[key] is None else body[key]
    if "response_format" in body:
        stored["response_format"] = body["response_format"] or "auto"


def thread(resources: JSONDict, *, metadata: JSONDict) -> JSONDict:
    return {
        "id": new_id("thread"),
        "object": "thread",
        "created_at": now(),
        "metadata": metadata,
        "tool_resources": resources,
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
    """A new message (answers show it through :func:`message_view`)."""
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


def message_view(stored: Mapping[str, Any]) -> JSONDict:
    """A message as an answer shows it: as stored (the store hands out copies)."""
    return dict(stored)


def modified_message_view(stored: Mapping[str, Any]) -> JSONDict:
    """The answer to a modify-message call: the message, with ``file_ids`` (recorded) after
    ``attachments`` (the spec's)."""
    view: JSONDict = {}
    for key, value in message_view(stored).items():
        view[key] = value
        if key == "attachments":
            view["file_ids"] = [
                item["file_id"]
                for item in value or []
                if isinstance(item, Mapping) and isinstance(item.get("file_id"), str)
            ]
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
        "tools": normalize_tools(tools),
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


_STEP_KEYS = (
    "id",
    "object",
    "created_at",
    "run_id",
    "assistant_id",
    "thread_id",
    "type",
    "status",
    "cancelled_at",
    "completed_at",
    "expired_at",
    "expires_at",
    "failed_at",
    "last_error",
    "metadata",
    "step_details",
    "usage",
)
_STEP_DEFAULTS: JSONDict = {"expired_at": None, "metadata": {}}


def step(of_run: Mapping[str, Any], kind: str, details: JSONDict) -> JSONDict:
    """A new step of a run; it reports its run's ``expires_at`` (null once the run ended)."""
    return {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": now(),
        "run_id": of_run["id"],
        "assistant_id": of_run["assistant_id"],
        "thread_id": of_run["thread_id"],
        "type": kind,
        "status": "in_progress",
        "cancelled_at": None,
        "completed_at": None,
        "expired_at": None,
        "expires_at": of_run["expires_at"],
        "failed_at": None,
        "last_error": None,
        "metadata": {},
        "step_details": details,
        "usage": None,
    }


def step_view(stored: JSONDict, *, include_content: bool = False) -> JSONDict:
    """A step as an answer shows it; one stored by an earlier release gains the spec's fields
    it lacked (``expired_at``, ``metadata``). The passages of its file_search results (kept
    with the step) are shown only with ``include_content`` (the request's ``include[]``)."""
    view = stored
    if not all(key in stored for key in _STEP_DEFAULTS):
        view = ordered({**copy.deepcopy(_STEP_DEFAULTS), **stored}, _STEP_KEYS)
    details = view.get("step_details") or {}
    calls = details.get("tool_calls") if details.get("type") == "tool_calls" else None
    if include_content or not calls or not any(c.get("type") == "file_search" for c in calls):
        return view
    return {
        **view,
        "step_details": {
            **details,
            "tool_calls": [_without_content(call) for call in calls],
        },
    }


def _without_content(call: JSONDict) -> JSONDict:
    search = call.get("file_search")
    if call.get("type") != "file_search" or not isinstance(search, dict):
        return call
    results = [
        {key: value for key, value in result.items() if key != "content"}
        for result in search.get("results") or []
    ]
    return {**call, "file_search": {**search, "results": results}}


def deleted(object_id: str, kind: str) -> JSONDict:
    return {"id": object_id, "object": f"{kind}.deleted", "deleted": True}


def page(items: list[JSONDict], has_more: bool, *, foundry: bool = False) -> JSONDict:
    """One list page of shaped items; Foundry's lists have neither ``object`` nor ``first_id``."""
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
        "first_id": items[0]["id"] if items else None,
        "last_id": last,
        "has_more": has_more,
    }
