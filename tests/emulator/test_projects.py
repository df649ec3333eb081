"""The emulator with projects, for tests of programs that serve several teams: keys by project,
each project seeing its own objects only, and the single ``api_key`` as it always was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from assistants_client import AssistantsClient, AuthenticationError, NotFoundError
from assistants_client.emulator import Emulator

PROJECTS = {"team-a": ["sk-a1", "sk-a2"], "team-b": ["sk-b1"]}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(api_key="sk-shared", projects=PROJECTS) as emu:
        yield emu


def client(emulator: Emulator, key: str) -> AssistantsClient:
    return AssistantsClient(base_url=emulator.base_url, api_key=key, timeout=10, max_retries=0)


def test_each_project_sees_its_own_objects_through_any_of_its_keys(emulator: Emulator) -> None:
    with (
        client(emulator, "sk-a1") as a1,
        client(emulator, "sk-a2") as a2,
        client(emulator, "sk-b1") as b1,
        client(emulator, "sk-shared") as shared,
    ):
        assistant = a1.create_assistant("gpt-4o", name="A's")
        thread = a1.create_thread(messages=[{"role": "user", "content": "Hello"}])
        run = a2.create_run_and_wait(thread.id, assistant.id, timeout=10)

        assert run.status == "completed"
        assert [x.id for x in a2.list_assistants()] == [assistant.id]
        assert [m.role for m in a2.list_messages(thread.id)] == ["assistant", "user"]
        for outsider in (b1, shared):
            assert list(outsider.list_assistants()) == []
            with pytest.raises(NotFoundError) as hidden:
                outsider.get_thread(thread.id)
            assert hidden.value.status_code == 404
            assert hidden.value.error is not None
            assert hidden.value.error["message"] == f"No thread found with id '{thread.id}'."
            with pytest.raises(NotFoundError):
                outsider.get_run(thread.id, run.id)


def test_a_key_of_no_project_is_refused(emulator: Emulator) -> None:
    with client(emulator, "sk-nobody") as nobody, pytest.raises(AuthenticationError):
        nobody.list_assistants()


def test_a_single_api_key_is_taken_as_it_is_colons_included() -> None:
    with Emulator(api_key="team-a:sk-1") as emu:
        answer = requests.get(
            f"{emu.base_url}/assistants",
            headers={"Authorization": "Bearer team-a:sk-1"},
            timeout=10,
        )
        refused = requests.get(
            f"{emu.base_url}/assistants", headers={"Authorization": "Bearer sk-1"}, timeout=10
        )
    assert (answer.status_code, refused.status_code) == (200, 401)


@pytest.mark.parametrize(
    ("projects", "words"),
    [
        ({"team a": ["sk-1"]}, "not allowed"),
        ({"team-a": "sk-1"}, "a list of keys, not a string"),
        ({"team-a": ["sk-1"], "team-b": ["sk-1"]}, "two projects"),
        ({"team-a": ["sk\x001"]}, "control characters"),
        ({"team-a": [""]}, "empty"),
    ],
)
def test_projects_the_server_would_refuse_are_refused(projects, words) -> None:
    with pytest.raises(ValueError, match=words):
        Emulator(projects=projects)
