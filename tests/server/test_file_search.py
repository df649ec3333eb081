"""file_search in runs, end to end: ``assistants-server`` on a fake Chat Completions backend
whose model searches and cites (``citing_answer``), driven by this library's client over
loopback; the backend records what it was sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from assistants_client import AssistantsClient, BadRequestError, NotFoundError
from assistants_client.server.file_search import NO_MORE_SEARCHES
from tests.files.support import Documents, documents
from tests.server.support import (
    BOUND,
    RunningServer,
    assert_like_recording,
    assert_valid_events,
    only,
    recording,
    stream_events,
    wait_until,
)
from tests.servers.fake_chat import (
    CITED_SENTENCE,
    MARKER_PATTERN,
    UNCITED_SENTENCE,
    FakeChatServer,
    ScriptedCall,
    citing_answer,
    parallel_tool_calls_answer,
    text_answer,
    tool_call_answer,
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


def searching_assistant(client: AssistantsClient, *paths: Path, tool: Any = SEARCH_TOOL) -> Any:
    """An assistant with ``tool`` (file_search) and a store holding ``paths``."""
    return client.create_assistant(
        "gpt-4o",
        tools=[tool],
        tool_resources={"file_search": {"vector_store_ids": [store_of(client, *paths)]}},
    )


def expire(server: RunningServer, store_id: str) -> None:
    """Make a store with ``expires_after`` expired: its last activity a day too long ago."""
    retrieval = server.engine.retrieval
    record = retrieval.get_vector_store("", store_id)
    assert record.expires_after is not None
    idle = (record.expires_after["days"] + 1) * 86400
    with retrieval.transaction():
        retrieval.index.update_store(attrs.evolve(record, last_active_at=record.created_at - idle))


def attaching(text: str, file_id: str) -> dict[str, Any]:
    """A user message with ``file_id`` attached for file_search."""
    return {
        "role": "user",
        "content": text,
        "attachments": [{"file_id": file_id, "tools": [SEARCH_TOOL]}],
    }


def file_ids_by_name(client: AssistantsClient) -> dict[str, str]:
    return {f.filename: f.id for f in client.list_files()}


def tool_messages(backend: FakeChatServer) -> list[dict[str, Any]]:
    return [
        message
        for body in backend.chat_bodies()
        for message in body["messages"]
        if message["role"] == "tool"
    ]


def last_tool_outputs(backend: FakeChatServer) -> list[str]:
    """The tool outputs the backend's last request holds, in order."""
    return [m["content"] for m in backend.last_body()["messages"] if m["role"] == "tool"]


def ask(client: AssistantsClient, assistant_id: str, question: str, **run: Any) -> tuple[str, Any]:
    thread = client.create_thread(messages=[{"role": "user", "content": question}])
    finished = client.create_run_and_wait(thread.id, assistant_id, wait_timeout=30, **run)
    return thread.id, finished


def the_reply(client: AssistantsClient, thread_id: str) -> Any:
    replies = [m for m in client.list_messages(thread_id, order="asc") if m.role == "assistant"]
    assert len(replies) == 1, replies
    return replies[0]


def test_a_run_searches_its_assistants_store_and_cites_the_file_that_answers(client, citing, docs):
    assistant = searching_assistant(client, docs.runbook, docs.billing, docs.garden)

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


# -- streamed ------------------------------------------------------------------------------------


def accumulated_text(found: list[tuple[str, Any]], message_id: str) -> dict[str, Any]:
    """A message's text as a client accumulates its deltas: values joined, annotations by
    ``index`` (the live stream's empty ``quote`` dropped)."""
    value = ""
    annotations: dict[int, dict[str, Any]] = {}
    for data in only(found, "thread.message.delta"):
        if data["id"] != message_id:
            continue
        for part in data["delta"]["content"]:
            value += part["text"].get("value", "")
            for annotation in part["text"].get("annotations", []):
                shown = dict(annotation)
                index = shown.pop("index")
                citation = dict(shown["file_citation"])
                assert citation.pop("quote") == ""
                annotations[index] = {**shown, "file_citation": citation}
    return {"value": value, "annotations": [annotations[i] for i in sorted(annotations)]}


