"""Files and vector stores through ``for_foundry``: under the project endpoint, with api-version.

Foundry's classic agents serve ``/files`` and ``/vector_stores`` beside ``/assistants`` and
``/threads`` (azure-ai-agents.json, api-version v1); a scripted loopback server records where
each request goes and what it carries.
"""

from __future__ import annotations

import pytest

from assistants_client import AssistantsClient, PollTimeoutError, RetryPolicy
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer

from .conftest import project_endpoint

TOKEN = "eyJ0eXAi.FILES-TOKEN-SECRET.sig"
PROJECT = "/api/projects/trips"


def foundry(server: ScriptedServer, **kwargs: object) -> AssistantsClient:
    return AssistantsClient.for_foundry(
        project_endpoint(server),
        azure_ad_token=TOKEN,
        **kwargs,  # type: ignore[arg-type]
    )


def test_every_file_and_vector_store_call_goes_under_the_project_with_the_api_version(
    server: ScriptedServer,
) -> None:
    server.enqueue(
        Reply.json(payloads.file()),
        # Foundry's file list: {object, data} and nothing more.
        Reply.json({"object": "list", "data": [payloads.file()]}),
        Reply(headers={"Content-Type": "application/octet-stream"}, body=b"raw"),
        Reply.json(payloads.vector_store()),
        Reply.json(payloads.vector_store_file()),
        Reply.json(payloads.file_batch()),
        Reply.json(payloads.listing([payloads.vector_store_file()])),
        Reply.json(payloads.deleted("vs_1", "vector_store.deleted")),
    )
    with foundry(server) as client:
        client.upload_file(b"text", "assistants", filename="notes.txt")
        assert [f.id for f in client.list_files(purpose="assistants")] == ["file-1"]
        assert client.get_file_content("file-1") == b"raw"
        client.create_vector_store(name="Trips", file_ids=["file-1"])
        client.create_vector_store_file("vs_1", "file-1")
        client.create_vector_store_file_batch("vs_1", file_ids=["file-1"])
        client.list_vector_store_files("vs_1", filter="completed")
        client.delete_vector_store("vs_1")
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", f"{PROJECT}/files"),
        ("GET", f"{PROJECT}/files"),
        ("GET", f"{PROJECT}/files/file-1/content"),
        ("POST", f"{PROJECT}/vector_stores"),
        ("POST", f"{PROJECT}/vector_stores/vs_1/files"),
        ("POST", f"{PROJECT}/vector_stores/vs_1/file_batches"),
        ("GET", f"{PROJECT}/vector_stores/vs_1/files"),
        ("DELETE", f"{PROJECT}/vector_stores/vs_1"),
    ]
    for request in server.requests:
        assert request.query["api-version"] == ["v1"]
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert server.requests[0].headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert server.requests[1].query == {"api-version": ["v1"], "purpose": ["assistants"]}


def test_an_upload_retried_on_foundry_asks_the_token_provider_again_and_resends_the_file(
    server: ScriptedServer,
) -> None:
    tokens = iter(["token-one", "token-two"])
    server.enqueue(Reply.error(503, "busy"), Reply.json(payloads.file()))
    with AssistantsClient.for_foundry(
        project_endpoint(server),
        token_provider=lambda: next(tokens),
        retry_policy=RetryPolicy(sleep=lambda seconds: None),
    ) as client:
        client.upload_file(b"the file", "assistants", filename="a.txt")
    first, second = server.requests
    assert [first.headers["Authorization"], second.headers["Authorization"]] == [
        "Bearer token-one",
        "Bearer token-two",
    ]
    assert first.body == second.body and b"the file" in first.body


def test_polling_on_foundry_reads_the_project_paths(server: ScriptedServer) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    server.default = lambda request: Reply.json(payloads.vector_store_file(status="in_progress"))
    policy = RetryPolicy(sleep=sleep, clock=lambda: now[0])
    with foundry(server, retry_policy=policy) as client, pytest.raises(PollTimeoutError):
        client.create_vector_store_file_and_poll("vs_1", "file-1", timeout=1.2)
    assert {r.path for r in server.requests[1:]} == {f"{PROJECT}/vector_stores/vs_1/files/file-1"}
    assert all(r.query == {"api-version": ["v1"]} for r in server.requests)
