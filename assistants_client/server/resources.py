"""The API's objects in the store: assistants, threads, messages, runs and their steps.

:class:`Resources` reads and writes them for the engine's operations, in the caller's
transaction: looking them up (404 naming the parameter), listing them a page at a time
(:class:`ListQuery`), creating, changing and deleting them, and building a run's record and the
turn it starts with. What executes a run is the scheduler's (``scheduling.py``).

A thread's row is locked (``lock=True``) before anything changes what it holds (a new message,
a new run, its deletion): that serializes those changes on one thread across processes, and a
thread has one active run at a time.

Every method takes the caller's ``project`` and hands it to each call of the store: an object
of another project is not found (the same 404 as an id that names nothing), and what is
created belongs to the caller's project.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import attrs

from assistants_client.server import objects
from assistants_client.server.errors import ApiError
from assistants_client.server.objects import ASSISTANT_KEYS, JSONDict
from assistants_client.server.responders import Turn
from assistants_client.server.runs import ACTIVE, close_run, turn_of
from assistants_client.server.store import RunRow, Store, UnknownCursor

__all__ = ["ListQuery", "Resources", "check_metadata", "check_tools"]

Admit = Callable[[Turn, int], Mapping[str, Any] | None]
"""Checks a new run's first turn (400 when the responder cannot answer it) and prepares it:
what to store with it. The second argument is how many messages the thread had before the
run's own."""
Prepare = Callable[[Turn], Mapping[str, Any] | None]
"""What to store with a run's next turn."""
Attach = Callable[[str, JSONDict, Any, str], bool]
"""``attach(project, thread, attachments, path)``: a new message's attachments for
``file_search`` go into the thread's vector store (True: the thread changed, naming a new
store); ``path`` names the attachments in the request."""


def check_tools(tools: Any, path: str = "body.tools") -> None:
    """400 for a function named ``file_search`` beside a ``file_search`` tool: the model is
    offered the server's search under that name."""
    tools = [tool for tool in tools or [] if isinstance(tool, Mapping)]
    if not any(tool.get("type") == "file_search" for tool in tools):
        return
    for index, tool in enumerate(tools):
        function = tool.get("function")
        if tool.get("type") == "function" and isinstance(function, Mapping):  # noqa: SIM102
            if function.get("name") == "file_search":
                raise ApiError(
                    400,
                    f"{path}[{index}]: a function may not be named file_search beside the "
                    "file_search tool",
                    param=path.removeprefix("body."),
                )


@dataclass(frozen=True)
class ListQuery:
    """Which page of a list: ``limit`` objects after ``after`` (or before ``before``), in
    ``order`` of creation."""

    limit: int = 20
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None


def _not_found(kind: str, obj_id: str, param: str) -> ApiError:
    return ApiError(404, f"No {kind} found with id '{obj_id}'.", param=param)


def check_metadata(value: Any, path: str = "body.metadata") -> JSONDict:
    """The metadata of a body, checked: 16 keys of at most 64 characters, values of 512."""
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


