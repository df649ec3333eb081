"""A file_search run, unchanged, with openai-node 5.23.2 and the pinned release, openai-python and
this library (both clients), against ``assistants-server`` on a fake Chat Completions backend
(and the emulator).

The backend is the citing model of ``tests/servers/fake_chat.py``: it streams a ``file_search``
call in pieces, then an answer citing the first passage the server sent it, and serves
``/embeddings``. Each client uploads three documents, makes a vector store of them, creates an
assistant with ``file_search`` and the store, and asks what only one document answers, polled
and streamed; ``file_search_flow`` holds the checks (steps, ranking, one exact citation, the
passages ``include[]`` adds). Every answer the server sent is checked against the spec.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta.threads import Message, MessageDelta

from assistants_client import AssistantEventHandler as LibraryEventHandler
from assistants_client import AssistantsClient, AsyncAssistantsClient
from assistants_client.models import ThreadMessage
from tests.compat.file_search_flow import (
    ANSWER_FACT,
    ANSWERING,
    DOCUMENTS,
    INCLUDE_CONTENT,
    QUESTION,
    as_stored,
    check_citation,
    check_steps,
    citing_server,
    write_documents,
)
from tests.compat.test_openai_python import collapse_repeats, recorded_event_names
from tests.files.support import Target, emulator_target
from tests.models.test_file_search_models import unknown_variants

# openai-python warns that the Assistants API is deprecated on every call of it.
pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ROOT = Path(__file__).resolve().parents[2]
NODE_SCRIPT = ROOT / "tests" / "compat" / "node" / "file_search.mjs"
# The releases tried, each by its name in package.json and the version it must report.
NODE_PACKAGES = {
    "openai-5": "5.23.2",
    "openai": json.loads((ROOT / "package.json").read_text())["devDependencies"]["openai"],
}
RECORDED_STREAM = "assistants-file-search-run.sse"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    made = citing_server(tmp_path_factory.mktemp("file-search-server"))
    try:
        yield made
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Target]:
    made = emulator_target()
    try:
        yield made
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


@pytest.fixture(params=["server", "emulator"])
def target(request: pytest.FixtureRequest) -> Target:
    made: Target = request.getfixturevalue(request.param)
    return made


# -- openai-node -------------------------------------------------------------------------------


def run_node(target: Target, package: str, documents: dict[str, str]) -> dict[str, Any]:
    """What tests/compat/node/file_search.mjs saw with ``package`` against ``target``."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; the openai-node compatibility tests need Node.js")
    if not (ROOT / "node_modules" / package / "package.json").is_file():
        pytest.fail(f"node_modules/{package} is missing at the repository root: run `npm ci`")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    environment.update(
        OPENAI_BASE_URL=target.base_url,
        OPENAI_PACKAGE=package,
        FILE_SEARCH_QUESTION=QUESTION,
        FILE_SEARCH_DOCUMENTS=json.dumps(documents),
    )
    done = subprocess.run(
        [node, str(NODE_SCRIPT)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    summary: dict[str, Any] = json.loads(lines[-1])
    expected = NODE_PACKAGES[package]
    assert summary["sdk_version"] == expected, summary["sdk_version"]
    assert "setup" not in summary["errors"], summary["errors"]["setup"]
    assert summary["setup"]["store"]["status"] == "completed"
    assert summary["setup"]["store"]["file_counts"]["completed"] == len(documents)
    return summary


@pytest.fixture(scope="module", params=list(NODE_PACKAGES))
def node_summary(request: pytest.FixtureRequest, server: Target) -> dict[str, Any]:
    """The flows run once per openai-node release, on the server."""
    return run_node(server, request.param, DOCUMENTS)


def node_flow(summary: dict[str, Any], name: str) -> dict[str, Any]:
    assert name not in summary["errors"], summary["errors"][name]
    flow: dict[str, Any] = summary[name]
    return flow


def test_openai_node_create_and_poll_searches_ranks_and_cites_the_answering_document(
    node_summary: dict[str, Any],
) -> None:
    files = node_summary["setup"]["files"]
    polled = node_flow(node_summary, "polled")
    assert polled["status"] == "completed"
    check_steps(polled["steps"], files, included=False)
    check_steps(polled["steps_included"], files, included=True)
    (part,) = polled["message"]
    citation = check_citation(
        [{"type": "text", "text": {"value": part["value"], "annotations": part["annotations"]}}],
        files,
    )
    # The same slice in JavaScript's UTF-16 terms (the documents and the answer are ASCII but
    # for the marker's brackets and dagger, which are single UTF-16 units).
    assert part["js_slices"] == [citation["text"]]


def test_openai_node_runs_stream_delivers_the_citation_and_accumulates_the_stored_message(
    node_summary: dict[str, Any],
) -> None:
    files = node_summary["setup"]["files"]
    streamed = node_flow(node_summary, "streamed")
    assert streamed["status"] == "completed"
    assert streamed["tool_calls_done"] == ["file_search"]
    for event in ("thread.run.step.created", "thread.run.step.completed", "thread.message.delta"):
        assert event in streamed["events"], streamed["events"]
    check_steps(streamed["steps"], files, included=False)

    (annotation,) = streamed["annotation_deltas"]
    assert annotation["type"] == "file_citation"
    assert annotation["file_citation"]["file_id"] == files[ANSWERING]
    citation = check_citation(streamed["stored_content"], files)
    assert (annotation["start_index"], annotation["end_index"]) == (
        citation["start_index"],
        citation["end_index"],
    )
    assert streamed["text_from_deltas"] == streamed["stored"][0]["value"]
    assert as_stored(streamed["from_deltas_content"]) == streamed["stored_content"]
    # finalMessages(): 5.x keeps the message accumulated from the deltas, 7.x the completed one.
    assert as_stored(streamed["completed"]) == streamed["stored"]
    assert streamed["stored"][0]["js_slices"] == [citation["text"]]


def test_openai_node_users_slice_by_code_points_where_an_emoji_precedes_the_marker(
    emulator: Target,
) -> None:
    # The emulator quotes the passage it cites; here that passage holds a character outside the
    # Basic Multilingual Plane, one code point but two UTF-16 units. The server counts indices
    # in code points, as Python's `str` does (docs/retrieval.md): a JavaScript user slices
    # `Array.from(text)`, since `text.slice()` counts UTF-16 units and lands one unit early.
    documents = {**DOCUMENTS, ANSWERING: "\U0001f6a8 " + DOCUMENTS[ANSWERING]}
    summary = run_node(emulator, "openai-5", documents)
    (part,) = node_flow(summary, "polled")["message"]
    text = {"type": "text", "text": {"value": part["value"], "annotations": part["annotations"]}}
    citation = check_citation([text], summary["setup"]["files"])
    assert "\U0001f6a8" in part["value"][: citation["start_index"]]
    assert part["js_code_point_slices"] == [citation["text"]]
    assert part["js_slices"] != [citation["text"]]


# -- openai-python -----------------------------------------------------------------------------


def sdk(target: Target) -> openai.OpenAI:
    return openai.OpenAI(base_url=target.base_url, api_key="sk-test", max_retries=0, timeout=20)


def prepare_with_openai(client: openai.OpenAI, folder: Path) -> tuple[str, dict[str, str]]:
    """Upload the documents, make a store of them, and an assistant searching it."""
    files = {}
    for path in write_documents(folder):
        with path.open("rb") as handle:
            files[path.name] = client.files.create(file=handle, purpose="assistants").id
    store = client.vector_stores.create(name="manuals", file_ids=list(files.values()))
    deadline = time.monotonic() + 20
    while store.status == "in_progress" and time.monotonic() < deadline:
        time.sleep(0.05)
        store = client.vector_stores.retrieve(store.id)
    assert store.status == "completed" and store.file_counts.completed == 3, store
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        instructions="Answer from the manuals and cite them.",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    return assistant.id, files


def sdk_steps(client: openai.OpenAI, thread_id: str, run_id: str, include: bool) -> list[Any]:
    steps = client.beta.threads.runs.steps.list(
        run_id,
        thread_id=thread_id,
        order="asc",
        include=[INCLUDE_CONTENT] if include else openai.NOT_GIVEN,
    )
    return [step.model_dump(exclude_unset=True) for step in steps]


def test_openai_python_create_and_poll_searches_ranks_and_cites_the_answering_document(
    target: Target, tmp_path: Path
) -> None:
    with sdk(target) as client:
        assistant_id, files = prepare_with_openai(client, tmp_path)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id,
            assistant_id=assistant_id,
            include=[INCLUDE_CONTENT],
            poll_interval_ms=50,
        )
        assert run.status == "completed", run.last_error
        check_steps(sdk_steps(client, thread.id, run.id, False), files, included=False)
        check_steps(sdk_steps(client, thread.id, run.id, True), files, included=True)
        (message,) = client.beta.threads.messages.list(thread.id, run_id=run.id).data
        check_citation(message.model_dump()["content"], files)
        # The step read alone carries the passages only when asked, too.
        step_id = sdk_steps(client, thread.id, run.id, False)[0]["id"]
        alone = client.beta.threads.runs.steps.retrieve(
            step_id, thread_id=thread.id, run_id=run.id, include=[INCLUDE_CONTENT]
        )
        check_steps(
            [
                alone.model_dump(exclude_unset=True),
                {"type": "message_creation", "status": "completed"},
            ],
            files,
            included=True,
        )


class Recorder(AssistantEventHandler):
    """What openai-python's handler callbacks received, the message as accumulated from deltas."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.annotations: list[dict[str, Any]] = []
        self.accumulated: dict[str, Any] | None = None
        self.tool_calls_done: list[str] = []
        self.steps_done: list[dict[str, Any]] = []

    def on_event(self, event: Any) -> None:
        self.names.append(event.event)

    def on_message_delta(self, delta: MessageDelta, snapshot: Message) -> None:
        for part in delta.content or []:
            if part.type == "text" and part.text and part.text.annotations:
                self.annotations += [
                    a.model_dump(exclude_unset=True) for a in part.text.annotations
                ]
        self.accumulated = snapshot.model_dump(exclude_unset=True)

    def on_tool_call_done(self, tool_call: Any) -> None:
        self.tool_calls_done.append(tool_call.type)

    def on_run_step_done(self, run_step: Any) -> None:
        self.steps_done.append(run_step.model_dump(exclude_unset=True))


def test_openai_python_runs_stream_delivers_the_citation_and_accumulates_the_stored_message(
    target: Target, tmp_path: Path
) -> None:
    with sdk(target) as client:
        assistant_id, files = prepare_with_openai(client, tmp_path)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        recorder = Recorder()
        with client.beta.threads.runs.stream(
            thread_id=thread.id,
            assistant_id=assistant_id,
            include=[INCLUDE_CONTENT],
            event_handler=recorder,
        ) as stream:
            stream.until_done()
            run = stream.get_final_run()
        assert run.status == "completed", run.last_error
        # openai-python calls on_tool_call_done again at each later step event (it never forgets
        # its current tool call), as it does on the live API's stream: one call, maybe repeated.
        assert set(recorder.tool_calls_done) == {"file_search"}
        assert collapse_repeats(recorder.names) == recorded_event_names(RECORDED_STREAM)
        check_steps(recorder.steps_done, files, included=True)

        (annotation,) = recorder.annotations
        assert annotation["file_citation"]["file_id"] == files[ANSWERING]
        (stored,) = client.beta.threads.messages.list(thread.id, run_id=run.id).data
        stored_content = stored.model_dump(exclude_unset=True)["content"]
        citation = check_citation(stored_content, files)
        assert (annotation["start_index"], annotation["end_index"]) == (
            citation["start_index"],
            citation["end_index"],
        )
        assert recorder.accumulated is not None
        assert as_stored(recorder.accumulated["content"]) == stored_content


# -- this library ------------------------------------------------------------------------------


def prepare_with_library(client: AssistantsClient, folder: Path) -> tuple[str, dict[str, str]]:
    files = {
        path.name: client.upload_file(path, "assistants").id for path in write_documents(folder)
    }
    store = client.create_vector_store(name="manuals", file_ids=list(files.values()))
    deadline = time.monotonic() + 20
    while store.status == "in_progress" and time.monotonic() < deadline:
        time.sleep(0.05)
        store = client.get_vector_store(store.id)
    assert store.status == "completed", store
    assistant = client.create_assistant(
        "gpt-4o",
        instructions="Answer from the manuals and cite them.",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    return assistant.id, files


class LibraryRecorder(LibraryEventHandler):
    def __init__(self) -> None:
        self.accumulated: ThreadMessage | None = None
        self.annotation_deltas: list[Any] = []

    def on_message_delta(self, delta: Any, snapshot: ThreadMessage) -> None:
        for part in delta.content or []:
            self.annotation_deltas += (
                getattr(getattr(part, "text", None), "annotations", None) or []
            )
        self.accumulated = snapshot


def test_stream_run_delivers_the_citation_and_accumulates_the_stored_message(
    target: Target, tmp_path: Path
) -> None:
    with AssistantsClient(base_url=target.base_url, api_key="sk-test") as client:
        assistant_id, files = prepare_with_library(client, tmp_path)
        thread = client.create_thread(messages=[{"role": "user", "content": QUESTION}])
        recorder = LibraryRecorder()
        with client.stream_run(
            thread.id, assistant_id, include=[INCLUDE_CONTENT], event_handler=recorder
        ) as stream:
            events = list(stream)
        assert stream.final_run is not None and stream.final_run.status == "completed"
        assert [unknown_variants(event) for event in events] == [[] for _ in events]
        check_steps([s.to_dict() for s in stream.final_run_steps], files, included=True)

        (annotation,) = recorder.annotation_deltas
        assert annotation.file_citation.file_id == files[ANSWERING]
        assert recorder.accumulated is not None
        stored = client.get_message(thread.id, recorder.accumulated.id)
        assert unknown_variants(stored) == []
        check_citation(stored.to_dict()["content"], files)
        assert recorder.accumulated.to_dict()["content"] == stored.to_dict()["content"]
        text, cited = stored.text_with_citations(format=lambda n, _: f"[{n}]")
        assert [c.file_id for c in cited] == [files[ANSWERING]]
        assert text.count("[1]") == 1 and "【" not in text
        assert "【" not in stored.plain_text()


def test_run_and_get_reply_returns_the_cited_reply_and_the_steps_read_back_typed(
    target: Target, tmp_path: Path
) -> None:
    with AssistantsClient(base_url=target.base_url, api_key="sk-test") as client:
        assistant_id, files = prepare_with_library(client, tmp_path)
        for stream in (True, False):
            thread = client.create_thread(messages=[{"role": "user", "content": QUESTION}])
            reply = client.run_and_get_reply(thread.id, assistant_id, stream=stream)
            assert reply.run.status == "completed", (stream, reply.run.last_error)
            (message,) = reply.messages
            assert unknown_variants(message) == []
            check_citation(message.to_dict()["content"], files)
            steps = list(
                client.list_run_steps(
                    thread.id, reply.run.id, order="asc", include=[INCLUDE_CONTENT]
                )
            )
            assert [unknown_variants(step) for step in steps] == [[], []]
            check_steps([step.to_dict() for step in steps], files, included=True)
            assert (
                ANSWER_FACT
                in steps[0].step_details.tool_calls[0].file_search.results[0].content[0].text
            )


def test_the_async_clients_stream_and_reply_cite_the_answering_document(
    target: Target, tmp_path: Path
) -> None:
    with AssistantsClient(base_url=target.base_url, api_key="sk-test") as client:
        assistant_id, files = prepare_with_library(client, tmp_path)

    async def ask() -> tuple[list[ThreadMessage], ThreadMessage, ThreadMessage]:
        async with AsyncAssistantsClient(base_url=target.base_url, api_key="sk-test") as aclient:
            thread = await aclient.create_thread(messages=[{"role": "user", "content": QUESTION}])
            async with aclient.stream_run(thread.id, assistant_id) as stream:
                pieces = [text async for text in stream.text_deltas()]
            assert "".join(pieces)
            (streamed,) = stream.final_messages
            stored = await aclient.get_message(thread.id, streamed.id)
            again = await aclient.create_thread(messages=[{"role": "user", "content": QUESTION}])
            reply = await aclient.run_and_get_reply(again.id, assistant_id)
            assert reply.run.status == "completed", reply.run.last_error
            return reply.messages, streamed, stored

    replied, streamed, stored = asyncio.run(ask())
    assert streamed.to_dict()["content"] == stored.to_dict()["content"]
    check_citation(stored.to_dict()["content"], files)
    (message,) = replied
    assert unknown_variants(message) == []
    check_citation(message.to_dict()["content"], files)
