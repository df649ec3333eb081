"""Sample values: a plausible JSON document valid for a JSON schema.

The emulator's default replies fill a function's arguments and a structured answer with them:
strings from hints (words of the prompt) or the field's name, formats (``date-time``,
``email``, ...) honoured, numbers within their bounds, one item per array, enums and consts as
given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["generate_value", "words"]

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_-]*")


def _string_for(schema: Mapping[str, Any], name: str, hint: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        value = "2024-01-01T00:00:00Z"
    elif fmt == "date":
        value = "2024-01-01"
    elif fmt == "time":
        value = "00:00:00"
    elif fmt == "email":
        value = "user@example.com"
    elif fmt in {"uri", "url"}:
        value = "https://example.com/"
    elif fmt == "uuid":
        value = "00000000-0000-4000-8000-000000000000"
    else:
        value = hint or (f"example {name}" if name else "example")
    min_length = schema.get("minLength")
    max_length = schema.get("maxLength")
    if isinstance(min_length, int) and len(value) < min_length:
        value = value + "x" * (min_length - len(value))
    if isinstance(max_length, int) and len(value) > max_length:
        value = value[:max_length]
    return value


def _number_for(schema: Mapping[str, Any], integer: bool) -> int | float:
    low = schema.get("minimum")
    high = schema.get("maximum")
    ex_low = schema.get("exclusiveMinimum")
    ex_high = schema.get("exclusiveMaximum")
    candidate: float = 1
    if isinstance(low, (int, float)):
        candidate = max(candidate, float(low))
    if isinstance(ex_low, (int, float)) and not isinstance(ex_low, bool):
        candidate = max(candidate, float(ex_low) + 1)
    if isinstance(high, (int, float)):
        candidate = min(candidate, float(high))
    if isinstance(ex_high, (int, float)) and not isinstance(ex_high, bool):
        candidate = min(candidate, float(ex_high) - (1 if integer else 0.5))
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        candidate = math.ceil(candidate / multiple) * multiple
    if integer:
        return math.ceil(candidate) if isinstance(low, (int, float)) else int(candidate)
    return candidate


def generate_value(
    schema: Any,
    *,
    root: Mapping[str, Any] | None = None,
    name: str = "",
    hints: Mapping[str, str] | None = None,
    required_only: bool = False,
    _depth: int = 0,
) -> Any:
    """Build a plausible value valid for ``schema``.

    ``root`` resolves local references (``#/$defs/...``, ``#/definitions/...``); ``hints`` maps
    property names (or ``""`` for any string) to preferred string values; ``required_only``
    fills only an object's required properties.
    """
    if root is None:
        root = schema if isinstance(schema, Mapping) else {}
    hints = hints or {}
    if not isinstance(schema, Mapping) or _depth > 24:
        return None if _depth > 24 else {}

    def again(sub: Any, sub_name: str = name) -> Any:
        return generate_value(
            sub,
            root=root,
            name=sub_name,
            hints=hints,
            required_only=required_only,
            _depth=_depth + 1,
        )

    if "$ref" in schema:
        ref = str(schema["$ref"])
        node: Any = root
        if ref.startswith("#"):
            for part in [p for p in ref[1:].split("/") if p]:
                node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if node else {}
        return again(node)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            non_null = [
                b for b in branches if not (isinstance(b, Mapping) and b.get("type") == "null")
            ]
            return again(non_null[0] if non_null else branches[0])
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict[str, Any] = {}
        for member in schema["allOf"]:
            if isinstance(member, Mapping):
                for key, value in member.items():
                    if key == "properties" and isinstance(value, Mapping):
                        merged.setdefault("properties", {}).update(value)
                    elif key == "required" and isinstance(value, list):
                        merged.setdefault("required", []).extend(value)
                    else:
                        merged.setdefault(key, value)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return again({**merged, **rest})

    declared = schema.get("type")
    if isinstance(declared, list):
        non_null_types = [t for t in declared if t != "null"]
        declared = non_null_types[0] if non_null_types else "null"
    if declared is None:
        if "properties" in schema:
            declared = "object"
        elif "items" in schema:
            declared = "array"
        else:
            declared = "string"

    if declared == "object":
        result: dict[str, Any] = {}
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        if isinstance(properties, Mapping):
            for key, sub in properties.items():
                if required_only and key not in required:
                    continue
                result[key] = again(sub, key)
        for key in required:
            if key not in result:
                result[key] = "example"
        return result
    if declared == "array":
        count = schema.get("minItems")
        count = max(1, count) if isinstance(count, int) else 1
        max_items = schema.get("maxItems")
        if isinstance(max_items, int):
            count = min(count, max_items)
        item_schema = schema.get("items", {})
        return [again(item_schema) for _ in range(count)]
    if declared == "string":
        return _string_for(schema, name, hints.get(name, hints.get("", "")))
    if declared == "integer":
        return int(_number_for(schema, integer=True))
    if declared == "number":
        return _number_for(schema, integer=False)
    if declared == "boolean":
        return True
    return None


def words(text: str) -> list[str]:
    """The words of ``text``, punctuation dropped."""
    return _WORD.findall(text)
