"""Driving one turn of a run: the responder's increments in, the API's events and objects out.

A turn starts when a queued run leaves ``queued`` and ends where the run stops: ``completed``,
``requires_action``, ``incomplete``, ``failed``, ``cancelled`` or ``expired``. On the way the
driver creates and updates the objects the API shows, exactly as the live API streams them:

* text: a ``message_creation`` step and an assistant message (``created``, ``in_progress``),
  then a ``thread.message.delta`` for each piece as it comes;
* tool calls: a ``tool_calls`` step created with ``tool_calls: []``; the first delta of a call
  carries its index, id, type and name (``arguments: ""``, ``output: null``); later deltas
  carry only pieces of the arguments; then ``requires_action``;
* calls of ``file_search`` (the run's ``file_search`` tool): the driver runs the searches
  itself (``file_search.FileSearcher``), completes the ``tool_calls`` step with their results,
  and asks the responder again within the same turn, up to a bound; with function calls beside
  them, the searches run first and the run waits in ``requires_action`` for the functions
  only. The markers of the answer that name the run's results are cut out of the text as it
  streams (``file_search.Citer``) and sent each in a delta of its own, annotated;
* a stop for length (or a full prompt) leaves the message and the run ``incomplete``;
* a content filter leaves the message ``incomplete`` (reason ``content_filter``) and fails the
  run with ``invalid_prompt``: the spec has no incomplete reason for it;
* a failure fails the run with the responder's ``last_error`` and leaves the message
  ``incomplete`` with the text received so far; a cancel does the same as ``cancelled``.

The driver changes objects in store transactions of its own, and holds none while it waits
for the responder, so a slow answer blocks nothing else. Each change of the run is a compare and
set: in the transaction, the driver locks the run's row and checks that the run is still its
process's to drive (:func:`reload_run`): not deleted, not ended by someone else, and
``cancelling`` when cancelled through any process, which it then honours.

It yields the events in batches: the events that are ready together. While the responder has
its next increment at hand (:class:`~assistants_client.server.responders.Increments`), the
events wait for it, at most ``MAX_HOLD`` seconds and ``MAX_BATCH`` events, so that a caller
streaming them to a client writes them in one go instead of one write each; the first events
of an answer (its first token) never wait. The caller streams
the batches to a client or drops them (a run in the background).

What the responder gets, a :class:`~assistants_client.server.responders.Turn`, is made by
:func:`turn_of` once per responder call: from the run's record and the thread's messages as
the store returned them (fresh copies, so nothing is copied again).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

import attrs

from assistants_client.server import objects
from assistants_client.server.file_search import (
    FILE_SEARCH,
    MAX_SEARCHES,
    Cited,
    Citer,
    FileSearcher,
    SearchOptions,
    SearchUnavailable,
    queries_of,
    step_results,
    supporting,
)
from assistants_client.server.objects import JSONDict
from assistants_client.server.responders import (
    Expire,
    Failure,
    Finish,
    Increment,
    Responder,
    TextDelta,
    ToolCallDelta,
    ToolRound,
    Turn,
    Usage,
)
from assistants_client.server.responders.script import message_text
from assistants_client.server.store import Store

__all__ = [
    "ACTIVE",
    "MAX_BATCH",
    "MAX_HOLD",
    "TERMINAL",
    "Batch",
    "Event",
    "TurnDriver",
    "close_run",
    "event",
    "reload_run",
    "save_run",
    "turn_of",
]

logger = logging.getLogger("assistants_client.server")

Event = tuple[str, str]  # (event name, JSON data)
Batch = list[Event]  # events ready together
ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
# Text is written to the store at most this often while it streams (and always at the end):
# rewriting a growing message on every token would cost the square of its length.
SAVE_EVERY = 0.25

_INCOMPLETE_REASONS = {
    "length": ("max_completion_tokens", "max_tokens"),
    "max_prompt_tokens": ("max_prompt_tokens", "max_tokens"),
}
CONTENT_FILTERED = "The backend's content filter stopped the answer."
STEP_ERROR_CODES = frozenset({"server_error", "rate_limit_exceeded"})
# How long, and for how many, events wait for the increments at hand (see the docstring).
MAX_HOLD = 0.005
MAX_BATCH = 256
_DELTA_KEYS = (
    '"object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":'
)
_DELTA_SUFFIX = "}}]}}"


def event(name: str, data: Any) -> Event:
    return name, json.dumps(data, separators=(",", ":"), allow_nan=False)


def turn_of(record: JSONDict, messages: Sequence[JSONDict], *, project: str) -> Turn:
    """What the responder gets for the next turn of a run of ``project``: its record and its
    thread's ``messages``. The values are shared, not copied: nobody changes a turn's values."""
    run = record["run"]
    state = record["state"]
    rounds = [
        ToolRound(calls=tuple(r["calls"]), outputs=dict(r["outputs"]))
        for r in state.get("rounds", [])
    ]
    return Turn(
        project=project,
        run_id=run["id"],
        thread_id=run["thread_id"],
        assistant_id=run["assistant_id"],
        model=run["model"],
        instructions=state.get("instructions"),
        additional_instructions=state.get("additional_instructions"),
        messages=messages,
        tool_rounds=rounds,
        tools=run["tools"],
        tool_choice=run["tool_choice"],
        parallel_tool_calls=run["parallel_tool_calls"],
        response_format=run["response_format"],
        # 1.0 is the API's default for both: it is what a backend does when given nothing,
        # and some models refuse any explicit value.
        temperature=None if run["temperature"] == 1.0 else run["temperature"],
        top_p=None if run["top_p"] == 1.0 else run["top_p"],
        max_prompt_tokens=run["max_prompt_tokens"],
        max_completion_tokens=run["max_completion_tokens"],
        truncation_strategy=run["truncation_strategy"],
        prepared=state.get("prepared"),
    )


def save_run(store: Store, record: JSONDict, *, project: str) -> None:
    """Write a run's record; an ended run's steps lose the run's expiry they reported."""
    run = record["run"]
    store.update("run", run["id"], record, project=project)
    if run["status"] not in ACTIVE:
        for step in store.children("step", run["id"], project=project):
            if step["expires_at"] is not None:
                step["expires_at"] = None
                store.update("step", step["id"], step, project=project)


