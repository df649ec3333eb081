"""Driving one turn of a run: the responder's increments in, the API's events and objects out.

A turn starts when a queued run leaves ``queued`` and ends where the run stops: ``completed``,
``requires_action``, ``incomplete``, ``failed``, ``cancelled`` or ``expired``. On the way the
driver creates and updates the objects the API shows, exactly as the live API streams them:

* text: a ``message_creation`` step and an assistant message (``created``, ``in_progress``),
  then a ``thread.message.delta`` for each piece as it comes;
* tool calls: a ``tool_calls`` step created with ``tool_calls: []``; the first delta of a call
  carries its index, id, type and name (``arguments: ""``, ``output: null``); later deltas
  carry only pieces of the arguments; then ``requires_action``;
* a stop for length (or a full prompt) leaves the message and the run ``incomplete``;
* a content filter leaves the message ``incomplete`` (reason ``content_filter``) and fails the
  run with ``invalid_prompt``: the spec has no incomplete reason for it;
* a failure fails the run with the responder's ``last_error`` and leaves the message
  ``incomplete`` with the text received so far; a cancel does the same as ``cancelled``.

The driver changes objects in store transactions, and holds none while it waits for the
responder, so a slow answer blocks nothing else. Each change of the run is a compare and set:
in the transaction, the driver locks the run's row and checks that the run is still its own to
drive (:meth:`Host.reload_run`): not deleted, not ended by someone else, and ``cancelling``
when cancelled through any process, which it then honours. It yields the events; the caller
streams them to a client or drops them (a run in the background).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from assistants_client.server import objects
from assistants_client.server.objects import JSONDict
from assistants_client.server.responders import (
    Expire,
    Failure,
    Finish,
    Increment,
    Responder,
    TextDelta,
    ToolCallDelta,
    Turn,
    Usage,
)

__all__ = ["ACTIVE", "TERMINAL", "Event", "Host", "TurnDriver", "close_run", "event"]

logger = logging.getLogger("assistants_client.server")

Event = tuple[str, str]  # (event name, JSON data)
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


def event(name: str, data: Any) -> Event:
    return name, json.dumps(data, separators=(",", ":"))


class Host(Protocol):
    """What the driver needs of the engine."""

    @property
    def closing(self) -> bool:
        """The engine is stopping: a turn stops where it is and changes nothing more."""

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def reload_run(self, record: JSONDict) -> str | None:
        """In a transaction: the run's stored status, its row locked, if this engine still
        drives it (None otherwise); what others may change of it is taken into ``record``."""

    def put(self, kind: str, obj: JSONDict, parent: str) -> None: ...

    def save(self, kind: str, obj: JSONDict) -> None: ...

    def save_run(self, record: JSONDict) -> None: ...

    def message_of(self, record: JSONDict, message_id: str) -> JSONDict | None: ...

    def steps_of(self, record: JSONDict) -> list[JSONDict]: ...


class _Call:
    __slots__ = ("arguments", "id", "name", "stored")

    def __init__(self, stored: JSONDict) -> None:
        self.stored = stored
        self.id: str = stored["id"]
        self.name: str = stored["function"]["name"]
        self.arguments: list[str] = []


class TurnDriver:
    """Runs one turn of one run; ``drive()`` yields its events as they happen."""

    def __init__(
        self,
        host: Host,
        responder: Responder,
        record: JSONDict,
        turn: Turn,
        cancelled: threading.Event,
        *,
        queued_delay: float = 0.0,
        answer_delay: float = 0.0,
        cancel_delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
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

    # -- the turn -----------------------------------------------------------------------------

    def drive(self) -> Iterator[Event]:
        if self.queued_delay > 0:
            self.cancelled.wait(self.queued_delay)
        if self.host.closing:
            return
        with self.host.transaction():
            events = self._begin()
        yield from events
        if self.run["status"] == "in_progress":
            if self.answer_delay > 0:
                self.cancelled.wait(self.answer_delay)
            yield from self._answer()
        if self.host.closing or self.gone:
            return
        if self.cancelled.is_set() and self.cancel_delay > 0:
            time.sleep(self.cancel_delay)
        with self.host.transaction():
            events = self._end()
        yield from events

    def _answer(self) -> Iterator[Event]:
        increments = self.responder.respond(self.turn, self.cancelled)
        try:
            for increment in increments:
                if self.cancelled.is_set() or self.host.closing:
                    break  # cancelled or gone meanwhile, or the engine stops
                events = self._apply(increment)
                yield from events
                if self.ending is not None:
                    break
        except Exception:
            logger.exception("the responder of run %s failed", self.run["id"])
            self.ending = Failure("server_error", "The server had an error while answering.")
        finally:
            close = getattr(increments, "close", None)
            if close is not None:
                close()

    def _current(self, expected: str) -> bool:
        """In a transaction: whether the stored run is still this turn's, in ``expected``.

        A run cancelled meanwhile (through any process) becomes ``cancelling`` here too, and
        the turn stops answering; a run gone stops the turn.
        """
        status = self.host.reload_run(self.record)
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
        with self.host.transaction():
            if not self._current("in_progress"):
                return []
            return change()

    def _begin(self) -> list[Event]:
        if not self._current("queued"):
            return []
        self.run["status"] = "in_progress"
        if self.run["started_at"] is None:
            self.run["started_at"] = objects.now()
        self.host.save_run(self.record)
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
        self.host.put("step", step, run["id"])
        self.host.put("message", message, run["thread_id"])
        self.message, self.message_step, self.text = message, step, []
        self.answered = True
        self.state["message"] = message["id"]
        # Stored with the run, so that a restart finds the message to leave incomplete.
        self.host.save_run(self.record)
        return [
            event("thread.run.step.created", step),
            event("thread.run.step.in_progress", step),
            event("thread.message.created", message),
            event("thread.message.in_progress", message),
        ]

    def _text(self, piece: str) -> list[Event]:
        if not piece:
            return []
        events = self._changing(self._open_message) if self.message is None else []
        if self.message is None:
            return events  # the run stopped being this turn's
        self.text.append(piece)
        content = self.message["content"]
        if not content:
            content.append({"type": "text", "text": {"value": "", "annotations": []}})
        now = self.clock()
        if now - self.saved_at >= SAVE_EVERY:
            content[0]["text"]["value"] = "".join(self.text)
            self.host.save("message", self.message)
            self.saved_at = now
        # As recorded from the live API: only a message's first delta carries `annotations`.
        text: JSONDict = (
            {"value": piece, "annotations": []} if len(self.text) == 1 else {"value": piece}
        )
        delta = {
            "id": self.message["id"],
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
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
        message, step = self.message, self.message_step
        if message is None or step is None:
            return []
        self._flush_text()
        now = objects.now()
        message["status"] = status
        if status == "completed":
            message["completed_at"] = now
        else:
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": reason}
        self.host.save("message", message)
        events = [event(f"thread.message.{status}", message)]
        self.message = self.message_step = None
        self.state.pop("message", None)
        step["status"] = step_status
        step[f"{step_status}_at"] = now
        step["last_error"] = error
        if self.tool_step is None:
            step["usage"] = objects.usage(*self.usage)
        self.host.save("step", step)
        events.append(event(f"thread.run.step.{step_status}", step))
        return events

    def _open_tool_step(self) -> list[Event]:
        """The end of the text before tool calls, and the tool calls' step."""
        events = self._close_message("completed") if self.message is not None else []
        if self.tool_step is None:
            self.tool_step = objects.step(
                self.run, "tool_calls", {"type": "tool_calls", "tool_calls": []}
            )
            self.host.put("step", self.tool_step, self.run["id"])
            self.state["tool_step"] = self.tool_step["id"]
            self.host.save_run(self.record)
            events.append(event("thread.run.step.created", self.tool_step))
            events.append(event("thread.run.step.in_progress", self.tool_step))
        return events

    def _tool_call(self, piece: ToolCallDelta) -> list[Event]:
        events: list[Event] = []
        if self.message is not None or self.tool_step is None:
            events = self._changing(self._open_tool_step)
            if self.tool_step is None:
                return events  # the run stopped being this turn's
        call = self.calls.get(piece.index)
        if call is None:
            stored = {
                "id": piece.id or objects.new_id("call"),
                "type": "function",
                "function": {"name": piece.name or "", "arguments": "", "output": None},
            }
            self.tool_step["step_details"]["tool_calls"].append(stored)
            call = self.calls[piece.index] = _Call(stored)
            events.append(self._step_delta({"index": piece.index, **stored}))
        if piece.arguments:
            call.arguments.append(piece.arguments)
            call.stored["function"]["arguments"] = "".join(call.arguments)
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

    def _step_delta(self, call: JSONDict) -> Event:
        assert self.tool_step is not None
        delta = {
            "id": self.tool_step["id"],
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}},
        }
        return event("thread.run.step.delta", delta)

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
        if incomplete is None:
            if not self.answered and self.tool_step is None:
                # An empty answer is still an (empty) assistant message, as the API makes one.
                events = self._open_message() + self._close_message("completed")
            else:
                events = self._close_message("completed")
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
        self.host.save_run(self.record)
        return [event(f"thread.run.{status}", run)]

    def _close_tool_step(self, status: str, error: JSONDict | None = None) -> list[Event]:
        step = self.tool_step
        if step is None or step["status"] != "in_progress":
            return []
        now = objects.now()
        step["status"] = status
        step[f"{status}_at"] = now
        step["last_error"] = error
        step["usage"] = objects.usage(*self.usage)
        self.host.save("step", step)
        return [event(f"thread.run.step.{status}", step)]

    def _requires_action(self) -> list[Event]:
        events = self._close_message("completed") if self.message is not None else []
        self._add_usage()
        assert self.tool_step is not None
        self.state["step_usage"] = list(self.usage)
        self.host.save("step", self.tool_step)
        calls = [self.calls[index] for index in sorted(self.calls)]
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
        self.host.save_run(self.record)
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
        self.host.save_run(self.record)
        return [*events, event("thread.run.failed", run)]

    def _cancel(self) -> list[Event]:
        opening = [event("thread.run.cancelling", self.run)]
        return close_run(self.host, self.record, "cancelled", opening + self._open_parts())

    def expire(self) -> list[Event]:
        return close_run(self.host, self.record, "expired", self._open_parts())

    def _open_parts(self) -> list[Event]:
        """Store the text received so far (``close_run`` ends the message as stored)."""
        if self.message is not None and self.text:
            self._flush_text()
            self.host.save("message", self.message)
        self._add_usage()
        return []


def close_run(host: Host, record: JSONDict, status: str, events: list[Event]) -> list[Event]:
    """End a run ``cancelled`` or ``expired``: its open message and steps end with it."""
    run = record["run"]
    state = record["state"]
    now = objects.now()
    message_id = state.pop("message", None)
    if message_id is not None:
        message = host.message_of(record, message_id)
        if message is not None and message["status"] == "in_progress":
            message["status"] = "incomplete"
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": f"run_{status}"}
            host.save("message", message)
            events.append(event("thread.message.incomplete", message))
    for step in host.steps_of(record):
        if step["status"] == "in_progress":
            step["status"] = status
            # Steps have no expired_at (the live API's carry expires_at instead).
            if f"{status}_at" in step:
                step[f"{status}_at"] = now
            host.save("step", step)
            events.append(event(f"thread.run.step.{status}", step))
    run["status"] = status
    if status == "cancelled":
        run["cancelled_at"] = now
    run["required_action"] = None
    run["expires_at"] = None
    prompt, completion = state.get("usage", [0, 0])
    run["usage"] = objects.usage(prompt, completion)
    host.save_run(record)
    events.append(event(f"thread.run.{status}", run))
    return events
