"""Structured outputs: a strict JSON schema from an attrs class, for ``response_format``.

``response_format=SomeAttrsClass`` on the run methods sends
``{"type": "json_schema", "json_schema": {"name": ..., "schema": ..., "strict": true}}``; the
answer comes back with ``message.parse(SomeAttrsClass)``.

Supported field types: str, int, float, bool, nested attrs classes, ``list[X]``, ``X | None``,
``Literal[...]`` of strings, numbers or booleans, ``enum.Enum`` subclasses, and unions of these.
Strict mode requires every field and forbids extra ones, so every object lists all its fields in
``required`` and sets ``additionalProperties: false``.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from typing import Any, Literal, Union

import attrs

from assistants_client._exceptions import InvalidArgumentError

__all__ = ["is_structured_output_class", "json_schema_for", "response_format_for"]

_PRIMITIVES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def is_structured_output_class(value: Any) -> bool:
    """True for an attrs class (not an instance) given as a response format."""
    return isinstance(value, type) and attrs.has(value)


def response_format_for(cls: type[Any]) -> dict[str, Any]:
    """The ``response_format`` body value for an attrs class."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": _NAME.sub("_", cls.__name__)[:64],
            "schema": json_schema_for(cls),
            "strict": True,
        },
    }


def json_schema_for(cls: type[Any]) -> dict[str, Any]:
    """A strict JSON schema for an attrs class; nested classes go to ``$defs``."""
    defs: dict[str, Any] = {}
    root = _object_schema(cls, defs, cls.__name__)
    if defs:
        root["$defs"] = defs
    return root


def _object_schema(cls: type[Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    for field in attrs.fields(cls):
        properties[field.name] = _schema(hints[field.name], defs, f"{path}.{field.name}")
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _schema(t: Any, defs: dict[str, Any], path: str) -> dict[str, Any]:
    if t in _PRIMITIVES:
        return {"type": _PRIMITIVES[t]}
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if isinstance(t, type) and attrs.has(t):
        name = t.__name__
        if name not in defs:
            defs[name] = {}  # placeholder: a class that refers to itself
            defs[name] = _object_schema(t, defs, name)
        return {"$ref": f"#/$defs/{name}"}
    if isinstance(t, type) and issubclass(t, enum.Enum):
        values = [member.value for member in t]
        return {"enum": values}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (list, typing.List):  # noqa: UP006
        (item,) = args or (Any,)
        return {"type": "array", "items": _schema(item, defs, f"{path}[]")}
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        variants = [_schema(a, defs, path) for a in members]
        if type(None) in args:
            variants.append({"type": "null"})
        return variants[0] if len(variants) == 1 else {"anyOf": variants}
    raise InvalidArgumentError(
        f"response_format: {path} has type {t!r}, which a strict JSON schema cannot describe "
        "(use str, int, float, bool, attrs classes, list, Optional, Literal or Enum)",
        param="response_format",
    )
