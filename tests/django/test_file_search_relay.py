"""A streamed file_search run relayed to a page by a Django view: the citations arrive unchanged.

The view is the smallest a user writes (``sse_response(get_client().stream_run(...),
events=[...])``), served through Django's test client. Two services stream to it: one replaying
the live API's recorded file_search run (``tests/fixtures/reference``), whose annotation deltas
must reach the page as the same JSON values (through the async relay too); and
``assistants-server`` on the citing fake backend, whose relayed annotations must be the ones
its stored message holds, indices exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, StreamingHttpResponse
from django.test import Client, override_settings
from django.urls import path

from assistants_client import AssistantsClient, AsyncAssistantsClient, FileUpload
from assistants_client.django import get_client, sse_response
from tests.compat.file_search_flow import (
    ANSWERING,
    DOCUMENTS,
    QUESTION,
    check_citation,
    citing_server,
)
from tests.django.sse import parse_frames
from tests.files.support import Target
from tests.servers.misbehaving import MisbehavingServer, event_stream
from tests.support.aio import run

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "tests" / "fixtures" / "reference" / "assistants-file-search-run.sse"
RELAYED = ["thread.message.delta", "thread.message.completed", "thread.run.step.completed"]


def relay(request: HttpRequest, thread_id: str, assistant_id: str) -> StreamingHttpResponse:
    stream = get_client().stream_run(thread_id, assistant_id)
    return sse_response(stream, events=RELAYED)


urlpatterns = [path("relay/<str:thread_id>/<str:assistant_id>", relay)]


def relayed_frames(base_url: str, thread_id: str, assistant_id: str) -> list[tuple[str, Any]]:
    settings = {"base_url": base_url, "api_key": "sk-relay", "max_retries": 0}
    with override_settings(ROOT_URLCONF=__name__, ASSISTANTS_CLIENT=settings):
        response = Client().get(f"/relay/{thread_id}/{assistant_id}")
        assert isinstance(response, StreamingHttpResponse)
        assert response["Content-Type"].startswith("text/event-stream")
        try:
            return parse_frames(response.streaming_content)  # type: ignore[arg-type]
        finally:
            response.close()


def annotations_of(frames: list[tuple[str, Any]]) -> list[Any]:
    return [
        annotation
        for name, data in frames
        if name == "thread.message.delta"
        for part in data["delta"].get("content", [])
        for annotation in part.get("text", {}).get("annotations", [])
    ]


def recorded_annotations() -> list[Any]:
    frames = []
    for block in RECORDED.read_text(encoding="utf-8").split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines.get("event") == "thread.message.delta":
            frames.append(("thread.message.delta", json.loads(lines["data"])))
    return annotations_of(frames)


def test_the_live_apis_recorded_citation_deltas_reach_the_page_unchanged() -> None:
    recorded = recorded_annotations()
    assert len(recorded) == 1  # the recording's one citation, with its empty `quote`
    with MisbehavingServer() as service:
        service.enqueue(event_stream(RECORDED.read_bytes(), piece_size=97))
        frames = relayed_frames(service.base_url, "thread_1", "asst_1")

    assert frames[-1][0] == "done"
    assert annotations_of(frames) == recorded
    (completed,) = [data for name, data in frames if name == "thread.message.completed"]
    (part,) = completed["content"]
    (citation,) = part["text"]["annotations"]
    value = part["text"]["value"]
    assert value[citation["start_index"] : citation["end_index"]] == citation["text"]


def test_the_async_relay_passes_the_recorded_citation_deltas_unchanged_too() -> None:
    async def relayed(base_url: str) -> list[tuple[str, Any]]:
        async with AsyncAssistantsClient(base_url=base_url, api_key="sk-relay") as client:
            relay = client.stream_run("thread_1", "asst_1").to_sse(events=RELAYED)
            return parse_frames([chunk async for chunk in relay])

    with MisbehavingServer() as service:
        service.enqueue(event_stream(RECORDED.read_bytes(), piece_size=97))
        frames = run(relayed(service.base_url))

    assert frames[-1][0] == "done"
    assert annotations_of(frames) == recorded_annotations()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Target]:
    made = citing_server(tmp_path)
    try:
        yield made
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


def test_a_file_search_run_on_the_server_reaches_the_page_with_the_stored_citation(
    server: Target,
) -> None:
    with AssistantsClient(base_url=server.base_url, api_key="sk-relay") as client:
        store = client.create_vector_store(name="manuals")
        client.upload_files_and_poll(
            store.id,
            [FileUpload.of(text.encode(), filename=name) for name, text in DOCUMENTS.items()],
        )
        files = {f.filename: f.id for f in client.list_files(purpose="assistants")}
        assistant = client.create_assistant(
            "gpt-4o",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        thread = client.create_thread(messages=[{"role": "user", "content": QUESTION}])

        frames = relayed_frames(server.base_url, thread.id, assistant.id)

        assert frames[-1][0] == "done", frames[-3:]
        (stored,) = [m for m in client.list_messages(thread.id) if m.role == "assistant"]
    stored_content = stored.to_dict()["content"]
    citation = check_citation(stored_content, files)
    (relayed,) = annotations_of(frames)
    # The delta carries the live API's empty `quote` beside the file id, as the server sent it.
    assert relayed["file_citation"].pop("quote") == ""
    assert relayed == {"index": 0, **citation}
    assert relayed["file_citation"]["file_id"] == files[ANSWERING]
    (completed,) = [data for name, data in frames if name == "thread.message.completed"]
    assert completed["content"] == stored_content
    text = "".join(
        part["text"].get("value", "")
        for name, data in frames
        if name == "thread.message.delta"
        for part in data["delta"].get("content", [])
    )
    assert text == stored_content[0]["text"]["value"]