def test_a_streamed_search_has_the_recorded_events_and_its_deltas_add_up_to_the_stored_message(
    server, client, citing, docs
):
    assistant = searching_assistant(client, docs.runbook, docs.billing)
    thread = client.create_thread(messages=[{"role": "user", "content": "What is ERR-4411?"}])

    found = stream_events(
        server.base_url,
        f"/threads/{thread.id}/runs?include[]={INCLUDE}",
        {"assistant_id": assistant.id},
    )

    assert_valid_events(found)
    assert_like_recording(found, recording("assistants-file-search-run.sse"))
    (delta,) = only(found, "thread.run.step.delta")
    (call,) = delta["delta"]["step_details"]["tool_calls"]
    assert call["type"] == "file_search"
    assert call["file_search"]["results"] == []
    tool_step = only(found, "thread.run.step.completed")[0]
    results = tool_step["step_details"]["tool_calls"][0]["file_search"]["results"]
    assert results[0]["file_name"] == "runbook.md"
    assert "ERR-4411" in results[0]["content"][0]["text"]
    (message,) = only(found, "thread.message.completed")
    stored = client.get_message(thread.id, message["id"]).to_dict()
    assert accumulated_text(found, message["id"]) == stored["content"][0]["text"]
    assert message["content"][0]["text"] == stored["content"][0]["text"]
    (annotation,) = stored["content"][0]["text"]["annotations"]
    assert annotation["file_citation"]["file_id"] == file_ids_by_name(client)["runbook.md"]
    cited = [
        d for d in only(found, "thread.message.delta") if "【" in json.dumps(d, ensure_ascii=False)
    ]
    assert len(cited) == 1, "the marker, cut across backend chunks, is sent whole, once"


def test_a_marker_after_non_ascii_text_gets_code_point_indices_streamed_and_stored(
    server, client, backend, docs
):
    assistant = searching_assistant(client, docs.runbook)
    opening = "Ça dépend 😀 — 日本語, voilà "
    marker = "【0:0†runbook.md】"
    backend.script(
        tool_call_answer("file_search", '{"queries": ["ERR-4411"]}', splits=(5, 12)),
        text_answer(
            "",
            pieces=[
                opening[:7],
                opening[7:],
                "【",
                "0:",
                "0†run",
                "book.md】",
                " et 【7:1†x】 fin.",
            ],
        ),
    )
    thread = client.create_thread(messages=[{"role": "user", "content": "ERR-4411?"}])

    found = stream_events(
        server.base_url, f"/threads/{thread.id}/runs", {"assistant_id": assistant.id}
    )

    # Streamed without include[]: the results come without their passages.
    tool_step = only(found, "thread.run.step.completed")[0]
    results = tool_step["step_details"]["tool_calls"][0]["file_search"]["results"]
    assert results and all("content" not in result for result in results)
    (message,) = only(found, "thread.message.completed")
    text = message["content"][0]["text"]
    assert text["value"] == opening + marker + " et 【7:1†x】 fin."
    (annotation,) = text["annotations"]
    assert annotation["start_index"] == len(opening)
    assert annotation["end_index"] == len(opening) + len(marker)
    assert text["value"][annotation["start_index"] : annotation["end_index"]] == marker
    assert accumulated_text(found, message["id"]) == text
    assert client.get_message(thread.id, message["id"]).to_dict()["content"][0]["text"] == text


# -- include[] -------------------------------------------------------------------------------


def test_include_adds_the_passages_to_get_and_list_steps_and_an_unknown_value_is_refused(
    server, client, citing, docs
):
    assistant = searching_assistant(client, docs.runbook, docs.billing)
    thread_id, run = ask(client, assistant.id, "When are invoices issued?", include=[INCLUDE])
    assert run.status == "completed"

    plain = list(client.list_run_steps(thread_id, run.id, order="asc"))
    full = list(client.list_run_steps(thread_id, run.id, order="asc", include=[INCLUDE]))
    one = client.get_run_step(thread_id, run.id, plain[0].id, include=[INCLUDE])
    bare = client.get_run_step(thread_id, run.id, plain[0].id)

    for step in (full[0], one):
        results = step.step_details.tool_calls[0].file_search.results
        assert results[0].file_name == "billing.txt"
        assert "Invoices are issued" in results[0].content[0].text
        assert results[0].content[0].type == "text"
    for step in (plain[0], bare):
        results = step.step_details.tool_calls[0].file_search.results
        assert results and not any(isinstance(r.content, list) for r in results)
    for call in (
        lambda: client.list_run_steps(thread_id, run.id, include=["step_details.nothing"]),
        lambda: client.get_run_step(thread_id, run.id, plain[0].id, include=["nope"]),
        lambda: client.create_run(thread_id, assistant.id, include=["nope"]),
    ):
        with pytest.raises(BadRequestError) as refused:
            call()
        assert refused.value.param == "include[0]"
        assert INCLUDE in str(refused.value)


