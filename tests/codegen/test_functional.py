"""Each construct the generator supports, on a tiny inline spec, generated and used at runtime."""

from __future__ import annotations

import typing
from typing import Any

import attrs
import cattrs
import pytest
from cattrs import BaseValidationError

from assistants_client._converter import NullFieldError, configure
from assistants_client._model_base import OMIT
from codegen.generate import CodegenError, render
from tests.codegen.conftest import spec_with

TAGGED = {
    "Cat": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["cat"], "x-stainless-const": True},
            "lives": {"type": "integer"},
        },
        "required": ["type", "lives"],
    },
    "Dog": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["dog"], "x-stainless-const": True},
            "good": {"type": "boolean"},
        },
        "required": ["type"],
    },
    "Owner": {
        "type": "object",
        "properties": {
            "pets": {
                "type": "array",
                "items": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Cat"},
                        {"$ref": "#/components/schemas/Dog"},
                    ]
                },
            }
        },
        "required": ["pets"],
    },
}


@pytest.fixture(autouse=True)
def pet_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from codegen import naming

    monkeypatch.setitem(naming.UNION_NAMES, frozenset({"Cat", "Dog"}), "Pet")


def test_tagged_oneof_becomes_a_union_of_variants_structured_by_its_tag(generate: Any) -> None:
    g = generate(spec_with(TAGGED, response="Owner"))
    owner = g.load(g.Owner, {"pets": [{"type": "dog", "good": True}, {"type": "cat", "lives": 9}]})
    assert [type(p).__name__ for p in owner.pets] == ["Dog", "Cat"]
    assert issubclass(g.Cat, g.Pet) and issubclass(g.Dog, g.Pet)
    # A dog payload that also fits Cat's shape still becomes a Dog: the tag decides, not the shape.
    assert type(g.load(g.Pet, {"type": "dog", "lives": 3})).__name__ == "Dog"


def test_a_response_union_is_a_type_alias_over_its_variants_beside_their_base_class(
    generate: Any,
) -> None:
    g = generate(spec_with(TAGGED, response="Owner"))
    assert typing.get_args(g.Pet) == (g.Cat, g.Dog, g.UnknownPet)
    assert attrs.fields(g.Owner).pets.type == list[g.Pet]
    assert all(issubclass(cls, g.PetBase) for cls in typing.get_args(g.Pet))
    assert type(g.PetBase.from_dict({"type": "cat", "lives": 2})).__name__ == "Cat"
    # Each known variant types its tag as one literal; the unknown one as a literal no server
    # sends (for type checkers), so that comparing the tag narrows the union.
    assert attrs.fields(g.Cat).type.type == typing.Literal["cat"]
    source = g.package.__path__[0] + "/responses.py"
    with open(source, encoding="utf-8") as handle:
        text = handle.read()
    assert "class UnknownPet(PetBase):" in text
    assert "    type: UnknownTag\n" in text
    assert "Pet: TypeAlias = Cat | Dog | UnknownPet\n" in text


def test_an_unknown_tag_becomes_the_unknown_variant_keeping_the_raw_object(generate: Any) -> None:
    g = generate(spec_with(TAGGED, response="Owner"))
    payload = {"pets": [{"type": "parrot", "words": ["hello"]}]}
    owner = g.load(g.Owner, payload)
    assert type(owner.pets[0]).__name__ == "UnknownPet"
    assert owner.pets[0].type == "parrot"
    assert isinstance(owner.pets[0], g.Pet)
    assert g.dump(owner) == payload


def test_request_side_unions_reject_unknown_tags(generate: Any) -> None:
    g = generate(spec_with(TAGGED, request="Owner", response="Cat"))
    with pytest.raises(BaseValidationError):
        g.load(g.Owner, {"pets": [{"type": "parrot"}]})


