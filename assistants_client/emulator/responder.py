"""Who answers a run: a scripted queue of replies, else a deterministic default responder.

A *plan* is a JSON-serialisable dict describing one turn of a run (the work done between the
run leaving ``queued`` and it stopping):

* ``{"kind": "text", "text": ..., "chunks": [...]}`` - an assistant message;
* ``{"kind": "tool_calls", "calls": [{"id", "name", "arguments"}]}`` - ``requires_action``;
* ``{"kind": "failure", "code": ..., "message": ...}`` - the run fails;
* ``{"kind": "incomplete", "reason": ..., "text": ..., "chunks": [...]}`` - stops early;
* ``{"kind": "expire"}`` - the run expires.

Every plan may carry ``"delay"`` (seconds spent ``in_progress`` before the outcome).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from assistants_client.emulator.schema import generate_value, words

__all__ = ["Script", "default_plan", "split_chunks", "tool_call_id"]

JSONDict = dict[str, Any]

_STOP_WORDS = {
    "a",
    "an",
    "and",
    "at",
    "call",
    "for",
    "from",
    "in",
    "is",
    "it",
    "me",
    "of",
    "on",
    "please",
    "the",
    "to",
    "use",
    "using",
    "what",
    "whats",
    "what's",
    "with",
}


def tool_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def split_chunks(text: str, chunks: int | None = None) -> list[str]:
    """Split ``text`` into pieces whose concatenation is ``text``.

    With ``chunks`` the text is cut into that many nearly equal pieces; otherwise into words
    (each keeping its trailing whitespace).
    """
    if not text:
        return []
    if chunks is None:
        pieces = re.findall(r"\S+\s*|\s+", text)
        return pieces or [text]
    count = max(1, min(int(chunks), len(text)))
    size, extra = divmod(len(text), count)
    result: list[str] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        result.append(text[start:end])
        start = end
    return result


class Script:
    """A queue of scripted replies, consumed one per run turn, oldest first.

    When the queue is empty the default responder answers. ``queue_delay`` adds a pause to the
    next reply (or to the default reply when nothing else is queued).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[JSONDict] = deque()
        self._pending_delay = 0.0

    def _push(self, plan: JSONDict) -> None:
        with self._lock:
            if self._pending_delay:
                plan["delay"] = plan.get("delay", 0.0) + self._pending_delay
                self._pending_delay = 0.0
            self._items.append(plan)

    def queue_text(self, text: str, *, chunks: int | None = None) -> None:
        """Answer the next turn with ``text``, streamed in ``chunks`` deltas (default: words)."""
        self._push({"kind": "text", "text": text, "chunks": split_chunks(text, chunks)})

    def queue_tool_calls(self, calls: Sequence[Mapping[str, Any]]) -> None:
        """Ask for function calls: ``[{"name": ..., "arguments": {...} or "json"}]``."""
        planned = []
        for call in calls:
            arguments = call.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            planned.append(
                {
                    "id": str(call.get("id") or tool_call_id()),
                    "name": str(call["name"]),
                    "arguments": arguments,
                }
            )
        self._push({"kind": "tool_calls", "calls": planned})

    def queue_failure(
        self, *, code: str = "server_error", message: str = "The server had an error."
    ) -> None:
        """Fail the next turn with ``last_error = {code, message}``."""
        if code not in {"server_error", "rate_limit_exceeded", "invalid_prompt"}:
            raise ValueError(f"unsupported failure code {code!r}")
        self._push({"kind": "failure", "code": code, "message": message})

    def queue_incomplete(
        self,
        *,
        reason: str = "max_completion_tokens",
        text: str = "This answer was cut",
        chunks: int | None = None,
    ) -> None:
        """End the next turn ``incomplete`` after writing ``text``."""
        if reason not in {"max_completion_tokens", "max_prompt_tokens"}:
            raise ValueError(f"unsupported incomplete reason {reason!r}")
        self._push(
            {
                "kind": "incomplete",
                "reason": reason,
                "text": text,
                "chunks": split_chunks(text, chunks),
            }
        )

    def queue_expiry(self) -> None:
        """Let the next turn expire."""
        self._push({"kind": "expire"})

    def queue_delay(self, seconds: float) -> None:
        """Stay ``in_progress`` for ``seconds`` longer on the next turn."""
        if seconds < 0:
            raise ValueError("delay must not be negative")
        with self._lock:
            self._pending_delay += float(seconds)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._pending_delay = 0.0

    @property
    def pending(self) -> int:
        """How many scripted replies are still queued."""
        with self._lock:
            return len(self._items)

    def take(self) -> JSONDict | None:
        """The next scripted plan, or None (a lone pending delay is returned as a delay plan)."""
        with self._lock:
            if self._items:
                return self._items.popleft()
            if self._pending_delay:
                delay, self._pending_delay = self._pending_delay, 0.0
                return {"kind": "default", "delay": delay}
            return None


