"""The spec as plain JSON Schema, and validators for its response schemas.

Two readings of the spec's response schemas:

* what a server must send (:func:`served_document`, used by :func:`assert_valid` and the
  functions built on it): every property the spec requires is required, and what the live API
  sends beyond the spec (the overlay's nulls and added properties, ``openapi/overlay.yaml``) is
  allowed. A client written to the spec breaks on a missing field, and none breaks on a field
  that is there, so a server sends both;
* what a client must read (:func:`converted_document`): the overlay applied whole, the
  properties servers leave out optional (what Azure AI Foundry's lists leave out, for one).

:func:`spec_paths` gives the key paths the spec declares for an object, for the tests that
compare an answer's keys with recorded ones (spec and recordings together).
"""

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


# The overlay's trace of a property the spec requires and some servers leave out.
OVERLAY_OPTIONAL = "x-overlay-optional"


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


def _null_cursors(document: dict[str, Any]) -> dict[str, Any]:
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
    return document


@functools.lru_cache(maxsize=1)
def converted_document() -> dict[str, Any]:
    """The spec as a client reads it: the overlay applied whole (see the module docstring)."""
    document = _null_cursors(copy.deepcopy(load_document()))
    return to_json_schema(document)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1)
def served_document() -> dict[str, Any]:
    """The spec as a server must answer it: every property the spec requires is required
    again (the overlay's ``optional`` entries undone), its nulls and additions kept."""
    document = _null_cursors(copy.deepcopy(load_document()))
    for schema in document["components"]["schemas"].values():
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(properties, dict):
            continue
        required = list(schema.get("required", []))
        for name, prop in properties.items():
            if isinstance(prop, dict) and prop.get(OVERLAY_OPTIONAL) and name not in required:
                required.append(name)
        if required:
            schema["required"] = required
    return to_json_schema(document)  # type: ignore[no-any-return]


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": document["components"]})


@functools.cache
def validator(schema_name: str, *, served: bool = True) -> Draft202012Validator:
    document = served_document() if served else converted_document()
    return _validator(document, {"$ref": f"#/components/schemas/{schema_name}"})


def assert_valid(schema_name: str, instance: Any, *, served: bool = True) -> None:
    """``instance`` is a valid ``schema_name``: as a server must send it (``served``), or as
    a client must read it."""
    errors = sorted(
        validator(schema_name, served=served).iter_errors(instance), key=lambda e: list(e.path)
    )
    if errors:
        details = "\n".join(_why(error) for error in errors[:5])
        raise AssertionError(f"not a valid {schema_name}:\n{details}")


def _why(error: jsonschema.ValidationError) -> str:
    """The error, or of a union none of whose variants fit, why the closest one does not."""
    while error.context:
        error = jsonschema.exceptions.best_match(error.context)
    return f"{list(error.absolute_path)}: {error.message[:300]}"


@functools.lru_cache(maxsize=1)
def response_schemas() -> dict[str, str]:
    """operationId -> the name of its 200 JSON response schema (an operation that answers
    something else, a file's bytes, has none)."""
    names: dict[str, str] = {}
    for methods in load_document()["paths"].values():
        for operation in methods.values():
            if isinstance(operation, dict) and "operationId" in operation:
                content = operation["responses"].get("200", {}).get("content", {})
                ref = content.get("application/json", {}).get("schema", {}).get("$ref")
                if isinstance(ref, str):
                    names[operation["operationId"]] = ref.rsplit("/", 1)[-1]
    return names


def assert_response_valid(operation_id: str, instance: Any, *, served: bool = True) -> None:
    """``instance`` is a valid answer of ``operation_id``, with every field the spec requires
    (``served``: the default), or as a client must read it."""
    assert_valid(response_schemas()[operation_id], instance, served=served)


def assert_event_valid(event: str, data: Any) -> None:
    assert_valid("AssistantStreamEvent", {"event": event, "data": data})


# -- the spec's key paths --------------------------------------------------------------------

# Maps whose keys are chosen by the caller, not by the API.
OPEN_MAPS = frozenset({"metadata", "parameters"})