# -- which stores ----------------------------------------------------------------------------


def test_an_attachment_only_thread_finds_its_document_in_a_store_made_for_the_thread(
    client, citing, docs
):
    uploaded = client.upload_file(docs.garden, "assistants")
    other = client.upload_file(docs.billing, "assistants")
    assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])
    thread = client.create_thread(
        messages=[attaching("How often do tomato plants need water?", uploaded.id)]
    )
    # A thread of someone else, with its own attachment: never searched by this run.
    client.create_thread(messages=[attaching("invoices", other.id)])
    (store_id,) = client.get_thread(thread.id).tool_resources.file_search.vector_store_ids
    store = client.get_vector_store(store_id)
    assert store.expires_after.anchor == "last_active_at"
    assert store.expires_after.days == 7

    run = client.create_run_and_wait(thread.id, assistant.id, wait_timeout=30)

    assert run.status == "completed", run.last_error
    (tool,) = tool_messages(citing)
    assert "Water the tomato plants every morning" in tool["content"]
    assert "Invoices" not in tool["content"]
    text = the_reply(client, thread.id).content[0].text
    (annotation,) = text.annotations
    assert annotation.file_citation.file_id == uploaded.id


def test_inline_vector_stores_on_create_thread_and_run_are_real_and_searched(client, citing, docs):
    uploaded = client.upload_file(docs.runbook, "assistants")
    assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])

    run = client.create_thread_and_run(
        assistant.id,
        thread={
            "messages": [{"role": "user", "content": "What does ERR-4411 mean?"}],
            "tool_resources": {"file_search": {"vector_stores": [{"file_ids": [uploaded.id]}]}},
        },
    )
    run = client.wait_for_run(run.thread_id, run.id, timeout=30)

    assert run.status == "completed", run.last_error
    (store_id,) = client.get_thread(run.thread_id).tool_resources.file_search.vector_store_ids
    assert client.get_vector_store(store_id).file_counts.total == 1
    text = the_reply(client, run.thread_id).content[0].text
    assert text.annotations[0].file_citation.file_id == uploaded.id


def test_an_inline_store_on_create_thread_is_searched(client, citing, docs):
    uploaded = client.upload_file(docs.billing, "assistants")
    assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])
    thread = client.create_thread(
        messages=[{"role": "user", "content": "How long does a refund take?"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [uploaded.id]}]}},
    )

    run = client.create_run_and_wait(thread.id, assistant.id, wait_timeout=30)

    assert run.status == "completed", run.last_error
    assert "A refund takes five" in tool_messages(citing)[0]["content"]


def test_an_inline_store_on_create_assistant_is_real_and_searched(client, citing, docs):
    uploaded = client.upload_file(docs.garden, "assistants")
    assistant = client.create_assistant(
        "gpt-4o",
        tools=[SEARCH_TOOL],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [uploaded.id]}]}},
    )
    (store_id,) = assistant.tool_resources.file_search.vector_store_ids
    assert client.get_assistant(assistant.id).tool_resources.file_search.vector_store_ids == [
        store_id
    ]
    # A run waits only for its thread's files, as the API did: an assistant's store is made
    # ready first, as the API asked of its users.
    ready = client.wait_for_vector_store_file(store_id, uploaded.id, poll_interval=0.05)
    assert ready.status == "completed"

    thread_id, run = ask(client, assistant.id, "How often do tomato plants need water?")

    assert run.status == "completed", run.last_error
    annotation = the_reply(client, thread_id).content[0].text.annotations[0]
    assert annotation.file_citation.file_id == uploaded.id


