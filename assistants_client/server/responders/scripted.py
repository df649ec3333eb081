"""The scripted responder: the emulator's answers, deterministic, as increments.

Each turn takes the next reply queued on the :class:`~assistants_client.server.responders.script.
Script` (``queue_text``, ``queue_tool_calls``, ``queue_failure``, ``queue_incomplete``,
``queue_expiry``, ``queue_delay``), or else the plan its ``default_reply`` makes for the turn
(the emulator's: an echo of the last user message, a call to a function the message names, or a
value fitting the response format). The reply is chosen when the turn is queued
(:meth:`ScriptedResponder.prepare`), so replies go to runs in the order they were started, and a
turn survives a restart of the emulator.

It is then told as the API would stream it, at ``stream_interval`` between pieces: text in its
chunks, a function call as its name and then its arguments in pieces of a few characters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from assistants_client.server.responders import (
    Expire,
    Failure,
    Finish,
    Increment,
    TextDelta,
    ToolCallDelta,
    Turn,
    Usage,
)
from assistants_client.server.responders.script import Plan, Script, message_text

__all__ = ["ARGUMENT_PIECE", "DefaultReply", "ScriptedResponder"]

DefaultReply = Callable[[Turn], Plan]
"""The plan for a turn nothing was scripted for."""

# Arguments stream in pieces of at most this many characters, as models send them.
ARGUMENT_PIECE = 8


def _tokens(text: str | None) -> int:
    return len((text or "").split())


def _prompt_tokens(turn: Turn) -> int:
    total = _tokens(turn.instructions) + _tokens(turn.additional_instructions)
    for message in turn.messages:
        total += _tokens(message_text(message))
    return total


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class ScriptedResponder:
    """Answers turns from a :class:`Script`, else with ``default_reply``. Thread-safe."""

    def __init__(
        self, script: Script, *, default_reply: DefaultReply, stream_interval: float = 0.001
    ) -> None:
        self.script = script
        self.default_reply = default_reply
        self.stream_interval = stream_interval

    def check(self, turn: Turn) -> None:
        """Everything the API accepts can be answered."""

    def prepare(self, turn: Turn) -> Mapping[str, Any] | None:
        scripted = self.script.take()
        if scripted is not None and scripted.get("kind") != "default":
            return scripted
        plan = self.default_reply(turn)
        if scripted is not None:
            plan["delay"] = scripted.get("delay", 0.0)
        return plan

    def respond(self, turn: Turn, cancelled: threading.Event) -> Iterator[Increment]:
        plan = turn.prepared or self.prepare(turn) or {"kind": "text", "chunks": []}
        delay = float(plan.get("delay", 0.0))
        if delay > 0 and cancelled.wait(delay):
            return
        kind = plan["kind"]
        prompt = _prompt_tokens(turn)
        if kind == "failure":
            yield Usage(prompt, 0)
            yield Failure(plan["code"], plan["message"])
        elif kind == "expire":
            yield Expire()
        elif kind == "tool_calls":
            yield from self._calls(plan["calls"], prompt, cancelled)
        else:
            yield from self._text(plan, prompt, cancelled)

    def _pause(self, cancelled: threading.Event) -> bool:
        """Wait between two pieces; True when the turn was cancelled meanwhile."""
        if self.stream_interval > 0:
            return cancelled.wait(self.stream_interval)
        return cancelled.is_set()

    def _text(
        self, plan: Mapping[str, Any], prompt: int, cancelled: threading.Event
    ) -> Iterator[Increment]:
        written = []
        for chunk in plan.get("chunks", []):
            if self._pause(cancelled):
                return
            written.append(chunk)
            yield TextDelta(chunk)
        yield Usage(prompt, _tokens("".join(written)))
        if plan["kind"] == "incomplete":
            reason = plan.get("reason", "max_completion_tokens")
            yield Finish("max_prompt_tokens" if reason == "max_prompt_tokens" else "length")
        else:
            yield Finish("stop")

    def _calls(
        self, calls: list[Mapping[str, str]], prompt: int, cancelled: threading.Event
    ) -> Iterator[Increment]:
        for index, call in enumerate(calls):
            if self._pause(cancelled):
                return
            yield ToolCallDelta(index, call["id"], call["name"], "")
            for piece in _pieces(call["arguments"], ARGUMENT_PIECE):
                if self._pause(cancelled):
                    return
                yield ToolCallDelta(index, arguments=piece)
        yield Usage(prompt, sum(_tokens(call["arguments"]) + 1 for call in calls))
        yield Finish("tool_calls")
