"""The script of the scripted responder: replies queued in advance, one per turn of a run.

A *plan* is a JSON-serialisable dict describing one turn of a run (the work done between the
run leaving ``queued`` and it stopping):

* ``{"kind": "text", "text": ..., "chunks": [...]}`` - an assistant message;
* ``{"kind": "tool_calls", "calls": [{"id", "name", "arguments"}]}`` - ``requires_action``;
* ``{"kind": "failure", "code": ..., "message": ...}`` - the run fails;
* ``{"kind": "incomplete", "reason": ..., "text": ..., "chunks": [...]}`` - stops early;
* ``{"kind": "expire"}`` - the run expires.

Every plan may carry ``"delay"`` (seconds spent ``in_progress`` before the outcome). A turn
for which nothing is queued gets the scripted responder's default reply
(:class:`~assistants_client.server.responders.scripted.ScriptedResponder`).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Plan", "Script", "message_text", "split_chunks", "tool_call_id"]

Plan = dict[str, Any]
JSONDict = Plan


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


def message_text(message: Mapping[str, Any]) -> str:
    parts = []
    for part in message.get("content", []):
        if isinstance(part, Mapping) and part.get("type") == "text":
            parts.append(str(part.get("text", {}).get("value", "")))
    return "\n".join(parts)