def test_an_attachment_of_a_file_that_does_not_exist_is_refused_and_leaves_nothing(client):
    thread = client.create_thread()
    stores = [s.id for s in client.list_vector_stores()]
    with pytest.raises(NotFoundError) as refused:
        client.create_message(
            thread.id,
            "user",
            "Look",
            attachments=[{"file_id": "file-nothing", "tools": [SEARCH_TOOL]}],
        )
    assert refused.value.param == "body.attachments[0].file_id"
    assert list(client.list_messages(thread.id)) == []
    assert [s.id for s in client.list_vector_stores()] == stores
    assert "file_search" not in client.get_thread(thread.id).to_dict()["tool_resources"]


# -- limits ----------------------------------------------------------------------------------


def test_max_num_results_one_keeps_one_result(client, citing, docs):
    tool = {"type": "file_search", "file_search": {"max_num_results": 1}}
    assistant = searching_assistant(client, docs.runbook, docs.billing, docs.garden, tool=tool)

    thread_id, run = ask(client, assistant.id, "ERR-4411 data volume invoices tomato")

    assert run.status == "completed"
    step = next(iter(client.list_run_steps(thread_id, run.id, order="asc")))
    assert len(step.step_details.tool_calls[0].file_search.results) == 1
    assert len(MARKER_PATTERN.findall(tool_messages(citing)[0]["content"])) == 1


def test_a_high_score_threshold_finds_nothing_and_the_run_still_completes(client, citing, docs):
    tool = {"type": "file_search", "file_search": {"ranking_options": {"score_threshold": 1.0}}}
    assistant = searching_assistant(client, docs.runbook, tool=tool)

    thread_id, run = ask(client, assistant.id, "tomatoes in the garden")

    assert run.status == "completed"
    step = next(iter(client.list_run_steps(thread_id, run.id, order="asc")))
    search = step.step_details.tool_calls[0].file_search
    assert search.results == []
    assert search.ranking_options.score_threshold == 1.0
    (tool_message,) = tool_messages(citing)
    assert MARKER_PATTERN.search(tool_message["content"]) is None
    assert "found nothing" in tool_message["content"]
    text = the_reply(client, thread_id).content[0].text
    assert text.value == UNCITED_SENTENCE
    assert text.annotations == []


def test_a_file_search_tool_without_any_store_finds_nothing_and_completes(client, citing):
    assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])

    thread_id, run = ask(client, assistant.id, "Anything?")

    assert run.status == "completed"
    assert [s.type for s in client.list_run_steps(thread_id, run.id, order="asc")] == [
        "tool_calls",
        "message_creation",
    ]
    assert "found nothing" in tool_messages(citing)[0]["content"]


