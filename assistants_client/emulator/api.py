"""The Assistants API operations and the run engine, independent of HTTP.

Runs that are not streamed progress lazily: every request first advances the active runs
whose next transition is due (``queued`` -> ``in_progress`` -> outcome), so the state a client
reads is a pure function of the time elapsed, and a default run completes in about 20 ms.
A streamed run is driven by the request that streams it, which emits the API's events as it
applies each transition; cancelling such a run is noticed between two events.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from assistants_client.emulator.errors import ApiError
from assistants_client.emulator.responder import Script, default_plan, message_text
from assistants_client.emulator.schema import RequestSchemas, ValidationFailure, request_schemas
from assistants_client.emulator.store import Store
from assistants_client.models.operations import OPERATIONS

__all__ = ["Api", "Request", "Route", "StreamResult", "Timing"]

logger = logging.getLogger("assistants_client.emulator")

JSONDict = dict[str, Any]
Event = tuple[str, str]  # (event name, JSON data)

ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
DEFAULT_TRUNCATION: JSONDict = {"type": "auto", "last_messages": None}


@dataclass(frozen=True)
class Timing:
    """How long a non-streamed run spends in each phase, and the pace of streamed deltas."""

    queued: float = 0.005
    in_progress: float = 0.015
    cancelling: float = 0.005
    stream_interval: float = 0.001
    run_expires_after: float = 600.0


@dataclass
class Request:
    method: str
    path: str  # below the base path, e.g. "/threads/thread_1/runs"
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: Any


@dataclass
class StreamResult:
    """An operation answered with an event stream; iterate ``events`` to drive it."""

    events: Iterator[Event]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    operation_id: str
    handler: Callable[..., Any]
    params: list[str] = field(default_factory=list)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _now() -> int:
    return int(time.time())


def _tokens(text: str) -> int:
    return len(text.split())


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _not_found(kind: str, obj_id: str, param: str) -> ApiError:
    return ApiError(404, f"No {kind} found with id '{obj_id}'.", param=param)


def _not_implemented(operation_id: str) -> Callable[..., Any]:
    def handler(request: Request, body: JSONDict, **params: str) -> Any:
        raise ApiError(
            501, f"The emulator does not implement {operation_id}.", code="not_implemented"
        )

    return handler


def _tool_resources(value: Any) -> JSONDict:
    """Tool resources as the objects report them (vector stores created inline get ids)."""
    if not isinstance(value, dict):
        return {}
    result: JSONDict = {}
    code = value.get("code_interpreter")
    if isinstance(code, dict):
        result["code_interpreter"] = {"file_ids": list(code.get("file_ids", []))}
    search = value.get("file_search")
    if isinstance(search, dict):
        ids = list(search.get("vector_store_ids", []))
        ids.extend(_new_id("vs") for _ in search.get("vector_stores", []))
        result["file_search"] = {"vector_store_ids": ids}
    return result


def _check_metadata(value: Any, path: str = "body.metadata") -> JSONDict:
    if value is None:
        return {}
    if len(value) > 16:
        raise ApiError(400, f"{path}: expected at most 16 keys", param=path)
    for key, item in value.items():
        if len(key) > 64:
            raise ApiError(400, f"{path}: key {key[:20]!r}... is longer than 64", param=path)
        if len(item) > 512:
            raise ApiError(
                400, f"{path}.{key}: expected at most 512 characters", param=f"{path}.{key}"
            )
    return dict(value)


def _message_content(content: Any) -> list[JSONDict]:
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    parts: list[JSONDict] = []
    for part in content:
        if part.get("type") == "text":
            parts.append({"type": "text", "text": {"value": part["text"], "annotations": []}})
        else:
            parts.append(copy.deepcopy(part))
    return parts


class Api:
    """The emulated API: operations over a ``Store``, answering with JSON-able objects."""

    def __init__(self, store: Store, script: Script, timing: Timing | None = None) -> None:
        self.store = store
        self.script = script
        self.timing = timing or Timing()
        self.schemas: RequestSchemas = request_schemas()
        self._active: set[tuple[str, str]] = set()
        with store.lock:
            for thread_id, record in store.iter_kind("run"):
                if record["run"]["status"] in ACTIVE:
                    # A stream cut short by a restart: the run carries on lazily.
                    record["state"]["streaming"] = False
                    record["state"]["due"] = time.time()
                    self._active.add((thread_id, record["run"]["id"]))
        self.routes = self._build_routes()

    # -- routing --------------------------------------------------------------------------

    def _build_routes(self) -> list[Route]:
        """One route per operation of the generated table, served by the method of its name.

        An operation without such a method (one new in the spec) is answered 501 naming it.
        """
        routes = []
        for operation in OPERATIONS:
            handler = getattr(self, operation.name, None) or _not_implemented(operation.id)
            regex = "^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", operation.path) + "/?$"
            routes.append(
                Route(
                    operation.method,
                    re.compile(regex),
                    operation.id,
                    handler,
                    list(operation.path_params),
                )
            )
        return routes

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method path`` and its path parameters; ApiError 404/405 otherwise."""
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
            allowed.append(route.method)
        if allowed:
            raise ApiError(
                405,
                f"Method {method} is not allowed for {path}; allowed: {', '.join(allowed)}.",
                code="method_not_allowed",
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise ApiError(404, f"Unknown request URL: {method} {path}.", code="unknown_url")

    def dispatch(self, route: Route, params: dict[str, str], request: Request) -> Any:
        body = request.body
        if route.operation_id in self.schemas.body_checks:
            if body is None:
                if self.schemas.body_required.get(route.operation_id):
                    raise ApiError(400, "body: a JSON request body is required", param="body")
                body = {}
            try:
                self.schemas.validate_body(route.operation_id, body)
            except ValidationFailure as failure:
                raise ApiError(400, str(failure), param=failure.path) from None
        elif body is None:
            body = {}
        with self.store.lock:
            self.tick()
            return route.handler(request, body, **params)

    # -- lists ----------------------------------------------------------------------------

    def _page(self, items: list[JSONDict], query: dict[str, list[str]]) -> JSONDict:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values and values[-1] != "" else None

        raw_limit = one("limit")
        limit = 20
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise ApiError(
                    400, f"limit: expected an integer, got {raw_limit!r}", param="limit"
                ) from None
            if not 1 <= limit <= 100:
                raise ApiError(400, "limit: must be between 1 and 100", param="limit")
        order = one("order") or "desc"
        if order not in ("asc", "desc"):
            raise ApiError(400, f"order: {order!r} is not one of ['asc', 'desc']", param="order")
        seqs = self.store.seqs
        ascending = order == "asc"
        ordered = items if ascending else items[::-1]
        for name in ("after", "before"):
            cursor = one(name)
            if cursor is None:
                continue
            if cursor not in seqs:
                raise ApiError(400, f"{name}: no object with id '{cursor}'", param=name)
            mark = seqs[cursor]
            later = (name == "after") == ascending
            ordered = [
                o for o in ordered if (seqs[o["id"]] > mark) == later and seqs[o["id"]] != mark
            ]
        if one("before") is not None and one("after") is None:
            page = ordered[-limit:]
        else:
            page = ordered[:limit]
        return {
            "object": "list",
            "data": copy.deepcopy(page),
            "first_id": page[0]["id"] if page else "",
            "last_id": page[-1]["id"] if page else "",
            "has_more": len(ordered) > limit,
        }

    # -- lookups --------------------------------------------------------------------------

    def _assistant(self, assistant_id: str, param: str = "assistant_id") -> JSONDict:
        found = self.store.get("assistant", assistant_id)
        if found is None:
            raise _not_found("assistant", assistant_id, param)
        return found

    def _thread(self, thread_id: str) -> JSONDict:
        found = self.store.get("thread", thread_id)
        if found is None:
            raise _not_found("thread", thread_id, "thread_id")
        return found

    def _message(self, thread_id: str, message_id: str) -> JSONDict:
        self._thread(thread_id)
        found = self.store.get("message", message_id, thread_id)
        if found is None:
            raise _not_found("message", message_id, "message_id")
        return found

    def _record(self, thread_id: str, run_id: str) -> JSONDict:
        self._thread(thread_id)
        found = self.store.get("run", run_id, thread_id)
        if found is None:
            raise _not_found("run", run_id, "run_id")
        return found

    def _active_run(self, thread_id: str) -> JSONDict | None:
        for active_thread, run_id in self._active:
            if active_thread == thread_id:
                record = self.store.get("run", run_id, thread_id)
                if record is not None and record["run"]["status"] in ACTIVE:
                    return record
        return None

    def _ensure_idle(self, thread_id: str) -> None:
        record = self._active_run(thread_id)
        if record is not None:
            run = record["run"]
            raise ApiError(
                400,
                f"Thread {thread_id} already has an active run {run['id']} "
                f"(status {run['status']}).",
                param="thread_id",
            )

    # -- assistants -----------------------------------------------------------------------

    def list_assistants(self, request: Request, body: JSONDict) -> JSONDict:
        return self._page(self.store.children("assistant"), request.query)

    def create_assistant(self, request: Request, body: JSONDict) -> JSONDict:
        assistant = {
            "id": _new_id("asst"),
            "object": "assistant",
            "created_at": _now(),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": body["model"],
            "instructions": body.get("instructions"),
            "tools": copy.deepcopy(body.get("tools") or []),
            "tool_resources": _tool_resources(body.get("tool_resources")),
            "metadata": _check_metadata(body.get("metadata")),
            "temperature": 1.0 if body.get("temperature") is None else body["temperature"],
            "top_p": 1.0 if body.get("top_p") is None else body["top_p"],
            "response_format": body.get("response_format") or "auto",
        }
        if body.get("reasoning_effort") is not None:
            assistant["reasoning_effort"] = body["reasoning_effort"]
        self.store.put("assistant", assistant["id"], assistant)
        return copy.deepcopy(assistant)

    def get_assistant(self, request: Request, body: JSONDict, assistant_id: str) -> JSONDict:
        return copy.deepcopy(self._assistant(assistant_id))

    def update_assistant(self, request: Request, body: JSONDict, assistant_id: str) -> JSONDict:
        assistant = self._assistant(assistant_id)
        for key in ("model", "name", "description", "instructions", "reasoning_effort"):
            if key in body:
                assistant[key] = body[key]
        if "tools" in body:
            assistant["tools"] = copy.deepcopy(body["tools"] or [])
        if "tool_resources" in body:
            assistant["tool_resources"] = _tool_resources(body["tool_resources"])
        if "metadata" in body:
            assistant["metadata"] = _check_metadata(body["metadata"])
        for key in ("temperature", "top_p"):
            if key in body:
                assistant[key] = 1.0 if body[key] is None else body[key]
        if "response_format" in body:
            assistant["response_format"] = body["response_format"] or "auto"
        self.store.save("assistant", assistant_id)
        return copy.deepcopy(assistant)

    def delete_assistant(self, request: Request, body: JSONDict, assistant_id: str) -> JSONDict:
        self._assistant(assistant_id)
        self.store.delete("assistant", assistant_id)
        return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}

    # -- threads --------------------------------------------------------------------------

    def _create_thread(self, body: JSONDict, path: str) -> JSONDict:
        messages = body.get("messages") or []
        metadata = _check_metadata(body.get("metadata"), f"{path}.metadata")
        for index, message in enumerate(messages):
            _check_metadata(message.get("metadata"), f"{path}.messages[{index}].metadata")
        thread: JSONDict = {
            "id": _new_id("thread"),
            "object": "thread",
            "created_at": _now(),
            "tool_resources": _tool_resources(body.get("tool_resources")),
            "metadata": metadata,
        }
        self.store.put("thread", thread["id"], thread)
        for message in messages:
            self._add_message(thread["id"], message)
        return thread

    def create_thread(self, request: Request, body: JSONDict) -> JSONDict:
        return copy.deepcopy(self._create_thread(body, "body"))

    def get_thread(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        return copy.deepcopy(self._thread(thread_id))

    def update_thread(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        thread = self._thread(thread_id)
        if "tool_resources" in body:
            thread["tool_resources"] = _tool_resources(body["tool_resources"])
        if "metadata" in body:
            thread["metadata"] = _check_metadata(body["metadata"])
        self.store.save("thread", thread_id)
        return copy.deepcopy(thread)

    def delete_thread(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        self._thread(thread_id)
        for message in self.store.children("message", thread_id):
            self.store.delete("message", message["id"])
        for record in self.store.children("run", thread_id):
            run_id = record["run"]["id"]
            for step in self.store.children("step", run_id):
                self.store.delete("step", step["id"])
            self.store.delete("run", run_id)
            self._active.discard((thread_id, run_id))
        self.store.delete("thread", thread_id)
        return {"id": thread_id, "object": "thread.deleted", "deleted": True}

    # -- messages -------------------------------------------------------------------------

    def _add_message(
        self,
        thread_id: str,
        body: Mapping[str, Any],
        *,
        run_id: str | None = None,
        assistant_id: str | None = None,
    ) -> JSONDict:
        now = _now()
        message = {
            "id": _new_id("msg"),
            "object": "thread.message",
            "created_at": now,
            "thread_id": thread_id,
            "status": "completed",
            "incomplete_details": None,
            "completed_at": now,
            "incomplete_at": None,
            "role": body["role"],
            "content": _message_content(body["content"]),
            "assistant_id": assistant_id,
            "run_id": run_id,
            "attachments": copy.deepcopy(body.get("attachments") or []),
            "metadata": dict(body.get("metadata") or {}),
        }
        self.store.put("message", message["id"], message, thread_id)
        return message

    def list_messages(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        self._thread(thread_id)
        messages = self.store.children("message", thread_id)
        run_filter = request.query.get("run_id")
        if run_filter and run_filter[-1]:
            messages = [m for m in messages if m["run_id"] == run_filter[-1]]
        return self._page(messages, request.query)

    def create_message(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        self._thread(thread_id)
        self._ensure_idle(thread_id)
        _check_metadata(body.get("metadata"))
        return copy.deepcopy(self._add_message(thread_id, body))

    def get_message(
        self, request: Request, body: JSONDict, thread_id: str, message_id: str
    ) -> JSONDict:
        return copy.deepcopy(self._message(thread_id, message_id))

    def update_message(
        self, request: Request, body: JSONDict, thread_id: str, message_id: str
    ) -> JSONDict:
        message = self._message(thread_id, message_id)
        if "metadata" in body:
            message["metadata"] = _check_metadata(body["metadata"])
        self.store.save("message", message_id)
        return copy.deepcopy(message)

    def delete_message(
        self, request: Request, body: JSONDict, thread_id: str, message_id: str
    ) -> JSONDict:
        self._message(thread_id, message_id)
        self.store.delete("message", message_id)
        return {"id": message_id, "object": "thread.message.deleted", "deleted": True}

    # -- runs -----------------------------------------------------------------------------

    def _new_run(self, thread_id: str, body: JSONDict) -> JSONDict:
        assistant = self._assistant(body["assistant_id"], "body.assistant_id")
        self._ensure_idle(thread_id)
        metadata = _check_metadata(body.get("metadata"))
        for index, message in enumerate(body.get("additional_messages") or []):
            _check_metadata(message.get("metadata"), f"body.additional_messages[{index}].metadata")
        for message in body.get("additional_messages") or []:
            self._add_message(thread_id, message)
        instructions = body.get("instructions")
        if instructions is None:
            instructions = assistant.get("instructions") or ""
        extra = body.get("additional_instructions")
        if extra:
            instructions = f"{instructions}\n\n{extra}" if instructions else extra
        tools = body.get("tools")
        if tools is None:
            tools = assistant.get("tools") or []
        now = _now()
        run: JSONDict = {
            "id": _new_id("run"),
            "object": "thread.run",
            "created_at": now,
            "thread_id": thread_id,
            "assistant_id": assistant["id"],
            "status": "queued",
            "required_action": None,
            "last_error": None,
            "expires_at": now + int(self.timing.run_expires_after),
            "started_at": None,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "incomplete_details": None,
            "model": body.get("model") or assistant["model"],
            "instructions": instructions,
            "tools": copy.deepcopy(tools[:20]),
            "metadata": metadata,
            "usage": None,
            "temperature": body.get("temperature", assistant.get("temperature", 1.0)),
            "top_p": body.get("top_p", assistant.get("top_p", 1.0)),
            "max_prompt_tokens": body.get("max_prompt_tokens"),
            "max_completion_tokens": body.get("max_completion_tokens"),
            "truncation_strategy": body.get("truncation_strategy") or dict(DEFAULT_TRUNCATION),
            "tool_choice": body.get("tool_choice") or "auto",
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "response_format": body.get("response_format")
            or assistant.get("response_format")
            or "auto",
        }
        if run["temperature"] is None:
            run["temperature"] = assistant.get("temperature", 1.0)
        if run["top_p"] is None:
            run["top_p"] = assistant.get("top_p", 1.0)
        record: JSONDict = {
            "run": run,
            "state": {
                "streaming": bool(body.get("stream")),
                "due": time.time() + self.timing.queued,
                "plan": None,
                "usage": [0, 0],
            },
        }
        record["state"]["plan"] = self._plan(record, None)
        self.store.put("run", run["id"], record, thread_id)
        self._active.add((thread_id, run["id"]))
        return record

    def _plan(self, record: JSONDict, tool_results: list[tuple[str, str]] | None) -> JSONDict:
        run = record["run"]
        scripted = self.script.take()
        if scripted is not None and scripted.get("kind") != "default":
            return scripted
        last_user: str | None = None
        for message in reversed(self.store.children("message", run["thread_id"])):
            if message["role"] == "user":
                last_user = message_text(message)
                break
        plan = default_plan(
            tools=run["tools"],
            response_format=run["response_format"],
            last_user_text=last_user,
            tool_results=tool_results,
            tool_choice=run["tool_choice"],
        )
        if scripted is not None:
            plan["delay"] = scripted.get("delay", 0.0)
        return plan

    def _prompt_tokens(self, run: JSONDict) -> int:
        total = _tokens(run["instructions"])
        for message in self.store.children("message", run["thread_id"]):
            total += _tokens(message_text(message))
        return total

    def _start(self, request: Request, record: JSONDict, thread: JSONDict | None) -> Any:
        run = record["run"]
        if record["state"]["streaming"]:
            return StreamResult(self._stream(record, thread))
        return copy.deepcopy(run)

    def create_run(self, request: Request, body: JSONDict, thread_id: str) -> Any:
        self._thread(thread_id)
        record = self._new_run(thread_id, body)
        return self._start(request, record, None)

    def create_thread_and_run(self, request: Request, body: JSONDict) -> Any:
        self._assistant(body["assistant_id"], "body.assistant_id")
        _check_metadata(body.get("metadata"))
        thread = self._create_thread(dict(body.get("thread") or {}), "body.thread")
        if body.get("tool_resources") is not None:
            thread["tool_resources"] = _tool_resources(body["tool_resources"])
            self.store.save("thread", thread["id"])
        run_body = {k: v for k, v in body.items() if k not in ("thread", "tool_resources")}
        record = self._new_run(thread["id"], run_body)
        return self._start(request, record, thread)

    def list_runs(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        self._thread(thread_id)
        runs = [record["run"] for record in self.store.children("run", thread_id)]
        return self._page(runs, request.query)

    def get_run(self, request: Request, body: JSONDict, thread_id: str, run_id: str) -> JSONDict:
        return copy.deepcopy(self._record(thread_id, run_id)["run"])

    def update_run(self, request: Request, body: JSONDict, thread_id: str, run_id: str) -> JSONDict:
        record = self._record(thread_id, run_id)
        if "metadata" in body:
            record["run"]["metadata"] = _check_metadata(body["metadata"])
        self.store.save("run", run_id)
        return copy.deepcopy(record["run"])

    def cancel_run(self, request: Request, body: JSONDict, thread_id: str, run_id: str) -> JSONDict:
        record = self._record(thread_id, run_id)
        run = record["run"]
        if run["status"] == "cancelling":
            return copy.deepcopy(run)
        if run["status"] not in ACTIVE:
            raise ApiError(
                400,
                f"Cannot cancel run with status '{run['status']}'.",
                param="run_id",
            )
        run["status"] = "cancelling"
        record["state"]["due"] = time.time() + self.timing.cancelling
        self.store.save("run", run_id)
        return copy.deepcopy(run)

    def submit_tool_outputs(
        self, request: Request, body: JSONDict, thread_id: str, run_id: str
    ) -> Any:
        record = self._record(thread_id, run_id)
        run = record["run"]
        if run["status"] != "requires_action" or run["required_action"] is None:
            raise ApiError(
                400,
                f"Runs in status '{run['status']}' do not accept tool outputs.",
                param="run_id",
            )
        pending = {
            call["id"]: call["function"]["name"]
            for call in run["required_action"]["submit_tool_outputs"]["tool_calls"]
        }
        outputs: dict[str, str] = {}
        for index, item in enumerate(body["tool_outputs"]):
            path = f"body.tool_outputs[{index}]"
            call_id = item.get("tool_call_id")
            if call_id is None:
                raise ApiError(
                    400, f"{path}.tool_call_id: is required", param=f"{path}.tool_call_id"
                )
            if call_id not in pending:
                raise ApiError(
                    400,
                    f"{path}.tool_call_id: no pending tool call with id '{call_id}'",
                    param=f"{path}.tool_call_id",
                )
            if call_id in outputs:
                raise ApiError(
                    400,
                    f"{path}.tool_call_id: duplicate output for '{call_id}'",
                    param=f"{path}.tool_call_id",
                )
            outputs[call_id] = str(item.get("output", ""))
        missing = [call_id for call_id in pending if call_id not in outputs]
        if missing:
            raise ApiError(
                400,
                f"body.tool_outputs: expected outputs for every pending tool call; missing {missing}",
                param="body.tool_outputs",
            )
        step = self.store.get("step", record["state"]["tool_step"], run_id)
        now = _now()
        if step is not None:
            for call in step["step_details"]["tool_calls"]:
                if call["id"] in outputs:
                    call["function"]["output"] = outputs[call["id"]]
            step["status"] = "completed"
            step["completed_at"] = now
            self.store.save("step", step["id"])
        run["status"] = "queued"
        run["required_action"] = None
        state = record["state"]
        state["streaming"] = bool(body.get("stream"))
        state["due"] = time.time() + self.timing.queued
        state["plan"] = self._plan(
            record, [(pending[call_id], output) for call_id, output in outputs.items()]
        )
        self.store.save("run", run_id)
        self._active.add((thread_id, run_id))
        if state["streaming"]:
            return StreamResult(self._stream(record, None, tool_step=step))
        return copy.deepcopy(run)

    # -- steps ----------------------------------------------------------------------------

    def list_run_steps(
        self, request: Request, body: JSONDict, thread_id: str, run_id: str
    ) -> JSONDict:
        self._record(thread_id, run_id)
        return self._page(self.store.children("step", run_id), request.query)

    def get_run_step(
        self, request: Request, body: JSONDict, thread_id: str, run_id: str, step_id: str
    ) -> JSONDict:
        self._record(thread_id, run_id)
        step = self.store.get("step", step_id, run_id)
        if step is None:
            raise _not_found("run step", step_id, "step_id")
        return copy.deepcopy(step)

    # -- run engine -----------------------------------------------------------------------

    def tick(self) -> None:
        """Apply every transition that is due for runs not driven by a stream."""
        if not self._active:
            return
        now = time.time()
        for thread_id, run_id in list(self._active):
            record = self.store.get("run", run_id, thread_id)
            if record is None:
                self._active.discard((thread_id, run_id))
                continue
            self._advance(record, now)

    def _advance(self, record: JSONDict, now: float) -> None:
        run = record["run"]
        state = record["state"]
        for _ in range(4):
            status = run["status"]
            if status not in ACTIVE:
                self._active.discard((run["thread_id"], run["id"]))
                return
            if status == "requires_action":
                if run["expires_at"] is not None and now >= run["expires_at"]:
                    self._exhaust(self._expire(record))
                return
            if state["streaming"] or now < state["due"]:
                return
            if status == "cancelling":
                self._exhaust(self._finish_cancel(record))
            elif status == "queued":
                self._exhaust(self._begin(record))
                state["due"] += self.timing.in_progress + float(state["plan"].get("delay", 0.0))
            else:
                self._exhaust(self._outcome(record))

    @staticmethod
    def _exhaust(events: Iterator[Event | float]) -> None:
        for _ in events:
            pass

    def _event(self, name: str, data: Any) -> Event:
        return name, _dump(data)

    def _save_run(self, record: JSONDict) -> None:
        run = record["run"]
        self.store.save("run", run["id"])
        if run["status"] not in ACTIVE:
            self._active.discard((run["thread_id"], run["id"]))

    def _begin(self, record: JSONDict) -> Iterator[Event | float]:
        run = record["run"]
        run["status"] = "in_progress"
        if run["started_at"] is None:
            run["started_at"] = _now()
        self._save_run(record)
        yield self._event("thread.run.in_progress", run)

    def _finish_usage(self, record: JSONDict) -> None:
        prompt, completion = record["state"]["usage"]
        record["run"]["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _new_step(self, record: JSONDict, kind: str, details: JSONDict) -> JSONDict:
        run = record["run"]
        step = {
            "id": _new_id("step"),
            "object": "thread.run.step",
            "created_at": _now(),
            "assistant_id": run["assistant_id"],
            "thread_id": run["thread_id"],
            "run_id": run["id"],
            "type": kind,
            "status": "in_progress",
            "step_details": details,
            "last_error": None,
            "expired_at": None,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "metadata": {},
            "usage": None,
        }
        self.store.put("step", step["id"], step, run["id"])
        return step

    def _outcome(self, record: JSONDict) -> Iterator[Event | float]:
        """Everything after ``in_progress``: message, tool calls, failure and the like."""
        run = record["run"]
        state = record["state"]
        plan = state["plan"]
        kind = plan["kind"]
        now = _now()
        prompt = self._prompt_tokens(run)
        if kind == "failure":
            run["status"] = "failed"
            run["failed_at"] = now
            run["last_error"] = {"code": plan["code"], "message": plan["message"]}
            run["expires_at"] = None
            state["usage"][0] += prompt
            self._finish_usage(record)
            self._save_run(record)
            yield self._event("thread.run.failed", run)
            return
        if kind == "expire":
            yield from self._expire(record)
            return
        if kind == "tool_calls":
            yield from self._tool_calls(record, plan["calls"], prompt)
            return
        yield from self._message_turn(record, plan, prompt)

    def _tool_calls(
        self, record: JSONDict, calls: list[JSONDict], prompt: int
    ) -> Iterator[Event | float]:
        run = record["run"]
        state = record["state"]
        tool_calls = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": "", "output": None},
            }
            for call in calls
        ]
        step = self._new_step(
            record, "tool_calls", {"type": "tool_calls", "tool_calls": tool_calls}
        )
        state["tool_step"] = step["id"]
        yield self._event("thread.run.step.created", step)
        yield self._event("thread.run.step.in_progress", step)
        for index, call in enumerate(calls):
            yield self.timing.stream_interval
            if run["status"] == "cancelling":
                yield from self._finish_cancel(record)
                return
            tool_calls[index]["function"]["arguments"] = call["arguments"]
            self.store.save("step", step["id"])
            delta = {
                "id": step["id"],
                "object": "thread.run.step.delta",
                "delta": {
                    "step_details": {
                        "type": "tool_calls",
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call["id"],
                                "type": "function",
                                "function": {
                                    "name": call["name"],
                                    "arguments": call["arguments"],
                                    "output": None,
                                },
                            }
                        ],
                    }
                },
            }
            yield self._event("thread.run.step.delta", delta)
        completion = sum(_tokens(call["arguments"]) + 1 for call in calls)
        state["usage"][0] += prompt
        state["usage"][1] += completion
        step["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        self.store.save("step", step["id"])
        run["status"] = "requires_action"
        run["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                    for call in calls
                ]
            },
        }
        state["streaming"] = False
        self._save_run(record)
        yield self._event("thread.run.requires_action", run)

    def _message_turn(
        self, record: JSONDict, plan: JSONDict, prompt: int
    ) -> Iterator[Event | float]:
        run = record["run"]
        state = record["state"]
        message = self._add_message(
            record["run"]["thread_id"],
            {"role": "assistant", "content": []},
            run_id=run["id"],
            assistant_id=run["assistant_id"],
        )
        message["status"] = "in_progress"
        message["completed_at"] = None
        step = self._new_step(
            record,
            "message_creation",
            {"type": "message_creation", "message_creation": {"message_id": message["id"]}},
        )
        state["message"] = message["id"]
        self.store.save("message", message["id"])
        yield self._event("thread.run.step.created", step)
        yield self._event("thread.run.step.in_progress", step)
        yield self._event("thread.message.created", message)
        yield self._event("thread.message.in_progress", message)
        text = ""
        for chunk in plan.get("chunks", []):
            yield self.timing.stream_interval
            if run["status"] == "cancelling":
                yield from self._finish_cancel(record)
                return
            text += chunk
            message["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
            delta = {
                "id": message["id"],
                "object": "thread.message.delta",
                "delta": {
                    "content": [
                        {
                            "index": 0,
                            "type": "text",
                            "text": {"value": chunk, "annotations": []},
                        }
                    ]
                },
            }
            yield self._event("thread.message.delta", delta)
        self.store.save("message", message["id"])
        now = _now()
        completion = _tokens(text)
        state["usage"][0] += prompt
        state["usage"][1] += completion
        step["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        incomplete = plan["kind"] == "incomplete"
        if incomplete:
            message["status"] = "incomplete"
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": "max_tokens"}
        else:
            message["status"] = "completed"
            message["completed_at"] = now
        self.store.save("message", message["id"])
        yield self._event(
            "thread.message.incomplete" if incomplete else "thread.message.completed", message
        )
        step["status"] = "completed"
        step["completed_at"] = now
        self.store.save("step", step["id"])
        yield self._event("thread.run.step.completed", step)
        state.pop("message", None)
        self._finish_usage(record)
        run["expires_at"] = None
        if incomplete:
            run["status"] = "incomplete"
            run["incomplete_details"] = {"reason": plan["reason"]}
            self._save_run(record)
            yield self._event("thread.run.incomplete", run)
        else:
            run["status"] = "completed"
            run["completed_at"] = now
            self._save_run(record)
            yield self._event("thread.run.completed", run)

    def _close_open_parts(
        self, record: JSONDict, step_status: str, message_reason: str
    ) -> Iterator[Event | float]:
        """Close the run's in-progress message and steps (cancel or expiry)."""
        run = record["run"]
        state = record["state"]
        now = _now()
        message_id = state.pop("message", None)
        if message_id is not None:
            message = self.store.get("message", message_id, run["thread_id"])
            if message is not None and message["status"] == "in_progress":
                message["status"] = "incomplete"
                message["incomplete_at"] = now
                message["incomplete_details"] = {"reason": message_reason}
                self.store.save("message", message_id)
                yield self._event("thread.message.incomplete", message)
        for step in self.store.children("step", run["id"]):
            if step["status"] == "in_progress":
                step["status"] = step_status
                step[f"{step_status}_at"] = now
                self.store.save("step", step["id"])
                yield self._event(f"thread.run.step.{step_status}", step)

    def _finish_cancel(self, record: JSONDict) -> Iterator[Event | float]:
        run = record["run"]
        if record["state"]["streaming"]:
            yield self._event("thread.run.cancelling", run)
        yield from self._close_open_parts(record, "cancelled", "run_cancelled")
        run["status"] = "cancelled"
        run["cancelled_at"] = _now()
        run["required_action"] = None
        run["expires_at"] = None
        self._finish_usage(record)
        self._save_run(record)
        yield self._event("thread.run.cancelled", run)

    def _expire(self, record: JSONDict) -> Iterator[Event | float]:
        run = record["run"]
        yield from self._close_open_parts(record, "expired", "run_expired")
        run["status"] = "expired"
        run["required_action"] = None
        self._finish_usage(record)
        self._save_run(record)
        yield self._event("thread.run.expired", run)

    # -- streaming ------------------------------------------------------------------------

    def _stream(
        self,
        record: JSONDict,
        thread: JSONDict | None,
        tool_step: JSONDict | None = None,
    ) -> Iterator[Event]:
        """The event sequence of a streamed run; it takes the store lock between events."""
        run = record["run"]
        state = record["state"]
        opening: list[Event] = []
        if thread is not None:
            opening.append(self._event("thread.created", thread))
        if tool_step is not None:
            opening.append(self._event("thread.run.step.completed", tool_step))
        else:
            opening.append(self._event("thread.run.created", run))
        opening.append(self._event("thread.run.queued", run))

        def drive() -> Iterator[Event | float]:
            yield from opening
            yield self.timing.stream_interval
            if run["status"] == "cancelling":
                yield from self._finish_cancel(record)
                return
            yield from self._begin(record)
            delay = float(state["plan"].get("delay", 0.0))
            yield delay or self.timing.stream_interval
            if run["status"] == "cancelling":
                yield from self._finish_cancel(record)
                return
            yield from self._outcome(record)

        return self._pump(record, drive())

    def _pump(self, record: JSONDict, steps: Iterator[Event | float]) -> Iterator[Event]:
        lock = self.store.lock
        try:
            while True:
                with lock:
                    try:
                        item = next(steps)
                    except StopIteration:
                        break
                if isinstance(item, tuple):
                    yield item
                elif item > 0:
                    time.sleep(item)
        finally:
            with lock:
                # Whatever happened to the stream, the run carries on (lazily) from here.
                self._exhaust(steps)
                record["state"]["streaming"] = False
                record["state"]["due"] = time.time()
