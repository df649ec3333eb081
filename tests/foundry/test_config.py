"""``AssistantsClient.for_foundry``: where requests go, what they carry, and what is refused.

A scripted loopback server records every request; nothing here needs the emulator.
"""

from __future__ import annotations

import itertools

import pytest

from assistants_client import AssistantsClient, InvalidArgumentError, RetryPolicy
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer

from .conftest import project_endpoint

TOKEN = "eyJ0eXAi.CONFIG-TOKEN-SECRET.sig"


def test_requests_go_under_the_project_endpoint_with_api_version_v1_and_a_bearer_token(
    server: ScriptedServer,
) -> None:
    server.enqueue(Reply.json(payloads.thread()), Reply.json(payloads.listing([])))
    with AssistantsClient.for_foundry(project_endpoint(server), azure_ad_token=TOKEN) as client:
        assert client.base_url == f"{server.url}/api/projects/trips"
        client.get_thread("thread_1")
        client.list_assistants(limit=5)
    first, second = server.requests
    assert first.path == "/api/projects/trips/threads/thread_1"
    assert first.query == {"api-version": ["v1"]}
    assert second.path == "/api/projects/trips/assistants"
    assert second.query == {"api-version": ["v1"], "limit": ["5"]}
    for request in server.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "api-key" not in request.headers
        assert "OpenAI-Beta" not in request.headers


def test_openai_and_azure_openai_clients_still_send_the_assistants_beta_header(
    server: ScriptedServer,
) -> None:
    server.enqueue(Reply.json(payloads.thread()), Reply.json(payloads.thread()))
    with AssistantsClient("sk-x", base_url=server.base_url) as openai:
        openai.get_thread("thread_1")
    with AssistantsClient.for_azure(server.url, api_version="v1", api_key="az") as azure:
        azure.get_thread("thread_1")
    assert [r.headers["OpenAI-Beta"] for r in server.requests] == ["assistants=v2"] * 2


def test_a_default_header_replaces_the_beta_header_whatever_its_case(
    server: ScriptedServer,
) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    with AssistantsClient(
        "sk-x", base_url=server.base_url, default_headers={"openai-beta": "assistants=v3"}
    ) as client:
        client.get_thread("thread_1")
    assert server.requests[0].headers.get_all("OpenAI-Beta") == ["assistants=v3"]


