"""Uploads, binary answers, JSON-kind unions, bounded maps and nested filters, generated.

Each construct on a tiny inline spec: generate, import the result and use it (as in
test_functional.py).
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from cattrs import BaseValidationError

from assistants_client._exceptions import ModelValidationError
from assistants_client._model_base import OMIT
from assistants_client._uploads import FileUpload
from codegen.generate import CodegenError, render
from codegen.overlay import OverlayError, apply_overlay, load_overlay
from tests.codegen.conftest import spec_with

FILE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "filename": {"type": "string"},
    },
    "required": ["id", "filename"],
}
UPLOAD = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "purpose": {"type": "string", "enum": ["assistants", "batch"]},
        "expires_after": {
            "type": "object",
            "properties": {
                "anchor": {"type": "string", "enum": ["created_at"], "x-stainless-const": True},
                "seconds": {"type": "integer", "minimum": 3600, "maximum": 7200},
            },
            "required": ["anchor", "seconds"],
        },
    },
    "required": ["file", "purpose"],
}


def files_spec(upload: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST /files (a multipart upload) and GET /files/{file_id}/content (declared JSON)."""
    ref = {"$ref": "#/components/schemas/File"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/files": {
                "post": {
                    "operationId": "createFile",
                    "requestBody": {
                        "content": {
                            "multipart/form-data": {
                                "schema": {"$ref": "#/components/schemas/Upload"}
                            }
                        }
                    },
                    "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
                }
            },
            "/files/{file_id}/content": {
                "get": {
                    "operationId": "downloadFile",
                    "parameters": [{"in": "path", "name": "file_id", "required": True}],
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"type": "string"}}}}
                    },
                }
            },
        },
        "components": {"schemas": {"File": FILE, "Upload": upload or UPLOAD}},
    }


BYTES_OVERLAY = {
    "answers": [
        {
            "operation": "downloadFile",
            "media_type": "application/octet-stream",
            "evidence": ["a recording that shows the raw bytes"],
        }
    ]
}


def table_of(g: Any) -> Any:
    return __import__(g.package.__name__ + ".operations", fromlist=["OPERATIONS"])


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(BYTES_OVERLAY), encoding="utf-8")
    return path


# -- uploads and binary answers ----------------------------------------------------------------


def test_a_multipart_body_becomes_a_request_model_with_a_file_field(
    generate: Any, overlay: Path, tmp_path: Path
) -> None:
    g = generate(files_spec())
    upload = table_of(g).UPLOAD_FILE
    assert upload.request_media_type == "multipart/form-data"
    assert upload.request is g.Upload and upload.response is g.File
    assert attrs_type(g.Upload, "file") is FileUpload
    source = FileUpload.of(b"hello", filename="a.txt")
    body = g.Upload.from_dict({"file": source, "purpose": "assistants"})
    assert body.to_dict() == {"file": source, "purpose": "assistants"}
    with pytest.raises(ModelValidationError, match="expected a file to upload"):
        g.Upload.from_dict({"file": b"raw bytes are no upload", "purpose": "assistants"})
    with pytest.raises(ValueError, match="purpose"):
        g.Upload(file=source, purpose="fine-tune")
    with pytest.raises(ValueError, match="seconds: must be <= 7200"):
        g.Upload.from_dict({"file": source, "purpose": "batch", "expires_after": {"seconds": 9000}})


def test_a_binary_answer_declared_by_the_overlay_is_read_as_bytes(
    generate: Any, overlay: Path
) -> None:
    download = table_of(generate(files_spec())).GET_FILE_CONTENT
    assert download.response is bytes
    assert download.response_media_type == "application/octet-stream"
    assert download.request is None and download.request_media_type is None
    assert download.path_params == ("file_id",)


def test_without_the_overlay_a_json_string_answer_is_refused_naming_the_operation() -> None:
    with pytest.raises(CodegenError, match=re.escape("/files/{file_id}/content")):
        render(files_spec())


