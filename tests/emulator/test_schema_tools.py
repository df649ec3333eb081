"""The emulator's own request validator and its sample-value generator."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from assistants_client.emulator.samples import generate_value
from assistants_client.server.validation import (
    SchemaCompiler,
    ValidationFailure,
    request_schemas,
)


def _check(schema: dict[str, Any], value: Any) -> str | None:
    try:
        SchemaCompiler({}).compile(schema)(value, "body")
    except ValidationFailure as failure:
        return failure.path
    return None


def test_nullable_admits_null_only_where_declared() -> None:
    assert _check({"type": "string", "nullable": True}, None) is None
    assert _check({"type": "string"}, None) == "body"


def test_an_all_of_with_a_nullable_member_admits_null_and_checks_the_rest() -> None:
    schema = {"allOf": [{"type": "object", "required": ["type"]}, {"nullable": True}]}
    assert _check(schema, None) is None
    assert _check(schema, {}) == "body.type"


def test_booleans_are_not_integers_and_integral_floats_are() -> None:
    assert _check({"type": "integer"}, True) == "body"
    assert _check({"type": "integer"}, 3.0) is None
    assert _check({"type": "number"}, False) == "body"


def test_one_of_rejects_values_matching_two_branches() -> None:
    schema = {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 5}]}
    assert _check(schema, "abc") == "body"
    assert _check(schema, "abcdefgh") is None


def test_references_resolve_against_the_document_root() -> None:
    root = {"defs": {"Name": {"type": "string", "minLength": 2}}}
    check = SchemaCompiler(root).compile(
        {"type": "object", "properties": {"n": {"$ref": "#/defs/Name"}}}
    )
    with pytest.raises(ValidationFailure) as caught:
        check({"n": "x"}, "body")
    assert caught.value.path == "body.n"


def test_every_operation_with_a_body_has_a_compiled_check() -> None:
    compiled = request_schemas()
    assert set(compiled.body_checks) == {
        "createAssistant",
        "modifyAssistant",
        "createThread",
        "createThreadAndRun",
        "modifyThread",
        "createMessage",
        "modifyMessage",
        "createRun",
        "modifyRun",
        "submitToolOuputsToRun",
        "createVectorStore",
        "modifyVectorStore",
        "createVectorStoreFile",
        "updateVectorStoreFileAttributes",
        "createVectorStoreFileBatch",
        "searchVectorStore",
    }
    # An upload's body is a multipart form, not JSON: it has no JSON check.
    assert "createFile" not in compiled.body_checks


def test_a_search_body_with_nested_filters_is_checked_through_the_recursive_schema() -> None:
    compiled = request_schemas()
    nested = {
        "type": "and",
        "filters": [{"type": "or", "filters": [{"type": "eq", "key": "k", "value": 1}]}],
    }
    compiled.validate_body("searchVectorStore", {"query": "q", "filters": nested})
    bad = {"type": "and", "filters": [{"type": "or", "filters": [{"type": "xor"}]}]}
    with pytest.raises(ValidationFailure, match="filters"):
        compiled.validate_body("searchVectorStore", {"query": "q", "filters": bad})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string", "format": "date-time"}}},
        {"type": "array", "items": {"type": "integer", "minimum": 5}, "minItems": 3},
        {"type": ["null", "number"], "exclusiveMinimum": 0, "maximum": 0.5},
        {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
        {"enum": ["x", "y"]},
        {"const": 7},
        {"type": "string", "minLength": 10, "maxLength": 12},
        {
            "type": "object",
            "properties": {"child": {"$ref": "#/definitions/node"}},
            "required": ["child"],
            "definitions": {"node": {"type": "object", "properties": {"v": {"type": "integer"}}}},
        },
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
            ]
        },
    ],
)
def test_generated_values_are_valid_for_their_schema(schema: dict[str, Any]) -> None:
    jsonschema.validate(generate_value(schema), schema)


def test_string_hints_fill_named_properties() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    assert generate_value(schema, hints={"city": "Oslo"}) == {"city": "Oslo"}
