"""Attribute filters of a search: checked once, then applied to each file's ``attributes``.

The API's two shapes:

* comparison ``{"type": "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin", "key": ...,
  "value": ...}``;
* compound ``{"type": "and" | "or", "filters": [...]}``, nested at will.

How they compare: strings with strings, numbers with numbers (``gt`` on a string and a number
is false); booleans only equal booleans (``true`` is not ``1``); ``in`` and ``nin`` take a
list. A file without the attribute matches no comparison but ``ne`` and ``nin`` (it is not
equal to the value). Filters apply to files before anything is scored, so a filtered search
ranks only what it may return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from assistants_client.server.retrieval.errors import InvalidRequest

__all__ = ["Filter", "compile_filter", "matches"]

Filter = Callable[[Mapping[str, Any]], bool]

_COMPARISONS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"})
_MAX_DEPTH = 16
_MAX_CLAUSES = 1000


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _compare(op: str, have: Any, want: Any) -> bool:
    if op in ("in", "nin"):
        inside = any(_kind(have) == _kind(item) and have == item for item in want)
        return inside if op == "in" else not inside
    same = _kind(have) == _kind(want)
    if op == "eq":
        return same and have == want
    if op == "ne":
        return not (same and have == want)
    if not same or _kind(have) == "bool":
        return False
    if op == "gt":
        return bool(have > want)
    if op == "gte":
        return bool(have >= want)
    if op == "lt":
        return bool(have < want)
    return bool(have <= want)


def compile_filter(spec: Any, param: str = "filters") -> Filter:
    """A predicate over attributes for the filter ``spec``; raises
    :class:`~assistants_client.server.retrieval.errors.InvalidRequest` naming the part of
    ``spec`` that is wrong."""
    counter = [0]

    def build(node: Any, path: str, depth: int) -> Filter:
        counter[0] += 1
        if counter[0] > _MAX_CLAUSES:
            raise InvalidRequest(f"{param} has more than {_MAX_CLAUSES} clauses", param)
        if depth > _MAX_DEPTH:
            raise InvalidRequest(f"{param} is nested more than {_MAX_DEPTH} deep", path)
        if not isinstance(node, Mapping):
            raise InvalidRequest(f"{path} must be an object", path)
        kind = node.get("type")
        if kind in ("and", "or"):
            extra = sorted(set(node) - {"type", "filters"})
            if extra:
                raise InvalidRequest(f"{path}: unknown field {extra[0]!r}", path)
            parts = node.get("filters")
            if not isinstance(parts, list) or not parts:
                raise InvalidRequest(f"{path}.filters must be a non-empty array", f"{path}.filters")
            built = [build(part, f"{path}.filters[{n}]", depth + 1) for n, part in enumerate(parts)]
            if kind == "and":
                return lambda attributes: all(part(attributes) for part in built)
            return lambda attributes: any(part(attributes) for part in built)
        if kind not in _COMPARISONS:
            raise InvalidRequest(
                f"{path}.type must be one of eq, ne, gt, gte, lt, lte, in, nin, and, or; "
                f"got {kind!r}",
                f"{path}.type",
            )
        extra = sorted(set(node) - {"type", "key", "value"})
        if extra:
            raise InvalidRequest(f"{path}: unknown field {extra[0]!r}", path)
        key = node.get("key")
        if not isinstance(key, str) or not key:
            raise InvalidRequest(f"{path}.key must be a non-empty string", f"{path}.key")
        if "value" not in node:
            raise InvalidRequest(f"{path}.value is required", f"{path}.value")
        value = node["value"]
        if kind in ("in", "nin"):
            if not isinstance(value, list) or any(
                _kind(item) not in ("string", "number") for item in value
            ):
                raise InvalidRequest(
                    f"{path}.value must be an array of strings and numbers for {kind!r}",
                    f"{path}.value",
                )
        elif _kind(value) is None:
            raise InvalidRequest(
                f"{path}.value must be a string, a number or a boolean", f"{path}.value"
            )
        op = str(kind)

        def comparison(attributes: Mapping[str, Any]) -> bool:
            if key not in attributes:
                return op in ("ne", "nin")
            return _compare(op, attributes[key], value)

        return comparison

    return build(spec, param, 0)


def matches(spec: Any, attributes: Mapping[str, Any] | None) -> bool:
    """Whether ``attributes`` pass the filter ``spec`` (None passes everything)."""
    if spec is None:
        return True
    return compile_filter(spec)(attributes or {})