def test_a_function_named_file_search_beside_the_tool_is_refused(client, citing):
    clash = {"type": "function", "function": {"name": "file_search", "parameters": {}}}
    with pytest.raises(BadRequestError) as refused:
        client.create_assistant("gpt-4o", tools=[SEARCH_TOOL, clash])
    assert refused.value.param == "tools"
    assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])
    thread = client.create_thread(messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(BadRequestError) as refused:
        client.create_run(thread.id, assistant.id, tools=[clash, SEARCH_TOOL])
    assert refused.value.param == "tools"
    with pytest.raises(BadRequestError):
        client.update_assistant(assistant.id, tools=[SEARCH_TOOL, clash])


# -- with functions, expiry, files still being ingested ---------------------------------------


def test_a_search_and_a_function_in_one_answer_search_at_once_and_wait_for_the_function_only(
    client, backend, docs
):
    assistant = searching_assistant(client, docs.runbook)
    client.update_assistant(
        assistant.id,
        tools=[
            SEARCH_TOOL,
            {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
        ],
    )
    backend.script(
        parallel_tool_calls_answer(
            [
                ScriptedCall("call_search", "file_search", '{"queries": ["ERR-4411"]}', (6,)),
                ScriptedCall("call_weather", "get_weather", '{"city": "Paris"}', (3,)),
            ]
        ),
        text_answer("Sunny, and ERR-4411 is a full disk【0:0†runbook.md】.", chunks=4),
    )
    thread = client.create_thread(messages=[{"role": "user", "content": "Weather? ERR-4411?"}])

    run = client.create_run_and_wait(thread.id, assistant.id, wait_timeout=30)

    assert run.status == "requires_action"
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert call.id == "call_weather"
    (step,) = client.list_run_steps(thread.id, run.id)
    kinds = [c.type for c in step.step_details.tool_calls]
    assert kinds == ["file_search", "function"]
    assert step.step_details.tool_calls[0].file_search.results[0].file_name == "runbook.md"

    client.submit_tool_outputs(
        thread.id, run.id, [{"tool_call_id": "call_weather", "output": "sunny"}]
    )
    run = client.wait_for_run(thread.id, run.id, timeout=30)

    assert run.status == "completed", run.last_error
    last = backend.last_body()["messages"]
    assert [m["role"] for m in last[-3:]] == ["assistant", "tool", "tool"]
    assert last[-2]["tool_call_id"] == "call_search"
    assert "ERR-4411 means the data volume is full" in last[-2]["content"]
    assert last[-1] == {"role": "tool", "tool_call_id": "call_weather", "content": "sunny"}
    text = the_reply(client, thread.id).content[0].text
    assert [a.file_citation.file_id for a in text.annotations] == [
        file_ids_by_name(client)["runbook.md"]
    ]


def test_a_run_whose_store_expired_fails_saying_which_store(server, client, citing, docs):
    store = store_of(client, docs.runbook)
    client.update_vector_store(store, expires_after={"anchor": "last_active_at", "days": 1})
    assistant = client.create_assistant(
        "gpt-4o", tools=[SEARCH_TOOL], tool_resources={"file_search": {"vector_store_ids": [store]}}
    )
    expire(server, store)

    thread_id, run = ask(client, assistant.id, "ERR-4411?")

    assert run.status == "failed"
    assert run.last_error.code == "server_error"
    assert store in run.last_error.message
    assert "expired" in run.last_error.message
    assert len(citing.chat_bodies()) == 1  # the backend was not asked again
    (step,) = client.list_run_steps(thread_id, run.id)
    assert (step.type, step.status) == ("tool_calls", "failed")
    assert step.last_error.message == run.last_error.message


def test_a_run_waits_a_bounded_time_for_its_threads_files_and_says_so_in_the_step(
    server, client, citing, docs
):
    server.engine.searcher.wait = 0.3
    citing.embeddings_gate = threading.Event()
    release = threading.Timer(2.0, citing.embeddings_gate.set)
    release.start()
    try:
        uploaded = client.upload_file(docs.garden, "assistants")
        assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])
        thread = client.create_thread(messages=[attaching("Tomatoes?", uploaded.id)])
        run = client.create_run_and_wait(thread.id, assistant.id, wait_timeout=30)
    finally:
        release.cancel()
        citing.embeddings_gate.set()

    assert run.status == "completed", run.last_error
    step = next(iter(client.list_run_steps(thread.id, run.id, order="asc")))
    notice = step.metadata["file_search_notice"]
    assert "1 file(s)" in notice
    assert "0.3 s" in notice
    assert tool_messages(citing)[0]["content"].startswith(notice)


# -- the fallback citation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "cited"),
    [
        # Says what the runbook's passage says, without a marker: cited at its end.
        ("ERR-4411 means the data volume is full: rotate the logs.", True),
        # Says nothing the passages say: no citation is made up.
        ("I could not tell from what I have.", False),
        # Cites a result that does not exist: that marker stays plain text.
        ("See 【3:9†runbook.md】 for what I cannot tell.", False),
    ],
)
def test_an_answer_that_cites_nothing_is_attributed_only_to_a_passage_it_repeats(
    server, client, backend, docs, answer, cited
):
    assistant = searching_assistant(client, docs.runbook, docs.billing)
    backend.script(
        tool_call_answer("file_search", '{"queries": ["ERR-4411"]}'),
        text_answer(answer, chunks=5),
    )
    thread = client.create_thread(messages=[{"role": "user", "content": "ERR-4411?"}])

    found = stream_events(
        server.base_url, f"/threads/{thread.id}/runs", {"assistant_id": assistant.id}
    )

    (message,) = only(found, "thread.message.completed")
    text = message["content"][0]["text"]
    assert accumulated_text(found, message["id"]) == text
    if not cited:
        assert text == {"value": answer, "annotations": []}
        return
    marker = "【0:0†runbook.md】"
    assert text["value"] == answer + marker
    (annotation,) = text["annotations"]
    assert (annotation["start_index"], annotation["end_index"]) == (
        len(answer),
        len(answer) + len(marker),
    )
    assert annotation["file_citation"]["file_id"] == file_ids_by_name(client)["runbook.md"]