def test_the_overlay_keeps_what_the_spec_declared_and_refuses_an_unknown_operation(
    overlay: Path,
) -> None:
    document = apply_overlay(files_spec(), load_overlay(overlay))
    answer = document["paths"]["/files/{file_id}/content"]["get"]["responses"]["200"]
    assert answer["content"] == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    assert answer["x-overlay-media-type"] == "application/json"
    wrong = {"answers": [{**BYTES_OVERLAY["answers"][0], "operation": "getNothing"}]}
    overlay.write_text(yaml.safe_dump(wrong), encoding="utf-8")
    with pytest.raises(OverlayError, match="getNothing"):
        apply_overlay(files_spec(), load_overlay(overlay))
    no_evidence = {"answers": [{"operation": "downloadFile", "media_type": "text/plain"}]}
    overlay.write_text(yaml.safe_dump(no_evidence), encoding="utf-8")
    with pytest.raises(OverlayError, match="media_type"):
        load_overlay(overlay)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"type": "array", "items": {"type": "object", "properties": {}}}, "form field"),
        ({"type": "object", "properties": {"deep": {"type": "array"}}}, "form field"),
    ],
    ids=["list-of-objects", "object-of-lists"],
)
def test_a_form_carries_only_scalars_files_and_objects_of_scalars(
    field: dict[str, Any], message: str
) -> None:
    upload = {**UPLOAD, "properties": {**UPLOAD["properties"], "extra": field}}
    with pytest.raises(CodegenError, match=message) as info:
        render(apply_overlay(files_spec(upload), load_overlay_from(BYTES_OVERLAY)))
    assert "Upload.extra" in str(info.value)


def test_a_file_in_a_json_body_is_refused() -> None:
    schemas = {"Req": {"type": "object", "properties": {"file": UPLOAD["properties"]["file"]}}}
    with pytest.raises(CodegenError, match="only sent in a form"):
        render(spec_with(schemas, request="Req", response="Req"))


# -- a free-form object that servers fill in ----------------------------------------------------

FREE_FORM = {
    "Call": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "found": {
                "type": "object",
                "description": "For now, always an empty object.",
                "x-oaiTypeLabel": "map",
            },
        },
        "required": ["id", "found"],
    },
    "Hit": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "score": {"type": "number"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["name"],
    },
}
DESCRIBED = {
    "type": "object",
    "description": "What the search found.",
    "properties": {
        "query": {"type": "string"},
        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
    },
}


def describe_overlay(**entry: Any) -> dict[str, Any]:
    return {
        "deviations": [
            {
                "schema": "Call",
                "property": "found",
                "describe": DESCRIBED,
                "evidence": ["a recording where `found` carries query and hits"],
                **entry,
            }
        ]
    }


def test_a_described_free_form_object_is_a_class_in_answers_and_stays_free_in_requests(
    generate: Any, tmp_path: Path
) -> None:
    (tmp_path / "overlay.yaml").write_text(yaml.safe_dump(describe_overlay()), encoding="utf-8")
    g = generate(spec_with(FREE_FORM, request="Call", response="Call"))
    found_class = typing.get_type_hints(g.Call)["found"]
    assert found_class.__doc__ == "What the search found."
    payload = {"id": "c1", "found": {"query": "cake", "hits": [{"name": "a.txt", "score": 0.5}]}}
    call = g.Call.from_dict(payload)
    assert isinstance(call.found, found_class) and call.found.query == "cake"
    assert isinstance(call.found.hits[0], g.Hit) and call.found.hits[0].score == 0.5
    assert call.to_dict() == payload
    # Absent stays absent, and unknown keys are kept.
    for sparse in ({}, {"hits": []}, {"query": "q", "page": 2}):
        read = g.Call.from_dict({"id": "c1", "found": sparse})
        assert read.to_dict() == {"id": "c1", "found": sparse}
    with pytest.raises(ModelValidationError, match=r"found\.hits\[0\]"):
        g.Call.from_dict({"id": "c1", "found": {"hits": [{"score": 1}]}})
    # What servers fill in binds no request: the request class keeps the spec's free object.
    assert typing.get_type_hints(g.CallParam)["found"] == dict[str, Any]
    assert g.CallParam(id="c1", found={"anything": [1]}).to_dict()["found"] == {"anything": [1]}


