"""Files, vector stores, batches and search through ``AssistantsClient.for_foundry``, end to end:
the emulator's Foundry mode serves them under the project endpoint, with a required
``api-version`` and a bearer token, the list of files in Foundry's shape (``object`` and
``data``), and every answer checked against the spec."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from assistants_client import AssistantsClient
from tests.files.support import Documents, Target, emulator_target

TOKEN = "eyJ0eXAiOiJKV1Qi.FOUNDRY-FILES-TOKEN.sig"
PROJECT = "contoso-docs"


@pytest.fixture
def foundry() -> Iterator[Target]:
    made = emulator_target(foundry=PROJECT, api_key=TOKEN)
    try:
        yield made
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


def test_the_whole_flow_under_the_project_endpoint(foundry: Target, docs: Documents) -> None:
    with AssistantsClient.for_foundry(foundry.base_url, azure_ad_token=TOKEN) as client:
        uploaded = client.upload_file(docs.runbook, "assistants")
        assert client.get_file_content(uploaded.id) == docs.runbook.read_bytes()
        listed = client.list_files(purpose="assistants")
        assert [f.id for f in listed] == [uploaded.id]
        store = client.create_vector_store(name="Ops", file_ids=[uploaded.id])
        batch = client.upload_files_and_poll(store.id, docs.all, poll_interval=0.05)
        assert (batch.file_counts.completed, batch.file_counts.failed) == (3, 1)
        done = client.wait_for_vector_store_file(store.id, uploaded.id, poll_interval=0.05)
        assert done.status == "completed"
        found = client.search_vector_store(store.id, "ERR-4411")
        assert found.data[0].filename == "runbook.md"
        assert client.delete_vector_store(store.id).deleted
        assert client.delete_file(uploaded.id).deleted

    # On the wire: under the project, with the api-version; the file list as Foundry sends it.
    url = f"{foundry.base_url}/files"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.get(url, params={"api-version": "v1"}, headers=headers, timeout=10)
    assert set(answer.json()) == {"object", "data"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 400  # no api-version
    no_token = requests.get(url, params={"api-version": "v1"}, timeout=10)
    assert no_token.status_code == 401
    assert foundry.checker.checked["createFile"] >= 5
    assert foundry.checker.checked["searchVectorStore"] == 1