# -- on every store ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where the server keeps its state: a SQLite file, a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "state.db")
        return
    postgres = request.getfixturevalue("postgres_server")
    name = postgres.create_database()
    yield postgres.dsn(name)
    postgres.drop_database(name)


def test_a_search_run_cites_the_right_file_on_sqlite_and_postgresql(
    make_server, citing, docs, database
):
    server = make_server("--db", database)
    client = server.client()
    assistant = searching_assistant(client, docs.runbook, docs.billing, docs.garden)
    thread = client.create_thread(
        messages=[{"role": "user", "content": "When are invoices issued?"}]
    )

    found = stream_events(
        server.base_url,
        f"/threads/{thread.id}/runs?include[]={INCLUDE}",
        {"assistant_id": assistant.id},
    )

    assert_valid_events(found)
    (run,) = only(found, "thread.run.completed")
    steps = list(client.list_run_steps(thread.id, run["id"], order="asc", include=[INCLUDE]))
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    results = steps[0].step_details.tool_calls[0].file_search.results
    billing = file_ids_by_name(client)["billing.txt"]
    assert results[0].file_id == billing
    assert "Invoices are issued" in results[0].content[0].text
    (message,) = only(found, "thread.message.completed")
    stored = client.get_message(thread.id, message["id"]).to_dict()["content"][0]["text"]
    assert accumulated_text(found, message["id"]) == stored
    (annotation,) = stored["annotations"]
    assert annotation["file_citation"]["file_id"] == billing
    assert (
        stored["value"][annotation["start_index"] : annotation["end_index"]]
        == "【0:0†billing.txt】"
    )


def test_this_librarys_stream_and_reply_helpers_read_a_searching_run_as_stored(
    client, citing, docs
):
    assistant = searching_assistant(client, docs.runbook, docs.billing)
    thread = client.create_thread(messages=[{"role": "user", "content": "What is ERR-4411?"}])

    with client.stream_run(thread.id, assistant.id, include=[INCLUDE]) as stream:
        stream.until_done()
        messages = stream.final_messages
        steps = stream.final_run_steps

    (streamed,) = messages
    assert (
        streamed.to_dict()["content"]
        == client.get_message(thread.id, streamed.id).to_dict()["content"]
    )
    assert streamed.plain_text() == CITED_SENTENCE
    cited = streamed.text_with_citations(format=lambda n, annotation: f"[{n}]")
    assert cited.text == CITED_SENTENCE + "[1]"
    assert [c.file_id for c in cited.citations] == [file_ids_by_name(client)["runbook.md"]]
    search = next(s for s in steps if s.type == "tool_calls").step_details.tool_calls[0]
    assert search.type == "file_search"
    assert search.file_search.results[0].content[0].text.startswith("# Disk alerts")

    client.create_message(thread.id, "user", "And what is ERR-4411 again?")
    reply = client.run_and_get_reply(thread.id, assistant.id)
    assert reply.run.status == "completed"
    (message,) = reply.messages
    # Markers are numbered in each run; the earlier answer reaches the model without its own.
    assert message.content[0].text.annotations[0].text == "【0:0†runbook.md】"
    history = [m for m in citing.last_body()["messages"] if m["role"] == "assistant"]
    assert history[0]["content"] == CITED_SENTENCE


def test_a_tool_choice_naming_file_search_forces_one_search_then_lets_the_model_answer(
    client, citing, docs
):
    assistant = searching_assistant(client, docs.runbook)

    thread_id, run = ask(client, assistant.id, "ERR-4411?", tool_choice={"type": "file_search"})

    assert run.status == "completed", run.last_error
    first, second = citing.chat_bodies()
    assert first["tool_choice"] == {"type": "function", "function": {"name": "file_search"}}
    assert second["tool_choice"] == "auto"
    assert the_reply(client, thread_id).content[0].text.annotations[0].text == "【0:0†runbook.md】"