def test_the_environment_supplies_the_endpoint_and_the_api_version(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_AI_PROJECT_ENDPOINT", project_endpoint(server, "from-env") + "/")
    monkeypatch.setenv("AZURE_AI_AGENTS_API_VERSION", "2025-05-15-preview")
    server.enqueue(Reply.json(payloads.thread()))
    with AssistantsClient.for_foundry(azure_ad_token=TOKEN) as client:
        client.get_thread("thread_1")
        assert repr(client) == (
            f"AssistantsClient(base_url='{server.url}/api/projects/from-env', "
            "api_version='2025-05-15-preview')"
        )
    request = server.requests[0]
    assert request.path == "/api/projects/from-env/threads/thread_1"
    assert request.query == {"api-version": ["2025-05-15-preview"]}


def test_explicit_arguments_win_over_the_environment(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_AI_PROJECT_ENDPOINT", "https://elsewhere.example/api/projects/x")
    monkeypatch.setenv("AZURE_AI_AGENTS_API_VERSION", "2025-05-01")
    server.enqueue(Reply.json(payloads.thread()))
    with AssistantsClient.for_foundry(
        project_endpoint(server), azure_ad_token=TOKEN, api_version="v1"
    ) as client:
        client.get_thread("thread_1")
    assert server.requests[0].path.startswith("/api/projects/trips/")
    assert server.requests[0].query == {"api-version": ["v1"]}


def test_a_token_provider_is_asked_before_every_attempt(server: ScriptedServer) -> None:
    counter = itertools.count(1)
    server.enqueue(Reply.error(503), Reply.error(429), Reply.json(payloads.thread()))
    with AssistantsClient.for_foundry(
        project_endpoint(server),
        token_provider=lambda: f"token-{next(counter)}",
        retry_policy=RetryPolicy(sleep=lambda _: None),
    ) as client:
        client.get_thread("thread_1")
    assert [r.headers["Authorization"] for r in server.requests] == [
        "Bearer token-1",
        "Bearer token-2",
        "Bearer token-3",
    ]


def test_a_repr_never_shows_the_token() -> None:
    with AssistantsClient.for_foundry(
        "https://res.services.ai.azure.com/api/projects/p", azure_ad_token=TOKEN
    ) as client:
        shown = [repr(client), repr(client._transport.config)]
    with AssistantsClient.for_foundry(
        "https://res.services.ai.azure.com/api/projects/p", token_provider=lambda: TOKEN
    ) as client:
        shown += [repr(client), repr(client._transport.config)]
    assert all(TOKEN not in text for text in shown)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://res.services.ai.azure.com/api/projects/trips",
        "https://res.services.ai.azure.com/api/projects/trips/",
        "https://res.services.ai.azure.com:443/api/projects/my-project_2.a",
        "http://127.0.0.1:8000/api/projects/local",
        "http://localhost:8000/api/projects/local",
        "http://[::1]:8000/api/projects/local",
    ],
)
def test_a_project_endpoint_is_accepted(endpoint: str) -> None:
    with AssistantsClient.for_foundry(endpoint, azure_ad_token=TOKEN) as client:
        assert client.base_url == endpoint.rstrip("/")


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        ("res.services.ai.azure.com/api/projects/p", "absolute URL"),
        ("ftp://res.services.ai.azure.com/api/projects/p", "absolute URL"),
        ("https:///api/projects/p", "absolute URL"),
        ("https://res.services.ai.azure.com", "/api/projects/<project>"),
        ("https://res.services.ai.azure.com/openai", "/api/projects/<project>"),
        ("https://res.services.ai.azure.com/api/projects/", "/api/projects/<project>"),
        ("https://res.services.ai.azure.com/api/projects/a/b", "/api/projects/<project>"),
        ("https://res.services.ai.azure.com/api/projects/a%2Fb", "/api/projects/<project>"),
        ("https://res.services.ai.azure.com/api/projects/p?x=1", "query or a fragment"),
        ("https://res.services.ai.azure.com/api/projects/p#top", "query or a fragment"),
        ("https://user:pw@res.services.ai.azure.com/api/projects/p", "credentials"),
        ("http://res.services.ai.azure.com/api/projects/p", "https"),
        ("http://10.0.0.5/api/projects/p", "https"),
    ],
)
def test_a_bad_endpoint_is_refused_naming_endpoint(endpoint: str, says: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient.for_foundry(endpoint, azure_ad_token=TOKEN)
    assert caught.value.param == "endpoint"
    assert says in str(caught.value)


def test_a_missing_endpoint_says_where_it_comes_from() -> None:
    with pytest.raises(InvalidArgumentError, match="AZURE_AI_PROJECT_ENDPOINT") as caught:
        AssistantsClient.for_foundry(azure_ad_token=TOKEN)
    assert caught.value.param == "endpoint"


def test_no_token_is_refused_with_how_to_get_one() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient.for_foundry("https://res.services.ai.azure.com/api/projects/p")
    message = str(caught.value)
    assert "get_bearer_token_provider" in message
    assert "https://ai.azure.com/.default" in message
    assert caught.value.param == "token_provider"


def test_a_token_provider_and_a_static_token_together_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="only one") as caught:
        AssistantsClient.for_foundry(
            "https://res.services.ai.azure.com/api/projects/p",
            token_provider=lambda: TOKEN,
            azure_ad_token=TOKEN,
        )
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"token_provider": "not callable"}, "token_provider"),
        ({"azure_ad_token": ""}, "azure_ad_token"),
        ({"azure_ad_token": TOKEN, "api_version": "v1\r\nX: y"}, "api_version"),
        ({"azure_ad_token": TOKEN, "max_retries": -1}, "max_retries"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient.for_foundry(
            "https://res.services.ai.azure.com/api/projects/p",
            **kwargs,  # type: ignore[arg-type]
        )
    assert caught.value.param == param
