"""Everything the API defines for files, vector stores and file_search parses into its own class.

No ``Unknown...`` variant may appear anywhere in what these bodies become: the file_search tool
and its options, ``tool_resources.file_search``, attachments, the file_search run step with its
results and their content, ``file_citation``/``file_path`` annotations in messages and in
message deltas, the chunking strategies of vector store files. Bodies are the live API's
(tests/fixtures/reference, and the openai-dotnet recordings that openapi/overlay.yaml cites)
or, where none was recorded, written from the spec.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from assistants_client import ModelValidationError, models
from assistants_client._converter import structure
from tests.realservers.recordings import REFERENCE, events, operation_of, sse_body

RESPONSES = REFERENCE / "responses"
STREAM = REFERENCE / "assistants-file-search-run.sse"


def unknown_variants(value: Any, path: str = "") -> list[str]:
    """Where an ``Unknown...`` class appears in a parsed model tree."""
    found: list[str] = []
    if type(value).__name__.startswith("Unknown"):
        found.append(f"{path or '.'}: {type(value).__name__}")
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            found += unknown_variants(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unknown_variants(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += unknown_variants(item, f"{path}[{key!r}]")
    return found


RECORDED = [
    "post_assistants--2.json",  # file_search tool, tool_resources.file_search
    "post_threads--2.json",  # a thread with a file_search vector store
    "post_threads_thread_id_messages--4.json",  # attachments for file_search
    "get_threads_thread_id_messages--1.json",  # a file_citation annotation
    "get_threads_thread_id_runs_run_id_steps_step_id--1.json",  # file_search results, content
    "get_threads_thread_id_runs_run_id_steps--2.json",
    "post_threads_thread_id_runs--4.json",
]


@pytest.mark.parametrize("name", RECORDED)
def test_a_recorded_file_search_answer_has_no_unknown_variant(name: str) -> None:
    record = json.loads((RESPONSES / name).read_text(encoding="utf-8"))
    parsed = structure(record["body"], operation_of(record["operation"]).response)
    assert unknown_variants(parsed) == []
    assert parsed.to_dict() == record["body"]


def test_the_recorded_file_search_step_reads_its_results_and_their_content() -> None:
    record = json.loads(
        (RESPONSES / "get_threads_thread_id_runs_run_id_steps_step_id--1.json").read_text("utf-8")
    )
    step = models.RunStep.from_dict(record["body"])
    assert isinstance(step.step_details, models.ToolCallsStepDetails)
    (call,) = step.step_details.tool_calls
    assert isinstance(call, models.FileSearchToolCall)
    ranking = call.file_search.ranking_options
    assert isinstance(ranking, models.FileSearchCallRankingOptions)
    assert (ranking.ranker, ranking.score_threshold) == ("default_2024_08_21", 0.5)
    first = call.file_search.results[0]
    assert first.file_name == "favorite_foods.txt" and 0 < first.score <= 1
    # `attributes` is what the live API adds to each result (openapi/overlay.yaml).
    assert first.attributes == {} and first.extra_fields == {}
    assert "Filip Carola: cake" in first.content[0].text


def test_every_event_of_a_recorded_file_search_run_has_no_unknown_variant() -> None:
    for name, data in events(sse_body(STREAM)):
        if name == "done":
            continue
        event = models.AssistantStreamEventBase.from_dict({"event": name, "data": data})
        assert unknown_variants(event) == [], name
    deltas = [
        models.MessageDelta.from_dict(data)
        for name, data in events(sse_body(STREAM))
        if name == "thread.message.delta"
    ]
    annotated = [d for d in deltas if d.delta.content and d.delta.content[0].text.annotations]
    (delta,) = annotated
    (annotation,) = delta.delta.content[0].text.annotations
    assert isinstance(annotation, models.FileCitationAnnotationDelta)
    assert (annotation.index, annotation.start_index, annotation.end_index) == (0, 29, 53)


def recorded_events(name: str) -> list[Any]:
    return [data for event, data in events(sse_body(STREAM)) if event == name]


def test_the_recorded_step_delta_reads_its_file_search_as_typed_ranking_options_and_results() -> (
    None
):
    (data,) = recorded_events("thread.run.step.delta")
    event = models.AssistantStreamEventBase.from_dict(
        {"event": "thread.run.step.delta", "data": data}
    )
    assert isinstance(event, models.ThreadRunStepDeltaEvent)
    details = event.data.delta.step_details
    assert isinstance(details, models.ToolCallsStepDetailsDelta) and details.tool_calls
    (call,) = details.tool_calls
    assert isinstance(call, models.FileSearchToolCallDelta)
    # What the spec calls "always an empty object" (openapi/overlay.yaml says otherwise).
    assert isinstance(call.file_search, models.FileSearchCallDelta)
    ranking = call.file_search.ranking_options
    assert isinstance(ranking, models.FileSearchCallRankingOptions)
    assert (ranking.ranker, ranking.score_threshold) == ("default_2024_08_21", 0.0)
    assert call.file_search.results == []
    assert call.file_search.extra_fields == {} and ranking.extra_fields == {}
    assert unknown_variants(event) == []
    assert event.data.to_dict() == data
    # The spec's own reading accepts it too: it only lets the object be anything.
    assert structure(data, models.RunStepDelta, strict=True).to_dict() == data


def test_a_step_delta_carrying_results_reads_each_as_a_typed_result() -> None:
    # The results of the recorded search, as the completed step carries them, sent in a delta.
    (completed,) = [
        step
        for step in recorded_events("thread.run.step.completed")
        if step["type"] == "tool_calls"
    ]
    (stored,) = completed["step_details"]["tool_calls"]
    streamed = {
        "id": completed["id"],
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [{"index": 0, **stored}]}},
    }
    delta = models.RunStepDelta.from_dict(streamed)
    assert isinstance(delta.delta.step_details, models.ToolCallsStepDetailsDelta)
    (call,) = delta.delta.step_details.tool_calls or []
    assert isinstance(call, models.FileSearchToolCallDelta)
    (result,) = call.file_search.results or []
    assert isinstance(result, models.FileSearchResult)
    assert (result.file_id, result.file_name) == (
        "file-CyHtsk7XAWdRabQUBYRjCu",
        "favorite_foods.txt",
    )
    assert 0 < result.score <= 1 and result.attributes == {}
    assert result.content and isinstance(result.content[0], models.FileSearchResultContent)
    assert "Filip Carola: cake" in (result.content[0].text or "")
    assert delta.to_dict() == streamed


@pytest.mark.parametrize(
    "file_search",
    [
        {},
        {"results": []},
        {"ranking_options": {"ranker": "auto", "score_threshold": 0.5}},
        {"results": [{"file_id": "file-1", "file_name": "a.txt", "score": 0.75}]},
        {
            "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0},
            "results": [
                {
                    "file_id": "file-1",
                    "file_name": "a.txt",
                    "score": 1,
                    "content": [{"type": "text"}],
                    "rank": 1,
                }
            ],
            "queries": ["favourite food"],
        },
    ],
    ids=["empty", "results-only", "ranking-only", "bare-result", "unknown-fields"],
)
def test_a_streamed_file_search_writes_back_only_what_it_received(
    file_search: dict[str, Any],
) -> None:
    call = {"index": 0, "type": "file_search", "file_search": file_search}
    parsed = models.FileSearchToolCallDelta.from_dict(call)
    assert isinstance(parsed.file_search, models.FileSearchCallDelta)
    assert (parsed.file_search.ranking_options is None) == ("ranking_options" not in file_search)
    assert (parsed.file_search.results is None) == ("results" not in file_search)
    for result in parsed.file_search.results or []:
        assert result.attributes is None and 0 < result.score <= 1
    assert parsed.to_dict() == call
    assert json.loads(parsed.to_json()) == call


def test_a_streamed_file_search_of_the_wrong_shape_is_refused_naming_its_path() -> None:
    call = {"index": 0, "type": "file_search", "file_search": {"results": [{"file_id": 1}]}}
    with pytest.raises(ModelValidationError, match=r"file_search\.results\[0\]"):
        models.FileSearchToolCallDelta.from_dict(call)


# Written from the spec: what no recording holds.
FILE_PATH_MESSAGE = {
    "id": "msg_2",
    "object": "thread.message",
    "created_at": 1,
    "thread_id": "thread_1",
    "role": "assistant",
    "content": [
        {
            "type": "text",
            "text": {
                "value": "Download the chart: sandbox:/mnt/data/chart.png",
                "annotations": [
                    {
                        "type": "file_path",
                        "text": "sandbox:/mnt/data/chart.png",
                        "start_index": 20,
                        "end_index": 47,
                        "file_path": {"file_id": "file-chart"},
                    }
                ],
            },
        }
    ],
    "attachments": [{"file_id": "file-1", "tools": [{"type": "file_search"}]}],
    "metadata": {},
}
FILE_PATH_DELTA = {
    "id": "msg_2",
    "object": "thread.message.delta",
    "delta": {
        "content": [
            {
                "index": 0,
                "type": "text",
                "text": {
                    "annotations": [
                        {
                            "index": 1,
                            "type": "file_path",
                            "text": "sandbox:/mnt/data/chart.png",
                            "start_index": 20,
                            "end_index": 47,
                            "file_path": {"file_id": "file-chart"},
                        }
                    ]
                },
            }
        ]
    },
}
ASSISTANT = {
    "id": "asst_1",
    "object": "assistant",
    "created_at": 1,
    "name": None,
    "description": None,
    "model": "gpt-4o",
    "instructions": None,
    "tools": [
        {
            "type": "file_search",
            "file_search": {
                "max_num_results": 20,
                "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
            },
        }
    ],
    "tool_resources": {"file_search": {"vector_store_ids": ["vs_1"]}},
    "metadata": {},
}

# As api.openai.com answered (openai-dotnet tests/SessionRecords/VectorStoresTests and
# FilesTests, cited in openapi/overlay.yaml), and, for search and content, as the spec says.
STORE_BODIES: list[tuple[str, dict[str, Any]]] = [
    (
        "FileObject",
        {
            "object": "file",
            "id": "file-NURKKxVxXWAVkqJ2aWG5RK",
            "purpose": "assistants",
            "filename": "test_file_000.txt",
            "bytes": 21,
            "created_at": 1758064047,
            "expires_at": None,
            "status": "processed",
            "status_details": None,
        },
    ),
    (
        "VectorStore",
        {
            "id": "vs_68c9edb3b0c4819199cc3c605e99300d",
            "object": "vector_store",
            "created_at": 1758064051,
            "name": None,
            "description": None,
            "usage_bytes": 0,
            "file_counts": {
                "in_progress": 5,
                "completed": 0,
                "failed": 0,
                "cancelled": 0,
                "total": 5,
            },
            "status": "in_progress",
            "expires_after": None,
            "expires_at": None,
            "last_active_at": 1758064051,
            "metadata": {},
        },
    ),
    (
        "VectorStoreFile",
        {
            "id": "file-UdpMJohk6Da4gg49xYLcjL",
            "object": "vector_store.file",
            "usage_bytes": 0,
            "created_at": 1758064051,
            "vector_store_id": "vs_68c9edb3b0c4819199cc3c605e99300d",
            "status": "in_progress",
            "last_error": None,
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 1200, "chunk_overlap_tokens": 250},
            },
            "attributes": {},
        },
    ),
    (
        "VectorStoreFile",
        {
            "id": "file-old",
            "object": "vector_store.file",
            "usage_bytes": 10,
            "created_at": 1,
            "vector_store_id": "vs_1",
            "status": "failed",
            "last_error": {"code": "unsupported_file", "message": "no text in it"},
            "chunking_strategy": {"type": "other"},
            "attributes": {"year": 2024, "draft": True, "team": "ops"},
        },
    ),
    (
        "VectorStoreFileBatch",
        {
            "id": "vsfb_06284994797f4808b5a36bf19f4b6680",
            "object": "vector_store.file_batch",
            "created_at": 1758064116,
            "status": "in_progress",
            "vector_store_id": "vs_68c9edecaa10819185ff548a8bae87b2",
            "file_counts": {
                "in_progress": 10,
                "completed": 0,
                "failed": 0,
                "cancelled": 0,
                "total": 10,
            },
        },
    ),
    (
        "VectorStoreSearchResults",
        {
            "object": "vector_store.search_results.page",
            "search_query": ["favorite food"],
            "data": [
                {
                    "file_id": "file-1",
                    "filename": "favorite_foods.txt",
                    "score": 0.68,
                    "attributes": {"lang": "en"},
                    "content": [{"type": "text", "text": "Filip Carola: cake"}],
                }
            ],
            "has_more": False,
            "next_page": None,
        },
    ),
    (
        "VectorStoreFileContent",
        {
            "object": "vector_store.file_content.page",
            "data": [{"type": "text", "text": "The favorite food of several people"}],
            "has_more": False,
            "next_page": None,
        },
    ),
    ("ThreadMessage", FILE_PATH_MESSAGE),
    ("MessageDelta", FILE_PATH_DELTA),
    ("Assistant", ASSISTANT),
]


@pytest.mark.parametrize(("model", "body"), STORE_BODIES, ids=[m for m, _ in STORE_BODIES])
def test_a_realistic_body_parses_with_no_unknown_variant_and_round_trips(
    model: str, body: dict[str, Any]
) -> None:
    parsed = getattr(models, model).from_dict(body)
    assert unknown_variants(parsed) == []
    assert parsed.to_dict() == body


def test_the_chunking_strategy_of_a_file_is_told_apart_by_its_type() -> None:
    static = models.VectorStoreFile.from_dict(STORE_BODIES[2][1]).chunking_strategy
    other = models.VectorStoreFile.from_dict(STORE_BODIES[3][1]).chunking_strategy
    assert isinstance(static, models.StaticFileChunkingStrategy)
    assert static.static.chunk_overlap_tokens == 250
    assert isinstance(other, models.OtherFileChunkingStrategy)


def test_attribute_values_keep_their_json_kind() -> None:
    attributes = models.VectorStoreFile.from_dict(STORE_BODIES[3][1]).attributes
    assert attributes == {"year": 2024, "draft": True, "team": "ops"}
    assert isinstance(attributes, dict)
    assert [type(v) for v in attributes.values()] == [int, bool, str]


def test_a_file_path_annotation_is_read_as_one() -> None:
    message = models.ThreadMessage.from_dict(FILE_PATH_MESSAGE)
    (part,) = message.content
    assert isinstance(part, models.MessageContentText)
    (annotation,) = part.text.annotations
    assert isinstance(annotation, models.FilePathAnnotation)
    assert annotation.file_path.file_id == "file-chart"
    assert message.text_with_citations().text == FILE_PATH_MESSAGE["content"][0]["text"]["value"]


def test_a_search_results_page_is_not_a_cursor_list() -> None:
    # It pages with a `next_page` token, not by id: its operation returns the page itself.
    from assistants_client._operation import ListOperation
    from assistants_client.models import operations

    assert not isinstance(operations.SEARCH_VECTOR_STORE, ListOperation)
    assert not isinstance(operations.GET_VECTOR_STORE_FILE_CONTENT, ListOperation)
    assert isinstance(operations.LIST_VECTOR_STORE_FILE_BATCH_FILES, ListOperation)
