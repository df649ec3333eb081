from __future__ import annotations

import itertools
import re

import pytest

from assistants_client import AssistantsClient, RetryPolicy
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer

from .conftest import API_KEY, make_client


def test_every_request_carries_the_key_the_beta_header_and_the_user_agent(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    headers = server.requests[0].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["OpenAI-Beta"] == "assistants=v2"
    assert headers["User-Agent"] == "assistants-client/0.1.0"
    assert headers["Accept"] == "application/json"


def test_organization_and_project_headers_are_sent_only_when_set(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.json(payloads.thread()), Reply.json(payloads.thread()))
    with make_client(server, sleeps) as plain:
        plain.get_thread("thread_1")
    with make_client(server, sleeps, organization="org_1", project="proj_1") as scoped:
        scoped.get_thread("thread_1")
    assert "OpenAI-Organization" not in server.requests[0].headers
    assert "OpenAI-Project" not in server.requests[0].headers
    assert server.requests[1].headers["OpenAI-Organization"] == "org_1"
    assert server.requests[1].headers["OpenAI-Project"] == "proj_1"


def test_a_post_carries_an_idempotency_key_that_is_the_same_on_every_retry(
    client: AssistantsClient, server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.error(500), Reply.error(503), Reply.json(payloads.thread()))
    client.create_thread()
    keys = [r.headers["Idempotency-Key"] for r in server.requests]
    assert len(keys) == 3
    assert len(set(keys)) == 1
    assert re.fullmatch(
        r"ac-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", keys[0]
    )


def test_two_posts_carry_different_idempotency_keys(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.thread()), Reply.json(payloads.thread()))
    client.create_thread()
    client.create_thread()
    assert (
        server.requests[0].headers["Idempotency-Key"]
        != server.requests[1].headers["Idempotency-Key"]
    )


def test_a_get_carries_no_idempotency_key(client: AssistantsClient, server: ScriptedServer) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    assert "Idempotency-Key" not in server.requests[0].headers


def test_extra_headers_and_extra_query_apply_to_one_call_only(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.thread()), Reply.json(payloads.thread()))
    client.get_thread("thread_1", extra_headers={"X-Trace": "t1"}, extra_query={"debug": "1"})
    client.get_thread("thread_1")
    first, second = server.requests
    assert first.headers["X-Trace"] == "t1"
    assert first.query == {"debug": ["1"]}
    assert "X-Trace" not in second.headers
    assert second.query == {}


def test_extra_headers_replace_a_default_header_whatever_its_case(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    client.create_thread(extra_headers={"idempotency-key": "mine", "openai-beta": "assistants=v3"})
    headers = server.requests[0].headers
    assert headers.get_all("Idempotency-Key") == ["mine"]
    assert headers.get_all("OpenAI-Beta") == ["assistants=v3"]


def test_extra_body_adds_fields_after_validation(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.assistant()))
    client.create_assistant("gpt-4o", extra_body={"experimental": {"on": True}})
    assert server.requests[0].json() == {"model": "gpt-4o", "experimental": {"on": True}}


def test_default_headers_are_sent_with_every_request(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    with make_client(server, sleeps, default_headers={"X-App": "billing"}) as client:
        client.get_thread("thread_1")
    assert server.requests[0].headers["X-App"] == "billing"


def test_a_header_with_a_line_break_is_rejected_before_sending(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    from assistants_client._exceptions import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        client.get_thread("thread_1", extra_headers={"X-Evil": "a\r\nInjected: 1"})
    assert server.request_count == 0


# -- Azure ------------------------------------------------------------------------------------


def test_azure_requests_go_under_openai_with_the_api_version_and_the_api_key_header(
    server: ScriptedServer,
) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    client = AssistantsClient.for_azure(
        server.url, api_version="2024-05-01-preview", api_key="az-key"
    )
    assert client.base_url == f"{server.url}/openai"
    client.get_thread("thread_1")
    request = server.requests[0]
    assert request.path == "/openai/threads/thread_1"
    assert request.query == {"api-version": ["2024-05-01-preview"]}
    assert request.headers["api-key"] == "az-key"
    assert "Authorization" not in request.headers
    assert "az-key" not in repr(client)
    assert "2024-05-01-preview" in repr(client)


def test_azure_list_calls_keep_the_api_version_next_to_their_own_query(
    server: ScriptedServer,
) -> None:
    server.enqueue(Reply.json(payloads.listing([payloads.run()])))
    client = AssistantsClient.for_azure(server.url, api_version="v1", api_key="az-key")
    client.list_runs("thread_1", limit=5)
    assert server.requests[0].query == {"api-version": ["v1"], "limit": ["5"]}


def test_azure_settings_come_from_the_environment(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url + "/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-env-key")
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01")
    server.enqueue(Reply.json(payloads.thread()))
    AssistantsClient.for_azure().get_thread("thread_1")
    request = server.requests[0]
    assert request.path == "/openai/threads/thread_1"
    assert request.headers["api-key"] == "az-env-key"
    assert request.query["api-version"] == ["2025-01-01"]


def test_an_azure_token_provider_is_asked_for_a_fresh_token_on_every_attempt(
    server: ScriptedServer,
) -> None:
    counter = itertools.count(1)
    client = AssistantsClient.for_azure(
        server.url,
        api_version="v1",
        token_provider=lambda: f"token-{next(counter)}",
        retry_policy=RetryPolicy(sleep=lambda _: None),
    )
    server.enqueue(Reply.error(503), Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    assert [r.headers["Authorization"] for r in server.requests] == [
        "Bearer token-1",
        "Bearer token-2",
    ]
    assert all("api-key" not in r.headers for r in server.requests)


def test_a_static_azure_ad_token_is_sent_as_a_bearer_token(server: ScriptedServer) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    AssistantsClient.for_azure(server.url, api_version="v1", azure_ad_token="aad").get_thread("t")
    assert server.requests[0].headers["Authorization"] == "Bearer aad"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"api_version": "v1", "api_key": "k"}, "endpoint"),
        ({"endpoint": "http://127.0.0.1:1", "api_key": "k"}, "api_version"),
        ({"endpoint": "http://127.0.0.1:1", "api_version": "v1"}, "api_key"),
        (
            {
                "endpoint": "http://127.0.0.1:1",
                "api_version": "v1",
                "api_key": "k",
                "azure_ad_token": "t",
            },
            "azure_ad_token",
        ),
    ],
)
def test_azure_configuration_errors_name_the_missing_or_conflicting_parameter(
    kwargs: dict[str, str], param: str
) -> None:
    from assistants_client._exceptions import InvalidArgumentError

    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient.for_azure(**kwargs)  # type: ignore[arg-type]
    assert caught.value.param == param
