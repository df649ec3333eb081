"""Code that must NOT type-check: each line marked ``# expected-error`` must be reported by
``mypy --strict`` and by pyright, and no other line. It proves that tests/typing would notice
if the unions stopped narrowing only because they had become ``Any``."""

from __future__ import annotations

from assistants_client.models import (
    AssistantStreamEvent,
    FileSearchToolCallDelta,
    MessageContent,
    RunStepDelta,
    ThreadMessage,
)


def text_without_narrowing(message: ThreadMessage) -> str:
    return message.content[0].text.value  # expected-error


def text_of_another_variant(part: MessageContent) -> str:
    if part.type == "image_file":
        return part.text.value  # expected-error
    return ""


def text_after_excluding_text(part: MessageContent) -> str:
    if part.type != "text":
        return part.text.value  # expected-error
    return part.text.value


def unknown_is_not_narrowed_into_text(part: MessageContent) -> str:
    if part.type == "text":
        return part.raw["type"]  # expected-error
    return ""


def event_data_without_narrowing(event: AssistantStreamEvent) -> object:
    return event.data.delta  # expected-error


def event_data_of_another_event(event: AssistantStreamEvent) -> object:
    if event.event == "thread.run.completed":
        return event.data.delta  # expected-error
    return None


def a_tag_no_variant_has(part: MessageContent) -> bool:
    return part.type == "txet"  # expected-error


def optional_field_without_a_none_check(step: RunStepDelta) -> str:
    return step.delta.step_details.type  # expected-error


def streamed_ranking_options_without_a_none_check(call: FileSearchToolCallDelta) -> float:
    return call.file_search.ranking_options.score_threshold  # expected-error


def streamed_file_search_is_no_dict(call: FileSearchToolCallDelta) -> object:
    return call.file_search["ranking_options"]  # expected-error