class Resources:
    """The API's objects over a store (see the module docstring).

    ``foundry`` answers lists in Azure AI Foundry's shape; ``run_expires_after`` is how long a
    run may wait for tool outputs.
    """

    def __init__(
        self, store: Store, *, foundry: bool = False, run_expires_after: float = 600.0
    ) -> None:
        self.store = store
        self.foundry = foundry
        self.run_expires_after = run_expires_after
        self.attach: Attach | None = None

    # -- lists ----------------------------------------------------------------------------

    def page(
        self,
        kind: str,
        parent: str,
        query: ListQuery,
        view: Callable[[JSONDict], JSONDict] = lambda found: found,
        run_id: str | None = None,
        *,
        project: str,
    ) -> JSONDict:
        try:
            chosen, more = self.store.page(
                kind,
                parent,
                project=project,
                limit=query.limit,
                ascending=query.order == "asc",
                after=query.after,
                before=query.before,
                run_id=run_id,
            )
        except UnknownCursor as unknown:
            raise ApiError(400, str(unknown), param=unknown.name) from None
        return objects.page([view(o) for o in chosen], more, foundry=self.foundry)

    # -- lookups --------------------------------------------------------------------------

    def assistant(
        self, assistant_id: str, param: str = "assistant_id", *, project: str
    ) -> JSONDict:
        found = self.store.get("assistant", assistant_id, project=project)
        if found is None:
            raise _not_found("assistant", assistant_id, param)
        return found

    def thread(self, thread_id: str, *, project: str, lock: bool = False) -> JSONDict:
        """A thread; ``lock``: for a change of what it holds (see the module docstring)."""
        found = self.store.get("thread", thread_id, project=project, lock=lock)
        if found is None:
            raise _not_found("thread", thread_id, "thread_id")
        return found

    def message(self, thread_id: str, message_id: str, *, project: str) -> JSONDict:
        self.thread(thread_id, project=project)
        found = self.store.get("message", message_id, thread_id, project=project)
        if found is None:
            raise _not_found("message", message_id, "message_id")
        return found

    def run_row(self, thread_id: str, run_id: str, *, project: str, lock: bool = False) -> RunRow:
        """A run of a thread, with its claim; one past its expiry is expired first, as the
        sweep would within a second."""
        self.thread(thread_id, project=project)
        found = self.store.get_run(run_id, project=project, lock=lock)
        if found is None or found.thread_id != thread_id:
            raise _not_found("run", run_id, "run_id")
        run = found.record["run"]
        due = run["expires_at"] is not None and objects.now() >= run["expires_at"]
        if run["status"] == "requires_action" and due:
            if not lock:
                return self.run_row(thread_id, run_id, project=project, lock=True)
            close_run(self.store, found.record, "expired", [], project=project)
        return found

    def record(self, thread_id: str, run_id: str, *, project: str, lock: bool = False) -> JSONDict:
        return self.run_row(thread_id, run_id, project=project, lock=lock).record

    def step(self, thread_id: str, run_id: str, step_id: str, *, project: str) -> JSONDict:
        self.record(thread_id, run_id, project=project)
        found = self.store.get("step", step_id, run_id, project=project)
        if found is None:
            raise _not_found("run step", step_id, "step_id")
        return found

    def ensure_idle(self, thread_id: str, *, project: str) -> None:
        record = self.store.active_run(thread_id, project=project)
        if record is not None:
            run = record["run"]
            raise ApiError(
                400,
                f"Thread {thread_id} already has an active run {run['id']} "
                f"(status {run['status']}).",
                param="thread_id",
            )

    # -- assistants -----------------------------------------------------------------------

    def list_assistants(self, query: ListQuery, *, project: str) -> JSONDict:
        return self.page(
            "assistant",
            "",
            query,
            lambda assistant: objects.ordered(assistant, ASSISTANT_KEYS),
            project=project,
        )

    def create_assistant(self, body: JSONDict, *, project: str) -> JSONDict:
        check_tools(body.get("tools"))
        assistant = objects.assistant(body, metadata=check_metadata(body.get("metadata")))
        self.store.insert("assistant", assistant["id"], assistant, project=project)
        return assistant

    def update_assistant(self, assistant_id: str, body: JSONDict, *, project: str) -> JSONDict:
        assistant = self.assistant(assistant_id, project=project)
        metadata = check_metadata(body["metadata"]) if "metadata" in body else None
        check_tools(body["tools"] if "tools" in body else assistant["tools"])
        objects.update_assistant(assistant, body, metadata)
        self.store.update("assistant", assistant_id, assistant, project=project)
        return objects.ordered(assistant, ASSISTANT_KEYS)

    def delete_assistant(self, assistant_id: str, *, project: str) -> JSONDict:
        self.assistant(assistant_id, project=project)
        self.store.delete("assistant", assistant_id, project=project)
        return objects.deleted(assistant_id, "assistant")

    # -- threads --------------------------------------------------------------------------

    def create_thread(
        self,
        body: JSONDict,
        path: str = "body",
        resources: JSONDict | None = None,
        *,
        project: str,
    ) -> JSONDict:
        messages = body.get("messages") or []
        metadata = check_metadata(body.get("metadata"), f"{path}.metadata")
        for index, message in enumerate(messages):
            check_metadata(message.get("metadata"), f"{path}.messages[{index}].metadata")
        if resources is None:
            resources = objects.tool_resources(body.get("tool_resources"))
        thread = objects.thread(resources, metadata=metadata)
        self.store.insert("thread", thread["id"], thread, project=project)
        for index, message in enumerate(messages):
            where = f"{path}.messages[{index}].attachments"
            self.add_message(thread["id"], message, where, thread=thread, project=project)
        return thread

    def update_thread(self, thread_id: str, body: JSONDict, *, project: str) -> JSONDict:
        thread = self.thread(thread_id, project=project)
        metadata = check_metadata(body["metadata"]) if "metadata" in body else None
        if "tool_resources" in body:
            thread["tool_resources"] = objects.tool_resources(body["tool_resources"])
        if metadata is not None:
            thread["metadata"] = metadata
        self.store.update("thread", thread_id, thread, project=project)
        return thread

    def delete_thread(
        self, thread_id: str, signal: Callable[[str, str], None], *, project: str
    ) -> JSONDict:
        """Delete a thread and all it holds; ``signal(run_id, owner)`` tells the turn under way
        of each of its runs that its run is gone."""
        self.thread(thread_id, project=project, lock=True)
        # Runs before steps and messages: the order in which a turn locks them.
        for record in self.store.children("run", thread_id, project=project):
            run_id = record["run"]["id"]
            row = self.store.get_run(run_id, project=project, lock=True)
            if row is None:
                continue
            if row.claimed_by is not None:
                signal(run_id, row.claimed_by)
            self.store.delete_children("step", run_id, project=project)
        self.store.delete_children("run", thread_id, project=project)
        self.store.delete_children("message", thread_id, project=project)
        self.store.delete("thread", thread_id, project=project)
        return objects.deleted(thread_id, "thread")

    # -- messages -------------------------------------------------------------------------

    def add_message(
        self,
        thread_id: str,
        body: Mapping[str, Any],
        path: str = "body.attachments",
        *,
        thread: JSONDict | None = None,
        project: str,
    ) -> JSONDict:
        message = objects.message(thread_id, body)
        self.attach_files(thread_id, message["attachments"], path, thread=thread, project=project)
        self.store.insert("message", message["id"], message, thread_id, project=project)
        return message

    def attach_files(
        self,
        thread_id: str,
        attachments: Any,
        path: str,
        *,
        thread: JSONDict | None = None,
        project: str,
    ) -> None:
        """The files of a message's attachments into the thread's vector store."""
        if self.attach is None or not attachments:
            return
        if thread is None:
            thread = self.thread(thread_id, project=project)
        if self.attach(project, thread, attachments, path):
            self.store.update("thread", thread_id, thread, project=project)

    def create_message(self, thread_id: str, body: JSONDict, *, project: str) -> JSONDict:
        self.thread(thread_id, project=project, lock=True)
        self.ensure_idle(thread_id, project=project)
        check_metadata(body.get("metadata"))
        return self.add_message(thread_id, body, project=project)

    def update_message(
        self, thread_id: str, message_id: str, body: JSONDict, *, project: str
    ) -> JSONDict:
        message = self.message(thread_id, message_id, project=project)
        if "metadata" in body:
            message["metadata"] = check_metadata(body["metadata"])
        self.store.update("message", message_id, message, project=project)
        return message

    def delete_message(self, thread_id: str, message_id: str, *, project: str) -> JSONDict:
        self.message(thread_id, message_id, project=project)
        self.store.delete("message", message_id, project=project)
        return objects.deleted(message_id, "thread.message")

    # -- runs -----------------------------------------------------------------------------

    def new_run(
        self,
        thread_id: str,
        body: JSONDict,
        admit: Admit,
        resources: JSONDict | None = None,
        *,
        project: str,
        include_content: bool = False,
    ) -> tuple[JSONDict, Turn]:
        """A queued run, stored, and the turn it starts with; ``resources`` are its tool
        resources (those of createThreadAndRun). ``admit`` checks the turn before anything
        is kept (the transaction rolls back what was written) and prepares it.

        The caller holds the thread's lock (or made the thread in this transaction).
        """
        assistant = self.assistant(body["assistant_id"], "body.assistant_id", project=project)
        self.ensure_idle(thread_id, project=project)
        metadata = check_metadata(body.get("metadata"))
        additional = body.get("additional_messages") or []
        for index, message in enumerate(additional):
            check_metadata(message.get("metadata"), f"body.additional_messages[{index}].metadata")
        instructions = body.get("instructions")
        if instructions is None:
            instructions = assistant.get("instructions")
        tools = body.get("tools")
        if tools is None:
            tools = assistant.get("tools") or []
        else:
            check_tools(tools)
        run_resources = dict(resources or {})
        searched = run_resources.get("file_search") or (assistant.get("tool_resources") or {}).get(
            "file_search"
        )
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
            expires_at=math.ceil(time.time() + self.run_expires_after),
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
                "vector_store_ids": list((searched or {}).get("vector_store_ids") or []),
                "include_content": include_content,
            },
        }
        existing = self.store.children("message", thread_id, project=project)
        added = [objects.message(thread_id, message) for message in additional]
        turn = turn_of(record, existing + added, project=project)
        prepared = admit(turn, len(existing))
        for index, message in enumerate(added):
            where = f"body.additional_messages[{index}].attachments"
            self.attach_files(thread_id, message["attachments"], where, project=project)
            self.store.insert("message", message["id"], message, thread_id, project=project)
        record["state"]["prepared"] = prepared
        self.store.insert("run", run["id"], record, thread_id, project=project)
        return record, attrs.evolve(turn, prepared=prepared)

    def mark_cancelling(self, thread_id: str, run_id: str, *, project: str) -> tuple[RunRow, bool]:
        """Lock the run and mark it ``cancelling``; whether it was not already."""
        row = self.run_row(thread_id, run_id, project=project, lock=True)
        record = row.record
        run = record["run"]
        if run["status"] == "cancelling":
            return row, False
        if run["status"] not in ACTIVE:
            raise ApiError(
                400,
                f"Cannot cancel run with status '{run['status']}'.",
                param="run_id",
            )
        run["status"] = "cancelling"
        self.store.update("run", run_id, record, project=project)
        return row, True

    def take_tool_outputs(
        self, thread_id: str, run_id: str, body: JSONDict, prepare: Prepare, *, project: str
    ) -> tuple[JSONDict, JSONDict | None, Turn]:
        """The outputs of the pending tool calls of a run in ``requires_action``, stored: its
        tool calls' step completed (and returned), the run queued for its next turn (returned
        with its record, prepared by ``prepare``)."""
        record = self.record(thread_id, run_id, project=project, lock=True)
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
        step = self.store.get("step", state.get("tool_step", ""), run_id, project=project)
        now = objects.now()
        if step is not None:
            for call in step["step_details"]["tool_calls"]:
                if call["id"] in outputs:
                    call["function"]["output"] = outputs[call["id"]]
            step["status"] = "completed"
            step["completed_at"] = now
            step["usage"] = objects.usage(*state.get("step_usage", [0, 0]))
            self.store.update("step", step["id"], step, project=project)
        # A round where the model also searched: the server's outputs are kept with it.
        calls = state.pop("calls", [])
        state.setdefault("rounds", []).append(
            {
                "calls": state.pop("round_calls", None) or calls,
                "outputs": {**state.pop("server_outputs", {}), **outputs},
            }
        )
        state.pop("tool_step", None)
        run["status"] = "queued"
        run["required_action"] = None
        messages = self.store.children("message", thread_id, project=project)
        turn = turn_of(record, messages, project=project)
        state["prepared"] = prepare(turn)
        self.store.update("run", run_id, record, project=project)
        return record, step, attrs.evolve(turn, prepared=state["prepared"])
