"""The emulator's file_search: without any backend, a run with a file_search tool searches its
stores for the last user message and replies with the best passage's first sentence, cited."""

from __future__ import annotations

from pathlib import Path

from assistants_client import AssistantsClient
from assistants_client.emulator import Emulator
from assistants_client.emulator.replies import NOTHING_FOUND_REPLY

SEARCH_TOOL = {"type": "file_search"}


def client_of(emulator: Emulator) -> AssistantsClient:
    return AssistantsClient(base_url=emulator.base_url, api_key="sk-test", timeout=30)


def test_the_emulator_searches_and_cites_the_passage_it_quotes(emulator, tmp_path: Path):
    notes = tmp_path / "runbook.md"
    notes.write_text(
        "# Disk alerts\n\nERR-4411 means the data volume is full. Rotate the logs.\n",
        encoding="utf-8",
    )
    other = tmp_path / "billing.txt"
    other.write_text("Invoices are issued on the first business day.\n", encoding="utf-8")
    with client_of(emulator) as client:
        store = client.create_vector_store(name="docs")
        for path in (notes, other):
            uploaded = client.upload_file(path, "assistants")
            client.create_vector_store_file_and_poll(store.id, uploaded.id, timeout=30)
        assistant = client.create_assistant(
            "gpt-4o",
            tools=[SEARCH_TOOL],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        thread = client.create_thread(
            messages=[{"role": "user", "content": "What does ERR-4411 mean?"}]
        )

        run = client.create_run_and_wait(thread.id, assistant.id, wait_timeout=30)

        assert run.status == "completed", run.last_error
        steps = list(client.list_run_steps(thread.id, run.id, order="asc"))
        assert [s.type for s in steps] == ["tool_calls", "message_creation"]
        results = steps[0].step_details.tool_calls[0].file_search.results
        assert results[0].file_name == "runbook.md"
        (reply,) = [m for m in client.list_messages(thread.id) if m.role == "assistant"]
        text = reply.content[0].text
        marker = "【0:0†runbook.md】"
        assert (
            text.value
            == f'The files say: "Disk alerts ERR-4411 means the data volume is full."{marker}'
        )
        (annotation,) = text.annotations
        assert text.value[annotation.start_index : annotation.end_index] == marker
        assert annotation.file_citation.file_id == results[0].file_id
        assert (
            reply.plain_text()
            == 'The files say: "Disk alerts ERR-4411 means the data volume is full."'
        )


def test_the_emulator_says_when_a_search_finds_nothing(emulator):
    with client_of(emulator) as client:
        assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])
        thread = client.create_thread(messages=[{"role": "user", "content": "Anything?"}])

        run = client.create_run_and_wait(thread.id, assistant.id, wait_timeout=30)

        assert run.status == "completed"
        (reply,) = [m for m in client.list_messages(thread.id) if m.role == "assistant"]
        assert reply.content[0].text.value == NOTHING_FOUND_REPLY
        assert reply.content[0].text.annotations == []