def test_string_or_array_content_is_told_apart_by_json_type(generate: Any) -> None:
    schemas = {
        **TAGGED,
        "Msg": {
            "type": "object",
            "properties": {
                "content": {
                    "oneOf": [
                        {"type": "string"},
                        {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Cat"},
                            "minItems": 1,
                        },
                    ]
                }
            },
            "required": ["content"],
        },
    }
    g = generate(spec_with(schemas, request="Msg", response="Msg"))
    assert g.load(g.MsgParam, {"content": "hi"}).content == "hi"
    parsed = g.load(g.MsgParam, {"content": [{"type": "cat", "lives": 1}]})
    assert type(parsed.content[0]).__name__ == "CatParam"
    with pytest.raises(BaseValidationError):
        g.load(g.MsgParam, {"content": []})  # minItems on the array branch
    with pytest.raises(BaseValidationError):
        g.load(g.MsgParam, {"content": 5})


def test_auto_or_object_options_accept_the_listed_strings_and_objects(generate: Any) -> None:
    schemas = {
        **TAGGED,
        "Opts": {
            "type": "object",
            "properties": {
                "choice": {
                    "oneOf": [
                        {"type": "string", "enum": ["none", "auto"]},
                        {"$ref": "#/components/schemas/Cat"},
                    ]
                }
            },
        },
    }
    g = generate(spec_with(schemas, request="Opts", response="Opts"))
    assert g.load(g.OptsParam, {"choice": "auto"}).choice == "auto"
    assert g.load(g.OptsParam, {"choice": {"type": "cat", "lives": 2}}).choice.lives == 2
    with pytest.raises(BaseValidationError):
        g.load(g.OptsParam, {"choice": "sometimes"})
    # A response keeps a string the spec does not list: newer servers add options.
    assert g.load(g.Opts, {"choice": "sometimes"}).choice == "sometimes"


def test_three_spellings_of_nullable_all_accept_null(generate: Any) -> None:
    schemas = {
        "Inner": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "Outer": {
            "type": "object",
            "properties": {
                "any_of": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "all_of": {"allOf": [{"$ref": "#/components/schemas/Inner"}, {"nullable": True}]},
                "flag": {"type": "integer", "nullable": True},
                "ref_flag": {"$ref": "#/components/schemas/Inner", "nullable": True},
            },
            "required": ["any_of", "all_of", "flag", "ref_flag"],
        },
    }
    g = generate(spec_with(schemas, response="Outer"))
    nulls = {"any_of": None, "all_of": None, "flag": None, "ref_flag": None}
    assert g.dump(g.load(g.Outer, nulls)) == nulls
    values = {"any_of": "s", "all_of": {"x": 1}, "flag": 3, "ref_flag": {}}
    assert g.dump(g.load(g.Outer, values)) == values


def test_maps_free_form_objects_models_and_unixtime(generate: Any) -> None:
    schemas = {
        "Thing": {
            "type": "object",
            "properties": {
                "metadata": {
                    "anyOf": [
                        {"type": "object", "additionalProperties": {"type": "string"}},
                        {"type": "null"},
                    ]
                },
                "parameters": {"type": "object", "additionalProperties": True},
                "model": {
                    "anyOf": [{"type": "string"}, {"type": "string", "enum": ["m-1", "m-2"]}]
                },
                "created_at": {"type": "integer", "format": "unixtime"},
            },
            "required": ["metadata", "parameters", "model", "created_at"],
        }
    }
    g = generate(spec_with(schemas, response="Thing"))
    hints = typing.get_type_hints(g.Thing)
    assert hints["metadata"] == dict[str, str] | None
    assert hints["parameters"] == dict[str, Any]
    assert hints["model"] is str
    assert hints["created_at"] is int
    payload = {
        "metadata": {"k": "v"},
        "parameters": {"type": "object", "n": [1, {"a": None}]},
        "model": "custom-model",
        "created_at": 1700000000,
    }
    assert g.dump(g.load(g.Thing, payload)) == payload
    with pytest.raises(BaseValidationError):
        g.load(g.Thing, {**payload, "metadata": {"k": 1}})
    with pytest.raises(BaseValidationError):
        g.load(g.Thing, {**payload, "created_at": "yesterday"})


def test_response_enums_keep_unknown_values_and_request_enums_reject_them(generate: Any) -> None:
    schemas = {
        "Run": {
            "type": "object",
            "properties": {"status": {"type": "string", "enum": ["queued", "completed"]}},
            "required": ["status"],
        }
    }
    g = generate(spec_with(schemas, request="Run", response="Run"))
    assert g.load(g.Run, {"status": "paused"}).status == "paused"
    with pytest.raises(BaseValidationError):
        g.load(g.RunParam, {"status": "paused"})
    with pytest.raises(ValueError, match="status"):
        g.RunParam(status="paused")