def key_paths(value: Any) -> list[str]:
    """Every key of ``value`` as a path, in order of first appearance.

    A list's items share the path ``name[]``. An object with a string ``type`` is a variant of a
    union and adds ``<type>`` to its path (``step_details<tool_calls>.tool_calls[]<function>``),
    so that different variants are never mistaken for one another. The keys inside the
    caller's own maps (``OPEN_MAPS``) are not paths of the API's.
    """
    found: list[str] = []

    def walk(node: Any, at: str) -> None:
        if isinstance(node, dict):
            tag = node.get("type")
            if isinstance(tag, str):
                at = f"{at}<{tag}>"
            for key, item in node.items():
                path = f"{at}.{key}" if at else key
                found.append(path)
                if key not in OPEN_MAPS:
                    walk(item, path)
        elif isinstance(node, list):
            for item in node:
                walk(item, f"{at}[]")

    walk(value, "")
    return list(dict.fromkeys(found))


@functools.lru_cache(maxsize=1)
def schemas_by_kind() -> dict[str, str]:
    """The schema of each kind of object (its ``object`` field: ``thread.run`` is a
    ``RunObject``), from the schemas whose ``object`` property has one value."""
    found: dict[str, str] = {}
    for name, schema in load_document()["components"]["schemas"].items():
        prop = (schema.get("properties") or {}).get("object") if isinstance(schema, dict) else None
        values = prop.get("enum") if isinstance(prop, dict) else None
        if isinstance(values, list) and len(values) == 1 and values[0] != "list":
            found.setdefault(values[0], name)
    return found


def spec_paths(value: Any, schema_name: str) -> set[str]:
    """The key paths of ``value`` (as :func:`key_paths` writes them) that the spec declares
    for a ``schema_name`` (the overlay's additions included); of a union, the variant
    ``value`` is valid against."""
    document = served_document()
    schemas = document["components"]["schemas"]
    found: set[str] = set()

    def resolve(schema: Any) -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def walk(node: Any, schema: Any, at: str) -> None:
        schema = resolve(schema)
        if not isinstance(schema, dict):
            return
        for union in ("anyOf", "oneOf"):
            for branch in schema.get(union, ()):
                if _valid_against(document, resolve(branch), node):
                    walk(node, branch, at)
                    break
        for part in schema.get("allOf", ()):
            walk(node, part, at)
        if isinstance(node, dict):
            tag = node.get("type")
            if isinstance(tag, str):
                at = f"{at}<{tag}>"
            properties = schema.get("properties") or {}
            for key, item in node.items():
                if key in properties:
                    path = f"{at}.{key}" if at else key
                    found.add(path)
                    if key not in OPEN_MAPS:
                        walk(item, properties[key], path)
        elif isinstance(node, list) and "items" in schema:
            for item in node:
                walk(item, schema["items"], f"{at}[]")

    walk(value, {"$ref": f"#/components/schemas/{schema_name}"}, "")
    return found


def _valid_against(document: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    return bool(_branch_validator(id(schema), document, schema).is_valid(value))


_BRANCHES: dict[int, Draft202012Validator] = {}


def _branch_validator(
    key: int, document: dict[str, Any], schema: dict[str, Any]
) -> Draft202012Validator:
    found = _BRANCHES.get(key)
    if found is None:
        found = _BRANCHES[key] = _validator(document, schema)
    return found


def spec_paths_of_object(value: dict[str, Any]) -> set[str]:
    """:func:`spec_paths` of an API object, its schema told by its ``object`` field."""
    name = schemas_by_kind().get(str(value.get("object")))
    return spec_paths(value, name) if name is not None else set()


__all__ = [
    "OPEN_MAPS",
    "assert_event_valid",
    "assert_response_valid",
    "assert_valid",
    "converted_document",
    "jsonschema",
    "key_paths",
    "response_schemas",
    "schemas_by_kind",
    "served_document",
    "spec_paths",
    "spec_paths_of_object",
    "to_json_schema",
]
