"""A file_search call streams its ranking options and results in ``thread.run.step.delta``.

The live API sends them there (tests/fixtures/reference/assistants-file-search-run.sse), though
the spec calls that object always empty: the handler receives them typed, and the step built
from the deltas is the step the server completes.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistants_client import AssistantEventHandler
from assistants_client._streaming import parse_event_stream
from assistants_client.models import (
    FileSearchCallDelta,
    FileSearchCallRankingOptions,
    FileSearchResult,
    FileSearchToolCall,
    FileSearchToolCallDelta,
    RunStep,
    RunStepDelta,
    ToolCallsStepDetails,
    ToolCallsStepDetailsDelta,
)
from tests.realservers.recordings import REFERENCE, sse_body
from tests.streaming.recorded import STEP_ID, chunked, encode, run, step

RECORDED = REFERENCE / "assistants-file-search-run.sse"
RANKING = {"ranker": "default_2024_08_21", "score_threshold": 0.0}
RESULT = {
    "file_id": "file-cakes",
    "file_name": "gâteaux.txt",
    "score": 0.82,
    "attributes": {"year": 2024},
    "content": [{"type": "text", "text": "Filip: le fraisier 🎂"}],
}


class _StepDeltas(AssistantEventHandler):
    """What a handler sees of each step delta: the delta, and the call so far."""

    def __init__(self) -> None:
        self.deltas: list[RunStepDelta] = []
        self.snapshots: list[RunStep] = []
        self.call_deltas: list[tuple[Any, Any]] = []

    def on_run_step_delta(self, delta: RunStepDelta, snapshot: RunStep) -> None:
        self.deltas.append(delta)
        self.snapshots.append(snapshot)

    def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
        self.call_deltas.append((delta, snapshot))


def _only_call(details: Any) -> Any:
    assert isinstance(details, (ToolCallsStepDetails, ToolCallsStepDetailsDelta))
    (call,) = details.tool_calls or []
    return call


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 16])
def test_the_recorded_search_delta_reaches_the_handler_typed_and_builds_the_call(
    size: int,
) -> None:
    body = sse_body(RECORDED)
    handler = _StepDeltas()
    stream = parse_event_stream(iter(chunked(body, size)), handler).until_done()
    (delta,) = handler.deltas
    call = _only_call(delta.delta.step_details)
    assert isinstance(call, FileSearchToolCallDelta)
    assert isinstance(call.file_search, FileSearchCallDelta)
    assert isinstance(call.file_search.ranking_options, FileSearchCallRankingOptions)
    assert call.file_search.ranking_options.to_dict() == RANKING
    assert call.file_search.results == []
    # The step so far, built from the created step and this delta.
    (snapshot,) = handler.snapshots
    built = _only_call(snapshot.step_details)
    assert isinstance(built, FileSearchToolCall)
    assert built.id == call.id
    assert built.file_search.to_dict() == {"ranking_options": RANKING, "results": []}
    ((call_delta, call_snapshot),) = handler.call_deltas
    assert call_delta == call and call_snapshot == built
    # The server then completes the step with the search's results (asked for by include[]).
    search_step = stream.final_run_steps[0]
    completed = _only_call(search_step.step_details)
    assert isinstance(completed, FileSearchToolCall) and completed.id == call.id
    assert completed.file_search.ranking_options == built.file_search.ranking_options
    assert [r.file_name for r in completed.file_search.results or []] == ["favorite_foods.txt"]


def _search_run(deltas: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """A run whose search step streams `deltas` as its file_search, and is never completed."""
    created = step("in_progress", {"type": "tool_calls", "tool_calls": []})
    streamed: list[tuple[str, Any]] = [
        ("thread.run.created", run("queued")),
        ("thread.run.step.created", created),
    ]
    for i, file_search in enumerate(deltas):
        call: dict[str, Any] = {"index": 0, "type": "file_search", "file_search": file_search}
        if i == 0:
            call["id"] = "call_search"
        streamed.append(
            (
                "thread.run.step.delta",
                {
                    "id": STEP_ID,
                    "object": "thread.run.step.delta",
                    "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}},
                },
            )
        )
    streamed.append(("thread.run.in_progress", run("in_progress")))
    return streamed


@pytest.mark.parametrize(
    "deltas",
    [
        [{"ranking_options": RANKING, "results": [RESULT]}],
        [{"ranking_options": RANKING}, {"results": [RESULT]}],
        [{"ranking_options": RANKING, "results": []}, {"results": [RESULT]}],
    ],
    ids=["one-delta", "options-then-results", "empty-results-then-results"],
)
def test_a_step_built_from_search_deltas_carries_typed_options_and_results(
    deltas: list[dict[str, Any]],
) -> None:
    handler = _StepDeltas()
    body = chunked(encode(_search_run(deltas)), 5)
    stream = parse_event_stream(iter(body), handler).until_done()
    assert [type(_only_call(d.delta.step_details).file_search) for d in handler.deltas] == [
        FileSearchCallDelta
    ] * len(deltas)
    (built_step,) = stream.final_run_steps
    call = _only_call(built_step.step_details)
    assert isinstance(call, FileSearchToolCall) and call.id == "call_search"
    assert isinstance(call.file_search.ranking_options, FileSearchCallRankingOptions)
    (result,) = call.file_search.results or []
    assert isinstance(result, FileSearchResult)
    assert result.to_dict() == RESULT
    assert call.file_search.to_dict() == {"ranking_options": RANKING, "results": [RESULT]}


def test_a_search_delta_without_results_leaves_them_absent_in_the_built_step() -> None:
    stream = parse_event_stream(iter([encode(_search_run([{"ranking_options": RANKING}]))]))
    (built_step,) = stream.until_done().final_run_steps
    call = _only_call(built_step.step_details)
    assert isinstance(call, FileSearchToolCall)
    assert call.file_search.results is None
    assert call.to_dict() == {
        "id": "call_search",
        "type": "file_search",
        "file_search": {"ranking_options": RANKING},
    }
