"""Round trip: every spec-valid response parses and writes back the same JSON.

Instances come from hypothesis strategies built from the response schemas of
openapi/assistants.yaml (tests/models/schema_strategies.py),
widened so that they also carry what newer servers send: random extra fields (objects are open),
enum values the spec does not list, and union members with tags the spec does not list.

Documented normalisations: none are needed for these payloads; `to_dict(from_dict(d)) == d`
holds exactly (Python equality, so the integer 1 and the float 1.0 compare equal).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistants_client import models
from assistants_client.server.validation import load_document
from codegen.naming import schema_class_name, union_base_name
from tests.models.schema_strategies import from_schema

SCHEMAS: dict[str, Any] = load_document()["components"]["schemas"]
DROP = {"description", "title", "example", "examples", "deprecated", "format", "default"}
RESPONSE_ROOTS = [
    "AssistantObject",
    "ListAssistantsResponse",
    "DeleteAssistantResponse",
    "ThreadObject",
    "DeleteThreadResponse",
    "MessageObject",
    "ListMessagesResponse",
    "DeleteMessageResponse",
    "RunObject",
    "ListRunsResponse",
    "RunStepObject",
    "ListRunStepsResponse",
    "ErrorResponse",
    "AssistantStreamEvent",
    "MessageDeltaObject",
    "RunStepDeltaObject",
    "OpenAIFile",
    "ListFilesResponse",
    "DeleteFileResponse",
    "VectorStoreObject",
    "ListVectorStoresResponse",
    "DeleteVectorStoreResponse",
    "VectorStoreFileObject",
    "ListVectorStoreFilesResponse",
    "DeleteVectorStoreFileResponse",
    "VectorStoreFileContentResponse",
    "VectorStoreFileBatchObject",
    "VectorStoreSearchResultsPage",
]


def _target(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return SCHEMAS[ref.rsplit("/", 1)[-1]] if ref else node


def _tag(node: dict[str, Any]) -> tuple[str, str] | None:
    props = _target(node).get("properties", {})
    for name in ("type", "event"):
        enum = props.get(name, {}).get("enum")
        if isinstance(enum, list) and len(enum) == 1:
            return name, enum[0]
    return None


def _tags_of(variants: list[dict[str, Any]]) -> tuple[str, list[str]] | None:
    tags: list[str] = []
    names: set[str] = set()
    for variant in variants:
        target = _target(variant)
        if "oneOf" in target and "properties" not in target:
            inner = _tags_of(target["oneOf"])
            if inner is None:
                return None
            names.add(inner[0])
            tags += inner[1]
            continue
        tag = _tag(variant)
        if tag is None:
            return None
        names.add(tag[0])
        tags.append(tag[1])
    return (names.pop(), tags) if len(names) == 1 else None


def widen(node: Any, *, top: bool = True) -> Any:
    """OpenAPI 3.0/3.1 mix -> JSON Schema, widened with unknown enum values and tags."""
    if isinstance(node, list):
        return [widen(v, top=False) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: widen(sub, top=False) for name, sub in value.items()}
        elif key not in DROP and not key.startswith("x-"):
            out[key] = widen(value, top=False)
    if "$ref" in out:
        out["$ref"] = "#/$defs/" + out["$ref"].rsplit("/", 1)[-1]
    enum = node.get("enum")
    if enum is not None and node.get("type") == "string" and not node.get("x-stainless-const"):
        out = {"anyOf": [out, {"type": "string", "enum": ["a_future_value", "other"]}]}
    if "oneOf" in node and _tags_of(node["oneOf"]) is not None:
        tag_name, _known = _tags_of(node["oneOf"])  # type: ignore[misc]
        out["oneOf"] = [
            *out["oneOf"],
            {
                "type": "object",
                "properties": {
                    tag_name: {"type": "string", "enum": ["future_kind", "future.event"]}
                },
                "required": [tag_name],
            },
        ]
    if "allOf" in out and any(p.get("nullable") for p in node["allOf"]):
        refs = [p for p in out["allOf"] if "$ref" in p]
        out = {"anyOf": [*refs, {"type": "null"}]}
    if node.get("nullable"):
        inner = {k: v for k, v in out.items() if k != "nullable"}
        out = {"anyOf": [inner, {"type": "null"}]}
    return out


DEFS = {name: widen(copy.deepcopy(schema)) for name, schema in SCHEMAS.items()}


def strategy_for(component: str) -> st.SearchStrategy[Any]:
    schema = {"$defs": DEFS, "$ref": f"#/$defs/{component}"}
    return from_schema(schema)


def reader_of(name: str) -> Any:
    """The class that reads a component: a union (a type alias) is read by its variants' base."""
    found = getattr(models, name)
    return found if isinstance(found, type) else getattr(models, union_base_name(name))


@pytest.mark.parametrize("component", RESPONSE_ROOTS)
def test_spec_valid_responses_round_trip_through_the_models(component: str) -> None:
    cls = reader_of(schema_class_name(component))

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )
    @given(strategy_for(component))
    def round_trip(payload: Any) -> None:
        parsed = cls.from_dict(payload)
        assert parsed.to_dict() == payload

    round_trip()