def reload_run(store: Store, owner: str, record: JSONDict, *, project: str) -> str | None:
    """In a transaction: lock the run's row and return its stored status, if ``owner`` still
    drives the run (None: it was deleted, or its claim lapsed and someone else ended it). What
    others may change of a driven run (its metadata) is taken over into ``record``."""
    run = record["run"]
    row = store.get_run(run["id"], project=project, lock=True)
    if row is None or row.claimed_by != owner:
        return None
    stored = row.record["run"]
    run["metadata"] = stored["metadata"]
    status: str = stored["status"]
    return status


class _Call:
    __slots__ = ("arguments", "id", "name", "stored")

    def __init__(self, stored: JSONDict, name: str) -> None:
        self.stored = stored
        self.id: str = stored["id"]
        self.name = name
        self.arguments: list[str] = []

    @property
    def searching(self) -> bool:
        """A call of the server's file_search (not a function the client runs)."""
        return bool(self.stored["type"] == FILE_SEARCH)


class TurnDriver:
    """Runs one turn of one run of ``project``; ``drive()`` yields its events as they
    happen."""

    def __init__(
        self,
        store: Store,
        owner: str,
        responder: Responder,
        record: JSONDict,
        turn: Turn,
        cancelled: threading.Event,
        *,
        project: str,
        closing: Callable[[], bool] = lambda: False,
        queued_delay: float = 0.0,
        answer_delay: float = 0.0,
        cancel_delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        searcher: FileSearcher | None = None,
    ) -> None:
        self.store = store
        self.searcher = searcher
        self.owner = owner
        self.project = project
        self.closing = closing
        self.responder = responder
        self.record = record
        self.turn = turn
        self.cancelled = cancelled
        self.queued_delay = queued_delay
        self.answer_delay = answer_delay
        self.cancel_delay = cancel_delay
        self.clock = clock
        self.run: JSONDict = record["run"]
        self.state: JSONDict = record["state"]
        self.message: JSONDict | None = None
        self.message_step: JSONDict | None = None
        self.text: list[str] = []
        self.saved_at = 0.0
        self.tool_step: JSONDict | None = None
        self.calls: dict[int, _Call] = {}
        self.usage = (0, 0)
        self.answered = False
        self.gone = False  # the run is no longer this turn's: deleted, or ended by others
        self.ending: Finish | Failure | Expire | None = None
        self._delta_prefix = ""
        self.length = 0  # characters of the open message's text
        self.citer: Citer | None = None
        self.include_content = bool(self.state.get("include_content"))
        self.searches_here = 0  # the searches of this turn
        # (marker, file_id, passage) of this turn's search results, best first.
        self.passages: list[tuple[str, str, str]] = []

    # -- the turn -----------------------------------------------------------------------------

    def drive(self) -> Iterator[Batch]:
        if self.queued_delay > 0:
            self.cancelled.wait(self.queued_delay)
        if self.closing():
            return
        with self.store.transaction():
            events = self._begin()
        if events:
            yield events
        if self.run["status"] == "in_progress":
            if self.answer_delay > 0:
                self.cancelled.wait(self.answer_delay)
            yield from self._answer()
            while self._searching():
                yield from self._search()
                if self.ending is not None:
                    break
                yield from self._answer()
        if self.closing() or self.gone:
            return
        if self.cancelled.is_set() and self.cancel_delay > 0:
            time.sleep(self.cancel_delay)
        with self.store.transaction():
            events = self._end()
        if events:
            yield events

    def _answer(self) -> Iterator[Batch]:
        increments = self.responder.respond(self.turn, self.cancelled)
        ready: Callable[[], bool] | None = getattr(increments, "ready", None)
        held: Batch = []
        since = 0.0
        first = True  # the first events of an answer never wait: they are its first token
        cancelled, closing, text, apply = (
            self.cancelled.is_set,
            self.closing,
            self._text,
            self._apply,
        )
        try:
            for increment in increments:
                if cancelled() or closing():
                    break  # cancelled or gone meanwhile, or the engine stops
                if isinstance(increment, TextDelta):  # most of them, by far
                    events = text(increment.text)
                else:
                    events = apply(increment)
                if events:
                    if not held:
                        since = self.clock()
                    held += events
                if held and (
                    first
                    or ready is None
                    or len(held) >= MAX_BATCH
                    or self.clock() - since >= MAX_HOLD
                    or not ready()
                ):
                    yield held
                    held = []
                    first = False
                if self.ending is not None:
                    break
        except Exception:
            logger.exception("the responder of run %s failed", self.run["id"])
            self.ending = Failure("server_error", "The server had an error while answering.")
        finally:
            close = getattr(increments, "close", None)
            if close is not None:
                close()
        if held:
            yield held

    def _current(self, expected: str) -> bool:
        """In a transaction: whether the stored run is still this turn's, in ``expected``.

        A run cancelled meanwhile (through any process) becomes ``cancelling`` here too, and
        the turn stops answering; a run gone stops the turn.
        """
        status = reload_run(self.store, self.owner, self.record, project=self.project)
        if status == expected:
            return True
        if status == "cancelling":
            self.run["status"] = "cancelling"
        else:
            self.gone = True
        self.cancelled.set()
        return False

    def _changing(self, change: Callable[[], list[Event]]) -> list[Event]:
        """``change`` in a transaction, if the run is still this turn's, in progress."""
        with self.store.transaction():
            if not self._current("in_progress"):
                return []
            return change()

    def _begin(self) -> list[Event]:
        if not self._current("queued"):
            return []
        self.run["status"] = "in_progress"
        if self.run["started_at"] is None:
            self.run["started_at"] = objects.now()
        save_run(self.store, self.record, project=self.project)
        return [event("thread.run.in_progress", self.run)]

    # -- increments ---------------------------------------------------------------------------

    def _apply(self, increment: Increment) -> list[Event]:
        if isinstance(increment, TextDelta):
            return self._text(increment.text)
        if isinstance(increment, ToolCallDelta):
            return self._tool_call(increment)
        if isinstance(increment, Usage):
            self.usage = (increment.prompt_tokens, increment.completion_tokens)
            return []
        self.ending = increment
        return []

    def _open_message(self) -> list[Event]:
        run = self.run
        message = objects.message(
            run["thread_id"],
            {"role": "assistant", "content": []},
            run_id=run["id"],
            assistant_id=run["assistant_id"],
            status="in_progress",
        )
        step = objects.step(
            run,
            "message_creation",
            {"type": "message_creation", "message_creation": {"message_id": message["id"]}},
        )
        self.store.insert("step", step["id"], step, run["id"], project=self.project)
        self.store.insert("message", message["id"], message, run["thread_id"], project=self.project)
        self.message, self.message_step, self.text = message, step, []
        self.answered = True
        self.state["message"] = message["id"]
        # Stored with the run, so that a restart finds the message to leave incomplete.
        save_run(self.store, self.record, project=self.project)
        return [
            event("thread.run.step.created", step),
            event("thread.run.step.in_progress", step),
            event("thread.message.created", message),
            event("thread.message.in_progress", message),
        ]

    def _text(self, piece: str) -> list[Event]:
        if not piece:
            return []
        citer = self.citer
        if citer is None and self.state.get("citable"):
            citer = self.citer = Citer(self.state["citable"])
        if citer is None:
            return self._plain(piece)
        return self._settled(citer.feed(piece))

    def _settled(self, stretches: list[Cited]) -> list[Event]:
        events: list[Event] = []
        for text, file_id in stretches:
            events += self._plain(text) if file_id is None else self._cited(text, file_id)
        return events

    def _ensure_message(self) -> list[Event]:
        """Open the message, if it is not (its events); the message is None after it when
        the run stopped being this turn's."""
        if self.message is not None:
            return []
        events = self._changing(self._open_message)
        message = self.message
        if message is not None:
            message["content"].append({"type": "text", "text": {"value": "", "annotations": []}})
            self._delta_prefix = (
                '{"id":' + encode_basestring_ascii(message["id"]) + "," + _DELTA_KEYS
            )
            self.length = 0
        return events

    def _cited(self, marker: str, file_id: str) -> list[Event]:
        """A marker naming a search result: its text, annotated, in a delta of its own (as
        the live API streams one)."""
        events = self._ensure_message()
        message = self.message
        if message is None:
            return events
        start = self.length
        self.length += len(marker)
        self.text.append(marker)
        annotations = message["content"][0]["text"]["annotations"]
        annotation = {
            "type": "file_citation",
            "text": marker,
            "start_index": start,
            "end_index": self.length,
            "file_citation": {"file_id": file_id},
        }
        shown = {
            "index": len(annotations),
            **annotation,
            "file_citation": {"file_id": file_id, "quote": ""},
        }
        annotations.append(annotation)
        message["content"][0]["text"]["value"] = "".join(self.text)
        self.store.update("message", message["id"], message, project=self.project)
        self.saved_at = self.clock()
        delta = {
            "id": message["id"],
            "object": "thread.message.delta",
            "delta": {
                "content": [
                    {"index": 0, "type": "text", "text": {"value": marker, "annotations": [shown]}}
                ]
            },
        }
        events.append(event("thread.message.delta", delta))
        return events

    def _plain(self, piece: str) -> list[Event]:
        if not piece:
            return []
        events = self._ensure_message()
        message = self.message
        if message is None:
            return events  # the run stopped being this turn's
        self.length += len(piece)
        text = self.text
        text.append(piece)
        now = self.clock()
        if now - self.saved_at >= SAVE_EVERY:
            message["content"][0]["text"]["value"] = "".join(text)
            self.store.update("message", message["id"], message, project=self.project)
            self.saved_at = now
        if len(text) > 1:
            # The JSON of every delta but the first, written as json.dumps would write it.
            data = self._delta_prefix + encode_basestring_ascii(piece) + _DELTA_SUFFIX
            events.append(("thread.message.delta", data))
            return events
        # As recorded from the live API: only a message's first delta carries `annotations`.
        delta = {
            "id": message["id"],
            "object": "thread.message.delta",
            "delta": {
                "content": [
                    {"index": 0, "type": "text", "text": {"value": piece, "annotations": []}}
                ]
            },
        }
        events.append(event("thread.message.delta", delta))
        return events

    def _flush_text(self) -> None:
        if self.message is not None and self.text:
            self.message["content"][0]["text"]["value"] = "".join(self.text)

    def _close_message(
        self,
        status: str,
        reason: str | None = None,
        step_status: str = "completed",
        error: JSONDict | None = None,
    ) -> list[Event]:
        """Complete (or leave incomplete) the open message, and end its step."""
        held = self.citer.flush() if self.citer is not None else []
        events = self._settled(held) if held else []
        message, step = self.message, self.message_step
        if message is None or step is None:
            return events
        self._flush_text()
        now = objects.now()
        message["status"] = status
        if status == "completed":
            message["completed_at"] = now
        else:
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": reason}
        self.store.update("message", message["id"], message, project=self.project)
        events.append(event(f"thread.message.{status}", message))
        self.message = self.message_step = None
        self.state.pop("message", None)
        step["status"] = step_status
        step[f"{step_status}_at"] = now
        step["last_error"] = error
        if self.tool_step is None:
            step["usage"] = objects.usage(*self.usage)
        self.store.update("step", step["id"], step, project=self.project)
        events.append(event(f"thread.run.step.{step_status}", step))
        return events

    def _open_tool_step(self) -> list[Event]:
        """The end of the text before tool calls, and the tool calls' step."""
        events = self._close_message("completed") if self.message is not None else []
        if self.tool_step is None:
            self.tool_step = objects.step(
                self.run, "tool_calls", {"type": "tool_calls", "tool_calls": []}
            )
            self.store.insert(
                "step", self.tool_step["id"], self.tool_step, self.run["id"], project=self.project
            )
            self.state["tool_step"] = self.tool_step["id"]
            save_run(self.store, self.record, project=self.project)
            events.append(self._step_event("thread.run.step.created", self.tool_step))
            events.append(self._step_event("thread.run.step.in_progress", self.tool_step))
        return events

    def _tool_call(self, piece: ToolCallDelta) -> list[Event]:
        events: list[Event] = []
        if self.message is not None or self.tool_step is None:
            events = self._changing(self._open_tool_step)
            if self.tool_step is None:
                return events  # the run stopped being this turn's
        call = self.calls.get(piece.index)
        if call is None:
            stored: JSONDict
            if piece.name == FILE_SEARCH and self._offers_search():
                options = SearchOptions.of_tools(self.turn.tools)
                stored = {
                    "id": piece.id or objects.new_id("call"),
                    "type": FILE_SEARCH,
                    FILE_SEARCH: {"ranking_options": options.shown(), "results": []},
                }
            else:
                stored = {
                    "id": piece.id or objects.new_id("call"),
                    "type": "function",
                    "function": {"name": piece.name or "", "arguments": "", "output": None},
                }
            self.tool_step["step_details"]["tool_calls"].append(stored)
            call = self.calls[piece.index] = _Call(stored, piece.name or "")
            events.append(self._step_delta({"index": piece.index, **stored}))
        if call.searching:
            # The API shows a search's results, never the queries the model asked for.
            if piece.arguments:
                call.arguments.append(piece.arguments)
            return events
        if piece.arguments:
            # Joined when the step is stored (``_flush_calls``): joining here, at every piece,
            # would cost the square of the arguments' length.
            call.arguments.append(piece.arguments)
            events.append(
                self._step_delta(
                    {
                        "index": piece.index,
                        "type": "function",
                        "function": {"arguments": piece.arguments},
                    }
                )
            )
        return events

    def _flush_calls(self) -> None:
        """The tool calls' arguments so far, into the step that is stored."""
        for call in self.calls.values():
            if call.arguments and not call.searching:
                call.stored["function"]["arguments"] = "".join(call.arguments)

    def _step_delta(self, call: JSONDict) -> Event:
        assert self.tool_step is not None
        delta = {
            "id": self.tool_step["id"],
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}},
        }
        return event("thread.run.step.delta", delta)

    # -- file_search ----------------------------------------------------------------------------

    def _offers_search(self) -> bool:
        return any(tool.get("type") == FILE_SEARCH for tool in self.turn.tools)

    def _searching(self) -> bool:
        """Whether the answer just ended asks for searches the server runs now."""
        ending = self.ending
        return (
            isinstance(ending, Finish)
            and ending.reason == "tool_calls"
            and any(call.searching for call in self.calls.values())
            and not (self.cancelled.is_set() or self.closing() or self.gone)
        )

    def _store_ids(self) -> tuple[list[str], list[str]]:
        """The vector stores the run searches (its assistant's, then its thread's), and
        those of its thread."""
        thread = self.store.get("thread", self.run["thread_id"], project=self.project)
        resources = (thread or {}).get("tool_resources") or {}
        own = list((resources.get(FILE_SEARCH) or {}).get("vector_store_ids") or [])
        every = list(dict.fromkeys([*self.state.get("vector_store_ids", []), *own]))
        return every, own

    def _search(self) -> Iterator[Batch]:
        """Run the searches the model asked for, show them in the tool calls' step, and
        either ask the model again (the next ``_answer``) or, when it also called functions,
        leave them to the client (``requires_action``, the searches' outputs kept)."""
        searcher = self.searcher
        calls = [self.calls[index] for index in sorted(self.calls)]
        searches = [call for call in calls if call.searching]
        self.searches_here += len(searches)
        if searcher is None or self.searches_here > 2 * MAX_SEARCHES:
            self.ending = Failure(
                "server_error",
                "The model kept calling file_search without answering."
                if searcher is not None
                else "This server cannot search files.",
            )
            return
        with self.store.transaction():
            every, own = self._store_ids()
        notice = None
        if own and searcher.wait > 0:
            pending = searcher.wait_for_files(self.project, own, self.cancelled)
            if pending:
                notice = (
                    f"{pending} file(s) of this conversation were still being processed after "
                    f"{searcher.wait:g} s and could not be searched yet."
                )
        options = SearchOptions.of_tools(self.turn.tools)
        asked = next(
            (message_text(m) for m in reversed(self.turn.messages) if m.get("role") == "user"),
            "",
        )
        outputs: dict[str, str] = {}
        citable: list[list[Any]] = []
        number = int(self.state.get("searches", 0))
        for call in searches:
            if self.cancelled.is_set():
                return
            queries = queries_of("".join(call.arguments), asked)
            try:
                outcome = searcher.search(
                    self.project,
                    every,
                    queries,
                    options,
                    number,
                    notice,
                    exhausted=number >= MAX_SEARCHES,
                )
            except SearchUnavailable as unavailable:
                self.ending = Failure("server_error", str(unavailable))
                return
            call.stored[FILE_SEARCH]["results"] = step_results(outcome.results)
            citable += [
                [number, j, result["file_id"], result["file_name"]]
                for j, result in enumerate(outcome.results)
            ]
            self.passages += [(r["marker"], r["file_id"], r["text"]) for r in outcome.results]
            outputs[call.id] = outcome.output
            number += 1
        if notice is not None:
            assert self.tool_step is not None
            self.tool_step["metadata"] = {"file_search_notice": notice[:512]}
        events = self._changing(lambda: self._searched(calls, outputs, citable, number))
        if events:
            yield events

    def _searched(
        self, calls: list[_Call], outputs: dict[str, str], citable: list[list[Any]], number: int
    ) -> list[Event]:
        """In a transaction: keep what the searches found, and end the step (or leave it to
        the client's outputs, when the model also called functions)."""
        state = self.state
        state["searches"] = number
        state.setdefault("citable", []).extend(citable)
        self.citer = None
        round_calls = [
            {"id": c.id, "name": c.name, "arguments": "".join(c.arguments)} for c in calls
        ]
        if any(not call.searching for call in calls):
            state["round_calls"] = round_calls
            state["server_outputs"] = outputs
            self.ending = Finish("tool_calls")
            assert self.tool_step is not None
            self.store.update("step", self.tool_step["id"], self.tool_step, project=self.project)
            save_run(self.store, self.record, project=self.project)
            return []
        state.setdefault("rounds", []).append({"calls": round_calls, "outputs": outputs})
        events = self._close_tool_step("completed")
        self._add_usage()
        self.usage = (0, 0)
        self.tool_step = None
        self.calls = {}
        self.ending = None
        state.pop("tool_step", None)
        messages = self.store.children("message", self.run["thread_id"], project=self.project)
        turn = turn_of(self.record, messages, project=self.project)
        prepared = self.responder.prepare(turn)
        state["prepared"] = prepared
        self.turn = attrs.evolve(turn, prepared=prepared)
        save_run(self.store, self.record, project=self.project)
        return events

    def _fallback_citation(self) -> list[Event]:
        """An answer after a search that cites nothing gets the marker of the passage it says
        the most of, at its end, annotated, when one holds enough of it (``supporting``);
        else no citation (the step still shows what was found)."""
        assert self.message is not None
        held = self.citer.flush() if self.citer is not None else []
        events = self._settled(held) if held else []
        if self.message["content"][0]["text"]["annotations"]:
            return events
        found = supporting("".join(self.text), [passage for _, _, passage in self.passages])
        if found is None:
            return events
        label, file_id, _ = self.passages[found]
        return events + self._cited(label, file_id)

    def _step_event(self, name: str, step: JSONDict) -> Event:
        return event(name, objects.step_view(step, include_content=self.include_content))

    # -- the end ------------------------------------------------------------------------------

    def _add_usage(self) -> None:
        total = self.state.setdefault("usage", [0, 0])
        total[0] += self.usage[0]
        total[1] += self.usage[1]

    def _run_usage(self) -> None:
        prompt, completion = self.state.get("usage", [0, 0])
        self.run["usage"] = objects.usage(prompt, completion)

    def _end(self) -> list[Event]:
        run = self.run
        expected = "cancelling" if run["status"] == "cancelling" else "in_progress"
        if not self._current(expected) and self.gone:
            return []  # deleted, or ended by someone else meanwhile
        if run["status"] == "cancelling":
            return self._cancel()
        ending = self.ending
        if isinstance(ending, Failure):
            return self._fail(ending)
        if isinstance(ending, Expire):
            return self.expire()
        if ending is None:
            failure = Failure("server_error", "The answer ended before it was complete.")
            return self._fail(failure)
        if ending.reason == "tool_calls" and self.calls:
            return self._requires_action()
        if ending.reason == "content_filter":
            return self._fail(Failure("invalid_prompt", CONTENT_FILTERED), "content_filter")
        incomplete = _INCOMPLETE_REASONS.get(ending.reason)
        self._add_usage()
        if incomplete is None and self.message is not None and self.passages:
            events = self._fallback_citation()
        else:
            events = []
        if incomplete is None:
            if not self.answered and self.tool_step is None:
                # An empty answer is still an (empty) assistant message, as the API makes one.
                events = self._open_message() + self._close_message("completed")
            else:
                events += self._close_message("completed")
            events += self._close_tool_step("completed")
            return events + self._finish("completed")
        run_reason, message_reason = incomplete
        events = self._close_message("incomplete", message_reason)
        events += self._close_tool_step("completed")
        run["incomplete_details"] = {"reason": run_reason}
        return events + self._finish("incomplete")

    def _finish(self, status: str) -> list[Event]:
        run = self.run
        run["status"] = status
        if status == "completed":
            run["completed_at"] = objects.now()
        run["expires_at"] = None
        self._run_usage()
        save_run(self.store, self.record, project=self.project)
        return [event(f"thread.run.{status}", run)]

    def _close_tool_step(self, status: str, error: JSONDict | None = None) -> list[Event]:
        step = self.tool_step
        if step is None or step["status"] != "in_progress":
            return []
        self._flush_calls()
        now = objects.now()
        step["status"] = status
        step[f"{status}_at"] = now
        step["last_error"] = error
        step["usage"] = objects.usage(*self.usage)
        self.store.update("step", step["id"], step, project=self.project)
        return [self._step_event(f"thread.run.step.{status}", step)]

    def _requires_action(self) -> list[Event]:
        events = self._close_message("completed") if self.message is not None else []
        self._add_usage()
        assert self.tool_step is not None
        self.state["step_usage"] = list(self.usage)
        self._flush_calls()
        self.store.update("step", self.tool_step["id"], self.tool_step, project=self.project)
        calls = [self.calls[index] for index in sorted(self.calls)]
        calls = [call for call in calls if not call.searching]  # the server ran those
        self.state["calls"] = [
            {"id": c.id, "name": c.name, "arguments": "".join(c.arguments)} for c in calls
        ]
        run = self.run
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
                    for call in self.state["calls"]
                ]
            },
        }
        save_run(self.store, self.record, project=self.project)
        return [*events, event("thread.run.requires_action", run)]

    def _fail(self, failure: Failure, message_reason: str = "run_failed") -> list[Event]:
        error = {"code": failure.code, "message": failure.message}
        # A step's last_error knows only these two codes (the run's knows invalid_prompt too).
        step_code = failure.code if failure.code in STEP_ERROR_CODES else "server_error"
        step_error = {"code": step_code, "message": failure.message}
        events = self._close_message("incomplete", message_reason, "failed", step_error)
        events += self._close_tool_step("failed", step_error)
        self._add_usage()
        run = self.run
        run["status"] = "failed"
        run["failed_at"] = objects.now()
        run["last_error"] = error
        run["expires_at"] = None
        self._run_usage()
        save_run(self.store, self.record, project=self.project)
        return [*events, event("thread.run.failed", run)]

    def _cancel(self) -> list[Event]:
        opening = [event("thread.run.cancelling", self.run)]
        return close_run(
            self.store,
            self.record,
            "cancelled",
            opening + self._open_parts(),
            project=self.project,
        )

    def expire(self) -> list[Event]:
        return close_run(
            self.store, self.record, "expired", self._open_parts(), project=self.project
        )

    def _open_parts(self) -> list[Event]:
        """Store the text received so far (``close_run`` ends the message as stored)."""
        if self.citer is not None:
            self.text += [text for text, _ in self.citer.flush()]
        if self.message is not None and self.text:
            self._flush_text()
            self.store.update("message", self.message["id"], self.message, project=self.project)
        if self.tool_step is not None and self.calls:
            self._flush_calls()
            self.store.update("step", self.tool_step["id"], self.tool_step, project=self.project)
        self._add_usage()
        return []


def close_run(
    store: Store, record: JSONDict, status: str, events: list[Event], *, project: str
) -> list[Event]:
    """End a run of ``project`` ``cancelled`` or ``expired``: its open message and steps end
    with it."""
    run = record["run"]
    state = record["state"]
    now = objects.now()
    message_id = state.pop("message", None)
    if message_id is not None:
        message = store.get("message", message_id, run["thread_id"], project=project)
        if message is not None and message["status"] == "in_progress":
            message["status"] = "incomplete"
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": f"run_{status}"}
            store.update("message", message_id, message, project=project)
            events.append(event("thread.message.incomplete", message))
    for step in store.children("step", run["id"], project=project):
        if step["status"] == "in_progress":
            step["status"] = status
            step[f"{status}_at"] = now  # cancelled_at, expired_at
            store.update("step", step["id"], step, project=project)
            events.append(event(f"thread.run.step.{status}", objects.step_view(step)))
    run["status"] = status
    if status == "cancelled":
        run["cancelled_at"] = now
    run["required_action"] = None
    run["expires_at"] = None
    prompt, completion = state.get("usage", [0, 0])
    run["usage"] = objects.usage(prompt, completion)
    save_run(store, record, project=project)
    events.append(event(f"thread.run.{status}", run))
    return events
