"""The engine: the Assistants API's operations and the lifecycle of runs, without HTTP.

It knows nothing of who answers a run (a :class:`Responder` does), nor of HTTP (``http.py``
serves it), nor, beyond the :class:`Store` it is given, of where state lives. One engine
serves both the emulator (a scripted responder) and the server (a Chat Completions backend).

Runs:

* A run is executed by a :class:`~assistants_client.server.runs.TurnDriver`, turn by turn: the
  first turn when it is created, the next one each time tool outputs are submitted.
* Every operation runs in one store transaction; what it reads and writes goes through the
  store, so several engines (server processes) on one shared store serve one API.
* A run is driven by the one process that holds its *claim* (see ``store.py``). A streamed run
  is claimed by the process that streams it, driven by the request; if its client goes away,
  the rest of the turn goes on in the background. A run that is not streamed is stored
  ``queued`` and claimed by a process with a free worker (of ``workers``): this one at once,
  usually, or any other.
* Each process renews the claims it drives once a second; a claim not renewed lapses after
  ``lease`` seconds (its process stopped), and any process then ends the run: a turn prepared
  in advance (scripted replies) is queued again, else the run fails with ``server_error``: a
  live answer cannot be resumed. No run stays ``in_progress`` forever.
* ``cancel_run`` marks the run ``cancelling`` and signals its turn, in this process or, through
  the store, in the one that drives it (which also polls its runs' statuses each second); the
  turn stops the responder (within a second) and ends the run ``cancelled``, keeping the text
  received so far.
* A run left in ``requires_action`` past its ``expires_at`` becomes ``expired`` (when it is
  read, and by a sweep once a second).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import logging
import math
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from assistants_client.models.operations import OPERATIONS
from assistants_client.server import objects
from assistants_client.server.errors import ApiError
from assistants_client.server.objects import ASSISTANT_KEYS, OPENAI_TOOL_RESOURCES, JSONDict
from assistants_client.server.responders import Responder, ToolRound, Turn, UnsupportedInput
from assistants_client.server.runs import ACTIVE, Event, TurnDriver, close_run, event
from assistants_client.server.store import RunRow, Store, StoreError, UnknownCursor
from assistants_client.server.validation import RequestSchemas, ValidationFailure, request_schemas

__all__ = ["Engine", "Request", "Route", "StreamResult", "Timing"]

logger = logging.getLogger("assistants_client.server")

DEFAULT_RUN_EXPIRY = 600.0
DEFAULT_WORKERS = 32
DEFAULT_LEASE = 10.0
# How often claims are renewed, lapsed claims and expired runs swept, statuses polled.
SWEEP_EVERY = 1.0
INTERRUPTED = "The server stopped while the run was under way."


@dataclass(frozen=True)
class Timing:
    """The pace of runs: seconds spent ``queued`` and ``cancelling``, and the run expiry.

    The server answers as fast as its backend; the emulator uses small delays so that each
    state can be observed, and a scripted responder paces its pieces by ``stream_interval``
    (and spends ``in_progress`` before answering a run in the background).
    """

    queued: float = 0.0
    in_progress: float = 0.0
    cancelling: float = 0.0
    stream_interval: float = 0.0
    run_expires_after: float = DEFAULT_RUN_EXPIRY


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


@dataclass
class _Active:
    """A run this engine drives: the signal its turn watches."""

    cancelled: threading.Event = field(default_factory=threading.Event)


class _Listening(Iterator[Event]):
    """The events of a streamed turn: the opening ones, then the turn's as it goes.

    Closed before its end (the client went away, or never read a byte), it hands the rest of
    the turn to the engine's workers: the run goes on without a listener.
    """

    def __init__(self, engine: Engine, turn: Iterator[Event], opening: list[Event]) -> None:
        self._engine = engine
        self._turn = turn
        self._opening = opening
        self._done = False
        self._closed = False

    def __next__(self) -> Event:
        if self._opening:
            return self._opening.pop(0)
        try:
            return next(self._turn)
        except StopIteration:
            self._done = True
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._done:
            self._engine._continue(self._turn)


def _not_found(kind: str, obj_id: str, param: str) -> ApiError:
    return ApiError(404, f"No {kind} found with id '{obj_id}'.", param=param)


def _not_implemented(operation_id: str) -> Callable[..., Any]:
    def handler(request: Request, body: JSONDict, **params: str) -> Any:
        raise ApiError(
            501, f"The server does not implement {operation_id}.", code="not_implemented"
        )

    return handler


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


# Where request bodies carry tools and tool resources (operationId -> JSON paths).
_TOOL_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "createAssistant": (("tools",),),
    "modifyAssistant": (("tools",),),
    "createRun": (("tools",),),
    "createThreadAndRun": (("tools",),),
}
_RESOURCE_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "createAssistant": (("tool_resources",),),
    "modifyAssistant": (("tool_resources",),),
    "createThread": (("tool_resources",),),
    "modifyThread": (("tool_resources",),),
    "createThreadAndRun": (("tool_resources",), ("thread", "tool_resources")),
}


def _at(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def _exhaust(events: Iterator[Event]) -> None:
    for _ in events:
        pass


class Engine:
    """The API over a store and a responder. Thread-safe: every request may come on its own
    thread, and runs in a store transaction of its own; no transaction is open while a
    responder is awaited.

    * ``foundry``: answer lists in Azure AI Foundry's shape (no ``object`` nor ``first_id``).
    * ``extra_tool_types``: tool types accepted beyond the spec's (a vendor's own).
    * ``workers``: how many runs this engine executes in the background at once; more wait
      ``queued`` (for this engine's next free worker, or another's).
    * ``lease``: seconds a claim on a run lasts unless renewed (see the module docstring).
    """

    def __init__(
        self,
        store: Store,
        responder: Responder,
        *,
        timing: Timing | None = None,
        workers: int = DEFAULT_WORKERS,
        foundry: bool = False,
        extra_tool_types: frozenset[str] = frozenset(),
        lease: float = DEFAULT_LEASE,
    ) -> None:
        self.store = store
        self.responder = responder
        self.timing = timing or Timing()
        self.foundry = foundry
        self.extra_tool_types = extra_tool_types
        self.lease = lease
        # Who this engine is, in the claims it holds: unique per process and start.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.schemas: RequestSchemas = request_schemas()
        self._workers = workers
        self._busy = 0  # runs claimed for the workers and not yet done
        self._active: dict[str, _Active] = {}
        self._active_lock = threading.Lock()
        self._held_keys: set[str] = set()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="assistants-run"
        )
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._unavailable = False
        self.routes = self._build_routes()
        if not store.shared:
            # The store is this process's alone: whatever it finds claimed, a process that
            # stopped left behind.
            self._sweep_lapsed(everyone=True)
        self._stop_listening = store.listen_cancels(self._cancelled_elsewhere)
        self._background = threading.Thread(
            target=self._background_work, name="assistants-runs", daemon=True
        )
        self._background.start()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.store.transaction()

    def forget_runs(self) -> None:
        """Stop every turn under way and forget them (before the store is cleared)."""
        with self._active_lock:
            for active in self._active.values():
                active.cancelled.set()
            self._active.clear()

    @property
    def closing(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stop: turns under way stop where they are, without changing their runs. Their
        claims lapse at once, so that another process (or a restart on the same store) ends
        them (see the module docstring)."""
        self._closed.set()
        self._wake.set()
        if self._stop_listening is not None:
            self._stop_listening()
        with self._active_lock:
            for active in self._active.values():
                active.cancelled.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._background.join(5.0)
        try:
            self.store.lapse(self.owner)
        except StoreError as problem:
            logger.warning("could not release this process's runs: %s", problem)

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
            self._validate(route.operation_id, body)
        elif body is None:
            body = {}
        with self.store.transaction():
            return route.handler(request, body, **params)

    def _validate(self, operation_id: str, body: Any) -> None:
        try:
            self.schemas.validate_body(operation_id, self._as_openai_body(operation_id, body))
        except ValidationFailure as failure:
            raise ApiError(400, str(failure), param=failure.path) from None

    def _as_openai_body(self, operation_id: str, body: Any) -> Any:
        """The body the spec's schemas are to check.

        Tool resources are checked here against the tool types this engine knows. Extra tool
        types stand in as a code interpreter (at the same position, so that an error elsewhere
        still names the right index), and their resources are left out: the spec knows
        neither, and both are kept as given.
        """
        known = OPENAI_TOOL_RESOURCES | self.extra_tool_types
        for path in _RESOURCE_PATHS.get(operation_id, ()):
            resources = _at(body, path)
            if isinstance(resources, dict):
                for key in resources:
                    if key not in known:
                        where = ".".join(("body", *path, key))
                        raise ApiError(
                            400,
                            f"{where}: unknown tool resource {key!r}",
                            param=where,
                            code="unknown_parameter",
                        )
        if not self.extra_tool_types or not isinstance(body, dict):
            return body
        checked = copy.copy(body)
        for path in _TOOL_PATHS.get(operation_id, ()):
            tools = _at(checked, path)
            if isinstance(tools, list):
                checked[path[0]] = [
                    {"type": "code_interpreter"}
                    if isinstance(tool, dict) and tool.get("type") in self.extra_tool_types
                    else tool
                    for tool in tools
                ]
        for path in _RESOURCE_PATHS.get(operation_id, ()):
            resources = _at(checked, path)
            if isinstance(resources, dict):
                trimmed = {k: v for k, v in resources.items() if k in OPENAI_TOOL_RESOURCES}
                if len(path) == 1:
                    checked[path[0]] = trimmed
                elif isinstance(checked.get(path[0]), dict):
                    checked[path[0]] = {**checked[path[0]], path[1]: trimmed}
        return checked

    # -- the Host of the run drivers ------------------------------------------------------

    def put(self, kind: str, obj: JSONDict, parent: str) -> None:
        self.store.insert(kind, obj["id"], obj, parent)

    def save(self, kind: str, obj: JSONDict) -> None:
        self.store.update(kind, obj["id"], obj)

    def save_run(self, record: JSONDict) -> None:
        run = record["run"]
        self.store.update("run", run["id"], record)
        if run["status"] not in ACTIVE:
            # A step reports its run's expiry, which an ended run no longer has.
            for step in self.store.children("step", run["id"]):
                if step["expires_at"] is not None:
                    step["expires_at"] = None
                    self.store.update("step", step["id"], step)

    def reload_run(self, record: JSONDict) -> str | None:
        """In a transaction: lock the run's row and return its stored status, if this engine
        still drives the run (None: it was deleted, or its claim lapsed and someone else
        ended it). What others may change of a driven run (its metadata) is taken over."""
        run = record["run"]
        row = self.store.get_run(run["id"], lock=True)
        if row is None or row.claimed_by != self.owner:
            return None
        stored = row.record["run"]
        run["metadata"] = stored["metadata"]
        status: str = stored["status"]
        return status

    def message_of(self, record: JSONDict, message_id: str) -> JSONDict | None:
        return self.store.get("message", message_id, record["run"]["thread_id"])

    def steps_of(self, record: JSONDict) -> list[JSONDict]:
        return self.store.children("step", record["run"]["id"])

    # -- lists ----------------------------------------------------------------------------

    def _page(
        self,
        kind: str,
        parent: str,
        query: dict[str, list[str]],
        view: Callable[[JSONDict], JSONDict] = lambda found: found,
        run_id: str | None = None,
    ) -> JSONDict:
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
        try:
            chosen, more = self.store.page(
                kind,
                parent,
                limit=limit,
                ascending=order == "asc",
                after=one("after"),
                before=one("before"),
                run_id=run_id,
            )
        except UnknownCursor as unknown:
            raise ApiError(400, str(unknown), param=unknown.name) from None
        return objects.page([view(o) for o in chosen], more, foundry=self.foundry)

    # -- lookups --------------------------------------------------------------------------

    def _assistant(self, assistant_id: str, param: str = "assistant_id") -> JSONDict:
        found = self.store.get("assistant", assistant_id)
        if found is None:
            raise _not_found("assistant", assistant_id, param)
        return found

    def _thread(self, thread_id: str, *, lock: bool = False) -> JSONDict:
        """A thread; ``lock``: for a change of what it holds (a new message, a new run, its
        deletion), which serializes those changes on one thread across processes."""
        found = self.store.get("thread", thread_id, lock=lock)
        if found is None:
            raise _not_found("thread", thread_id, "thread_id")
        return found

    def _message(self, thread_id: str, message_id: str) -> JSONDict:
        self._thread(thread_id)
        found = self.store.get("message", message_id, thread_id)
        if found is None:
            raise _not_found("message", message_id, "message_id")
        return found

    def _run_row(self, thread_id: str, run_id: str, *, lock: bool = False) -> RunRow:
        self._thread(thread_id)
        found = self.store.get_run(run_id, lock=lock)
        if found is None or found.thread_id != thread_id:
            raise _not_found("run", run_id, "run_id")
        run = found.record["run"]
        due = run["expires_at"] is not None and objects.now() >= run["expires_at"]
        if run["status"] == "requires_action" and due:
            # Past its expiry: expired now, as the sweep would within a second.
            if not lock:
                return self._run_row(thread_id, run_id, lock=True)
            close_run(self, found.record, "expired", [])
        return found

    def _record(self, thread_id: str, run_id: str, *, lock: bool = False) -> JSONDict:
        return self._run_row(thread_id, run_id, lock=lock).record

    def _ensure_idle(self, thread_id: str) -> None:
        record = self.store.active_run(thread_id)
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
        return self._page(
            "assistant",
            "",
            request.query,
            lambda assistant: objects.ordered(assistant, ASSISTANT_KEYS),
        )

    def create_assistant(self, request: Request, body: JSONDict) -> JSONDict:
        assistant = objects.assistant(body, metadata=_check_metadata(body.get("metadata")))
        self.store.insert("assistant", assistant["id"], assistant)
        return assistant

    def get_assistant(self, request: Request, body: JSONDict, assistant_id: str) -> JSONDict:
        return objects.ordered(self._assistant(assistant_id), ASSISTANT_KEYS)

    def update_assistant(self, request: Request, body: JSONDict, assistant_id: str) -> JSONDict:
        assistant = self._assistant(assistant_id)
        metadata = _check_metadata(body["metadata"]) if "metadata" in body else None
        objects.update_assistant(assistant, body, metadata)
        self.store.update("assistant", assistant_id, assistant)
        return objects.ordered(assistant, ASSISTANT_KEYS)

    def delete_assistant(self, request: Request, body: JSONDict, assistant_id: str) -> JSONDict:
        self._assistant(assistant_id)
        self.store.delete("assistant", assistant_id)
        return objects.deleted(assistant_id, "assistant")

    # -- threads --------------------------------------------------------------------------

    def _create_thread(
        self, body: JSONDict, path: str, resources: JSONDict | None = None
    ) -> JSONDict:
        messages = body.get("messages") or []
        metadata = _check_metadata(body.get("metadata"), f"{path}.metadata")
        for index, message in enumerate(messages):
            _check_metadata(message.get("metadata"), f"{path}.messages[{index}].metadata")
        if resources is None:
            resources = objects.tool_resources(body.get("tool_resources"))
        thread = objects.thread(resources, metadata=metadata)
        self.store.insert("thread", thread["id"], thread)
        for message in messages:
            self._add_message(thread["id"], message)
        return thread

    def create_thread(self, request: Request, body: JSONDict) -> JSONDict:
        return self._create_thread(body, "body")

    def get_thread(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        thread = self._thread(thread_id)
        # Recorded: a thread whose create and modify answers show no resources is read back
        # with an empty code interpreter entry.
        thread["tool_resources"] = objects.code_interpreter_default(thread["tool_resources"])
        return thread

    def update_thread(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        thread = self._thread(thread_id)
        metadata = _check_metadata(body["metadata"]) if "metadata" in body else None
        if "tool_resources" in body:
            thread["tool_resources"] = objects.tool_resources(body["tool_resources"])
        if metadata is not None:
            thread["metadata"] = metadata
        self.store.update("thread", thread_id, thread)
        return thread

    def delete_thread(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        self._thread(thread_id, lock=True)
        # Runs before steps and messages: the order in which a turn locks them.
        for record in self.store.children("run", thread_id):
            run_id = record["run"]["id"]
            row = self.store.get_run(run_id, lock=True)
            if row is None:
                continue
            if row.claimed_by is not None:
                # The turn under way finds its run gone, and stops.
                self._signal(run_id, row.claimed_by)
            self.store.delete_children("step", run_id)
        self.store.delete_children("run", thread_id)
        self.store.delete_children("message", thread_id)
        self.store.delete("thread", thread_id)
        return objects.deleted(thread_id, "thread")

    # -- messages -------------------------------------------------------------------------

    def _add_message(
        self,
        thread_id: str,
        body: Mapping[str, Any],
        *,
        run_id: str | None = None,
        assistant_id: str | None = None,
    ) -> JSONDict:
        message = objects.message(thread_id, body, run_id=run_id, assistant_id=assistant_id)
        self.store.insert("message", message["id"], message, thread_id)
        return message

    def list_messages(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        self._thread(thread_id)
        run_filter = request.query.get("run_id")
        run_id = run_filter[-1] if run_filter and run_filter[-1] else None
        return self._page("message", thread_id, request.query, objects.message_view, run_id)

    def create_message(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        self._thread(thread_id, lock=True)
        self._ensure_idle(thread_id)
        _check_metadata(body.get("metadata"))
        return objects.message_view(self._add_message(thread_id, body))

    def get_message(
        self, request: Request, body: JSONDict, thread_id: str, message_id: str
    ) -> JSONDict:
        return objects.message_view(self._message(thread_id, message_id))

    def update_message(
        self, request: Request, body: JSONDict, thread_id: str, message_id: str
    ) -> JSONDict:
        message = self._message(thread_id, message_id)
        if "metadata" in body:
            message["metadata"] = _check_metadata(body["metadata"])
        self.store.update("message", message_id, message)
        return objects.modified_message_view(message)

    def delete_message(
        self, request: Request, body: JSONDict, thread_id: str, message_id: str
    ) -> JSONDict:
        self._message(thread_id, message_id)
        self.store.delete("message", message_id)
        return objects.deleted(message_id, "thread.message")

    # -- runs -----------------------------------------------------------------------------

    def _turn(self, record: JSONDict, messages: list[JSONDict] | None = None) -> Turn:
        """What the responder gets for the next turn of a run."""
        run = record["run"]
        state = record["state"]
        thread_messages = (
            messages if messages is not None else self.store.children("message", run["thread_id"])
        )
        rounds = [
            ToolRound(calls=tuple(r["calls"]), outputs=dict(r["outputs"]))
            for r in state.get("rounds", [])
        ]
        return Turn(
            run_id=run["id"],
            thread_id=run["thread_id"],
            assistant_id=run["assistant_id"],
            model=run["model"],
            instructions=state.get("instructions"),
            additional_instructions=state.get("additional_instructions"),
            messages=[copy.deepcopy(m) for m in thread_messages],
            tool_rounds=rounds,
            tools=copy.deepcopy(run["tools"]),
            tool_choice=copy.deepcopy(run["tool_choice"]),
            parallel_tool_calls=run["parallel_tool_calls"],
            response_format=copy.deepcopy(run["response_format"]),
            # 1.0 is the API's default for both: it is what a backend does when given nothing,
            # and some models refuse any explicit value.
            temperature=None if run["temperature"] == 1.0 else run["temperature"],
            top_p=None if run["top_p"] == 1.0 else run["top_p"],
            max_prompt_tokens=run["max_prompt_tokens"],
            max_completion_tokens=run["max_completion_tokens"],
            truncation_strategy=copy.deepcopy(run["truncation_strategy"]),
            prepared=copy.deepcopy(state.get("prepared")),
        )

    def _check_turn(self, turn: Turn, existing: int) -> None:
        """400 for what the responder cannot do, before anything is stored."""
        try:
            self.responder.check(turn)
        except UnsupportedInput as unsupported:
            param = unsupported.param
            found = re.match(r"messages\[(\d+)\](.*)", param)
            if found is not None and int(found.group(1)) >= existing:
                param = f"additional_messages[{int(found.group(1)) - existing}]{found.group(2)}"
            raise ApiError(400, unsupported.message, param=param) from None

    def _new_run(
        self, thread_id: str, body: JSONDict, resources: JSONDict | None = None
    ) -> JSONDict:
        """A queued run; ``resources`` are its tool resources (those of createThreadAndRun).

        The caller holds the thread's lock (or made the thread in this transaction).
        """
        assistant = self._assistant(body["assistant_id"], "body.assistant_id")
        self._ensure_idle(thread_id)
        metadata = _check_metadata(body.get("metadata"))
        additional = body.get("additional_messages") or []
        for index, message in enumerate(additional):
            _check_metadata(message.get("metadata"), f"body.additional_messages[{index}].metadata")
        instructions = body.get("instructions")
        if instructions is None:
            instructions = assistant.get("instructions")
        tools = body.get("tools")
        if tools is None:
            tools = assistant.get("tools") or []
        run_resources = dict(resources or {})
        if body.get("stream"):
            # Recorded: a streamed run reports an (empty) code interpreter resource, while the
            # same run created without streaming reports none.
            run_resources = objects.code_interpreter_default(run_resources)
        # The run shows the instructions it was given: additional ones appended, as sent on.
        shown = "\n\n".join(
            text for text in (instructions, body.get("additional_instructions")) if text
        )
        run = objects.run(
            thread_id,
            assistant["id"],
            body,
            instructions=shown or None,
            tools=tools[:20],
            resources=run_resources,
            # Rounded up: a run never expires before the time it was given.
            expires_at=math.ceil(time.time() + self.timing.run_expires_after),
            defaults=assistant,
            metadata=metadata,
        )
        record: JSONDict = {
            "run": run,
            "state": {
                "instructions": instructions or None,
                "additional_instructions": body.get("additional_instructions") or None,
                "usage": [0, 0],
                "rounds": [],
            },
        }
        existing = self.store.children("message", thread_id)
        provisional = [
            objects.message(thread_id, message, status="completed") for message in additional
        ]
        turn = self._turn(record, existing + provisional)
        self._check_turn(turn, len(existing))
        for message in additional:
            self._add_message(thread_id, message)
        record["state"]["prepared"] = self.responder.prepare(self._turn(record))
        self.store.insert("run", run["id"], record, thread_id)
        return record

    def _start(self, record: JSONDict, opening: list[Event], *, streaming: bool) -> Any:
        """A queued turn: streamed by this request (after ``opening``), or left to a worker."""
        run = record["run"]
        if not streaming:
            self.store.on_commit(self._wake.set)
            return copy.deepcopy(run)
        run_id = run["id"]
        self.store.claim(run_id, self.owner, self.lease)
        active = _Active()
        self.store.on_commit(lambda: self._register(run_id, active))
        turn = self._driven(record, active, background=False)
        return StreamResult(_Listening(self, turn, opening))

    def create_run(self, request: Request, body: JSONDict, thread_id: str) -> Any:
        self._thread(thread_id, lock=True)
        record = self._new_run(thread_id, body)
        if not body.get("stream"):
            return self._start(record, [], streaming=False)
        run = record["run"]
        opening = [event("thread.run.created", run), event("thread.run.queued", run)]
        return self._start(record, opening, streaming=True)

    def create_thread_and_run(self, request: Request, body: JSONDict) -> Any:
        # A refused request leaves nothing behind, not even its new thread: its transaction
        # rolls back.
        self._assistant(body["assistant_id"], "body.assistant_id")
        _check_metadata(body.get("metadata"))
        thread_body = dict(body.get("thread") or {})
        resources = (
            objects.tool_resources(body["tool_resources"])
            if body.get("tool_resources") is not None
            else None
        )
        thread_resources = (
            copy.deepcopy(resources)
            if resources is not None
            else objects.tool_resources(thread_body.get("tool_resources"))
        )
        if body.get("stream"):
            # Recorded: the thread of a streamed createThreadAndRun reports an (empty) code
            # interpreter resource, like its run.
            thread_resources = objects.code_interpreter_default(thread_resources)
        thread = self._create_thread(thread_body, "body.thread", thread_resources)
        run_body = {k: v for k, v in body.items() if k not in ("thread", "tool_resources")}
        record = self._new_run(thread["id"], run_body, resources)
        if not body.get("stream"):
            return self._start(record, [], streaming=False)
        run = record["run"]
        opening = [
            event("thread.created", thread),
            event("thread.run.created", run),
            event("thread.run.queued", run),
        ]
        return self._start(record, opening, streaming=True)

    def list_runs(self, request: Request, body: JSONDict, thread_id: str) -> JSONDict:
        self._thread(thread_id)
        return self._page("run", thread_id, request.query, lambda record: record["run"])

    def get_run(self, request: Request, body: JSONDict, thread_id: str, run_id: str) -> JSONDict:
        run: JSONDict = self._record(thread_id, run_id)["run"]
        return run

    def update_run(self, request: Request, body: JSONDict, thread_id: str, run_id: str) -> JSONDict:
        record = self._record(thread_id, run_id, lock=True)
        if "metadata" in body:
            record["run"]["metadata"] = _check_metadata(body["metadata"])
        self.store.update("run", run_id, record)
        run: JSONDict = record["run"]
        return run

    def cancel_run(self, request: Request, body: JSONDict, thread_id: str, run_id: str) -> JSONDict:
        row = self._run_row(thread_id, run_id, lock=True)
        record = row.record
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
        self.store.update("run", run_id, record)
        if row.claimed_by is None:
            # No turn is under way (the run waits for tool outputs, or for a worker): this
            # process ends the run, and claims it meanwhile, in case it stops first.
            self.store.claim(run_id, self.owner, self.lease)
            self.store.on_commit(lambda: self._submit(self._finish_cancel, run_id))
        else:
            self._signal(run_id, row.claimed_by)
        return copy.deepcopy(run)

    def _finish_cancel(self, run_id: str) -> None:
        if self.timing.cancelling > 0:
            time.sleep(self.timing.cancelling)
        try:
            with self.store.transaction():
                row = self.store.get_run(run_id, lock=True)
                if row is None or row.claimed_by != self.owner:
                    return
                if row.record["run"]["status"] == "cancelling":
                    close_run(self, row.record, "cancelled", [])
        except StoreError as problem:
            # The claim lapses, and a sweep ends the run.
            logger.warning("could not end the cancelled run %s: %s", run_id, problem)

    def submit_tool_outputs(
        self, request: Request, body: JSONDict, thread_id: str, run_id: str
    ) -> Any:
        record = self._record(thread_id, run_id, lock=True)
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
        state = record["state"]
        step = self.store.get("step", state.get("tool_step", ""), run_id)
        now = objects.now()
        if step is not None:
            for call in step["step_details"]["tool_calls"]:
                if call["id"] in outputs:
                    call["function"]["output"] = outputs[call["id"]]
            step["status"] = "completed"
            step["completed_at"] = now
            step["usage"] = objects.usage(*state.get("step_usage", [0, 0]))
            self.store.update("step", step["id"], step)
        state.setdefault("rounds", []).append(
            {"calls": state.pop("calls", []), "outputs": dict(outputs)}
        )
        state.pop("tool_step", None)
        run["status"] = "queued"
        run["required_action"] = None
        state["prepared"] = self.responder.prepare(self._turn(record))
        self.store.update("run", run_id, record)
        if not body.get("stream"):
            return self._start(record, [], streaming=False)
        opening = [event("thread.run.step.completed", step)] if step is not None else []
        opening.append(event("thread.run.queued", run))
        return self._start(record, opening, streaming=True)

    # -- steps ----------------------------------------------------------------------------

    def list_run_steps(
        self, request: Request, body: JSONDict, thread_id: str, run_id: str
    ) -> JSONDict:
        self._record(thread_id, run_id)
        return self._page("step", run_id, request.query)

    def get_run_step(
        self, request: Request, body: JSONDict, thread_id: str, run_id: str, step_id: str
    ) -> JSONDict:
        self._record(thread_id, run_id)
        step = self.store.get("step", step_id, run_id)
        if step is None:
            raise _not_found("run step", step_id, "step_id")
        return step

    # -- executing runs -------------------------------------------------------------------

    def _register(self, run_id: str, active: _Active) -> None:
        with self._active_lock:
            self._active[run_id] = active

    def _unregister(self, run_id: str, active: _Active) -> None:
        with self._active_lock:
            if self._active.get(run_id) is active:
                del self._active[run_id]

    def _signal(self, run_id: str, owner: str) -> None:
        """Tell the turn of a run that it is cancelled (or gone), here or where it runs."""
        if owner == self.owner:
            self.store.on_commit(lambda: self._cancelled_elsewhere(run_id))
        else:
            self.store.notify_cancel(run_id)

    def _cancelled_elsewhere(self, run_id: str) -> None:
        with self._active_lock:
            active = self._active.get(run_id)
        if active is not None:
            active.cancelled.set()

    def _driven(self, record: JSONDict, active: _Active, *, background: bool) -> Iterator[Event]:
        """The events of one turn of a run this engine claimed; it is this engine's run (its
        claim renewed) until the turn ends, whichever way."""
        run_id = record["run"]["id"]
        timing = self.timing
        try:
            driver = TurnDriver(
                self,
                self.responder,
                record,
                self._turn(record),
                active.cancelled,
                queued_delay=timing.queued,
                answer_delay=timing.in_progress if background else 0.0,
                cancel_delay=timing.cancelling,
            )
            yield from driver.drive()
        finally:
            self._unregister(run_id, active)

    def _submit(self, work: Callable[..., None], *args: Any) -> None:
        """``work(*args)`` on a worker, unless the engine closes."""
        if self.closing:
            return
        try:
            self._pool.submit(work, *args)
        except RuntimeError:  # the pool shut down meanwhile
            logger.debug("the engine closed before %s could start", work.__name__)

    def _continue(self, turn: Iterator[Event]) -> None:
        """The rest of a streamed turn whose client went away, on a worker."""
        self._submit(self._drive_quietly, turn)

    @staticmethod
    def _drive_quietly(events: Iterator[Event]) -> None:
        try:
            _exhaust(events)
        except Exception:
            logger.exception("a run failed in the background")

    def _drive_claimed(self, record: JSONDict, active: _Active) -> None:
        try:
            self._drive_quietly(self._driven(record, active, background=True))
        finally:
            with self._active_lock:
                self._busy -= 1
            self._wake.set()

    def _claim_queued(self) -> None:
        """Claim queued runs for the free workers."""
        with self._active_lock:
            free = self._workers - self._busy
        if free <= 0 or self.closing:
            return
        with self.store.transaction():
            rows = self.store.claim_queued(self.owner, free, self.lease)
        for row in rows:
            active = _Active()
            self._register(row.record["run"]["id"], active)
            with self._active_lock:
                self._busy += 1
            try:
                self._pool.submit(self._drive_claimed, row.record, active)
            except RuntimeError:  # the pool shut down: the engine closes
                self._unregister(row.record["run"]["id"], active)
                with self._active_lock:
                    self._busy -= 1

    # -- claims, expiry and recovery ------------------------------------------------------

    def _background_work(self) -> None:
        """Claim queued runs when woken (or once a second); keep the claims, sweep lapsed
        claims and expired runs once a second."""
        next_keep = 0.0
        while not self.closing:
            self._wake.clear()
            try:
                if time.monotonic() >= next_keep:
                    next_keep = time.monotonic() + SWEEP_EVERY
                    self._keep()
                self._claim_queued()
                if self._unavailable:
                    logger.warning("the store is available again")
                    self._unavailable = False
            except StoreError as problem:
                if not self._unavailable:
                    logger.warning("the store is unavailable: %s", problem)
                    self._unavailable = True
            except Exception:
                logger.exception("the background work on runs failed")
            self._wake.wait(max(0.0, next_keep - time.monotonic()))

    def _keep(self) -> None:
        with self._active_lock:
            driven = list(self._active)
            keys = list(self._held_keys)
        held = self.store.renew(self.owner, driven, self.lease) if driven else {}
        if keys:
            self.store.renew_keys(self.owner, keys, self.lease)
        for run_id in driven:
            status = held.get(run_id)
            if status is None or status == "cancelling":
                # Cancelled through another process (should its notice have been lost), or
                # gone: the turn stops.
                self._cancelled_elsewhere(run_id)
        self._sweep_lapsed()
        self._expire_due()

    def hold_key(self, key: str) -> None:
        """Keep renewing a pending idempotency key (its answer is being streamed)."""
        with self._active_lock:
            self._held_keys.add(key)

    def release_key(self, key: str) -> None:
        with self._active_lock:
            self._held_keys.discard(key)

    def _expire_due(self) -> None:
        """Expire the runs left in ``requires_action`` past their ``expires_at``."""
        with self.store.transaction():
            for row in self.store.due(objects.now()):
                close_run(self, row.record, "expired", [])

    def _sweep_lapsed(self, *, everyone: bool = False) -> None:
        """End the runs whose process stopped (``everyone``: every run under way)."""
        while True:
            with self.store.transaction():
                rows = self.store.lapsed(everyone=everyone)
                for row in rows:
                    self._end_lapsed(row)
            if len(rows) < 100 or not everyone:
                return

    def _end_lapsed(self, row: RunRow) -> None:
        record = row.record
        run = record["run"]
        logger.info("run %s: its process stopped while it was %s", run["id"], run["status"])
        if run["status"] == "cancelling":
            close_run(self, record, "cancelled", [])
        elif run["status"] == "queued" or record["state"].get("prepared") is not None:
            # Not started, or prepared in advance: another turn can answer it.
            run["status"] = "queued"
            self.store.update("run", run["id"], record)
            self.store.claim(run["id"], None)
            self.store.on_commit(self._wake.set)
        else:
            self._fail_interrupted(record)

    def _fail_interrupted(self, record: JSONDict) -> None:
        run = record["run"]
        error = {"code": "server_error", "message": INTERRUPTED}
        now = objects.now()
        message_id = record["state"].pop("message", None)
        if message_id is not None:
            message = self.message_of(record, message_id)
            if message is not None and message["status"] == "in_progress":
                message["status"] = "incomplete"
                message["incomplete_at"] = now
                message["incomplete_details"] = {"reason": "run_failed"}
                self.store.update("message", message_id, message)
        for step in self.steps_of(record):
            if step["status"] == "in_progress":
                step["status"] = "failed"
                step["failed_at"] = now
                step["last_error"] = error
                step["expires_at"] = None
                self.store.update("step", step["id"], step)
        run["status"] = "failed"
        run["failed_at"] = now
        run["last_error"] = error
        run["expires_at"] = None
        prompt, completion = record["state"].get("usage", [0, 0])
        run["usage"] = objects.usage(prompt, completion)
        self.store.update("run", run["id"], record)