def test_describe_keeps_the_specs_schema_as_a_trace() -> None:
    document = apply_overlay(
        spec_with(FREE_FORM, response="Call"), load_overlay_from(describe_overlay())
    )
    found = document["components"]["schemas"]["Call"]["properties"]["found"]
    assert found["properties"] == DESCRIBED["properties"]
    assert found["description"] == "What the search found."
    assert found["x-overlay-described"] == FREE_FORM["Call"]["properties"]["found"]


@pytest.mark.parametrize(
    ("schema", "entry", "message"),
    [
        ("Call", {"property": "id"}, "only a free-form object can be described"),
        ("Hit", {"property": "labels"}, "only a free-form object can be described"),
        ("Call", {"property": "missing"}, "no such property"),
    ],
    ids=["a-string", "a-map", "no-property"],
)
def test_describe_refuses_a_property_the_spec_already_types(
    schema: str, entry: dict[str, Any], message: str
) -> None:
    overlay = describe_overlay(schema=schema, **entry)
    with pytest.raises(OverlayError, match=message):
        apply_overlay(spec_with(FREE_FORM, response="Call"), load_overlay_from(overlay))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"nullable": True}, "goes alone"),
        ({"describe": {"type": "object"}}, "an object schema with properties"),
        ({"describe": ["not", "a", "schema"]}, "is a schema"),
    ],
    ids=["with-nullable", "no-properties", "not-a-mapping"],
)
def test_a_describe_entry_is_one_object_schema_alone(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(OverlayError, match=message):
        load_overlay_from(describe_overlay(**entry))


# -- values of several JSON kinds, and maps --------------------------------------------------


KINDS = {
    "Cond": {
        "type": "object",
        "properties": {
            "value": {
                "oneOf": [
                    {"type": "string", "maxLength": 3},
                    {"type": "number"},
                    {"type": "boolean"},
                    {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
                ]
            },
            "attributes": {
                "anyOf": [
                    {
                        "type": "object",
                        "maxProperties": 2,
                        "propertyNames": {"type": "string", "maxLength": 3},
                        "additionalProperties": {
                            "oneOf": [
                                {"type": "string", "maxLength": 4},
                                {"type": "number"},
                                {"type": "boolean"},
                            ]
                        },
                    },
                    {"type": "null"},
                ]
            },
        },
    }
}


def test_a_one_of_over_plain_json_kinds_is_a_union_read_by_the_kind(generate: Any) -> None:
    g = generate(spec_with(KINDS, request="Cond", response="Cond"))
    hints = typing.get_type_hints(g.Cond)
    assert hints["value"] == str | float | bool | list[str | float] | None
    request_hints = typing.get_type_hints(g.CondParam)
    assert request_hints["value"] == str | float | bool | list[str | float] | type(OMIT)
    for value in ("abcdef", 1, 2.5, False, ["a", 3]):
        assert g.load(g.Cond, {"value": value}).value == value
    assert type(g.load(g.Cond, {"value": True}).value) is bool
    with pytest.raises(BaseValidationError):
        g.load(g.Cond, {"value": {"nested": "object"}})
    # A request checks the string kind's own bound, and only on strings.
    g.CondParam(value=12345)
    with pytest.raises(ValueError, match="value: at most 3 characters"):
        g.CondParam(value="abcd")


def test_a_bounded_map_checks_its_size_its_keys_and_its_string_values(generate: Any) -> None:
    g = generate(spec_with(KINDS, request="Cond", response="Cond"))
    assert g.CondParam(attributes={"a": "abcd", "b": 1.5}).attributes == {"a": "abcd", "b": 1.5}
    assert g.CondParam(attributes=None).attributes is None
    with pytest.raises(ValueError, match="attributes: at most 2 keys allowed, got 3"):
        g.CondParam(attributes={"a": 1, "b": 2, "c": 3})
    with pytest.raises(ValueError, match=r"attributes\[key 'long'\]: at most 3 characters"):
        g.CondParam(attributes={"long": 1})
    with pytest.raises(ValueError, match=r"attributes\['a'\]: at most 4 characters"):
        g.CondParam(attributes={"a": "abcde"})
    # Responses are read as sent.
    assert g.load(g.Cond, {"attributes": {"long": "abcdefgh"}}).attributes == {"long": "abcdefgh"}
    with pytest.raises(BaseValidationError):
        g.load(g.Cond, {"attributes": {"a": [1]}})


def test_a_keyword_for_another_json_type_is_no_constraint(generate: Any) -> None:
    # `minItems` written on the string items of an array (as the search query does) has no
    # effect in JSON Schema; it is neither refused nor turned into a check.
    schemas = {
        "Query": {
            "type": "object",
            "properties": {
                "q": {
                    "oneOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string", "minItems": 1}},
                    ]
                }
            },
        }
    }
    g = generate(spec_with(schemas, request="Query", response="Query"))
    assert g.QueryParam(q=["", "x"]).q == ["", "x"]


