"""The spec as plain JSON Schema, and validators for its response schemas."""

from __future__ import annotations

import copy
import functools
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from assistants_client.server.validation import load_document


def to_json_schema(node: Any) -> Any:
    """Rewrite the OpenAPI 3.0 ``nullable: true`` flag as ``anyOf [..., {type: null}]``.

    ``allOf: [{$ref}, {nullable: true}]`` (a nullable reference) becomes
    ``anyOf: [{$ref}, {type: null}]``, as the generated models read it.
    """
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    parts = node.get("allOf")
    if isinstance(parts, list) and any(p.get("nullable") is True for p in parts):
        kept = [to_json_schema(p) for p in parts if set(p) - {"nullable"}]
        return {"anyOf": [*kept, {"type": "null"}]}
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


# The overlay makes the cursors of an empty page nullable only for run lists, the one list whose
# empty page was recorded (reference/responses/get_threads_thread_id_runs--3.json). The API
# pages every list the same way, and the emulator answers an empty page of any list with null
# cursors, so these checks allow it for all four (the client reads null there tolerantly).
_LIST_SCHEMAS = (
    "ListAssistantsResponse",
    "ListMessagesResponse",
    "ListRunsResponse",
    "ListRunStepsResponse",
    "ListFilesResponse",
    "ListVectorStoresResponse",
    "ListVectorStoreFilesResponse",
)


def _without_misplaced_keywords(node: Any) -> None:
    """Drop ``minItems`` where the spec puts it on a string (``VectorStoreSearchRequest``'s
    query items): it constrains nothing there, and schema-driven generators choke on it."""
    if isinstance(node, list):
        for item in node:
            _without_misplaced_keywords(item)
    elif isinstance(node, dict):
        if node.get("type") == "string":
            node.pop("minItems", None)
        for value in node.values():
            _without_misplaced_keywords(value)


@functools.lru_cache(maxsize=1)
def converted_document() -> dict[str, Any]:
    document = copy.deepcopy(load_document())
    schemas = document["components"]["schemas"]
    for name in _LIST_SCHEMAS:
        properties = schemas[name]["properties"]
        for cursor in ("first_id", "last_id"):
            properties[cursor]["nullable"] = True
    # The spec lets a file be uploaded for `evals`, a purpose its file object does not list:
    # a file is answered with the purpose it was uploaded with.
    purposes = schemas["OpenAIFile"]["properties"]["purpose"]["enum"]
    uploads = schemas["CreateFileRequest"]["properties"]["purpose"]["enum"]
    purposes.extend(purpose for purpose in uploads if purpose not in purposes)
    _without_misplaced_keywords(document)
    return to_json_schema(document)  # type: ignore[no-any-return]


@functools.cache
def validator(schema_name: str) -> Draft202012Validator:
    components = converted_document()["components"]
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    return Draft202012Validator(root)


def assert_valid(schema_name: str, instance: Any) -> None:
    errors = sorted(validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        details = "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
        raise AssertionError(f"not a valid {schema_name}:\n{details}")


@functools.lru_cache(maxsize=1)
def response_schemas() -> dict[str, str]:
    """operationId -> the name of its 200 response schema (a file's raw content has none)."""
    names: dict[str, str] = {}
    for methods in load_document()["paths"].values():
        for operation in methods.values():
            if isinstance(operation, dict) and "operationId" in operation:
                answer = operation["responses"]["200"]["content"].get("application/json")
                if answer is not None:
                    names[operation["operationId"]] = answer["schema"]["$ref"].rsplit("/", 1)[-1]
    return names


def assert_response_valid(operation_id: str, instance: Any) -> None:
    assert_valid(response_schemas()[operation_id], instance)


def assert_event_valid(event: str, data: Any) -> None:
    assert_valid("AssistantStreamEvent", {"event": event, "data": data})


__all__ = [
    "assert_event_valid",
    "assert_response_valid",
    "assert_valid",
    "converted_document",
    "jsonschema",
    "response_schemas",
    "to_json_schema",
]
