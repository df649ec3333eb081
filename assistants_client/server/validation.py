"""Request validation: the bodies of requests checked against the spec's schemas.

The validator covers the JSON Schema subset the Assistants request schemas use: ``type``,
``enum``, ``const``, ``required``, ``properties``, ``additionalProperties`` (false or a schema),
``items``, ``minItems``/``maxItems``, ``minLength``/``maxLength``, ``minimum``/``maximum``,
``oneOf``/``anyOf``/``allOf``, the OpenAPI 3.0 ``nullable`` flag and ``$ref``. Schemas are
compiled once into plain closures, so validating a request does not walk the spec again.

Nullability follows the spec's intent: ``nullable: true`` admits ``null``, and so does an
``allOf`` that lists a bare ``{nullable: true}`` member.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, cast

__all__ = [
    "Check",
    "load_document",
    "RequestSchemas",
    "SchemaCompiler",
    "ValidationFailure",
    "request_schemas",
]

JSONDict = dict[str, Any]


@functools.cache
def load_document() -> dict[str, Any]:
    """The trimmed spec, read once from the package data ``openapi.json``; do not mutate it."""
    text = resources.files("assistants_client.server").joinpath("openapi.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


class ValidationFailure(Exception):
    """A value broke its schema: ``path`` names the offending field (e.g. ``body.tools[0].type``)."""

    def __init__(self, path: str, problem: str, *, wrong_type: bool = False) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
        self.wrong_type = wrong_type


# A compiled check raises ValidationFailure or returns None.
Check = Callable[[Any, str], None]

_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    type(None): "null",
    int: "integer",
    float: "number",
}


def _json_type(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _child(path: str, key: str) -> str:
    return f"{path}.{key}"


def _discriminator(branches: list[JSONDict]) -> dict[str, int] | None:
    """If every branch pins ``type`` to distinct constants, map each constant to its branch."""
    table: dict[str, int] = {}
    for index, branch in enumerate(branches):
        type_schema = branch.get("properties", {}).get("type", {})
        values = type_schema.get("enum")
        if not isinstance(values, list) or not values:
            return None
        for value in values:
            if not isinstance(value, str) or value in table:
                return None
            table[value] = index
    return table


class SchemaCompiler:
    """Compiles OpenAPI schema nodes into checks, resolving ``#/...`` references in ``root``."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._refs: dict[str, Check] = {}

    def resolve(self, ref: str) -> JSONDict:
        if not ref.startswith("#/"):
            raise ValueError(f"unsupported reference {ref!r}")
        node: Any = self._root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return cast(JSONDict, node)

    def _deref(self, schema: JSONDict) -> JSONDict:
        seen = 0
        while "$ref" in schema and len(schema) == 1 and seen < 32:
            schema = self.resolve(schema["$ref"])
            seen += 1
        return schema

    def compile_ref(self, ref: str) -> Check:
        if ref in self._refs:
            return self._refs[ref]
        holder: list[Check] = []

        def deferred(value: Any, path: str) -> None:
            holder[0](value, path)

        self._refs[ref] = deferred
        holder.append(self.compile(self.resolve(ref)))
        self._refs[ref] = holder[0]
        return holder[0]

    def compile(self, schema: Any) -> Check:
        if not isinstance(schema, dict) or not schema:
            return _accept
        checks: list[Check] = []
        nullable = bool(schema.get("nullable"))
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and any(
            isinstance(member, dict) and member.get("nullable") and len(member) == 1
            for member in all_of
        ):
            nullable = True

        if "$ref" in schema:
            checks.append(self.compile_ref(schema["$ref"]))

        declared = schema.get("type")
        if isinstance(declared, str):
            declared_types = [declared]
        elif isinstance(declared, list):
            declared_types = [str(item) for item in declared]
        else:
            declared_types = []
        if declared_types:
            allowed = tuple(declared_types)

            def check_type(value: Any, path: str) -> None:
                if not any(_is_type(value, name) for name in allowed):
                    expected = " or ".join(allowed)
                    raise ValidationFailure(
                        path,
                        f"expected {expected}, got {_json_type(value)} {_short(value)}",
                        wrong_type=True,
                    )

            checks.append(check_type)

        if "enum" in schema:
            options = list(schema["enum"])

            def check_enum(value: Any, path: str) -> None:
                for option in options:
                    if value == option and isinstance(value, bool) == isinstance(option, bool):
                        return
                raise ValidationFailure(path, f"{_short(value)} is not one of {options!r}")

            checks.append(check_enum)

        if "const" in schema:
            constant = schema["const"]

            def check_const(value: Any, path: str) -> None:
                if value != constant:
                    raise ValidationFailure(path, f"expected {constant!r}, got {_short(value)}")

            checks.append(check_const)

        checks.extend(self._object_checks(schema))
        checks.extend(self._array_checks(schema))
        checks.extend(self._scalar_checks(schema))

        if isinstance(all_of, list):
            members = [
                self.compile(member)
                for member in all_of
                if not (isinstance(member, dict) and set(member) <= {"nullable"})
            ]

            def check_all(value: Any, path: str) -> None:
                for member in members:
                    member(value, path)

            checks.append(check_all)

        for keyword in ("oneOf", "anyOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                checks.append(self._compile_union(keyword, branches))

        return _combine(checks, nullable)

    def _compile_union(self, keyword: str, branches: list[Any]) -> Check:
        compiled = [self.compile(branch) for branch in branches]
        resolved = [self._deref(b) if isinstance(b, dict) else {} for b in branches]
        table = _discriminator(resolved)
        exclusive = keyword == "oneOf"

        def check_union(value: Any, path: str) -> None:
            if table is not None and isinstance(value, dict) and isinstance(value.get("type"), str):
                index = table.get(value["type"])
                if index is None:
                    raise ValidationFailure(
                        _child(path, "type"),
                        f"{_short(value['type'])} is not one of {sorted(table)!r}",
                    )
                compiled[index](value, path)
                return
            failures: list[ValidationFailure] = []
            matches = 0
            for check in compiled:
                try:
                    check(value, path)
                except ValidationFailure as failure:
                    failures.append(failure)
                else:
                    matches += 1
                    if not exclusive:
                        return
            if matches == 1 or (matches > 1 and not exclusive):
                return
            if matches > 1:
                raise ValidationFailure(path, f"matches more than one allowed shape ({keyword})")
            # Report the failure that got deepest into the value: it is usually the useful one.
            deepest = max(failures, key=lambda f: (len(f.path), not f.wrong_type))
            if deepest.path == path:
                raise ValidationFailure(
                    path, f"does not match any allowed shape: {deepest.problem}"
                )
            raise deepest

        return check_union

    def _object_checks(self, schema: JSONDict) -> list[Check]:
        checks: list[Check] = []
        properties = schema.get("properties")
        required = schema.get("required")
        additional = schema.get("additionalProperties", True)
        if isinstance(required, list) and required:
            names = [str(name) for name in required]

            def check_required(value: Any, path: str) -> None:
                if isinstance(value, dict):
                    for name in names:
                        if name not in value:
                            raise ValidationFailure(_child(path, name), "is required")

            checks.append(check_required)
        compiled_props: dict[str, Check] = {}
        if isinstance(properties, dict):
            compiled_props = {name: self.compile(sub) for name, sub in properties.items()}
        extra: Check | None = None
        forbid_extra = additional is False
        if isinstance(additional, dict):
            extra = self.compile(additional)
        if compiled_props or forbid_extra or extra is not None:

            def check_properties(value: Any, path: str) -> None:
                if not isinstance(value, dict):
                    return
                for key, item in value.items():
                    check = compiled_props.get(key)
                    if check is not None:
                        check(item, _child(path, key))
                    elif forbid_extra:
                        raise ValidationFailure(_child(path, key), "unknown field")
                    elif extra is not None:
                        extra(item, _child(path, key))

            checks.append(check_properties)
        return checks

    def _array_checks(self, schema: JSONDict) -> list[Check]:
        checks: list[Check] = []
        items = schema.get("items")
        min_items = schema.get("minItems")
        max_items = schema.get("maxItems")
        if isinstance(items, dict):
            item_check = self.compile(items)

            def check_items(value: Any, path: str) -> None:
                if isinstance(value, list):
                    for index, item in enumerate(value):
                        item_check(item, f"{path}[{index}]")

            checks.append(check_items)
        count = _size_check(list, min_items, max_items, "items")
        if count is not None:
            checks.append(count)
        return checks

    def _scalar_checks(self, schema: JSONDict) -> list[Check]:
        checks: list[Check] = []
        length = _size_check(str, schema.get("minLength"), schema.get("maxLength"), "characters")
        if length is not None:
            checks.append(length)
        minimum = schema.get("minimum")
        maximum = schema.get("maximum")
        if isinstance(minimum, (int, float)) or isinstance(maximum, (int, float)):
            lowest = float(minimum) if isinstance(minimum, (int, float)) else -math.inf
            highest = float(maximum) if isinstance(maximum, (int, float)) else math.inf

            def check_range(value: Any, path: str) -> None:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    if value < lowest:
                        raise ValidationFailure(path, f"{value!r} is less than {minimum!r}")
                    if value > highest:
                        raise ValidationFailure(path, f"{value!r} is greater than {maximum!r}")

            checks.append(check_range)
        return checks


def _size_check(kind: type[Any], low: Any, high: Any, noun: str) -> Check | None:
    """``minLength``/``maxLength`` or ``minItems``/``maxItems`` on values of ``kind``."""
    if not isinstance(low, int) and not isinstance(high, int):
        return None
    least = low if isinstance(low, int) else 0
    most = high if isinstance(high, int) else math.inf

    def check_size(value: Any, path: str) -> None:
        if isinstance(value, kind):
            if len(value) < least:
                raise ValidationFailure(path, f"expected at least {least} {noun}")
            if len(value) > most:
                raise ValidationFailure(path, f"expected at most {most} {noun}")

    return check_size


def _accept(value: Any, path: str) -> None:
    return None


def _combine(checks: list[Check], nullable: bool) -> Check:
    if not checks:
        return _accept
    if len(checks) == 1 and not nullable:
        return checks[0]
    frozen = tuple(checks)

    def check(value: Any, path: str) -> None:
        if value is None and nullable:
            return
        for single in frozen:
            single(value, path)

    return check


class RequestSchemas:
    """The compiled request-body checks of every operation, keyed by ``operationId``."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.compiler = SchemaCompiler(document)
        self.body_checks: dict[str, Check] = {}
        self.body_required: dict[str, bool] = {}
        self.response_schemas: dict[str, str] = {}
        for methods in document.get("paths", {}).values():
            for operation in methods.values():
                if not isinstance(operation, dict) or "operationId" not in operation:
                    continue
                op_id = str(operation["operationId"])
                body = operation.get("requestBody")
                if isinstance(body, dict):
                    schema = body.get("content", {}).get("application/json", {}).get("schema")
                    if isinstance(schema, dict):
                        self.body_checks[op_id] = self._compile_body(op_id, schema)
                        self.body_required[op_id] = bool(body.get("required"))

    def _compile_body(self, op_id: str, schema: JSONDict) -> Check:
        if op_id in {"createAssistant", "modifyAssistant"}:
            # The trimmed spec dropped the assistant's optional description; the API accepts it
            # and the response carries it, so the emulator does too.
            resolved = dict(self.compiler.resolve(schema["$ref"])) if "$ref" in schema else schema
            properties = dict(resolved.get("properties", {}))
            properties["description"] = {
                "anyOf": [{"type": "string", "maxLength": 512}, {"type": "null"}]
            }
            resolved["properties"] = properties
            return self.compiler.compile(resolved)
        return self.compiler.compile(schema)

    def validate_body(self, op_id: str, body: Any) -> None:
        check = self.body_checks.get(op_id)
        if check is not None:
            check(body, "body")


@functools.lru_cache(maxsize=1)
def request_schemas() -> RequestSchemas:
    """The compiled request schemas of the bundled spec (compiled once per process)."""
    return RequestSchemas(load_document())
