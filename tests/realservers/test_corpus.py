"""The response corpus: what each kind of server sends, read tolerantly and strictly.

tests/fixtures/corpus holds payloads written from the published specs of OpenAI, Azure OpenAI
and Azure AI Foundry Agent Service, and from a sparse compatible server that leaves out every
null and optional field. Each file says whether the spec itself accepts it (``strict_fails``).
Every payload must read with the default reading and round-trip exactly; the strict reading
must refuse it exactly when the spec does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistants_client import AssistantsClient, ModelValidationError, models
from assistants_client._converter import structure
from tests.servers.scripted import Reply, ScriptedServer

from .recordings import events, sse_body

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
KINDS = ("openai", "azure", "foundry", "sparse")
FILES = sorted(CORPUS.glob("*/*.json"))
STREAMS = sorted(CORPUS.glob("*/*.sse"))


def _load(path: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_every_kind_of_server_is_in_the_corpus() -> None:
    for kind in KINDS:
        assert len(list((CORPUS / kind).glob("*.json"))) >= 14, kind


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_a_corpus_payload_reads_and_round_trips_exactly(path: Path) -> None:
    record = _load(path)
    model = getattr(models, record["model"])
    parsed = structure(record["body"], model)
    assert parsed.to_dict() == record["body"]


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_the_strict_reading_refuses_a_corpus_payload_exactly_when_the_spec_does(
    path: Path,
) -> None:
    record = _load(path)
    model = getattr(models, record["model"])
    if record["strict_fails"]:
        with pytest.raises(ModelValidationError):
            structure(record["body"], model, strict=True)
    else:
        assert structure(record["body"], model, strict=True).to_dict() == record["body"]


def test_foundry_only_tools_keep_their_raw_data() -> None:
    record = _load(CORPUS / "foundry" / "agent_get_knowledge_tools.json")
    assistant = structure(record["body"], models.Assistant)
    unknown = [t for t in assistant.tools if isinstance(t, models.UnknownAssistantTool)]
    assert {t.type for t in unknown} >= {"azure_ai_search"}
    for tool in unknown:
        assert tool.raw == next(t for t in record["body"]["tools"] if t["type"] == tool.type)


def _text(message: dict[str, Any]) -> str:
    return "".join(p["text"]["value"] for p in message["content"] if p["type"] == "text")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as scripted:
        yield scripted


@pytest.mark.parametrize("size", [1, 7, 100_000])
@pytest.mark.parametrize("path", STREAMS, ids=_id)
def test_a_corpus_stream_reads_to_the_end(server: ScriptedServer, path: Path, size: int) -> None:
    body = sse_body(path)
    recorded = events(body)
    headers = {"Content-Type": "text/event-stream; charset=utf-8"}
    server.enqueue(Reply(headers=headers, body=body, chunk_size=size))
    client = AssistantsClient(base_url=server.base_url)
    with client, client.stream_thread_and_run("asst_corpus") as stream:
        seen = [event.event for event in stream]
    assert stream.done
    assert seen == [name for name, _ in recorded if name != "done"]
    completed = [data for name, data in recorded if name == "thread.message.completed"]
    for message in completed:
        accumulated = stream.snapshot.accumulated_message(message["id"])
        assert accumulated is not None
        assert _text(accumulated) == _text(message)
    run = stream.final_run
    assert run is not None
    if run.status == "requires_action":
        streamed = [
            (c.id, c.function.name, c.function.arguments)  # type: ignore[union-attr]
            for step in stream.final_run_steps
            if isinstance(step.step_details, models.ToolCallsStepDetails)
            for c in step.step_details.tool_calls
        ]
        required = [(c.id, c.function.name, c.function.arguments) for c in run.required_tool_calls]
        assert streamed == required
