"""Every operation of the API answers with an object valid for its response schema."""

from __future__ import annotations

from .conftest import Api
from .spec_tools import response_schemas


def test_the_emulator_serves_all_forty_four_operations(api: Api) -> None:
    served = [route for route in api.emulator.app.router.routes if route.handler is not None]
    operations = {route.operation_id for route in served}
    # Every JSON answer has its schema; a file's raw content has none.
    assert operations == {*response_schemas(), "downloadFile"}
    assert len(operations) == 44


def test_assistants_can_be_created_read_modified_listed_and_deleted(api: Api) -> None:
    created = api.assistant(
        name="Helper",
        description="Answers questions",
        instructions="Be brief.",
        tools=[{"type": "code_interpreter"}],
        metadata={"team": "a"},
    )
    assert created["id"].startswith("asst_")
    assert created["object"] == "assistant"
    assert created["description"] == "Answers questions"
    assert created["metadata"] == {"team": "a"}

    fetched = api.call("GET", f"/assistants/{created['id']}", "getAssistant")
    assert fetched == created

    modified = api.call(
        "POST",
        f"/assistants/{created['id']}",
        "modifyAssistant",
        json_body={"name": "Renamed", "metadata": {"team": "b"}},
    )
    assert modified["name"] == "Renamed"
    assert modified["instructions"] == "Be brief."
    assert modified["metadata"] == {"team": "b"}

    listed = api.call("GET", "/assistants", "listAssistants")
    assert [item["id"] for item in listed["data"]] == [created["id"]]

    deleted = api.call("DELETE", f"/assistants/{created['id']}", "deleteAssistant")
    assert deleted == {"id": created["id"], "object": "assistant.deleted", "deleted": True}
    api.call("GET", f"/assistants/{created['id']}", expect=404)


def test_an_assistant_without_a_description_reports_it_as_null(api: Api) -> None:
    created = api.assistant()
    assert "description" in created
    assert created["description"] is None


def test_threads_can_be_created_read_modified_and_deleted(api: Api) -> None:
    thread = api.call(
        "POST",
        "/threads",
        "createThread",
        json_body={"messages": [{"role": "user", "content": "Hello"}], "metadata": {"k": "v"}},
    )
    assert thread["id"].startswith("thread_")
    assert thread["object"] == "thread"
    # As recorded, a thread read back shows an empty code interpreter resource its create
    # answer did not.
    assert api.call("GET", f"/threads/{thread['id']}", "getThread") == {
        **thread,
        "tool_resources": {"code_interpreter": {"file_ids": []}},
    }
    modified = api.call(
        "POST", f"/threads/{thread['id']}", "modifyThread", json_body={"metadata": {"k": "w"}}
    )
    assert modified["metadata"] == {"k": "w"}
    deleted = api.call("DELETE", f"/threads/{thread['id']}", "deleteThread")
    assert deleted == {"id": thread["id"], "object": "thread.deleted", "deleted": True}
    api.call("GET", f"/threads/{thread['id']}", expect=404)
    api.call("GET", f"/threads/{thread['id']}/messages", expect=404)


def test_a_thread_can_be_created_without_a_body(api: Api) -> None:
    response = api.session.post(api.base + "/threads", timeout=5)
    assert response.status_code == 200
    assert response.json()["object"] == "thread"


def test_messages_can_be_created_read_modified_listed_and_deleted(api: Api) -> None:
    thread = api.thread()
    message = api.call(
        "POST",
        f"/threads/{thread['id']}/messages",
        "createMessage",
        json_body={
            "role": "user",
            "content": [
                {"type": "text", "text": "Look at this"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
            "metadata": {"n": "1"},
        },
    )
    assert message["id"].startswith("msg_")
    assert message["content"][0] == {
        "type": "text",
        "text": {"value": "Look at this", "annotations": []},
    }
    assert message["content"][1]["type"] == "image_url"
    assert message["thread_id"] == thread["id"]
    path = f"/threads/{thread['id']}/messages/{message['id']}"
    assert api.call("GET", path, "getMessage") == message
    modified = api.call("POST", path, "modifyMessage", json_body={"metadata": {"n": "2"}})
    assert modified["metadata"] == {"n": "2"}
    # The modify answer has the recorded file_ids beside the spec's attachments.
    assert modified["file_ids"] == [] and modified["attachments"] == []
    assert message["status"] == "completed" and message["completed_at"] is not None
    listed = api.messages(thread["id"])["data"]
    assert listed == [{**message, "metadata": {"n": "2"}}]
    deleted = api.call("DELETE", path, "deleteMessage")
    assert deleted == {"id": message["id"], "object": "thread.message.deleted", "deleted": True}
    assert api.messages(thread["id"])["data"] == []


def test_runs_can_be_created_read_modified_listed_and_their_steps_read(api: Api) -> None:
    assistant = api.assistant(instructions="Be kind.")
    thread = api.thread("Hello there")
    run = api.run(thread["id"], assistant["id"], metadata={"a": "1"})
    assert run["id"].startswith("run_")
    assert run["status"] == "queued"
    assert run["instructions"] == "Be kind."
    done = api.wait_run(thread["id"], run["id"])
    assert done["status"] == "completed"
    modified = api.call(
        "POST",
        f"/threads/{thread['id']}/runs/{run['id']}",
        "modifyRun",
        json_body={"metadata": {"a": "2"}},
    )
    assert modified["metadata"] == {"a": "2"}
    runs = api.call("GET", f"/threads/{thread['id']}/runs", "listRuns")
    assert [item["id"] for item in runs["data"]] == [run["id"]]
    steps = api.call("GET", f"/threads/{thread['id']}/runs/{run['id']}/steps", "listRunSteps")
    assert len(steps["data"]) == 1
    step = steps["data"][0]
    assert step["id"].startswith("step_")
    fetched = api.call(
        "GET", f"/threads/{thread['id']}/runs/{run['id']}/steps/{step['id']}", "getRunStep"
    )
    assert fetched == step


def test_create_thread_and_run_makes_both_and_answers_the_first_message(api: Api) -> None:
    assistant = api.assistant()
    run = api.call(
        "POST",
        "/threads/runs",
        "createThreadAndRun",
        json_body={
            "assistant_id": assistant["id"],
            "thread": {"messages": [{"role": "user", "content": "Ping"}]},
        },
    )
    assert run["thread_id"].startswith("thread_")
    assert api.wait_run(run["thread_id"], run["id"])["status"] == "completed"
    texts = [m["content"][0]["text"]["value"] for m in api.messages(run["thread_id"])["data"]]
    assert texts == ["You said: Ping", "Ping"]


def test_cancel_and_submit_tool_outputs_answer_with_run_objects(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("hi")
    api.emulator.script.queue_tool_calls([{"name": "lookup", "arguments": {"q": "x"}}])
    run = api.run(thread["id"], assistant["id"])
    waiting = api.wait_run(thread["id"], run["id"], lambda s: s == "requires_action")
    call_id = waiting["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    submitted = api.call(
        "POST",
        f"/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
        "submitToolOuputsToRun",
        json_body={"tool_outputs": [{"tool_call_id": call_id, "output": "42"}]},
    )
    assert submitted["status"] == "queued"
    assert api.wait_run(thread["id"], run["id"])["status"] == "completed"

    api.emulator.script.queue_delay(5)
    second = api.run(thread["id"], assistant["id"])
    cancelled = api.call("POST", f"/threads/{thread['id']}/runs/{second['id']}/cancel", "cancelRun")
    assert cancelled["status"] == "cancelling"