def test_unknown_response_fields_survive_a_round_trip_and_requests_reject_them(
    generate: Any,
) -> None:
    schemas = {
        "Box": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    }
    g = generate(spec_with(schemas, request="Box", response="Box"))
    payload = {"a": "x", "future": {"nested": [1, 2]}}
    box = g.load(g.Box, payload)
    assert box.extra_fields == {"future": {"nested": [1, 2]}}
    assert g.dump(box) == payload
    with pytest.raises(BaseValidationError):
        g.load(g.BoxParam, payload)


def test_request_models_tell_omitted_from_explicit_null(generate: Any) -> None:
    schemas = {
        "Patch": {
            "type": "object",
            "properties": {
                "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "note": {"type": "string"},
            },
        }
    }
    g = generate(spec_with(schemas, request="Patch", response="Patch"))
    assert g.dump(g.PatchParam()) == {}
    assert g.dump(g.PatchParam(name=None)) == {"name": None}
    assert g.PatchParam().name is OMIT
    assert g.load(g.PatchParam, {"name": None}).name is None
    assert g.load(g.PatchParam, {}).name is OMIT


def test_response_fields_that_may_be_absent_read_as_none_and_stay_absent_on_the_way_back(
    generate: Any,
) -> None:
    schemas = {
        "Patch": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "note": {"type": "string"},
            },
            "required": ["id"],
        }
    }
    g = generate(spec_with(schemas, request="Patch", response="Patch"))
    hints = typing.get_type_hints(g.Patch)
    assert hints["note"] == str | None and hints["name"] == str | None
    absent = g.load(g.Patch, {"id": "p"})
    assert absent.note is None and absent.name is None
    assert g.dump(absent) == {"id": "p"}
    assert repr(absent) == "Patch(id='p')" and str(absent.note) == "None"
    nulls = {"id": "p", "name": None, "note": None}
    assert g.dump(g.load(g.Patch, nulls)) == nulls
    # Built in code: an optional field left None is not sent as a null the spec forbids.
    assert g.dump(g.Patch(id="p", note="n")) == {"id": "p", "note": "n"}
    # Request models keep OMIT: not sent, as opposed to null.
    assert g.PatchParam(id="p").note is OMIT
    strict = configure(cattrs.Converter(detailed_validation=True), strict=True)
    assert strict.structure({"id": "p"}, g.Patch).note is None
    assert strict.structure({"id": "p", "name": None}, g.Patch).name is None
    with pytest.raises(NullFieldError, match="note: null is not allowed by the spec"):
        strict.structure({"id": "p", "note": None}, g.Patch)


def test_spec_constraints_become_validators_on_request_models(generate: Any) -> None:
    schemas = {
        "Req": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 3},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": 2,
                    "minItems": 1,
                },
                "temp": {"type": "number", "minimum": 0, "maximum": 2},
            },
        }
    }
    g = generate(spec_with(schemas, request="Req", response="Req"))
    g.ReqParam(name="abc", tags=["a"], temp=2)
    with pytest.raises(ValueError, match="name: at most 3 characters"):
        g.ReqParam(name="abcd")
    with pytest.raises(ValueError, match="tags: at most 2 items"):
        g.ReqParam(tags=["a", "b", "c"])
    with pytest.raises(ValueError, match="tags: at least 1 item required"):
        g.ReqParam(tags=[])
    with pytest.raises(ValueError, match="temp: must be <= 2"):
        g.ReqParam(temp=2.5)
    with pytest.raises(ValueError, match="temp: must be >= 0"):
        g.ReqParam(temp=-1)
    # Responses are kept as the server sent them.
    assert g.load(g.Req, {"name": "abcdef"}).name == "abcdef"


def test_a_changed_constraint_in_the_spec_changes_validation(generate: Any) -> None:
    def spec(limit: int) -> dict[str, Any]:
        return spec_with(
            {
                "Req": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "maxLength": limit}},
                }
            },
            request="Req",
            response="Req",
        )

    strict, loose = generate(spec(2)), generate(spec(10))
    with pytest.raises(ValueError):
        strict.ReqParam(name="abcde")
    assert loose.ReqParam(name="abcde").name == "abcde"


