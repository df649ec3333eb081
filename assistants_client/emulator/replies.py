"""The emulator's default replies: what a run answers when nothing is scripted.

Deterministic, and plausible enough for a program under test to go on with:

* with a ``file_search`` tool: a search for the last user message, then a reply quoting the
  first sentence of the best passage found, cited with its marker (or saying that nothing was
  found);
* after tool outputs, a text naming each function and what it returned;
* a call to each function the last user message names (or the one ``tool_choice`` names, or the
  first with ``required``), its arguments filled from the message (proper nouns, quoted values,
  numbers near a field's name) and sample values where it says nothing;
* else an echo of the last user message, shaped by the response format (a document valid for a
  ``json_schema``, ``{"reply": ...}`` for ``json_object``).

:func:`default_reply` is the scripted responder's ``default_reply`` in the emulator.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from assistants_client.emulator.samples import generate_value, words
from assistants_client.server.file_search import CITE_INSTRUCTION, FILE_SEARCH, MARKER
from assistants_client.server.responders import Turn
from assistants_client.server.responders.script import (
    Plan,
    message_text,
    split_chunks,
    tool_call_id,
)

__all__ = ["default_plan", "default_reply", "function_arguments"]

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


NOTHING_FOUND_REPLY = "I searched the files, and found nothing about that."


def _first_sentence(passage: str) -> str:
    lines = [line.strip().lstrip("#").strip() for line in passage.splitlines()]
    text = " ".join(line for line in lines if line)
    found = re.match(r".*?[.!?](?=\s|$)", text)
    return (found.group(0) if found else text)[:400]


def search_reply(output: str) -> Plan:
    """The reply to a search's output: its best passage's first sentence, cited."""
    found = MARKER.search(output)
    if found is None:
        text = NOTHING_FOUND_REPLY
    else:
        rest = output[found.end() :].split("\n\n" + CITE_INSTRUCTION, 1)[0]
        passage = re.split(r"\n\n(?=【\d+:\d+†)", rest, maxsplit=1)[0]
        text = f'The files say: "{_first_sentence(passage)}"{found.group(0)}'
    return {"kind": "text", "text": text, "chunks": split_chunks(text)}


def _search_plan(turn: Turn, last_user: str | None) -> Plan | None:
    """With a file_search tool: search for the last user message (once per run), then reply
    to what was found."""
    if turn.tool_choice == "none" or not last_user:
        return None
    if not any(isinstance(t, Mapping) and t.get("type") == FILE_SEARCH for t in turn.tools):
        return None
    if turn.tool_rounds:
        last = turn.tool_rounds[-1]
        searched = [call for call in last.calls if call["name"] == FILE_SEARCH]
        if searched and len(searched) == len(last.calls):
            return search_reply(last.outputs.get(searched[0]["id"], ""))
        return None
    arguments = json.dumps({"queries": [last_user]}, ensure_ascii=False)
    return {
        "kind": "tool_calls",
        "calls": [{"id": tool_call_id(), "name": FILE_SEARCH, "arguments": arguments}],
    }


def default_reply(turn: Turn) -> Plan:
    """The emulator's reply to a turn nothing was scripted for (see the module docstring)."""
    last_user: str | None = None
    for message in reversed(turn.messages):
        if message.get("role") == "user":
            last_user = message_text(message)
            break
    searching = _search_plan(turn, last_user)
    if searching is not None:
        return searching
    results = None
    if turn.tool_rounds:
        last = turn.tool_rounds[-1]
        results = [(call["name"], last.outputs.get(call["id"], "")) for call in last.calls]
    return default_plan(
        tools=list(turn.tools),
        response_format=turn.response_format,
        last_user_text=last_user,
        tool_results=results,
        tool_choice=turn.tool_choice,
    )
