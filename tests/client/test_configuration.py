from __future__ import annotations

import pytest

from assistants_client._client import AssistantsClient
from assistants_client._config import Timeout
from assistants_client._exceptions import AssistantsError, InvalidArgumentError
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer

from .conftest import API_KEY


def test_a_missing_api_key_for_api_openai_com_fails_at_construction() -> None:
    with pytest.raises(InvalidArgumentError, match="OPENAI_API_KEY") as caught:
        AssistantsClient()
    assert caught.value.param == "api_key"
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, AssistantsError)


def test_an_api_key_is_optional_for_a_local_server(server: ScriptedServer) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    with AssistantsClient(base_url=server.base_url) as client:
        client.get_thread("thread_1")
    assert "Authorization" not in server.requests[0].headers


def test_the_environment_supplies_key_base_url_organization_and_project(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org_env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_env")
    server.enqueue(Reply.json(payloads.thread()))
    with AssistantsClient() as client:
        assert client.base_url == server.base_url
        client.get_thread("thread_1")
    headers = server.requests[0].headers
    assert headers["Authorization"] == "Bearer sk-from-env"
    assert headers["OpenAI-Organization"] == "org_env"
    assert headers["OpenAI-Project"] == "proj_env"


def test_explicit_arguments_win_over_the_environment(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    server.enqueue(Reply.json(payloads.thread()))
    with AssistantsClient("sk-explicit", base_url=server.base_url) as client:
        client.get_thread("thread_1")
    assert server.requests[0].headers["Authorization"] == "Bearer sk-explicit"


def test_the_default_base_url_is_the_openai_api() -> None:
    client = AssistantsClient(API_KEY)
    assert client.base_url == "https://api.openai.com/v1"
    client.close()


def test_repr_shows_the_base_url_and_never_the_key() -> None:
    client = AssistantsClient(API_KEY, base_url="http://127.0.0.1:1/v1/")
    assert repr(client) == "AssistantsClient(base_url='http://127.0.0.1:1/v1')"
    assert API_KEY not in repr(client._transport.config)
    assert API_KEY not in repr(client._transport.config.auth)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/v1", "not a url", "http:///v1", "http://h/v1?x=1"]
)
def test_a_base_url_that_is_not_an_http_url_is_rejected(url: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient(API_KEY, base_url=url)
    assert caught.value.param == "base_url"


def test_the_default_timeout_is_five_seconds_to_connect_and_ten_minutes_to_read() -> None:
    client = AssistantsClient(API_KEY)
    assert client.timeout == Timeout(connect=5.0, read=600.0)
    assert client.max_retries == 2


@pytest.mark.parametrize(
    ("given", "expected"),
    [(3, Timeout(3, 3)), ((1, 7), Timeout(1, 7)), (Timeout(2, 9), Timeout(2, 9))],
)
def test_a_timeout_is_a_number_a_pair_or_a_timeout(given: object, expected: Timeout) -> None:
    client = AssistantsClient(API_KEY, timeout=given)  # type: ignore[arg-type]
    assert client.timeout == expected


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "5", (1, 2, 3), True])
def test_a_timeout_that_is_not_positive_is_rejected(bad: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient(API_KEY, timeout=bad)  # type: ignore[arg-type]
    assert caught.value.param == "timeout"


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_max_retries_must_be_a_non_negative_int(bad: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient(API_KEY, max_retries=bad)  # type: ignore[arg-type]
    assert caught.value.param == "max_retries"


def test_closing_the_client_leaves_a_session_it_was_given_open(server: ScriptedServer) -> None:
    import requests

    session = requests.Session()
    server.enqueue(Reply.json(payloads.thread()), Reply.json(payloads.thread()))
    with AssistantsClient(API_KEY, base_url=server.base_url, session=session) as client:
        client.get_thread("thread_1")
    # Still usable after the client closed.
    assert session.get(f"{server.base_url}/threads/thread_1", timeout=5).status_code == 200
    session.close()


def test_the_response_hooks_of_a_session_it_was_given_still_run(server: ScriptedServer) -> None:
    import requests

    seen: list[int] = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, **_: seen.append(response.status_code))
    server.enqueue(Reply.json(payloads.thread()))
    with AssistantsClient(API_KEY, base_url=server.base_url, session=session) as client:
        client.get_thread("thread_1")
    assert seen == [200]
    session.close()


def test_the_connection_pool_is_sized_for_many_threads() -> None:
    client = AssistantsClient(API_KEY)
    adapter = client._transport.session.get_adapter("https://api.openai.com/v1")
    assert adapter._pool_maxsize >= 32  # type: ignore[attr-defined]
