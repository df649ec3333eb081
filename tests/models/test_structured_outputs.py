"""Strict JSON schemas from attrs classes, and parsing a message's text back into them."""

from __future__ import annotations

import enum
import json
from typing import Any, Literal

import attrs
import pytest

from assistants_client import InvalidArgumentError, ModelValidationError
from assistants_client._structured import json_schema_for, response_format_for
from assistants_client.models import ThreadMessage


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@attrs.define
class Reading:
    hour: int
    value: float


@attrs.define
class Forecast:
    city: str
    unit: Unit
    kind: Literal["daily", "hourly"]
    readings: list[Reading]
    note: str | None
    sunny: bool


def message_with(text: str) -> ThreadMessage:
    return ThreadMessage.from_dict(
        {
            "id": "msg_1",
            "object": "thread.message",
            "created_at": 1,
            "thread_id": "t",
            "status": "completed",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": "assistant",
            "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
            "assistant_id": None,
            "run_id": None,
            "attachments": None,
            "metadata": {},
        }
    )


def test_the_schema_is_strict_every_field_required_and_no_extra_fields() -> None:
    schema = json_schema_for(Forecast)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["city", "unit", "kind", "readings", "note", "sunny"]
    assert schema["properties"]["unit"] == {"enum": ["celsius", "fahrenheit"]}
    assert schema["properties"]["kind"] == {"enum": ["daily", "hourly"]}
    assert schema["properties"]["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert schema["properties"]["readings"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Reading"},
    }
    reading = schema["$defs"]["Reading"]
    assert reading["required"] == ["hour", "value"] and reading["additionalProperties"] is False


def test_the_response_format_names_the_class_and_is_strict() -> None:
    value = response_format_for(Forecast)
    assert value["type"] == "json_schema"
    assert value["json_schema"]["name"] == "Forecast"
    assert value["json_schema"]["strict"] is True


def test_a_type_a_strict_schema_cannot_express_is_refused_naming_the_field() -> None:
    @attrs.define
    class Loose:
        data: dict[str, Any]

    with pytest.raises(InvalidArgumentError, match=r"Loose\.data"):
        json_schema_for(Loose)


def test_message_parse_returns_an_instance_of_the_class() -> None:
    text = json.dumps(
        {
            "city": "Paris",
            "unit": "celsius",
            "kind": "daily",
            "readings": [{"hour": 9, "value": 18.5}],
            "note": None,
            "sunny": True,
        }
    )
    forecast = message_with(text).parse(Forecast)
    assert forecast == Forecast(
        city="Paris",
        unit=Unit.CELSIUS,
        kind="daily",
        readings=[Reading(hour=9, value=18.5)],
        note=None,
        sunny=True,
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json at all", "not JSON"),
        ('{"city": "Paris"}', "Forecast"),
        (
            '{"city": "Paris", "unit": "kelvin", "kind": "daily", "readings": [], "note": null, "sunny": true}',
            "unit",
        ),
        (
            '{"city": 3, "unit": "celsius", "kind": "daily", "readings": [], "note": null, "sunny": true}',
            "city",
        ),
    ],
)
def test_message_parse_gives_a_clear_error_when_the_text_does_not_fit(
    text: str, fragment: str
) -> None:
    with pytest.raises(ModelValidationError) as info:
        message_with(text).parse(Forecast)
    assert fragment in str(info.value)
