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
import operator
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from assistants_client.server.schema import generate_value, words

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


def _proper_nouns(text: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """Runs of capitalised words that do not open a sentence (``"New York"``, ``"Paris"``)."""
    found: list[str] = []
    run: list[str] = []
    opening = True
    for match in re.finditer(r"[A-Za-z0-9][A-Za-z0-9'_-]*|[.!?:;,]", text):
        token = match.group(0)
        if token in ".!?:;,":
            if run:
                found.append(" ".join(run))
                run = []
            opening = token in ".!?:"
            continue
        capitalised = token[:1].isupper() and token.lower() not in _STOP_WORDS
        if capitalised and not opening and token.lower() not in skip:
            run.append(token)
        elif run:
            found.append(" ".join(run))
            run = []
        opening = False
    if run:
        found.append(" ".join(run))
    return found


def _after_mention(text: str, name: str) -> str | None:
    """The words that follow a mention of ``name`` (``"the city of Paris"`` -> ``"Paris"``)."""
    spoken = name.replace("_", " ").lower()
    lowered = text.lower()
    at = re.search(rf"(?<![a-z0-9_]){re.escape(spoken)}s?(?![a-z0-9_])", lowered)
    if at is None:
        return None
    following = [w for w in words(text[at.end() :])[:6] if w.lower() not in _MENTION_FILLERS]
    if not following:
        return None
    chosen = [following[0]]
    for word in following[1:]:
        if not (word[:1].isupper() and chosen[-1][:1].isupper()):
            break
        chosen.append(word)
    return " ".join(chosen)


# Words between a property's name and its value: "the city of Paris", "a name like Ada".
_MENTION_FILLERS = _STOP_WORDS | {"is", "are", "be", "named", "called", "like", "as", "its"}


def _string_values(names: list[str], text: str, skip: frozenset[str]) -> dict[str, str]:
    """Values for string properties, taken from the prompt: ``name=value`` as written, else
    the words after a mention of the name, else (for the first property left) a proper noun."""
    explicit = _explicit_values(text)
    values: dict[str, str] = {}
    nouns = _proper_nouns(text, skip)
    for name in names:
        value = explicit.get(name) or _after_mention(text, name)
        if value is not None:
            values[name] = value
    nouns = [noun for noun in nouns if noun not in values.values()]
    for name in names:
        if name not in values and nouns:
            values[name] = nouns.pop(0)
            break
    return values


def _string_properties(schema: Any, root: Any, depth: int = 0) -> list[str]:
    """The names of the string properties of a JSON schema, in order, nested ones included."""
    if not isinstance(schema, Mapping) or depth > 12:
        return []
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        node: Any = root
        for part in [p for p in ref[1:].split("/") if p]:
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return _string_properties(node, root, depth + 1)
    names: list[str] = []
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for key, sub in properties.items():
            if _is_string_schema(sub, root):
                names.append(str(key))
            names += [n for n in _string_properties(sub, root, depth + 1) if n not in names]
    for keyword in ("items", "anyOf", "oneOf", "allOf"):
        found = schema.get(keyword)
        for branch in found if isinstance(found, list) else [found]:
            names += [n for n in _string_properties(branch, root, depth + 1) if n not in names]
    return names


def _is_string_schema(schema: Any, root: Any) -> bool:
    if not isinstance(schema, Mapping) or "enum" in schema or "const" in schema:
        return False
    kind = schema.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        return True
    if kind == "array":
        return _is_string_schema(schema.get("items"), root)
    branches = schema.get("anyOf") or schema.get("oneOf")
    return isinstance(branches, list) and any(_is_string_schema(b, root) for b in branches)


def _hint_words(text: str, function_name: str) -> str:
    found = words(text)
    lowered = [word.lower() for word in found]
    name = function_name.lower()
    # Neither stop words nor the words of the function's own name ("weather" of get_weather).
    ignored = _STOP_WORDS | set(name.split("_"))
    after: list[str] = []
    before: list[str] = []
    if name in lowered:
        at = lowered.index(name)
        after = [w for w in found[at + 1 :] if w.lower() not in ignored]
        before = [w for w in found[:at] if w.lower() not in ignored]
    chosen = after[:3] or before[-3:]
    return " ".join(chosen)


def _explicit_values(text: str) -> dict[str, str]:
    """``name=value`` or ``name: value`` pairs written in the message (or in JSON: a tool's
    output, ``"name": "value"``)."""
    pairs: dict[str, str] = {}
    pattern = r"\"?([A-Za-z_][A-Za-z0-9_]*)\"?\s*[=:]\s*(\"[^\"]*\"|[^\s,;}\]]+)"
    for match in re.finditer(pattern, text):
        raw = match.group(2)
        # A quoted value is taken as written; a bare one loses the sentence's final stop.
        value = raw.strip('"') if raw.startswith('"') else raw.rstrip(".!?")
        pairs.setdefault(match.group(1), value)
    return pairs


def function_arguments(parameters: Any, text: str, function_name: str) -> str:
    """JSON arguments for ``function_name`` valid for its parameters schema, taken from the
    prompt where it can: ``"What is the weather in Paris? Use get_weather."`` gives
    ``{"city": "Paris"}``."""
    if not isinstance(parameters, Mapping) or not parameters:
        return "{}"
    hints: dict[str, str] = {"": _hint_words(text, function_name)}
    hints.update(_explicit_values(text))
    # The words of the function's own name ("get", "weather") are not its arguments.
    skip = frozenset(part for part in function_name.lower().split("_") if part)
    names = _string_properties(parameters, parameters)
    hints.update(_string_values(names, text, skip))
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


# String properties that hold free text: they echo the reply rather than a word of the prompt.
_FREE_TEXT = frozenset(
    {"reply", "answer", "response", "text", "message", "summary", "description", "content"}
    | {"explanation", "comment", "note", "notes", "body", "reason"}
)

# Plausible numbers by property name (a word of it), where the prompt gives none.
_PLAUSIBLE_NUMBERS: dict[str, float] = {
    "celsius": 18,
    "temperature": 18,
    "temp": 18,
    "fahrenheit": 64,
    "humidity": 55,
    "percent": 50,
    "percentage": 50,
    "age": 30,
    "year": 2024,
    "month": 6,
    "hour": 12,
    "hours": 12,
    "minute": 30,
    "minutes": 30,
    "days": 3,
    "price": 20,
    "cost": 20,
    "amount": 20,
    "total": 20,
    "count": 3,
    "quantity": 3,
    "rating": 4,
    "score": 4,
    "speed": 12,
    "wind": 12,
    "latitude": 48.8566,
    "lat": 48.8566,
    "longitude": 2.3522,
    "lon": 2.3522,
    "lng": 2.3522,
    "probability": 0.8,
    "confidence": 0.8,
}


def _plausible_numbers(schema: Any, value: Any, prompt: str, root: Any, depth: int = 0) -> Any:
    """``value`` (built for ``schema``) with its numbers made plausible: given in the prompt
    (``celsius=21``), else by the property's name (a temperature of 18, not 1), within the
    schema's bounds."""
    if not isinstance(schema, Mapping) or depth > 12:
        return value
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        node: Any = root
        for part in [p for p in ref[1:].split("/") if p]:
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return _plausible_numbers(node, value, prompt, root, depth + 1)
    if isinstance(value, dict):
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return value
        explicit = _explicit_values(prompt)
        for key, sub in properties.items():
            if key not in value:
                continue
            current = value[key]
            if isinstance(current, (int, float)) and not isinstance(current, bool):
                value[key] = _number_for_name(str(key), sub, current, explicit.get(str(key)))
            else:
                value[key] = _plausible_numbers(sub, current, prompt, root, depth + 1)
        return value
    if isinstance(value, list):
        return [_plausible_numbers(schema.get("items"), v, prompt, root, depth + 1) for v in value]
    return value


def _number_for_name(name: str, schema: Any, current: float, given: str | None) -> float:
    candidate: float | None = None
    if given is not None:
        try:
            candidate = float(given)
        except ValueError:
            candidate = None
    if candidate is None:
        for word in [name.lower(), *name.lower().split("_")]:
            if word in _PLAUSIBLE_NUMBERS:
                candidate = _PLAUSIBLE_NUMBERS[word]
                break
    if candidate is None or not isinstance(schema, Mapping):
        return current
    integer = schema.get("type") == "integer" or (
        isinstance(schema.get("type"), list) and "integer" in schema["type"]
    )
    if integer:
        candidate = float(round(candidate))
    bounds: tuple[tuple[str, Callable[[float, float], bool]], ...] = (
        ("minimum", operator.ge),
        ("maximum", operator.le),
        ("exclusiveMinimum", operator.gt),
        ("exclusiveMaximum", operator.lt),
    )
    for bound, fits in bounds:
        limit = schema.get(bound)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)):
            continue
        if not fits(candidate, limit):
            return current
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple and candidate % multiple:
        return current
    return int(candidate) if integer else float(candidate)


def _structured(schema: Any, reply: str, prompt: str) -> Any:
    """A document valid for ``schema``: string values from the prompt where a property's name
    matches, free-text properties echo ``reply``, numbers plausible for their name."""
    names = _string_properties(schema, schema)
    hints: dict[str, str] = {name: reply for name in names if name.lower() in _FREE_TEXT}
    hints.update(_string_values([n for n in names if n not in hints], prompt, frozenset()))
    value = generate_value(schema, hints=hints)
    return _plausible_numbers(schema, value, prompt, schema)


def _formatted(text: str, response_format: Any, prompt: str | None = None) -> str:
    """The reply ``text`` in the run's response format; ``prompt`` is what it answers."""
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        if kind == "json_schema":
            schema = response_format.get("json_schema", {}).get("schema") or {"type": "object"}
            return json.dumps(_structured(schema, text, text if prompt is None else prompt))
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
    answer = _formatted(text, response_format, prompt=user_text)
    return {"kind": "text", "text": answer, "chunks": split_chunks(answer)}
