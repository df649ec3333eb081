"""Projects across several ``assistants-server`` processes on one PostgreSQL database.

The processes get keys of two projects (``ASSISTANTS_SERVER_API_KEYS="team-a:...,team-b:..."``).
Whatever process a request reaches, a key of one project sees its project's objects and never
another's: every operation answers 404 for another project's ids, lists leave them out, an
idempotency key of one project is another key in another, and runs (claimed by any process's
workers, or ended by a survivor when their process dies) stay in their project.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from assistants_client import AssistantsClient, BadRequestError, NotFoundError
from tests.postgres.support import ServerProcess, start_cluster
from tests.postgres.test_processes import held_echo
from tests.server.support import BOUND, wait_until
from tests.servers.fake_chat import FakeChatServer, text_answer, tool_call_answer

KEYS = "team-a:sk-a1,team-a:sk-a2,team-b:sk-b1"


def client(server: ServerProcess, key: str) -> AssistantsClient:
    return AssistantsClient(base_url=server.base_url, api_key=key, timeout=BOUND, max_retries=0)


def test_every_process_keeps_each_project_to_its_own_objects(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    with start_cluster(3, database, backend.base_url, tmp_path, client_keys=KEYS) as servers:
        with client(servers[0], "sk-a1") as a1:
            assistant = a1.create_assistant("gpt-4o", name="A's")
            thread = a1.create_thread(messages=[{"role": "user", "content": "For A only"}])
            backend.script(text_answer("A's answer", chunks=2))
            run = a1.create_run_and_wait(thread.id, assistant.id, timeout=BOUND)
            assert run.status == "completed"
            (step,) = list(a1.list_run_steps(thread.id, run.id))
            message = next(iter(a1.list_messages(thread.id, order="asc")))
            waiting_thread = a1.create_thread(messages=[{"role": "user", "content": "Call"}])
            backend.script(tool_call_answer("lookup", "{}"))
            waiting = a1.create_run_and_wait(waiting_thread.id, assistant.id, timeout=BOUND)
            assert waiting.status == "requires_action"
        with client(servers[2], "sk-b1") as b:
            own_thread = b.create_thread()
            own_assistant = b.create_assistant("gpt-4o", name="B's")

        hidden: list[Callable[[AssistantsClient], Any]] = [
            lambda c: c.get_assistant(assistant.id),
            lambda c: c.update_assistant(assistant.id, name="taken"),
            lambda c: c.delete_assistant(assistant.id),
            lambda c: c.get_thread(thread.id),
            lambda c: c.update_thread(thread.id, metadata={"by": "B"}),
            lambda c: c.delete_thread(thread.id),
            lambda c: list(c.list_messages(thread.id)),
            lambda c: c.create_message(thread.id, "user", "B writes"),
            lambda c: c.get_message(thread.id, message.id),
            lambda c: c.get_message(own_thread.id, message.id),
            lambda c: c.update_message(thread.id, message.id, metadata={"by": "B"}),
            lambda c: c.delete_message(thread.id, message.id),
            lambda c: list(c.list_runs(thread.id)),
            lambda c: c.create_run(thread.id, own_assistant.id),
            lambda c: c.create_run(own_thread.id, assistant.id),
            lambda c: c.create_thread_and_run(assistant.id),
            lambda c: c.get_run(thread.id, run.id),
            lambda c: c.get_run(own_thread.id, run.id),
            lambda c: c.update_run(thread.id, run.id, metadata={"by": "B"}),
            lambda c: c.cancel_run(waiting_thread.id, waiting.id),
            lambda c: c.submit_tool_outputs(
                waiting_thread.id,
                waiting.id,
                [{"tool_call_id": "call_fake_1", "output": "B's"}],
            ),
            lambda c: list(c.list_run_steps(thread.id, run.id)),
            lambda c: c.get_run_step(thread.id, run.id, step.id),
        ]
        for server in servers:
            with client(server, "sk-b1") as b, client(server, "sk-a2") as a2:
                assert [x.id for x in b.list_assistants()] == [own_assistant.id]
                with pytest.raises(BadRequestError, match="no object with id"):
                    list(b.list_assistants(after=assistant.id))
                for number, attempt in enumerate(hidden):
                    with pytest.raises(NotFoundError):
                        attempt(b)
                        pytest.fail(f"call {number} through {server.base_url} found A's object")
                # The project's other key, through the same process: everything as it was.
                assert [x.id for x in a2.list_assistants()] == [assistant.id]
                assert a2.get_assistant(assistant.id).name == "A's"
                assert a2.get_thread(thread.id).metadata == {}
                assert [m.content[0].text.value for m in a2.list_messages(thread.id)] == [
                    "A's answer",
                    "For A only",
                ]
                assert a2.get_run(waiting_thread.id, waiting.id).status == "requires_action"
                assert a2.get_run_step(thread.id, run.id, step.id).status == "completed"
                with pytest.raises(NotFoundError):
                    a2.get_thread(own_thread.id)


def post_thread(server: ServerProcess, key: str, idempotency_key: str, by: str) -> Any:
    answer = requests.post(
        f"{server.base_url}/threads",
        json={"metadata": {"by": by}},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key},
        timeout=BOUND,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_idempotency_key_is_per_project_through_every_process(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    with start_cluster(3, database, backend.base_url, tmp_path, client_keys=KEYS) as servers:
        first = post_thread(servers[0], "sk-a1", "retry-me", "A")
        theirs = post_thread(servers[1], "sk-b1", "retry-me", "B")
        again = post_thread(servers[2], "sk-a2", "retry-me", "A")
        theirs_again = post_thread(servers[0], "sk-b1", "retry-me", "B")

    assert theirs["id"] != first["id"]
    assert theirs["metadata"] == {"by": "B"}
    assert again == first
    assert theirs_again == theirs


def test_runs_stay_in_their_project_whichever_process_executes_or_ends_them(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    lease = 2.0
    release = threading.Event()
    backend.default_answer = held_echo(release, limit=120.0)
    projects = {"sk-a1": "team-a", "sk-b1": "team-b"}
    with start_cluster(
        3, database, backend.base_url, tmp_path, "--run-lease", str(lease), client_keys=KEYS
    ) as servers:
        made: list[tuple[str, str, str, str]] = []  # (key, thread, run, text)
        # Runs started through the process about to die are most likely claimed by it (it is
        # woken at once; the others look once a second); those through the first, by any.
        for server in (servers[2], servers[0]):
            for key in projects:
                with client(server, key) as c:
                    assistant = c.create_assistant("gpt-4o")
                    for number in range(4):
                        text = f"{projects[key]} {number} via {server.base_url}"
                        thread = c.create_thread(messages=[{"role": "user", "content": text}])
                        made.append(
                            (key, thread.id, c.create_run(thread.id, assistant.id).id, text)
                        )
        wait_until(lambda: len(backend.chat_requests()) >= len(made), what="every run answering")
        servers[2].kill()
        release.set()
        survivors = servers[:2]

        def ended() -> bool:
            with client(survivors[0], "sk-a1") as a, client(survivors[0], "sk-b1") as b:
                readers = {"sk-a1": a, "sk-b1": b}
                return all(
                    readers[key].get_run(thread, run).status in ("completed", "failed")
                    for key, thread, run, _ in made
                )

        wait_until(ended, bound=lease + BOUND * 2, what="every run ended")
        for server in survivors:
            with client(server, "sk-a1") as a, client(server, "sk-b1") as b:
                readers = {"sk-a1": a, "sk-b1": b}
                for key, thread, run_id, text in made:
                    mine, other = readers[key], readers["sk-b1" if key == "sk-a1" else "sk-a1"]
                    run = mine.get_run(thread, run_id)
                    if run.status == "failed":
                        assert run.last_error is not None
                        assert run.last_error.code == "server_error"
                    else:
                        # The backend echoed this project's own message, in this thread.
                        replies = [
                            m.content[0].text.value
                            for m in mine.list_messages(thread, order="asc")
                            if m.role == "assistant"
                        ]
                        assert replies == [text]
                    with pytest.raises(NotFoundError):
                        other.get_run(thread, run_id)
                    with pytest.raises(NotFoundError):
                        other.get_thread(thread)
                    with pytest.raises(NotFoundError):
                        list(other.list_run_steps(thread, run_id))
        with client(survivors[0], "sk-a1") as a, client(survivors[0], "sk-b1") as b:
            readers = {"sk-a1": a, "sk-b1": b}
            failed = {
                key: [
                    run_id
                    for owner, thread, run_id, _ in made
                    if owner == key and readers[key].get_run(thread, run_id).status == "failed"
                ]
                for key in projects
            }

    # The survivors ended the dead process's runs, each in its own project.
    assert failed["sk-a1"] and failed["sk-b1"], "the killed process had runs of each project"
