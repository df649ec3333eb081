"""The operations table: one entry per operation of the spec, for the client and the emulator.

Each entry says how to call the operation (HTTP method, path template, path and query
parameters), what it takes and gives (request model, response model, and the item model of a
list), how its body and answer are encoded (``request_media_type``: JSON or a multipart form
with a file part; ``response_media_type``: JSON, or the raw bytes of a file, read as
``bytes``), and whether it can stream (its request body has a ``stream`` property). The
client's public methods, its raw-response view, the emulator's routing and the contract tests
all read this table, so an operation added to the spec shows up everywhere or fails a test
naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from codegen import naming
from codegen.overlay import BINARY_MEDIA_TYPES

HTTP_METHODS = ("get", "post", "delete")
SCHEMA_PREFIX = "#/components/schemas/"
JSON = "application/json"
MULTIPART = "multipart/form-data"
REQUEST_MEDIA_TYPES = (JSON, MULTIPART)


BYTES = "bytes"  # the response "class" of an operation that answers a file's raw bytes


class OperationError(Exception):
    """An operation the table cannot describe."""


@dataclass(frozen=True)
class OperationDef:
    operation_id: str
    name: str
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    request: str | None
    response: str
    item: str | None
    streamable: bool
    request_media_type: str | None
    response_media_type: str


def _schema_ref(node: dict[str, Any] | None, where: str) -> str | None:
    if not node:
        return None
    ref = node.get("schema", {}).get("$ref")
    if not isinstance(ref, str) or not ref.startswith(SCHEMA_PREFIX):
        raise OperationError(f"{where}: the schema must be a component reference")
    return ref[len(SCHEMA_PREFIX) :]


def request_body_of(op: dict[str, Any], where: str) -> tuple[str | None, str | None]:
    """(media type, component) of an operation's request body; (None, None) without one."""
    content = op.get("requestBody", {}).get("content", {})
    if not content:
        return None, None
    if len(content) != 1 or next(iter(content)) not in REQUEST_MEDIA_TYPES:
        raise OperationError(
            f"{where}.requestBody: one of {', '.join(REQUEST_MEDIA_TYPES)} is supported, "
            f"got {', '.join(sorted(content))}"
        )
    media_type = next(iter(content))
    return media_type, _schema_ref(content[media_type], f"{where}.requestBody")


def answer_of(op: dict[str, Any], where: str) -> tuple[str, str | None]:
    """(media type, component) of an operation's successful answer; no component for bytes.

    The answer is JSON (a component schema) or the raw bytes of a file: a binary media type
    whose schema is a binary string (what ``openapi/overlay.yaml`` says of a file's content).
    """
    found: tuple[str, str | None] | None = None
    for status, response in op.get("responses", {}).items():
        content = response.get("content") or {}
        if not str(status).startswith("2") or not content:
            continue
        if JSON in content:
            found = (JSON, _schema_ref(content[JSON], f"{where}.responses.{status}"))
            continue
        binary = sorted(m for m in content if m in BINARY_MEDIA_TYPES)
        schema = content[binary[0]].get("schema", {}) if binary else {}
        if len(content) != 1 or schema.get("type") != "string" or schema.get("format") != "binary":
            raise OperationError(
                f"{where}.responses.{status}: an answer is JSON or binary "
                f"({', '.join(BINARY_MEDIA_TYPES)} with a binary string), got "
                f"{', '.join(sorted(content))}"
            )
        found = (binary[0], None)
    if found is None:
        raise OperationError(f"{where}: no successful answer with content")
    return found


def build_operations(
    document: dict[str, Any], class_of: Any, list_item_of: Any
) -> list[OperationDef]:
    """The table, in the spec's order.

    ``class_of(component, side)`` names the generated class of a component schema;
    ``list_item_of(class_name)`` names the item class of a list response, or None.
    """
    schemas = document["components"]["schemas"]
    operations: list[OperationDef] = []
    seen: dict[str, str] = {}
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            where = f"paths.{path}.{method}"
            operation_id = op.get("operationId")
            if not isinstance(operation_id, str) or not operation_id:
                raise OperationError(f"{where}: no operationId")
            name = naming.operation_method_name(operation_id)
            if name in seen:
                raise OperationError(f"{where}: method name {name} is already {seen[name]}")
            seen[name] = operation_id
            parameters = [*item.get("parameters", []), *op.get("parameters", [])]
            path_params = tuple(re.findall(r"{(\w+)}", path))
            declared = {p.get("name") for p in parameters if p.get("in") == "path"}
            if set(path_params) != declared:
                raise OperationError(f"{where}: path parameters {path_params} are not declared")
            query = tuple(p["name"] for p in parameters if p.get("in") == "query")
            request_media_type, request_component = request_body_of(op, where)
            response_media_type, response_component = answer_of(op, where)
            response_class = (
                class_of(response_component, "response") if response_component else BYTES
            )
            streamable = (
                request_media_type == JSON
                and request_component is not None
                and "stream" in schemas[request_component].get("properties", {})
            )
            operations.append(
                OperationDef(
                    operation_id=operation_id,
                    name=name,
                    method=method.upper(),
                    path=path,
                    path_params=path_params,
                    query_params=query,
                    request=class_of(request_component, "request") if request_component else None,
                    response=response_class,
                    item=list_item_of(response_class) if response_component else None,
                    streamable=streamable,
                    request_media_type=request_media_type,
                    response_media_type=response_media_type,
                )
            )
    return operations


def render_operations(operations: list[OperationDef], header: str) -> str:
    lines = [
        header + '"""The operations of the API: one entry per operation of the spec."""\n',
        "from typing import Any\n",
        "from assistants_client._operation import ListOperation, Operation\n",
        "from . import requests as _rq",
        "from . import responses as _rs\n",
    ]
    names = [op.name.upper() for op in operations]
    lines.append("__all__ = [" + ", ".join(repr(n) for n in sorted([*names, "OPERATIONS"])) + "]\n")
    for op in operations:
        request = f"_rq.{op.request}" if op.request else "None"
        response = op.response if op.response == BYTES else f"_rs.{op.response}"
        if op.item is not None:
            annotation = f"ListOperation[{response}, _rs.{op.item}]"
            constructor = "ListOperation"
            item = f"    item=_rs.{op.item},\n"
        else:
            annotation = f"Operation[{response}]"
            constructor = "Operation"
            item = ""
        lines.append(
            f"{op.name.upper()}: {annotation} = {constructor}(\n"
            f"    id={op.operation_id!r},\n"
            f"    name={op.name!r},\n"
            f"    method={op.method!r},\n"
            f"    path={op.path!r},\n"
            f"    path_params={op.path_params!r},\n"
            f"    query_params={op.query_params!r},\n"
            f"    request={request},\n"
            f"    response={response},\n"
            f"{item}"
            f"    streamable={op.streamable!r},\n"
            f"    request_media_type={op.request_media_type!r},\n"
            f"    response_media_type={op.response_media_type!r},\n"
            ")\n"
        )
    lines.append("# Every operation, in the order of the spec.")
    lines.append(
        "OPERATIONS: tuple[Operation[Any], ...] = ("
        + ", ".join(names)
        + ("," if names else "")
        + ")"
    )
    return "\n".join(lines) + "\n"
