"""The two documents Prism serves, and where Prism stops validating the first one.

openapi/assistants.yaml is OpenAPI 3.1 but keeps some OpenAPI 3.0 ``nullable: true`` flags on
schemas without a ``type`` (``allOf: [{$ref}, {nullable: true}]``, ``{$ref, nullable: true}``,
``anyOf: [...], nullable: true``). Prism compiles schemas with Ajv, which rejects such a schema
("nullable" cannot be used without "type"); Prism then skips that validation silently. So, as
is, Prism checks neither the request bodies of createRun and createThreadAndRun nor the 200
answer of any operation returning a run (see ``unvalidated_by_prism``).

``nullable_as_31`` rewrites each flag the way the generated models read it (``X`` or null, as
``anyOf: [X, {type: null}]``), which Prism validates fully. The contract tests run against both.
"""

from __future__ import annotations

from typing import Any

# Keys that only document a schema; they stay on the outside of the rewritten schema.
_DOC_KEYS = frozenset({"description", "title", "example", "examples", "default", "deprecated"})


def _is_null_flag(node: Any) -> bool:
    """``{nullable: true}`` alone (documentation aside), as in ``allOf: [{$ref}, {nullable}]``."""
    return (
        isinstance(node, dict)
        and node.get("nullable") is True
        and not set(node) - {"nullable"} - _DOC_KEYS
    )


def nullable_as_31(node: Any) -> Any:
    """A copy of ``node`` where every ``nullable: true`` becomes ``anyOf: [X, {type: null}]``."""
    if isinstance(node, list):
        return [nullable_as_31(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    parts = node.get("allOf")
    if isinstance(parts, list) and any(_is_null_flag(part) for part in parts):
        node["allOf"] = [part for part in parts if not _is_null_flag(part)]
        node["nullable"] = True
    nullable = node.pop("nullable", None) is True
    node = {key: nullable_as_31(value) for key, value in node.items()}
    if not nullable:
        return node
    outer = {key: value for key, value in node.items() if key in _DOC_KEYS}
    inner = {key: value for key, value in node.items() if key not in _DOC_KEYS}
    return {**outer, "anyOf": [inner, {"type": "null"}]}


def _schemas_reached(document: dict[str, Any], root: Any) -> list[Any]:
    """Every schema node reachable from ``root``, following ``$ref``s within the document."""
    seen: set[str] = set()
    found: list[Any] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            found.append(node)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
                seen.add(ref)
                target: Any = document
                for part in ref[2:].split("/"):
                    target = target[part]
                stack.append(target)
            stack.extend(value for key, value in node.items() if key != "$ref")
    return found


def _ajv_rejects(schema_root: Any, document: dict[str, Any]) -> bool:
    # A bare ``{nullable: true}`` member of an ``allOf`` passes: Prism still validates the
    # modifyVectorStore body, whose only flag is one (``expires_after``).
    return any(
        node.get("nullable") is True and "type" not in node and not _is_null_flag(node)
        for node in _schemas_reached(document, schema_root)
    )


def unvalidated_by_prism(document: dict[str, Any]) -> set[str]:
    """``"<operationId> request"`` / ``"<operationId> response"`` for every JSON body schema
    that Ajv cannot compile (``nullable`` without ``type``), so that Prism does not check."""
    found = set()
    for item in document["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and _ajv_rejects(body["schema"], document):
                found.add(f"{operation['operationId']} request")
            answer = operation["responses"].get("200", {}).get("content", {})
            if "application/json" in answer and _ajv_rejects(
                answer["application/json"]["schema"], document
            ):
                found.add(f"{operation['operationId']} response")
    return found
