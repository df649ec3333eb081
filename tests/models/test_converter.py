"""The converter on the real generated models: errors, JSON helpers, repr, OMIT."""

from __future__ import annotations

import json
from typing import Any

import cattrs
import pytest

from assistants_client import OMIT, ModelValidationError
from assistants_client._converter import structure
from assistants_client.models import (
    AssistantStreamEventBase,
    CreateMessageRequest,
    CreateRunRequest,
    MessageContentText,
    RunLastError,
    RunResponse,
    RunStepDelta,
    ThreadMessage,
    ThreadMessageDeltaEvent,
    UnknownMessageContent,
    VectorStoreFile,
)
from tests import payloads


def message(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "role": "assistant",
        "content": [{"type": "text", "text": {"value": "hello", "annotations": []}}],
        "created_at": 1700000000,
        **overrides,
    }
    return payloads.message(**fields)


def test_message_content_is_the_base_class_of_the_content_variants() -> None:
    parsed = ThreadMessage.from_dict(message())
    assert isinstance(parsed.content[0], MessageContentText)
    assert parsed.content[0].text.value == "hello"


def test_from_json_accepts_str_and_bytes() -> None:
    text = json.dumps(message())
    assert ThreadMessage.from_json(text) == ThreadMessage.from_json(text.encode())
    assert json.loads(ThreadMessage.from_json(text).to_json()) == message()


def test_a_missing_required_field_names_the_class_and_the_field() -> None:
    payload = message()
    del payload["thread_id"]
    with pytest.raises(ModelValidationError) as info:
        ThreadMessage.from_dict(payload)
    assert info.value.path == "ThreadMessage.thread_id"
    assert "required field missing" in str(info.value)


def test_a_wrong_type_deep_inside_names_the_full_path() -> None:
    payload = message(content=[{"type": "text", "text": {"value": 3, "annotations": []}}])
    with pytest.raises(ModelValidationError) as info:
        ThreadMessage.from_dict(payload)
    assert info.value.path == "ThreadMessage.content[0].text.value"
    assert "expected a string, got int" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("created_at", "1700000000"), ("created_at", True), ("role", 1), ("metadata", {"k": 2})],
)
def test_primitives_are_strict(field: str, value: Any) -> None:
    with pytest.raises(ModelValidationError):
        ThreadMessage.from_dict(message(**{field: value}))


def test_an_unknown_content_type_is_kept_and_written_back() -> None:
    payload = message(content=[{"type": "audio", "audio": {"id": "a"}}])
    parsed = ThreadMessage.from_dict(payload)
    assert isinstance(parsed.content[0], UnknownMessageContent)
    assert parsed.to_dict() == payload


def test_stream_events_parse_into_typed_event_classes() -> None:
    # A union is a type alias; the base class its variants share reads any of them.
    event = AssistantStreamEventBase.from_dict(
        {
            "event": "thread.message.delta",
            "data": {
                "id": "msg_1",
                "object": "thread.message.delta",
                "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "Hi"}}]},
            },
        }
    )
    assert isinstance(event, ThreadMessageDeltaEvent)
    part = event.data.delta.content[0]
    assert part.type == "text" and part.text and part.text.value == "Hi"


def test_omit_is_falsy_and_left_out_while_none_is_sent_as_null() -> None:
    request = CreateRunRequest(assistant_id="asst_1", instructions=None)
    assert not OMIT
    assert request.model is OMIT
    assert request.to_dict() == {"assistant_id": "asst_1", "instructions": None}


def test_a_response_field_that_may_be_absent_is_none_and_round_trips_as_absent_or_null() -> None:
    delta = {"id": "step_1", "object": "thread.run.step.delta", "delta": {}}
    parsed = RunStepDelta.from_dict(delta)
    assert parsed.delta.step_details is None
    assert str(parsed.delta.step_details) == "None"
    assert "OMIT" not in repr(parsed)
    assert parsed.to_dict() == delta
    with_null = {**delta, "delta": {"step_details": None}}
    assert RunStepDelta.from_dict(with_null).to_dict() == with_null
    details = {"type": "tool_calls", "tool_calls": []}
    full = RunStepDelta.from_dict({**delta, "delta": {"step_details": details}})
    step_details = full.delta.step_details
    assert step_details is not None and step_details.type == "tool_calls"
    assert full.to_dict()["delta"] == {"step_details": details}


