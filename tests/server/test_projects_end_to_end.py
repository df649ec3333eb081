"""Projects end to end: ``assistants-server`` started as the README starts it (a SQLite
``--db``, client keys in ``ASSISTANTS_SERVER_API_KEYS`` as ``PROJECT:KEY`` pairs), over
loopback, with this library's client and openai-python.

The two keys of a project see and change the same objects, whichever client holds them; a key
of another project gets, for every one of them, the 404 an id that names nothing gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from assistants_client import AssistantsClient, NotFoundError
from tests.server.support import (
    BOUND,
    ServerProcess,
    missing_id,
    run_process,
    server_environ,
)
from tests.servers.fake_chat import FakeChatServer, text_answer

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

KEYS = "team-a:sk-a1,team-a:sk-a2,team-b:sk-b1"


@pytest.fixture
def server(backend: FakeChatServer, tmp_path: Path) -> Iterator[ServerProcess]:
    started = run_process(
        "--backend-url",
        backend.base_url,
        "--port",
        "0",
        "--db",
        str(tmp_path / "assistants.db"),
        environ=server_environ(ASSISTANTS_SERVER_API_KEYS=KEYS),
    )
    yield started
    started.stop()


def test_one_projects_keys_share_objects_and_another_projects_key_gets_404s(
    server: ServerProcess, backend: FakeChatServer
) -> None:
    backend.script(text_answer("Hello from the backend.", chunks=3))
    with AssistantsClient(base_url=server.base_url, api_key="sk-a1", timeout=BOUND) as a1:
        assistant = a1.create_assistant("gpt-4o", name="A's assistant")
        thread = a1.create_thread(messages=[{"role": "user", "content": "Hi"}])
        with a1.stream_run(thread.id, assistant.id) as stream:
            text = "".join(stream.text_deltas())
        assert text == "Hello from the backend."

    # The project's other key, in openai-python: the same objects.
    a2 = openai.OpenAI(base_url=server.base_url, api_key="sk-a2", max_retries=0)
    assert [x.id for x in a2.beta.assistants.list()] == [assistant.id]
    assert a2.beta.assistants.retrieve(assistant.id).name == "A's assistant"
    (run,) = a2.beta.threads.runs.list(thread.id).data
    (step,) = a2.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    messages = a2.beta.threads.messages.list(thread.id, order="asc").data
    assert [m.role for m in messages] == ["user", "assistant"]
    a2.beta.threads.update(thread.id, metadata={"seen_by": "sk-a2"})

    b_legacy = openai.OpenAI(base_url=server.base_url, api_key="sk-b1", max_retries=0)
    b = AssistantsClient(base_url=server.base_url, api_key="sk-b1", timeout=BOUND, max_retries=0)
    own_thread = b.create_thread()
    assert b_legacy.beta.assistants.list().data == []
    assert list(b.list_assistants()) == []

    message = messages[0].id
    mine = {assistant.id, thread.id, message, run.id, step.id}
    # Each call with A's ids, and the same call with ids that name nothing: the same 404.
    legacy_calls: list[tuple[Callable[..., Any], tuple[str, ...], dict[str, Any]]] = [
        (b_legacy.beta.assistants.retrieve, (assistant.id,), {}),
        (b_legacy.beta.assistants.update, (assistant.id,), {"name": "taken"}),
        (b_legacy.beta.assistants.delete, (assistant.id,), {}),
        (b_legacy.beta.threads.retrieve, (thread.id,), {}),
        (b_legacy.beta.threads.delete, (thread.id,), {}),
        (b_legacy.beta.threads.messages.list, (thread.id,), {}),
        (b_legacy.beta.threads.messages.retrieve, (message,), {"thread_id": thread.id}),
        (b_legacy.beta.threads.runs.list, (thread.id,), {}),
        (b_legacy.beta.threads.runs.retrieve, (run.id,), {"thread_id": thread.id}),
        (b_legacy.beta.threads.runs.cancel, (run.id,), {"thread_id": own_thread.id}),
        (
            b_legacy.beta.threads.runs.steps.retrieve,
            (step.id,),
            {"thread_id": thread.id, "run_id": run.id},
        ),
        (b_legacy.beta.threads.runs.create, (own_thread.id,), {"assistant_id": assistant.id}),
    ]
    for call, args, kwargs in legacy_calls:
        with pytest.raises(openai.NotFoundError) as hidden:
            call(*args, **kwargs)
        fakes = tuple(missing_id(arg) if arg in mine else arg for arg in args)
        fake_kwargs = {k: missing_id(v) if v in mine else v for k, v in kwargs.items()}
        with pytest.raises(openai.NotFoundError) as absent:
            call(*fakes, **fake_kwargs)
        expected = str(absent.value.body)
        for real in mine:
            expected = expected.replace(missing_id(real), real)
        assert str(hidden.value.body) == expected, call

    for attempt in (
        lambda: b.get_assistant(assistant.id),
        lambda: b.get_thread(thread.id),
        lambda: b.get_message(thread.id, message),
        lambda: b.get_run(thread.id, run.id),
        lambda: b.get_run_step(thread.id, run.id, step.id),
        lambda: b.list_run_steps(thread.id, run.id),
        lambda: b.create_message(thread.id, "user", "B writes"),
        lambda: b.create_thread_and_run(assistant.id),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    b.close()

    # Project A still has every object as it was, through either key.
    with AssistantsClient(base_url=server.base_url, api_key="sk-a1", timeout=BOUND) as a1:
        assert a1.get_assistant(assistant.id).name == "A's assistant"
        assert a1.get_thread(thread.id).metadata == {"seen_by": "sk-a2"}
        assert [m.id for m in a1.list_messages(thread.id, order="asc")] == [m.id for m in messages]
        assert a1.get_run(thread.id, run.id).status == "completed"
        with pytest.raises(NotFoundError):
            a1.get_thread(own_thread.id)