# -- nested filters: variants for several tags, recursion, required sets -------------------------


FILTERS = {
    "Comparison": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["eq", "ne"], "default": "eq"},
            "key": {"type": "string"},
            "value": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        },
        "required": ["type", "key", "value"],
    },
    "Compound": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["and", "or"]},
            "filters": {
                "type": "array",
                "items": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Comparison"},
                        {"$ref": "#/components/schemas/Compound"},
                    ]
                },
            },
        },
        "required": ["type", "filters"],
    },
    "Search": {
        "type": "object",
        "properties": {
            "filters": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Comparison"},
                    {"$ref": "#/components/schemas/Compound"},
                ]
            },
            "ids": {"type": "array", "items": {"type": "string"}},
            "files": {"type": "array", "items": {"type": "string"}},
        },
        "anyOf": [{"required": ["ids"]}, {"required": ["files"]}],
    },
}


@pytest.fixture
def filter_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from codegen import naming

    monkeypatch.setitem(naming.UNION_NAMES, frozenset({"Comparison", "Compound"}), "Filter")


def test_a_variant_standing_for_several_tags_and_a_recursive_union_are_read_by_the_tag(
    generate: Any, filter_names: None
) -> None:
    g = generate(spec_with(FILTERS, request="Search", response="Comparison"))
    nested = {
        "type": "or",
        "filters": [
            {"type": "ne", "key": "team", "value": "ops"},
            {"type": "and", "filters": [{"type": "eq", "key": "year", "value": 2024}]},
        ],
    }
    search = g.Search.from_dict({"ids": ["a"], "filters": nested})
    assert type(search.filters).__name__ == "Compound"
    inner = search.filters.filters
    assert [type(f).__name__ for f in inner] == ["ComparisonParam", "Compound"]
    assert inner[1].filters[0].value == 2024
    assert search.to_dict()["filters"] == nested
    hints = typing.get_type_hints(type(inner[0]))
    assert hints["type"] == typing.Literal["eq", "ne"]
    with pytest.raises(ModelValidationError, match="must be one of and, eq, ne, or, got 'xor'"):
        g.Search.from_dict({"ids": ["a"], "filters": {"type": "xor", "filters": []}})


def test_any_of_required_sets_mean_at_least_one_field(generate: Any, filter_names: None) -> None:
    g = generate(spec_with(FILTERS, request="Search", response="Comparison"))
    g.Search(ids=["a"])
    g.Search(ids=["a"], files=["b"])
    with pytest.raises(ValueError, match="ids or files must be given"):
        g.Search()


def test_retrieve_in_an_operation_id_is_read_as_get() -> None:
    from codegen.naming import operation_method_name

    assert operation_method_name("retrieveFile") == "get_file"
    assert operation_method_name("retrieveVectorStoreFileContent") == (
        "get_vector_store_file_content"
    )


def attrs_type(cls: type[Any], name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def load_overlay_from(content: dict[str, Any]) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "overlay.yaml"
        path.write_text(yaml.safe_dump(content), encoding="utf-8")
        return load_overlay(path)
