"""A server killed with runs in flight, restarted on the same ``--db``.

A live answer cannot be resumed: the runs that were under way come back ``failed`` with
``server_error``, their messages ``incomplete`` with the text stored so far. A run waiting for
tool outputs keeps waiting, and can be continued. No run stays ``in_progress``.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import requests
import sseclient

from assistants_client import AssistantsClient
from tests.server.support import BOUND, run_process, wait_until
from tests.servers.fake_chat import (
    FakeChatServer,
    silent_answer,
    stall_answer,
    text_answer,
    tool_call_answer,
)

TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
}


def stored_message(db: Path, message_id: str) -> dict[str, Any]:
    """A message as the database holds it (with the status answers leave out)."""
    with sqlite3.connect(db) as connection:
        (data,) = connection.execute(
            "SELECT data FROM objects WHERE kind = 'message' AND id = ?", (message_id,)
        ).fetchone()
    return json.loads(data)  # type: ignore[no-any-return]


def read_until_first_delta(response: requests.Response, seen: threading.Event) -> None:
    try:
        for item in sseclient.SSEClient(response.iter_content(chunk_size=None)).events():
            if item.event == "thread.message.delta":
                seen.set()
    except requests.RequestException:
        pass  # the server was killed under the stream


def test_runs_in_flight_when_the_server_was_killed_fail_after_a_restart(
    tmp_path: Path, backend: FakeChatServer
):
    db = tmp_path / "state.db"
    args = ("--backend-url", backend.base_url, "--port", "0", "--db", str(db))
    first = run_process(*args)
    streaming_response: requests.Response | None = None
    try:
        client = AssistantsClient(base_url=first.base_url, timeout=BOUND)
        assistant = client.create_assistant("gpt-4o", tools=[TOOL])
        waiting = client.create_thread(messages=[{"role": "user", "content": "Look it up"}])
        streamed = client.create_thread(messages=[{"role": "user", "content": "Tell me"}])
        background = client.create_thread(messages=[{"role": "user", "content": "Later"}])

        backend.script(tool_call_answer("lookup", "{}", call_id="call_1"))
        waiting_run = client.create_run_and_wait(
            waiting.id, assistant.id, wait_timeout=BOUND, poll_interval=0.01
        )
        assert waiting_run.status == "requires_action"

        backend.script(stall_answer("Partial answer", chunks=1))
        streaming_response = requests.post(
            f"{first.base_url}/threads/{streamed.id}/runs",
            json={"assistant_id": assistant.id, "stream": True},
            stream=True,
            timeout=BOUND,
        )
        first_delta = threading.Event()
        reader = threading.Thread(
            target=read_until_first_delta, args=(streaming_response, first_delta), daemon=True
        )
        reader.start()
        assert first_delta.wait(BOUND)

        backend.script(silent_answer())
        background_run = client.create_run(background.id, assistant.id)
        wait_until(lambda: len(backend.exchanges) == 3, what="the background run's request")
        runs = {
            thread.id: client.list_runs(thread.id).data[0]
            for thread in (waiting, streamed, background)
        }
        assert runs[streamed.id].status == runs[background.id].status == "in_progress"
        client.close()

        first.process.send_signal(signal.SIGKILL)
        first.process.wait(BOUND)
    finally:
        if streaming_response is not None:
            streaming_response.close()
        first.stop()

    second = run_process(*args)
    try:
        with AssistantsClient(base_url=second.base_url, timeout=BOUND) as client:
            for thread_id in (streamed.id, background.id):
                run = client.get_run(thread_id, runs[thread_id].id)
                assert run.status == "failed", thread_id
                assert run.last_error is not None
                assert run.last_error.code == "server_error"
                assert run.failed_at is not None
                assert all(
                    step.status == "failed" for step in client.list_run_steps(thread_id, run.id)
                )
            (message,) = client.list_messages(streamed.id, run_id=runs[streamed.id].id)
            assert message.content[0].text.value == "Partial answer"
            kept = stored_message(db, message.id)
            assert kept["status"] == "incomplete"
            assert kept["incomplete_details"] == {"reason": "run_failed"}
            assert list(client.list_messages(background.id, run_id=background_run.id)) == []

            waited = client.get_run(waiting.id, waiting_run.id)
            assert waited.status == "requires_action"
            backend.script(text_answer("Found it."))
            finished = client.submit_tool_outputs(
                waiting.id, waiting_run.id, [{"tool_call_id": "call_1", "output": "42"}]
            )
            final = client.wait_for_run(waiting.id, finished.id, timeout=BOUND, poll_interval=0.01)
            assert final.status == "completed"
            assert backend.last_body()["messages"][-1] == {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": "42",
            }
    finally:
        second.stop()
