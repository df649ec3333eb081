"""openai-node's Assistants API, pointed at the emulator: only the base URL changes.

tests/compat/node/flows.mjs runs a user's main flows with the openai release pinned in the
repository's package.json (installed at the root by ``npm ci``, which ``make test`` runs) and
prints what the SDK handed back as JSON. The script runs once; each test here checks one flow
of its summary, so a failure names the flow and the field that broke.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistants_client.emulator import Emulator

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).resolve().parent / "node" / "flows.mjs"
REFERENCE = ROOT / "tests" / "fixtures" / "reference"
NODE_TIMEOUT_SECONDS = 60

STREAMED_TEXT = "Hello from the emulator, streamed in pieces."
STREAMED_CHUNKS = ["Hello fro", "m the emu", "lator, st", "reamed in", " pieces."]
TOOL_CALL = {"id": "call_weather1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
TOOL_REPLY = "Paris is sunny, 18 degrees."
POLLED_REPLY = "Polled reply."
USER_TEXT = "What is the weather in Paris?"


def pinned_openai_version() -> str:
    manifest = json.loads((ROOT / "package.json").read_text())
    return str(manifest["devDependencies"]["openai"])


def recorded_event_names(name: str) -> list[str]:
    """The event names of a recorded live stream, repeats collapsed (delta counts vary)."""
    names: list[str] = []
    for line in (REFERENCE / name).read_text().splitlines():
        if line.startswith("event: ") and line != "event: done":
            event = line.removeprefix("event: ")
            if not names or names[-1] != event:
                names.append(event)
    return names


@pytest.fixture(scope="module")
def node_run(compat_emulator: Emulator) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; the openai-node compatibility tests need Node.js")
    if not (ROOT / "node_modules" / "openai" / "package.json").is_file():
        pytest.fail("node_modules/openai is missing at the repository root: run `npm ci`")
    compat_emulator.reset()
    # The flows create runs in this order; each takes the next scripted reply.
    script = compat_emulator.script
    script.queue_text(STREAMED_TEXT, chunks=len(STREAMED_CHUNKS))
    script.queue_tool_calls([TOOL_CALL])
    script.queue_text(TOOL_REPLY, chunks=4)
    script.queue_text(POLLED_REPLY)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "AZURE_OPENAI_"))
    }
    environment["OPENAI_BASE_URL"] = compat_emulator.base_url
    try:
        return subprocess.run(
            [node, str(FLOWS)],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"flows.mjs did not finish within {NODE_TIMEOUT_SECONDS} s; "
            f"stdout so far: {expired.stdout!r}, stderr: {expired.stderr!r}"
        )
    finally:
        compat_emulator.reset()


@pytest.fixture(scope="module")
def summary(node_run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        parsed = json.loads(node_run.stdout)
    except ValueError:
        pytest.fail(
            f"flows.mjs printed no JSON summary (exit {node_run.returncode}):\n"
            f"stdout: {node_run.stdout[-2000:]}\nstderr: {node_run.stderr[-4000:]}"
        )
    assert isinstance(parsed, dict)
    return parsed


def flow(summary: dict[str, Any], name: str) -> dict[str, Any]:
    """One flow's observations; the flow's own exception fails the test that asked for it."""
    if name in summary["errors"]:
        pytest.fail(f"openai-node flow {name!r} threw: {json.dumps(summary['errors'][name])}")
    result = summary["flows"][name]
    assert isinstance(result, dict)
    return result


def test_every_node_flow_runs_without_an_exception(
    node_run: subprocess.CompletedProcess[str], summary: dict[str, Any]
) -> None:
    assert summary["errors"] == {}, node_run.stderr[-4000:]
    assert node_run.returncode == 0, node_run.stderr[-4000:]


def test_the_node_sdk_is_the_pinned_release(summary: dict[str, Any]) -> None:
    assert summary["sdk_version"] == pinned_openai_version()


def test_node_creates_the_assistant_thread_and_message(summary: dict[str, Any]) -> None:
    setup = flow(summary, "setup")
    assert setup["assistant_id"].startswith("asst_")
    assert setup["retrieved_id"] == setup["assistant_id"]
    assert setup["retrieved_name"] == "compat-node"
    assert setup["tool_names"] == ["get_weather"]
    assert setup["thread_id"].startswith("thread_")
    assert setup["message"] == {
        "id": setup["message"]["id"],
        "role": "user",
        "text": USER_TEXT,
        "thread_id": setup["thread_id"],
    }


def test_node_streamed_run_delivers_every_text_delta(summary: dict[str, Any]) -> None:
    streamed = flow(summary, "streamed_text")
    assert streamed["text_deltas"] == STREAMED_CHUNKS
    assert streamed["texts_created"] == 1
    assert streamed["texts_done"] == [STREAMED_TEXT]
    assert [m["text"] for m in streamed["messages_done"]] == [STREAMED_TEXT]
    assert streamed["final_messages"] == [STREAMED_TEXT]
    assert streamed["final_step_types"] == ["message_creation"]
    assert streamed["run"]["status"] == "completed"


def test_node_streamed_run_event_order_matches_the_recorded_api_stream(
    summary: dict[str, Any],
) -> None:
    streamed = flow(summary, "streamed_text")
    assert streamed["events"] == recorded_event_names("assistants-text-run.sse")


def test_node_tool_call_stream_ends_requiring_the_scripted_call(summary: dict[str, Any]) -> None:
    tool_stream = flow(summary, "tool_call_stream")
    assert tool_stream["run"]["status"] == "requires_action"
    assert tool_stream["required_calls"] == [TOOL_CALL]
    assert tool_stream["events"] == [
        name
        for name in recorded_event_names("assistants-tool-call-requires-action.sse")
        if name != "thread.created"
    ]


def test_node_tool_call_created_event_carries_the_call_id_and_name_once(
    summary: dict[str, Any],
) -> None:
    # Live streams open a tool_calls step with `tool_calls: []`; id and name come once, in the
    # first thread.run.step.delta. openai-node concatenates repeated strings into its snapshot.
    tool_stream = flow(summary, "tool_call_stream")
    created = tool_stream["tool_calls_created"]
    assert [(c["type"], c["id"], c["name"]) for c in created] == [
        ("function", TOOL_CALL["id"], TOOL_CALL["name"])
    ]


def test_node_streamed_tool_call_snapshot_equals_the_required_action(
    summary: dict[str, Any],
) -> None:
    tool_stream = flow(summary, "tool_call_stream")
    expected = tool_stream["required_calls"]
    assert [
        {key: call[key] for key in ("id", "name", "arguments")}
        for call in tool_stream["tool_calls_done"]
    ] == expected
    assert tool_stream["final_step_tool_calls"] == expected


def test_node_tool_call_arguments_arrive_through_tool_call_delta(summary: dict[str, Any]) -> None:
    # Live streams announce a call with `arguments: ""` and send the arguments in later deltas,
    # which openai-node emits as `toolCallDelta`.
    tool_stream = flow(summary, "tool_call_stream")
    streamed = {
        index: "".join(pieces) for index, pieces in tool_stream["tool_call_argument_pieces"].items()
    }
    assert streamed == {"0": TOOL_CALL["arguments"]}, (
        "arguments did not reach toolCallDelta: the first step delta of a call must carry "
        'arguments "" and later deltas the argument pieces'
    )


def test_node_submit_tool_outputs_stream_completes_with_the_scripted_reply(
    summary: dict[str, Any],
) -> None:
    submitted = flow(summary, "submit_tool_outputs_stream")
    tool_run = flow(summary, "tool_call_stream")["run"]
    assert submitted["run"] == {"id": tool_run["id"], "status": "completed"}
    assert "".join(submitted["text_deltas"]) == TOOL_REPLY
    assert len(submitted["text_deltas"]) == 4
    assert submitted["final_messages"] == [TOOL_REPLY]
    tool_step, message_step = submitted["steps_done"]
    assert tool_step["type"] == "tool_calls"
    assert tool_step["tool_calls"] == [{**TOOL_CALL, "output": "sunny, 18C"}]
    assert message_step["type"] == "message_creation"
    assert submitted["events"] == recorded_event_names("assistants-submit-tool-outputs.sse")


def test_node_create_and_poll_completes_with_the_scripted_reply(summary: dict[str, Any]) -> None:
    polled = flow(summary, "create_and_poll")
    assert polled["run"]["status"] == "completed"
    assert polled["run"]["thread_id"] == flow(summary, "setup")["thread_id"]
    assert polled["usage_total"] > 0
    assert polled["newest_message"] == {"text": POLLED_REPLY, "run_id": polled["run"]["id"]}


def test_node_messages_list_auto_paginates_the_whole_thread(summary: dict[str, Any]) -> None:
    listed = flow(summary, "messages_list")
    assert listed["messages"] == [
        {"role": "user", "text": USER_TEXT},
        {"role": "assistant", "text": STREAMED_TEXT},
        {"role": "assistant", "text": TOOL_REPLY},
        {"role": "assistant", "text": POLLED_REPLY},
    ]
    assert (listed["first_page_size"], listed["first_page_has_more"]) == (2, True)


def test_node_errors_are_not_found_and_bad_request_with_the_server_message(
    summary: dict[str, Any],
) -> None:
    errors = flow(summary, "errors")
    missing = errors["missing_assistant"]
    assert (missing["class"], missing["status"], missing["is_not_found"]) == (
        "NotFoundError",
        404,
        True,
    )
    assert missing["body_message"] == "No assistant found with id 'asst_missing'."
    assert missing["body_message"] in missing["message"]
    assert missing["param"] == "assistant_id"
    assert missing["request_id"].startswith("req_")
    bad_limit = errors["bad_limit"]
    assert (bad_limit["class"], bad_limit["status"], bad_limit["is_bad_request"]) == (
        "BadRequestError",
        400,
        True,
    )
    assert bad_limit["param"] == "limit"
    assert bad_limit["body_message"] in bad_limit["message"]