def test_a_run_cancelled_while_it_waits_for_its_threads_files_ends_at_once(
    server, client, citing, docs
):
    citing.embeddings_gate = threading.Event()
    try:
        uploaded = client.upload_file(docs.garden, "assistants")
        assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])
        thread = client.create_thread(messages=[attaching("Tomatoes?", uploaded.id)])
        run = client.create_run(thread.id, assistant.id)
        wait_until(
            lambda: any(True for _ in client.list_run_steps(thread.id, run.id)),
            what="the search step",
        )
        started = time.monotonic()
        client.cancel_run(thread.id, run.id)
        run = client.wait_for_run(thread.id, run.id, timeout=30)
        took = time.monotonic() - started
    finally:
        citing.embeddings_gate.set()

    assert run.status == "cancelled"
    assert took < BOUND / 2, "the run did not wait out its 60 s for the files"
    (step,) = client.list_run_steps(thread.id, run.id)
    assert step.status == "cancelled"
    assert len(citing.chat_bodies()) == 1


def test_an_attachment_to_a_thread_whose_store_expired_goes_into_a_new_store(
    server, client, citing, docs
):
    first = client.upload_file(docs.billing, "assistants")
    thread = client.create_thread(messages=[attaching("invoices", first.id)])
    (expired,) = client.get_thread(thread.id).tool_resources.file_search.vector_store_ids
    expire(server, expired)
    assert server.engine.retrieval.get_vector_store("", expired).expired()
    second = client.upload_file(docs.garden, "assistants")

    client.create_message(
        thread.id,
        "user",
        "How often do tomato plants need water?",
        attachments=attaching("", second.id)["attachments"],
    )
    assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])
    run = client.create_run_and_wait(thread.id, assistant.id, wait_timeout=30)

    (store,) = client.get_thread(thread.id).tool_resources.file_search.vector_store_ids
    assert store != expired
    assert run.status == "completed", run.last_error
    annotation = the_reply(client, thread.id).content[0].text.annotations[0]
    assert annotation.file_citation.file_id == second.id


# -- several searches in a run -------------------------------------------------------------------


def test_markers_number_the_searches_of_a_run_and_each_names_its_own_result(client, backend, docs):
    assistant = searching_assistant(client, docs.runbook, docs.billing)
    backend.script(
        tool_call_answer("file_search", '{"queries": ["ERR-4411 data volume"]}', call_id="c1"),
        tool_call_answer("file_search", '{"queries": ["invoices issued"]}', call_id="c2"),
        text_answer("Disk【0:0†runbook.md】 and invoices【1:0†billing.txt】.", chunks=6),
    )

    thread_id, run = ask(client, assistant.id, "ERR-4411 and invoices?")

    assert run.status == "completed", run.last_error
    first, second = last_tool_outputs(backend)
    assert first.startswith("【0:0†runbook.md】")
    assert second.startswith("【1:0†billing.txt】")
    steps = list(client.list_run_steps(thread_id, run.id, order="asc"))
    assert [s.type for s in steps] == ["tool_calls", "tool_calls", "message_creation"]
    ids = file_ids_by_name(client)
    text = the_reply(client, thread_id).content[0].text
    assert [a.file_citation.file_id for a in text.annotations] == [
        ids["runbook.md"],
        ids["billing.txt"],
    ]
    assert [text.value[a.start_index : a.end_index] for a in text.annotations] == [
        "【0:0†runbook.md】",
        "【1:0†billing.txt】",
    ]
    assert run.usage.prompt_tokens == 40 + 40 + 11
    assert [s.usage.prompt_tokens for s in steps] == [40, 40, 11]


def test_a_model_that_keeps_searching_is_told_to_stop_then_the_turn_fails(client, backend, docs):
    assistant = searching_assistant(client, docs.runbook)
    backend.script(
        *[
            tool_call_answer("file_search", '{"queries": ["ERR-4411"]}', call_id=f"c{n}")
            for n in range(17)
        ]
    )

    thread_id, run = ask(client, assistant.id, "ERR-4411?")

    assert run.status == "failed"
    assert "kept calling file_search" in run.last_error.message
    steps = list(client.list_run_steps(thread_id, run.id, order="asc"))
    assert [s.status for s in steps] == ["completed"] * 16 + ["failed"]
    outputs = last_tool_outputs(backend)
    assert len(backend.chat_bodies()) == len(outputs) + 1 == 17
    assert all(MARKER_PATTERN.search(output) for output in outputs[:8])
    assert all(output == NO_MORE_SEARCHES for output in outputs[8:])