# -- default responder ---------------------------------------------------------------------


def message_text(message: Mapping[str, Any]) -> str:
    parts = []
    for part in message.get("content", []):
        if isinstance(part, Mapping) and part.get("type") == "text":
            parts.append(str(part.get("text", {}).get("value", "")))
    return "\n".join(parts)


def _hint_words(text: str, function_name: str) -> str:
    found = words(text)
    lowered = [word.lower() for word in found]
    name = function_name.lower()
    after: list[str] = []
    before: list[str] = []
    if name in lowered:
        at = lowered.index(name)
        after = [w for w in found[at + 1 :] if w.lower() not in _STOP_WORDS]
        before = [w for w in found[:at] if w.lower() not in _STOP_WORDS]
    chosen = after[:3] or before[-3:]
    return " ".join(chosen)


def _explicit_values(text: str) -> dict[str, str]:
    """``name=value`` or ``name: value`` pairs written in the message."""
    pairs: dict[str, str] = {}
    for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*(\"[^\"]*\"|[^\s,;]+)", text):
        raw = match.group(2)
        # A quoted value is taken as written; a bare one loses the sentence's final stop.
        value = raw.strip('"') if raw.startswith('"') else raw.rstrip(".!?")
        pairs.setdefault(match.group(1), value)
    return pairs


def function_arguments(parameters: Any, text: str, function_name: str) -> str:
    """JSON arguments for ``function_name`` valid for its parameters schema."""
    if not isinstance(parameters, Mapping) or not parameters:
        return "{}"
    hints: dict[str, str] = {"": _hint_words(text, function_name)}
    hints.update(_explicit_values(text))
    value = generate_value(parameters, hints=hints, required_only=True)
    return json.dumps(value if value is not None else {})


def _mentioned_functions(tools: Sequence[Any], text: str) -> list[JSONDict]:
    lowered = text.lower()
    found = []
    for tool in tools:
        if isinstance(tool, Mapping) and tool.get("type") == "function":
            function = tool.get("function", {})
            name = str(function.get("name", ""))
            if name and re.search(
                rf"(?<![A-Za-z0-9_]){re.escape(name.lower())}(?![A-Za-z0-9_])", lowered
            ):
                found.append(dict(function))
    return found


def _formatted(text: str, response_format: Any) -> str:
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        if kind == "json_schema":
            schema = response_format.get("json_schema", {}).get("schema") or {"type": "object"}
            return json.dumps(generate_value(schema, hints={"": text}))
        if kind == "json_object":
            return json.dumps({"reply": text})
    return text


def default_plan(
    *,
    tools: Sequence[Any],
    response_format: Any,
    last_user_text: str | None,
    tool_results: Sequence[tuple[str, str]] | None = None,
    tool_choice: Any = "auto",
) -> JSONDict:
    """The deterministic reply to a turn.

    ``tool_results`` (function name, output) are the outputs just submitted, if any.
    """
    if tool_results:
        text = "\n".join(f"{name} returned: {output}" for name, output in tool_results)
        answer = _formatted(text, response_format)
        return {"kind": "text", "text": answer, "chunks": split_chunks(answer)}
    user_text = last_user_text or ""
    if tool_choice != "none":
        functions = _mentioned_functions(tools, user_text)
        if isinstance(tool_choice, Mapping) and tool_choice.get("type") == "function":
            wanted = str(tool_choice.get("function", {}).get("name", ""))
            functions = [
                dict(tool.get("function", {}))
                for tool in tools
                if isinstance(tool, Mapping)
                and tool.get("type") == "function"
                and tool.get("function", {}).get("name") == wanted
            ]
        if not functions and tool_choice == "required":
            functions = [
                dict(tool.get("function", {}))
                for tool in tools
                if isinstance(tool, Mapping) and tool.get("type") == "function"
            ][:1]
        if functions:
            calls = [
                {
                    "id": tool_call_id(),
                    "name": str(function["name"]),
                    "arguments": function_arguments(
                        function.get("parameters"), user_text, str(function["name"])
                    ),
                }
                for function in functions
            ]
            return {"kind": "tool_calls", "calls": calls}
    text = f"You said: {user_text}" if last_user_text is not None else "Hello! How can I help you?"
    answer = _formatted(text, response_format)
    return {"kind": "text", "text": answer, "chunks": split_chunks(answer)}
