"""The emulator against the live API's recorded answers (tests/fixtures/reference) and the spec.

What the emulator and the server answer is the union of both: every field the spec requires
(a client written to the spec breaks on an omission) and every field the live API sent beyond
it (no client breaks on a field that is there). So keys are compared as "spec and recordings":

* each recorded stream is replayed as the same flow on the emulator (the same assistant, thread
  and request, with the reply scripted): the event names must come in the same order (a run of
  deltas counts as one entry), and every event's data must have the recorded keys, in the
  recorded order, at every depth, and no other key than those the spec declares;
* each recorded non-streamed operation is answered by the emulator in a scenario that makes
  the same kinds of objects, and the keys of the answers are compared with the recorded ones
  in the same way (see ``_compare_with_recordings``);
* every operation the engine serves is in the scenario, and each of its answers has every
  field the spec requires, at every depth (``tests/emulator/spec_tools.py`` derives what is
  required from the spec itself): an operation added later fails here until its answers are
  checked.

Values are never compared: ids, timestamps, texts and token counts differ by nature. The keys
of ``metadata`` and of a function's ``parameters`` are the caller's own and are not compared
either.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistants_client.emulator import Emulator
from assistants_client.models.operations import OPERATIONS
from assistants_client.server.engine import Engine

from .conftest import Api, parse_events
from .spec_tools import (
    assert_event_valid,
    assert_response_valid,
    key_paths,
    response_schemas,
    spec_paths,
    spec_paths_of_object,
)

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "reference"
RESPONSES = REFERENCE / "responses"

# The assistants of the recorded streams (their headers give the requests).
WEATHER_TOOL = {
    "type": "function",
    "function": {"description": "Gets the user's current weather", "name": "get_current_weather"},
}
QUESTION = "What should I wear outside right now?"
FOOD_TOOL = {
    "type": "function",
    "function": {
        "name": "get_favorite_food_for_day_of_week",
        "description": "gets the user's favorite food for a given day of the week, like Tuesday",
        "parameters": {
            "type": "object",
            "properties": {
                "day_of_week": {
                    "type": "string",
                    "description": "a day of the week, like Tuesday or Saturday",
                }
            },
        },
    },
}
FILE_SEARCH_TOOL = {
    "type": "file_search",
    "file_search": {
        "max_num_results": 2,
        "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.5},
    },
}


# -- key paths ---------------------------------------------------------------------------------


def variants(path: str) -> set[str]:
    """The union variants a path goes through: every prefix of it that ends in ``>``."""
    return {path[: index + 1] for index, char in enumerate(path) if char == ">"}


def test_key_paths_tag_variants_and_skip_the_callers_own_maps() -> None:
    value = {
        "metadata": {"mine": "1"},
        "step_details": {"type": "tool_calls", "tool_calls": [{"type": "function", "id": "x"}]},
    }
    paths = key_paths(value)
    assert paths == [
        "metadata",
        "step_details",
        "step_details<tool_calls>.type",
        "step_details<tool_calls>.tool_calls",
        "step_details<tool_calls>.tool_calls[]<function>.type",
        "step_details<tool_calls>.tool_calls[]<function>.id",
    ]
    assert variants(paths[-1]) == {
        "step_details<tool_calls>",
        "step_details<tool_calls>.tool_calls[]<function>",
    }


# -- streams ----------------------------------------------------------------------------------


def recorded_stream(name: str) -> list[tuple[str, Any]]:
    text = (REFERENCE / name).read_text("utf-8")
    lines = text.splitlines(keepends=True)
    body = "".join(line for index, line in enumerate(lines) if not _is_header(lines, index))
    return parse_events(body)


def _is_header(lines: list[str], index: int) -> bool:
    return all(line.startswith("#") for line in lines[: index + 1])


def stream_shape(events: list[tuple[str, Any]]) -> list[tuple[str, list[list[str]]]]:
    """Event names in order, a run of deltas as one entry, each with its data's key layouts.

    A run of deltas keeps the distinct layouts of its events in order of first appearance
    (a function call's first delta names the call; the ones after carry only arguments).
    """
    return [(name, _distinct(layouts)) for name, layouts in _runs(events, key_paths)]


def _runs(events: list[tuple[str, Any]], layout_of: Any) -> list[tuple[str, list[list[str]]]]:
    runs: list[tuple[str, list[list[str]]]] = []
    for name, data in events:
        layout = [] if data == "[DONE]" else layout_of(data)
        if name.endswith(".delta") and runs and runs[-1][0] == name:
            runs[-1][1].append(layout)
        else:
            runs.append((name, [layout]))
    return runs


def _distinct(layouts: list[list[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    for layout in layouts:
        if layout not in found:
            found.append(layout)
    return found


def assert_stream_like_recording(
    events: list[tuple[str, Any]], recorded: list[tuple[str, Any]], recording: str
) -> None:
    """The events have the recorded names in order and, in each event's data, the recorded
    keys in the recorded order, with no other key than those the spec declares."""
    expected = stream_shape(recorded)
    ours = _runs(events, lambda data: data)
    assert [name for name, _ in ours] == [name for name, _ in expected]
    for (name, datas), (_, want) in zip(ours, expected, strict=True):
        recorded_paths = {path for layout in want for path in layout}
        got = []
        for data in datas:
            layout = key_paths(data) if isinstance(data, (dict, list)) else []
            spec_only = (
                spec_paths_of_object(data) if isinstance(data, dict) else set()
            ) - recorded_paths
            got.append([path for path in layout if path not in spec_only])
        assert _distinct(got) == want, f"{name}: keys differ from {recording}"


@pytest.fixture
def stream_api() -> Iterator[Api]:
    with Emulator() as emulator:
        api = Api(emulator)
        yield api
        api.session.close()


def _checked(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    for name, data in events:
        assert_event_valid(name, data)
    return events


def _text_run(api: Api) -> list[tuple[str, Any]]:
    api.emulator.script.queue_text("Hello! I'm here and ready to help. How can I assist you?")
    assistant = api.assistant()
    thread = api.thread("Hello there, assistant! How are you today?")
    return _checked(
        api.stream(
            f"/threads/{thread['id']}/runs",
            {"assistant_id": assistant["id"], "additional_messages": []},
        )
    )


def _tool_call_run(api: Api) -> list[tuple[str, Any]]:
    api.emulator.script.queue_tool_calls([{"name": "get_current_weather", "arguments": {}}])
    assistant = api.assistant(tools=[WEATHER_TOOL])
    body = {
        "assistant_id": assistant["id"],
        "thread": {"messages": [{"role": "user", "content": QUESTION}]},
    }
    return _checked(api.stream("/threads/runs", body))


def _continuation(api: Api) -> list[tuple[str, Any]]:
    asked = _tool_call_run(api)
    run = asked[-2][1]
    call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    api.emulator.script.queue_text("Since it's warm and sunny, wear something light.")
    return _checked(
        api.stream(
            f"/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs",
            {"tool_outputs": [{"tool_call_id": call["id"], "output": "warm and sunny"}]},
        )
    )


FLOWS = {
    "assistants-text-run.sse": _text_run,
    "assistants-tool-call-requires-action.sse": _tool_call_run,
    "assistants-tool-call-requires-action-4o-mini.sse": _tool_call_run,
    "assistants-submit-tool-outputs.sse": _continuation,
    "assistants-submit-tool-outputs-4o-mini.sse": _continuation,
}


@pytest.mark.parametrize("recording", sorted(FLOWS))
def test_a_streamed_flow_sends_the_recorded_events_with_the_recorded_keys(
    stream_api: Api, recording: str
) -> None:
    events = FLOWS[recording](stream_api)
    assert_stream_like_recording(events, recorded_stream(recording), recording)


def test_a_streamed_function_call_arrives_in_pieces_that_add_up_once(stream_api: Api) -> None:
    arguments = {"city": "Lisbon", "unit": "celsius", "days": 3}
    stream_api.emulator.script.queue_tool_calls([{"name": "get_weather", "arguments": arguments}])
    assistant = stream_api.assistant()
    thread = stream_api.thread("hi")
    events = _checked(
        stream_api.stream(f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    )
    calls = [
        data["delta"]["step_details"]["tool_calls"][0]
        for name, data in events
        if name == "thread.run.step.delta"
    ]
    first, *rest = calls
    assert first["function"] == {"name": "get_weather", "arguments": "", "output": None}
    assert len(rest) > 2
    assert all(
        call
        == {
            "index": 0,
            "type": "function",
            "function": {"arguments": call["function"]["arguments"]},
        }
        and 0 < len(call["function"]["arguments"]) <= 8
        for call in rest
    )
    joined = "".join(call["function"]["arguments"] for call in rest)
    assert json.loads(joined) == arguments
    run = events[-2][1]
    steps = stream_api.call(
        "GET", f"/threads/{thread['id']}/runs/{run['id']}/steps", "listRunSteps"
    )
    (stored,) = steps["data"][0]["step_details"]["tool_calls"]
    assert stored == {
        "id": first["id"],
        "type": "function",
        "function": {"name": "get_weather", "arguments": joined, "output": None},
    }


# -- non-streamed answers ---------------------------------------------------------------------


def recorded_bodies() -> dict[str, list[Any]]:
    bodies: dict[str, list[Any]] = defaultdict(list)
    for path in sorted(RESPONSES.glob("*.json")):
        record = json.loads(path.read_text("utf-8"))
        bodies[record["operation"]].append(record["body"])
    return dict(bodies)


def _wait(api: Api, thread_id: str, run_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        run = api.get_run(thread_id, run_id)
        if run["status"] == status or time.monotonic() > deadline:
            assert run["status"] == status
            return run
        time.sleep(0.005)


def emulator_answers(api: Api) -> dict[str, list[Any]]:
    """The emulator's answers to every operation it serves (``"POST /assistants": [...]``),
    from a scenario that makes the same kinds of objects as the recordings (tools, resources,
    attachments, tool calls)."""
    answers: dict[str, list[Any]] = defaultdict(list)

    def call(operation: str, operation_id: str, path: str, **kwargs: Any) -> Any:
        method = operation.split(" ", 1)[0]
        body = api.call(method, path, operation_id, **kwargs)
        answers[operation].append(body)
        return body

    def assistant(**fields: Any) -> Any:
        return call(
            "POST /assistants",
            "createAssistant",
            "/assistants",
            json_body={"model": "gpt-4o", **fields},
        )

    stores = [
        api.call("POST", "/vector_stores", "createVectorStore", json_body={})["id"]
        for _ in range(3)
    ]
    food = assistant(tools=[FOOD_TOOL])
    assistant(
        tools=[FILE_SEARCH_TOOL], tool_resources={"file_search": {"vector_store_ids": stores[:1]}}
    )
    coder = assistant(
        instructions="You help the user with mathematical descriptions and visualizations.",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": []}},
    )
    plain = assistant(
        name="Test Assistant 9", metadata={"test_metadata_cleanup_eligible": "hello!"}
    )
    call("GET /assistants", "listAssistants", "/assistants", params={"limit": 2})
    call("GET /assistants", "listAssistants", "/assistants")
    call("GET /assistants/{assistant_id}", "getAssistant", f"/assistants/{food['id']}")
    call(
        "POST /assistants/{assistant_id}",
        "modifyAssistant",
        f"/assistants/{coder['id']}",
        json_body={"instructions": "Plot it.", "metadata": {"changed": "yes"}},
    )
    call(
        "POST /assistants/{assistant_id}",
        "modifyAssistant",
        f"/assistants/{food['id']}",
        json_body={
            "tools": [FILE_SEARCH_TOOL],
            "tool_resources": {"file_search": {"vector_store_ids": stores[1:2]}},
        },
    )
    call("DELETE /assistants/{assistant_id}", "deleteAssistant", f"/assistants/{plain['id']}")
    food = api.call(
        "POST",
        "/assistants",
        "createAssistant",
        json_body={"model": "gpt-4o", "tools": [FOOD_TOOL]},
    )

    thread = call(
        "POST /threads",
        "createThread",
        "/threads",
        json_body={
            "messages": [{"role": "user", "content": "Hello"}],
            "metadata": {"threadMetadata": "threadMetadataValue"},
        },
    )
    call(
        "POST /threads",
        "createThread",
        "/threads",
        json_body={"tool_resources": {"code_interpreter": {"file_ids": ["file-1"]}}},
    )
    spare = call("POST /threads", "createThread", "/threads", json_body={})
    call("GET /threads/{thread_id}", "getThread", f"/threads/{thread['id']}")
    call(
        "POST /threads/{thread_id}",
        "modifyThread",
        f"/threads/{spare['id']}",
        json_body={"tool_resources": {"file_search": {"vector_store_ids": stores[2:]}}},
    )

    messages = f"/threads/{thread['id']}/messages"
    uploaded = api.session.post(
        api.base + "/files",
        data={"purpose": "assistants"},
        files={"file": ("notes.txt", b"Notes about nothing in particular.\n", "text/plain")},
    )
    assert uploaded.status_code == 200, uploaded.text
    attached_id = uploaded.json()["id"]
    attached = call(
        "POST /threads/{thread_id}/messages",
        "createMessage",
        messages,
        json_body={
            "role": "user",
            "content": "What is this file?",
            "attachments": [
                {"file_id": attached_id, "tools": [{"type": "file_search"}]},
                {"file_id": attached_id, "tools": [{"type": "code_interpreter"}]},
            ],
        },
    )
    said = call(
        "POST /threads/{thread_id}/messages",
        "createMessage",
        messages,
        json_body={"role": "assistant", "content": "Hi there, user.", "metadata": {"k": "v"}},
    )
    call(
        "GET /threads/{thread_id}/messages/{message_id}",
        "getMessage",
        f"{messages}/{attached['id']}",
    )
    call(
        "POST /threads/{thread_id}/messages/{message_id}",
        "modifyMessage",
        f"{messages}/{said['id']}",
        json_body={"metadata": {"messageMetadata": "newValue"}},
    )
    call(
        "DELETE /threads/{thread_id}/messages/{message_id}",
        "deleteMessage",
        f"{messages}/{said['id']}",
    )

    # A run that calls a function, gets its output and answers.
    api.emulator.script.queue_tool_calls(
        [{"name": "get_favorite_food_for_day_of_week", "arguments": {"day_of_week": "Thursday"}}]
    )
    runs = f"/threads/{thread['id']}/runs"
    run = call(
        "POST /threads/{thread_id}/runs",
        "createRun",
        runs,
        json_body={"assistant_id": food["id"]},
    )
    _wait(api, thread["id"], run["id"], "requires_action")
    asked = call("GET /threads/{thread_id}/runs/{run_id}", "getRun", f"{runs}/{run['id']}")
    call_id = asked["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    call(
        "POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
        "submitToolOuputsToRun",
        f"{runs}/{run['id']}/submit_tool_outputs",
        json_body={"tool_outputs": [{"tool_call_id": call_id, "output": "tacos"}]},
    )
    _wait(api, thread["id"], run["id"], "completed")
    call("GET /threads/{thread_id}/runs/{run_id}", "getRun", f"{runs}/{run['id']}")
    steps = call(
        "GET /threads/{thread_id}/runs/{run_id}/steps",
        "listRunSteps",
        f"{runs}/{run['id']}/steps",
    )
    tool_step = next(step for step in steps["data"] if step["type"] == "tool_calls")
    call(
        "GET /threads/{thread_id}/runs/{run_id}/steps/{step_id}",
        "getRunStep",
        f"{runs}/{run['id']}/steps/{tool_step['id']}",
    )
    # More runs on the same thread, as recorded: json_object, and instructions.
    second = call(
        "POST /threads/{thread_id}/runs",
        "createRun",
        runs,
        json_body={"assistant_id": food["id"], "response_format": {"type": "json_object"}},
    )
    _wait(api, thread["id"], second["id"], "completed")
    third = call(
        "POST /threads/{thread_id}/runs",
        "createRun",
        runs,
        json_body={"assistant_id": coder["id"]},
    )
    _wait(api, thread["id"], third["id"], "completed")
    call(
        "POST /threads/{thread_id}/runs/{run_id}",
        "modifyRun",
        f"{runs}/{third['id']}",
        json_body={"metadata": {"reviewed": "yes"}},
    )
    # A run cancelled while it waits for tool outputs.
    api.emulator.script.queue_tool_calls(
        [{"name": "get_favorite_food_for_day_of_week", "arguments": {"day_of_week": "Monday"}}]
    )
    waiting = api.call("POST", runs, "createRun", json_body={"assistant_id": food["id"]})
    _wait(api, thread["id"], waiting["id"], "requires_action")
    call(
        "POST /threads/{thread_id}/runs/{run_id}/cancel",
        "cancelRun",
        f"{runs}/{waiting['id']}/cancel",
    )
    _wait(api, thread["id"], waiting["id"], "cancelled")
    call("GET /threads/{thread_id}/runs", "listRuns", runs)
    call("GET /threads/{thread_id}/runs", "listRuns", f"/threads/{spare['id']}/runs")
    call("GET /threads/{thread_id}/messages", "listMessages", messages)
    call("GET /threads/{thread_id}/messages", "listMessages", messages, params={"limit": 1})

    call(
        "POST /threads/runs",
        "createThreadAndRun",
        "/threads/runs",
        json_body={
            "assistant_id": food["id"],
            "thread": {"messages": [{"role": "user", "content": "What do I eat on Thursday?"}]},
        },
    )
    call("DELETE /threads/{thread_id}", "deleteThread", f"/threads/{spare['id']}")
    files_and_stores(api, call)
    return dict(answers)


def files_and_stores(api: Api, call: Any) -> None:
    """Files, vector stores, their files, a file batch and a search, with every field set."""
    upload = {"file": ("notes.md", b"# Notes\n\nERR-4411 means the disk is full.")}

    def made(name: str, content: bytes) -> Any:
        return call(
            "POST /files",
            "createFile",
            "/files",
            files={"file": (name, content)},
            data={"purpose": "assistants"},
        )

    notes = call(
        "POST /files",
        "createFile",
        "/files",
        files=upload,
        data={
            "purpose": "assistants",
            "expires_after[anchor]": "created_at",
            "expires_after[seconds]": "3600",
        },
    )
    binary = made("blob.bin", bytes(range(256)))
    spare = made("spare.txt", b"a file deleted at the end")
    call("GET /files", "listFiles", "/files", params={"purpose": "assistants"})
    call("GET /files", "listFiles", "/files", params={"purpose": "batch"})  # an empty page
    call("GET /files/{file_id}", "retrieveFile", f"/files/{notes['id']}")
    call("GET /files/{file_id}/content", "downloadFile", f"/files/{notes['id']}/content")

    named = call(
        "POST /vector_stores",
        "createVectorStore",
        "/vector_stores",
        json_body={
            "name": "Notes",
            "description": "What we know",
            "file_ids": [notes["id"]],
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
            },
            "expires_after": {"anchor": "last_active_at", "days": 7},
            "metadata": {"k": "v"},
        },
    )
    bare = call("POST /vector_stores", "createVectorStore", "/vector_stores", json_body={})
    store = f"/vector_stores/{named['id']}"
    call("GET /vector_stores", "listVectorStores", "/vector_stores")
    call("GET /vector_stores/{vector_store_id}", "getVectorStore", store)
    call(
        "POST /vector_stores/{vector_store_id}",
        "modifyVectorStore",
        f"/vector_stores/{bare['id']}",
        json_body={"name": "Bare", "expires_after": None, "metadata": {"x": "y"}},
    )
    call(
        "POST /vector_stores/{vector_store_id}/files",
        "createVectorStoreFile",
        f"{store}/files",
        json_body={"file_id": spare["id"], "attributes": {"team": "ops", "year": 2024}},
    )
    batch = call(
        "POST /vector_stores/{vector_store_id}/file_batches",
        "createVectorStoreFileBatch",
        f"{store}/file_batches",
        json_body={"files": [{"file_id": binary["id"], "attributes": {"kind": "blob"}}]},
    )
    _wait_for(api, f"{store}/file_batches/{batch['id']}")
    _wait_for(api, store)
    call(
        "GET /vector_stores/{vector_store_id}/file_batches/{batch_id}",
        "getVectorStoreFileBatch",
        f"{store}/file_batches/{batch['id']}",
    )
    call(
        "GET /vector_stores/{vector_store_id}/file_batches/{batch_id}/files",
        "listFilesInVectorStoreBatch",
        f"{store}/file_batches/{batch['id']}/files",
    )
    call(
        "POST /vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel",
        "cancelVectorStoreFileBatch",
        f"{store}/file_batches/{batch['id']}/cancel",
    )
    call("GET /vector_stores/{vector_store_id}/files", "listVectorStoreFiles", f"{store}/files")
    call(
        "GET /vector_stores/{vector_store_id}/files",
        "listVectorStoreFiles",
        f"{store}/files",
        params={"filter": "failed"},
    )
    call(
        "GET /vector_stores/{vector_store_id}/files/{file_id}",
        "getVectorStoreFile",
        f"{store}/files/{binary['id']}",  # failed: its last_error set
    )
    call(
        "POST /vector_stores/{vector_store_id}/files/{file_id}",
        "updateVectorStoreFileAttributes",
        f"{store}/files/{notes['id']}",
        json_body={"attributes": {"team": "docs"}},
    )
    call(
        "GET /vector_stores/{vector_store_id}/files/{file_id}/content",
        "retrieveVectorStoreFileContent",
        f"{store}/files/{notes['id']}/content",
    )
    call(
        "POST /vector_stores/{vector_store_id}/search",
        "searchVectorStore",
        f"{store}/search",
        json_body={
            "query": ["ERR-4411", "disk"],
            "max_num_results": 5,
            "filters": {"type": "eq", "key": "team", "value": "docs"},
            "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
        },
    )
    searching_run(api, call)
    call(
        "DELETE /vector_stores/{vector_store_id}/files/{file_id}",
        "deleteVectorStoreFile",
        f"{store}/files/{spare['id']}",
    )
    call("DELETE /files/{file_id}", "deleteFile", f"/files/{spare['id']}")
    call(
        "DELETE /vector_stores/{vector_store_id}",
        "deleteVectorStore",
        f"/vector_stores/{bare['id']}",
    )


def searching_run(api: Api, call: Any) -> None:
    """A run that searches a store (file_search), its steps read with their passages, as
    recorded (``include[]``), and its cited answer."""
    uploaded = api.session.post(
        api.base + "/files",
        data={"purpose": "assistants"},
        files={"file": ("runbook.md", b"# Disk alerts\n\nERR-4411 means the disk is full.\n")},
    ).json()
    store_id = api.call(
        "POST", "/vector_stores", "createVectorStore", json_body={"file_ids": [uploaded["id"]]}
    )["id"]
    _wait_for(api, f"/vector_stores/{store_id}")
    assistant = call(
        "POST /assistants",
        "createAssistant",
        "/assistants",
        json_body={
            "model": "gpt-4o",
            "tools": [{"type": "file_search"}],
            "tool_resources": {"file_search": {"vector_store_ids": [store_id]}},
        },
    )
    thread = api.call(
        "POST",
        "/threads",
        "createThread",
        json_body={"messages": [{"role": "user", "content": "What does ERR-4411 mean?"}]},
    )
    runs = f"/threads/{thread['id']}/runs"
    run = api.call("POST", runs, "createRun", json_body={"assistant_id": assistant["id"]})
    _wait(api, thread["id"], run["id"], "completed")
    include = {"include[]": "step_details.tool_calls[*].file_search.results[*].content"}
    steps = call(
        "GET /threads/{thread_id}/runs/{run_id}/steps",
        "listRunSteps",
        f"{runs}/{run['id']}/steps",
        params=include,
    )
    tool_step = next(step for step in steps["data"] if step["type"] == "tool_calls")
    assert tool_step["step_details"]["tool_calls"][0]["file_search"]["results"]
    call(
        "GET /threads/{thread_id}/runs/{run_id}/steps/{step_id}",
        "getRunStep",
        f"{runs}/{run['id']}/steps/{tool_step['id']}",
        params=include,
    )
    (reply,) = call(
        "GET /threads/{thread_id}/messages",
        "listMessages",
        f"/threads/{thread['id']}/messages",
        params={"run_id": run["id"]},
    )["data"]
    assert reply["content"][0]["text"]["annotations"], reply


def _wait_for(api: Api, path: str) -> None:
    """Until the object at ``path`` is no longer ``in_progress``."""
    deadline = time.monotonic() + 10
    while api.call("GET", path)["status"] == "in_progress":
        assert time.monotonic() < deadline, f"{path} still in progress"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, list[Any]]]:
    with Emulator() as emulator:
        api = Api(emulator)
        try:
            yield emulator_answers(api)
        finally:
            api.session.close()


RECORDED = recorded_bodies()


def _served(operation_id: str) -> bool:
    """Whether the engine serves the operation (a method of its name), or answers it 501."""
    (operation,) = (op for op in OPERATIONS if op.id == operation_id)
    return hasattr(Engine, operation.name)


# "POST /threads/{thread_id}/runs" -> the operation's id in the spec ("createRun").
OPERATION_IDS = {f"{operation.method} {operation.path}": operation.id for operation in OPERATIONS}
SERVED = sorted(name for name, op_id in OPERATION_IDS.items() if _served(op_id))


def test_the_scenario_answers_every_operation_the_engine_serves(
    answers: dict[str, list[Any]],
) -> None:
    assert set(RECORDED) <= set(SERVED)
    assert sorted(answers) == SERVED


@pytest.mark.parametrize("operation", SERVED)
def test_every_answer_has_every_field_the_spec_requires_at_every_depth(
    answers: dict[str, list[Any]], operation: str
) -> None:
    assert answers[operation]
    if OPERATION_IDS[operation] not in response_schemas():
        return  # it answers bytes, not a JSON object
    for answer in answers[operation]:
        assert_response_valid(OPERATION_IDS[operation], answer)


def _items(body: Any) -> list[Any]:
    return list(body["data"]) if isinstance(body, dict) and "data" in body else []


def _top_keys(paths: set[str]) -> set[str]:
    """The keys of the object itself among key paths (``status``, or ``<tool_calls>.status``
    for a step, whose ``type`` tags its paths)."""
    keys = set()
    for path in paths:
        if path.startswith("<"):
            path = path[path.index(">") + 2 :]
        if not any(char in path for char in ".[<"):
            keys.add(path)
    return keys


@pytest.mark.parametrize("operation", sorted(RECORDED))
def test_an_answer_has_the_recorded_keys_in_the_recorded_order(
    answers: dict[str, list[Any]], operation: str
) -> None:
    """The recorded keys, in the recorded order; other keys only where the spec has them."""
    recorded = RECORDED[operation]
    (top,) = {tuple(body) for body in recorded}  # every recording agrees on its own keys
    item_orders = {tuple(item) for body in recorded for item in _items(body)}
    item_keys = {key for order in item_orders for key in order}
    schema = response_schemas()[OPERATION_IDS[operation]]
    for answer in answers[operation]:
        assert tuple(key for key in answer if key in top) == top
        assert set(answer) - set(top) <= _top_keys(spec_paths(answer, schema))
        for item in _items(answer):
            assert tuple(key for key in item if key in item_keys) in item_orders
            assert set(item) - item_keys <= _top_keys(spec_paths_of_object(item))


def _objects(body: Any) -> list[dict[str, Any]]:
    """The API objects of an answer: the answer itself, or the items of a list."""
    found = [body] if isinstance(body, dict) and body.get("object") != "list" else []
    return found + [item for item in _items(body) if isinstance(item, dict)]


def _pooled_by_kind() -> dict[str, set[str]]:
    """The key paths of every recorded object, pooled by its kind (its ``object`` field)."""
    pool: dict[str, set[str]] = defaultdict(set)
    for bodies in RECORDED.values():
        for body in bodies:
            for obj in _objects(body):
                pool[str(obj.get("object"))].update(key_paths(obj))
    return dict(pool)


POOLED = _pooled_by_kind()


@pytest.mark.parametrize("operation", sorted(RECORDED))
def test_an_answer_has_the_recorded_keys_at_every_depth(
    answers: dict[str, list[Any]], operation: str
) -> None:
    _compare_with_recordings(answers[operation], RECORDED[operation])


def _compare_with_recordings(answers: list[Any], recordings: list[Any]) -> None:
    """Compare the key paths of the emulator's answers with those of the recordings.

    The recordings differ among themselves: one has a file_search tool and its ranking
    options, another a code interpreter call with outputs, a third an image in a message, and a
    completed run's usage is recorded by GET run but not by the run lists. So each answer is
    held to two rules:

    * nothing invented: every key path of each object in the answer (the answer, or each item
      of a list) appears in some recorded object of the same kind (``assistant``,
      ``thread.run``...), whichever operation recorded it, or the spec declares it for that
      kind of object;
    * nothing left out: every key path that all recordings of this operation share appears in
      the answer.

    (That an answer as a whole has its operation's own keys, in order, is checked above.)

    Both rules compare like with like: a path through a union variant (``<file_search>``,
    ``<function>``...) counts only where the other side has that variant too. The emulator's
    function calls are not in the non-streamed recordings (which have file_search and code
    interpreter calls) and are compared with the streamed recordings instead; conversely,
    recorded variants the emulator does not make (file_search results) are not required of it.
    """
    recorded = [set(key_paths(body)) for body in recordings]
    common = set.intersection(*recorded)
    for answer in answers:
        for obj in _objects(answer):
            kind = str(obj.get("object"))
            assert kind in POOLED, f"no recorded object of kind {kind!r}"
            known = POOLED[kind]
            known_variants = {variant for path in known for variant in variants(path)}
            paths = set(key_paths(obj)) - spec_paths_of_object(obj)
            invented = {path for path in paths - known if variants(path) <= known_variants}
            assert not invented, (
                f"{kind}: keys neither a recording nor the spec has: {sorted(invented)}"
            )
        paths = set(key_paths(answer))
        answer_variants = {variant for path in paths for variant in variants(path)}
        missing = {path for path in common - paths if variants(path) <= answer_variants}
        assert not missing, f"keys every recording has: {sorted(missing)}"
