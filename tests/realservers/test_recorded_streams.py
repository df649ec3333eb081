"""Every stream recorded from the live API, replayed through the client at several chunk sizes.

The streams come from api.openai.com (tests/fixtures/reference): a text run, a run that asks
for a function call, the continuation after its output was submitted, and a run that searched a
vector store and cites the file. Each is served by a loopback server, cut into chunks of a given
size, and read through the method that asked for it. What the client accumulates from the
deltas must equal what the server sent as complete, annotations included.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistants_client import AssistantsClient, AssistantStream
from assistants_client.models import FileSearchToolCall, FunctionToolCall, ToolCallsStepDetails
from tests.servers.scripted import Reply, ScriptedServer

from .recordings import ASSISTANTS_STREAMS, events, sse_body

CHUNK_SIZES = [1, 3, 17, 64, 512, 100_000]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as scripted:
        yield scripted


def _serve(server: ScriptedServer, body: bytes, size: int) -> None:
    headers = {"Content-Type": "text/event-stream; charset=utf-8"}
    server.enqueue(Reply(headers=headers, body=body, chunk_size=size))


def _open(client: AssistantsClient, path: Path) -> AssistantStream:
    name = path.name
    if "text-run" in name:
        return client.stream_run("thread_rec", "asst_rec")
    if "file-search" in name:
        include = ["step_details.tool_calls[*].file_search.results[*].content"]
        return client.stream_run("thread_rec", "asst_rec", include=include)
    if "requires-action" in name:
        return client.stream_thread_and_run("asst_rec")
    outputs = [{"tool_call_id": "call_rec", "output": "42"}]
    return client.stream_tool_outputs("thread_rec", "run_rec", outputs)


def test_the_recordings_are_all_here() -> None:
    names = {path.name for path in ASSISTANTS_STREAMS}
    assert {
        "assistants-text-run.sse",
        "assistants-tool-call-requires-action.sse",
        "assistants-submit-tool-outputs.sse",
        "assistants-file-search-run.sse",
    } <= names
    assert len(names) == 6


@pytest.mark.parametrize("size", CHUNK_SIZES)
@pytest.mark.parametrize("path", ASSISTANTS_STREAMS, ids=lambda p: p.stem)
def test_a_recorded_stream_reads_to_the_end_at_every_chunk_size(
    server: ScriptedServer, path: Path, size: int
) -> None:
    body = sse_body(path)
    recorded = events(body)
    _serve(server, body, size)
    with AssistantsClient(base_url=server.base_url) as client, _open(client, path) as stream:
        seen = [event.event for event in stream]
    assert stream.done
    assert seen == [name for name, _ in recorded if name != "done"]
    final_run = [
        data for name, data in recorded if name.startswith("thread.run.") and "step" not in name
    ][-1]
    assert stream.final_run is not None
    assert stream.final_run.to_dict() == final_run


@pytest.mark.parametrize("size", CHUNK_SIZES)
@pytest.mark.parametrize(
    "path", [p for p in ASSISTANTS_STREAMS if "requires-action" not in p.name], ids=lambda p: p.stem
)
def test_the_accumulated_text_equals_the_servers_completed_message(
    server: ScriptedServer, path: Path, size: int
) -> None:
    body = sse_body(path)
    completed = [data for name, data in events(body) if name == "thread.message.completed"]
    _serve(server, body, size)
    with AssistantsClient(base_url=server.base_url) as client, _open(client, path) as stream:
        streamed = "".join(stream.text_deltas())
    assert completed
    message = completed[-1]
    server_text = "".join(part["text"]["value"] for part in message["content"])
    assert streamed == server_text
    accumulated = stream.snapshot.accumulated_message(message["id"])
    assert accumulated is not None
    assert "".join(p["text"]["value"] for p in accumulated["content"]) == server_text
    # What the deltas built is the message the server stored, annotations included.
    assert [p["text"] for p in accumulated["content"]] == [p["text"] for p in message["content"]]
    assert stream.final_messages[-1].to_dict() == message


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_a_file_search_run_streams_its_search_step_and_a_citation_that_points_at_the_marker(
    server: ScriptedServer, size: int
) -> None:
    path = next(p for p in ASSISTANTS_STREAMS if "file-search" in p.name)
    _serve(server, sse_body(path), size)
    with AssistantsClient(base_url=server.base_url) as client, _open(client, path) as stream:
        stream.until_done()
    message = stream.final_messages[-1]
    cited = message.text_with_citations()
    assert cited.text == "Filip's favorite food is cake[1]."
    assert [c.file_id for c in cited.citations] == ["file-CyHtsk7XAWdRabQUBYRjCu"]
    assert message.plain_text() == "Filip's favorite food is cake."
    search_step, message_step = stream.final_run_steps
    assert message_step.type == "message_creation"
    assert isinstance(search_step.step_details, ToolCallsStepDetails)
    (call,) = search_step.step_details.tool_calls
    assert isinstance(call, FileSearchToolCall)
    (result,) = call.file_search.results
    assert (result.file_name, result.attributes) == ("favorite_foods.txt", {})
    assert "Filip Carola: cake" in result.content[0].text
    assert server.requests[0].query == {
        "include[]": ["step_details.tool_calls[*].file_search.results[*].content"]
    }


@pytest.mark.parametrize("size", CHUNK_SIZES)
@pytest.mark.parametrize(
    "path", [p for p in ASSISTANTS_STREAMS if "requires-action" in p.name], ids=lambda p: p.stem
)
def test_the_streamed_tool_calls_equal_the_required_action(
    server: ScriptedServer, path: Path, size: int
) -> None:
    _serve(server, sse_body(path), size)
    with AssistantsClient(base_url=server.base_url) as client, _open(client, path) as stream:
        stream.until_done()
    run = stream.final_run
    assert run is not None and run.status == "requires_action"
    required = [(c.id, c.function.name, c.function.arguments) for c in run.required_tool_calls]
    assert required
    step = stream.final_run_steps[-1]
    assert isinstance(step.step_details, ToolCallsStepDetails)
    streamed = []
    for call in step.step_details.tool_calls:
        assert isinstance(call, FunctionToolCall)
        # The deltas never carry the output: it reads as None, not as an error.
        assert call.function.output is None
        streamed.append((call.id, call.function.name, call.function.arguments))
    assert streamed == required
