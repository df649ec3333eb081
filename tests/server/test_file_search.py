"""file_search in runs, end to end: ``assistants-server`` on a fake Chat Completions backend
whose model searches and cites (``citing_answer``), driven by this library's client over
loopback; the backend records what it was sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistants_client import AssistantsClient
from tests.files.support import Documents, documents
from tests.server.support import RunningServer
from tests.servers.fake_chat import (
    CITED_SENTENCE,
    MARKER_PATTERN,
    FakeChatServer,
    citing_answer,
)

INCLUDE = "step_details.tool_calls[*].file_search.results[*].content"
SEARCH_TOOL = {"type": "file_search"}


@pytest.fixture
def docs(tmp_path: Path) -> Documents:
    return documents(tmp_path / "docs")


@pytest.fixture
def citing(backend: FakeChatServer) -> FakeChatServer:
    backend.default_answer = citing_answer
    return backend


@pytest.fixture
def client(server: RunningServer) -> AssistantsClient:
    return server.client()


def store_of(client: AssistantsClient, *paths: Path, name: str = "docs") -> str:
    store = client.create_vector_store(name=name)
    for path in paths:
        uploaded = client.upload_file(path, "assistants")
        done = client.create_vector_store_file_and_poll(store.id, uploaded.id, timeout=30)
        assert done.status == "completed", done
    return store.id


def file_ids_by_name(client: AssistantsClient) -> dict[str, str]:
    return {f.filename: f.id for f in client.list_files()}


def tool_messages(backend: FakeChatServer) -> list[dict[str, Any]]:
    return [
        message
        for body in backend.chat_bodies()
        for message in body["messages"]
        if message["role"] == "tool"
    ]


def ask(client: AssistantsClient, assistant_id: str, question: str, **run: Any) -> tuple[str, Any]:
    thread = client.create_thread(messages=[{"role": "user", "content": question}])
    finished = client.create_run_and_wait(thread.id, assistant_id, wait_timeout=30, **run)
    return thread.id, finished


def the_reply(client: AssistantsClient, thread_id: str) -> Any:
    replies = [m for m in client.list_messages(thread_id, order="asc") if m.role == "assistant"]
    assert len(replies) == 1, replies
    return replies[0]


def test_a_run_searches_its_assistants_store_and_cites_the_file_that_answers(client, citing, docs):
    store = store_of(client, docs.runbook, docs.billing, docs.garden)
    assistant = client.create_assistant(
        "gpt-4o",
        tools=[SEARCH_TOOL],
        tool_resources={"file_search": {"vector_store_ids": [store]}},
    )

    thread_id, run = ask(client, assistant.id, "What does ERR-4411 mean?")

    assert run.status == "completed", run.last_error
    ids = file_ids_by_name(client)
    first, second = citing.chat_bodies()
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "file_search",
                "description": first["tools"][0]["function"]["description"],
                "parameters": {
                    "type": "object",
                    "properties": {
                        "queries": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 1,
                            "maxItems": 5,
                            "description": first["tools"][0]["function"]["parameters"][
                                "properties"
                            ]["queries"]["description"],
                        }
                    },
                    "required": ["queries"],
                    "additionalProperties": False,
                },
            },
        }
    ]
    (tool,) = tool_messages(citing)
    assert tool["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]
    markers = MARKER_PATTERN.findall(tool["content"])
    assert markers[0] == "【0:0†runbook.md】"
    assert "ERR-4411 means the data volume is full" in tool["content"]
    assert "Cite each passage" in tool["content"]

    steps = list(client.list_run_steps(thread_id, run.id, order="asc"))
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    (call,) = steps[0].step_details.tool_calls
    assert call.type == "file_search"
    results = call.file_search.results
    assert results[0].file_id == ids["runbook.md"]
    assert results[0].file_name == "runbook.md"
    assert not any(isinstance(r.content, list) for r in results)
    assert call.file_search.ranking_options.ranker == "default_2024_08_21"

    reply = the_reply(client, thread_id)
    text = reply.content[0].text
    assert text.value == CITED_SENTENCE + "【0:0†runbook.md】"
    (annotation,) = text.annotations
    assert annotation.type == "file_citation"
    assert annotation.file_citation.file_id == ids["runbook.md"]
    assert text.value[annotation.start_index : annotation.end_index] == annotation.text
    assert annotation.text == "【0:0†runbook.md】"
    assert run.usage.prompt_tokens == 40 + 11
    assert run.usage.completion_tokens == 12 + 7