def test_one_of_required_sets_mean_exactly_one_field(generate: Any) -> None:
    schemas = {
        "Res": {
            "type": "object",
            "properties": {
                "ids": {"type": "array", "items": {"type": "string"}},
                "new": {"type": "array", "items": {"type": "string"}},
            },
            "oneOf": [{"required": ["ids"]}, {"required": ["new"]}],
        }
    }
    g = generate(spec_with(schemas, request="Res", response="Res"))
    g.ResParam(ids=["a"])
    with pytest.raises(ValueError, match="exactly one of ids or new"):
        g.ResParam(ids=["a"], new=["b"])
    with pytest.raises(ValueError, match="exactly one"):
        g.ResParam()


def test_stream_events_become_event_classes_keyed_by_name(generate: Any) -> None:
    schemas = {
        **TAGGED,
        "AssistantStreamEvent": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "event": {
                            "type": "string",
                            "enum": ["pet.created"],
                            "x-stainless-const": True,
                        },
                        "data": {"$ref": "#/components/schemas/Cat"},
                    },
                    "required": ["event", "data"],
                }
            ]
        },
    }
    g = generate(spec_with(schemas, response="Owner"))
    assert {"pet.created": g.PetCreatedEvent} == g.AssistantStreamEventBase._json_variants
    event = g.load(
        g.AssistantStreamEvent, {"event": "pet.created", "data": {"type": "cat", "lives": 7}}
    )
    assert event.data.lives == 7
    unknown = g.load(g.AssistantStreamEvent, {"event": "pet.renamed", "data": {}})
    assert type(unknown).__name__ == "UnknownAssistantStreamEvent"


def test_classes_are_slotted_keyword_only_attrs_classes(generate: Any) -> None:
    g = generate(spec_with(TAGGED, response="Owner"))
    assert attrs.has(g.Cat)
    assert "__slots__" in g.Cat.__dict__
    assert all(a.kw_only for a in attrs.fields(g.Cat))
    with pytest.raises(TypeError):
        g.Cat(9)


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "object", "properties": {"x": {"not": {"type": "string"}}}}, "Bad.x"),
        (
            {
                "type": "object",
                "properties": {"x": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            },
            "Bad.x",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "x": {"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}}]}
                },
            },
            "Bad.x",
        ),
        ({"type": "object", "properties": {"x": {"type": "string", "pattern": "^a$"}}}, "Bad.x"),
        (
            {"type": "object", "properties": {"x": {"$ref": "#/components/schemas/Missing"}}},
            "Bad.x",
        ),
        (
            {"type": "object", "properties": {"extra_fields": {"type": "string"}}},
            "Bad.extra_fields",
        ),
    ],
    ids=["not", "anyOf-of-kinds", "untagged-oneOf", "pattern", "dangling-ref", "reserved-name"],
)
def test_unsupported_constructs_fail_naming_the_schema_path(
    schema: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(CodegenError) as info:
        render(spec_with({"Bad": schema}, request="Bad", response="Bad"))
    assert fragment in str(info.value)


def test_each_operation_becomes_an_entry_of_the_operations_table(generate: Any) -> None:
    g = generate(spec_with(TAGGED, request="Owner", response="Cat"))
    table = __import__(g.package.__name__ + ".operations", fromlist=["OPERATIONS"])
    assert [operation.name for operation in table.OPERATIONS] == ["create_thing"]
    thing = table.CREATE_THING
    assert (thing.id, thing.method, thing.path) == ("createThing", "POST", "/things")
    assert (thing.request, thing.response, thing.streamable) == (g.Owner, g.Cat, False)


def test_an_operation_id_is_named_in_snake_case_with_modify_read_as_update() -> None:
    from codegen.naming import operation_method_name

    assert operation_method_name("modifyThread") == "update_thread"
    assert operation_method_name("listRunSteps") == "list_run_steps"
    assert operation_method_name("createThreadAndRun") == "create_thread_and_run"
    assert operation_method_name("submitToolOuputsToRun") == "submit_tool_outputs"