def test_a_vector_store_file_reads_absent_optional_fields_as_none_and_leaves_them_out() -> None:
    listed = {
        "id": "file_1",
        "object": "vector_store.file",
        "created_at": 1,
        "vector_store_id": "vs_1",
        "status": "completed",
        "usage_bytes": 10,
        "last_error": None,
    }
    item = VectorStoreFile.from_dict(listed)
    assert item.chunking_strategy is None and item.attributes is None
    assert "OMIT" not in repr(item) and "chunking_strategy" not in repr(item)
    assert item.to_dict() == listed


def test_objects_that_leave_out_the_same_keys_share_one_set_of_them() -> None:
    first, second = (
        RunStepDelta.from_dict({"id": f"step_{n}", "object": "thread.run.step.delta", "delta": {}})
        for n in (1, 2)
    )
    assert first.delta._json_absent == frozenset({"step_details"})
    assert first.delta._json_absent is second.delta._json_absent
    assert second.to_dict() == {"id": "step_2", "object": "thread.run.step.delta", "delta": {}}


def test_the_strict_reading_refuses_a_null_the_spec_does_not_allow_where_absence_is_fine() -> None:
    delta = {"id": "step_1", "object": "thread.run.step.delta", "delta": {}}
    assert structure(delta, RunStepDelta, strict=True).delta.step_details is None
    with pytest.raises(ModelValidationError, match="step_details"):
        structure({**delta, "delta": {"step_details": None}}, RunStepDelta, strict=True)


def test_request_models_validate_spec_constraints_at_construction() -> None:
    with pytest.raises(ValueError, match="temperature"):
        CreateRunRequest(assistant_id="a", temperature=5)
    with pytest.raises(ModelValidationError) as info:
        CreateMessageRequest.from_dict({"role": "user", "content": "x", "colour": "red"})
    assert "colour" in str(info.value)


def test_repr_is_readable_and_truncates_long_text() -> None:
    parsed = ThreadMessage.from_dict(
        message(content=[{"type": "text", "text": {"value": "x" * 5000, "annotations": []}}])
    )
    text = repr(parsed)
    assert text.startswith("ThreadMessage(id='msg_1'")
    assert len(text) < 1500
    assert "extra_fields" not in text


def test_a_long_text_in_a_repr_shows_its_start_cut_at_the_end() -> None:
    message = (
        "could not reach the backend at http://127.0.0.1:11434/v1/chat/completions "
        "(ConnectionError): " + "the rest of a long explanation " * 10
    )
    text = repr(RunLastError(code="server_error", message=message))
    assert text.startswith(
        "RunLastError(code='server_error', message='could not reach the backend at "
        "http://127.0.0.1:11434/v1/chat/completions (ConnectionError): the rest"
    )
    assert text.endswith("...')") and len(text) < 220


def test_run_response_keeps_unknown_fields_and_statuses() -> None:
    payload = payloads.run(
        status="paused_for_review",
        tool_choice="auto",
        response_format="auto",
        reasoning={"effort": "low"},
    )
    run = RunResponse.from_dict(payload)
    assert run.status == "paused_for_review"
    assert run.extra_fields == {"reasoning": {"effort": "low"}}
    assert run.to_dict() == payload


def test_a_union_outside_the_generators_rules_is_refused_not_guessed() -> None:
    from assistants_client._converter import converter

    with pytest.raises(TypeError, match="no structuring rule"):
        converter.get_structure_hook(int | dict[str, int])


def test_a_union_of_plain_json_kinds_is_read_by_the_kind_of_the_value() -> None:
    from assistants_client._converter import converter

    hook = converter.get_structure_hook(str | float | bool | list[str | float])
    kind = str | float | bool | list[str | float]
    assert [hook(v, kind) for v in ("a", 2, 2.5, True, ["x", 1])] == ["a", 2, 2.5, True, ["x", 1]]
    assert type(hook(True, kind)) is bool
    with pytest.raises(TypeError, match="expected a string or a number or a boolean or an array"):
        hook({"a": 1}, kind)
    with pytest.raises(cattrs.BaseValidationError) as caught:
        hook([None], kind)
    assert "expected a number" in str(caught.value.exceptions[0])
