"""Every answer recorded from the live API parses with the model of its operation.

And it round-trips exactly: ``to_dict()`` gives back the recorded body, key for key, including
the fields the server left out (they stay out) and those the spec does not know (they stay in).
The strict reading, for testing a server against the spec, refuses exactly the bodies where
the live API departs from the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistants_client import ModelValidationError
from assistants_client._converter import structure
from assistants_client._operation import ListOperation

from .recordings import RESPONSE_FILES, operation_of, recorded_response


def _model(record: dict[str, Any]) -> type[Any]:
    operation = operation_of(record["operation"])
    return operation.response


def test_the_recorded_answers_are_all_here() -> None:
    assert len(RESPONSE_FILES) == 67


@pytest.mark.parametrize("path", RESPONSE_FILES, ids=lambda p: p.stem)
def test_a_recorded_answer_parses_and_round_trips_exactly(path: Path) -> None:
    record = recorded_response(path)
    model = _model(record)
    parsed = structure(record["body"], model)
    assert parsed.to_dict() == record["body"]
    operation = operation_of(record["operation"])
    if isinstance(operation, ListOperation):
        assert all(isinstance(item, operation.item) for item in parsed.data)


def _departs(body: Any) -> bool:
    """Whether a recorded body shows one of the departures the overlay records."""
    if isinstance(body, list):
        return any(_departs(item) for item in body)
    if not isinstance(body, dict):
        return False
    kind = body.get("object")
    if kind == "thread.message" and ("status" not in body or "attachments" not in body):
        return True
    if kind == "thread.run" and body.get("instructions") is None:
        return True
    if kind == "thread.run.step" and ("expired_at" not in body or "metadata" not in body):
        return True
    if kind == "list" and not body["data"] and body.get("first_id") is None:
        return True
    return any(_departs(value) for value in body.values())


@pytest.mark.parametrize("path", RESPONSE_FILES, ids=lambda p: p.stem)
def test_the_strict_reading_refuses_exactly_the_answers_that_depart_from_the_spec(
    path: Path,
) -> None:
    record = recorded_response(path)
    model = _model(record)
    if _departs(record["body"]):
        with pytest.raises(ModelValidationError) as caught:
            structure(record["body"], model, strict=True)
        assert "@" in str(caught.value)  # it names the field
    else:
        assert structure(record["body"], model, strict=True).to_dict() == record["body"]


def test_the_strict_reading_names_what_the_spec_requires() -> None:
    path = next(
        p for p in RESPONSE_FILES if p.name.startswith("get_threads_thread_id_messages_message_id")
    )
    record = recorded_response(path)
    with pytest.raises(ModelValidationError) as caught:
        structure(record["body"], _model(record), strict=True)
    assert "required field missing @ ThreadMessage.status" in caught.value.errors
