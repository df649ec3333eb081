from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from assistants_client._client import AssistantsClient
from assistants_client._exceptions import APITimeoutError
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer

from .conftest import API_KEY, make_client


def test_a_server_that_stalls_before_answering_raises_a_timeout_within_the_read_timeout(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.json(payloads.thread(), delay=10))
    with make_client(server, sleeps, max_retries=0) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.get_thread("thread_1", timeout=0.3)
        assert time.monotonic() - started < 2.0


def test_a_server_that_stalls_mid_body_raises_a_timeout(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    body = Reply.json(payloads.thread()).body
    server.enqueue(
        Reply(headers={"Content-Type": "application/json"}, body=body, chunk_size=5, chunk_delay=10)
    )
    with make_client(server, sleeps, max_retries=0) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.get_thread("thread_1", timeout=(1.0, 0.3))
        assert time.monotonic() - started < 2.0


def test_a_body_that_trickles_in_is_cut_off_at_the_read_timeout(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    # Each chunk arrives well inside the read timeout, but the whole body would take ~4 s.
    body = Reply.json(payloads.thread(metadata={"k": "v" * 400})).body
    assert len(body) > 400
    server.enqueue(
        Reply(
            headers={"Content-Type": "application/json"},
            body=body,
            chunk_size=len(body) // 40 + 1,
            chunk_delay=0.1,
        )
    )
    with make_client(server, sleeps, max_retries=0) as client:
        client._transport.config  # noqa: B018 - the client is ready
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.get_thread("thread_1", timeout=(1.0, 0.6))
        assert time.monotonic() - started < 3.0


def test_a_timed_out_attempt_is_retried(
    server: ScriptedServer, client: AssistantsClient, sleeps: list[float]
) -> None:
    server.enqueue(Reply.json(payloads.thread(), delay=5), Reply.json(payloads.thread()))
    assert client.get_thread("thread_1", timeout=0.3).id == "thread_1"
    assert server.request_count == 2
    assert len(sleeps) == 1


# -- redirects --------------------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[ScriptedServer]:
    """A second server, addressed as ``localhost`` (another host than 127.0.0.1)."""
    with ScriptedServer() as other:
        yield other


def test_a_redirect_to_another_host_carries_no_credentials(
    client: AssistantsClient, server: ScriptedServer, elsewhere: ScriptedServer
) -> None:
    server.enqueue(Reply.redirect(f"http://localhost:{elsewhere.port}/v1/threads/thread_1"))
    elsewhere.enqueue(Reply.json(payloads.thread()))
    assert client.get_thread("thread_1").id == "thread_1"
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    moved = elsewhere.requests[0]
    assert "Authorization" not in moved.headers
    assert API_KEY not in str(moved.headers)
    assert moved.headers["OpenAI-Beta"] == "assistants=v2"


def test_a_redirect_to_another_port_on_the_same_host_carries_no_credentials(
    client: AssistantsClient, server: ScriptedServer, elsewhere: ScriptedServer
) -> None:
    server.enqueue(Reply.redirect(f"{elsewhere.base_url}/threads/thread_1", status=302))
    elsewhere.enqueue(Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    assert "Authorization" not in elsewhere.requests[0].headers


def test_an_azure_api_key_is_not_sent_to_another_host_on_a_redirect(
    server: ScriptedServer, elsewhere: ScriptedServer
) -> None:
    server.enqueue(Reply.redirect(f"http://localhost:{elsewhere.port}/openai/threads/t"))
    elsewhere.enqueue(Reply.json(payloads.thread()))
    client = AssistantsClient.for_azure(server.url, api_version="v1", api_key="az-secret-key")
    client.get_thread("t")
    assert server.requests[0].headers["api-key"] == "az-secret-key"
    assert "api-key" not in elsewhere.requests[0].headers


def test_a_redirect_on_the_same_origin_keeps_the_credentials(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.redirect("/v1/threads/thread_2"), Reply.json(payloads.thread("thread_2")))
    assert client.get_thread("thread_1").id == "thread_2"
    assert server.requests[1].path == "/v1/threads/thread_2"
    assert server.requests[1].headers["Authorization"] == f"Bearer {API_KEY}"


def test_a_307_redirect_of_a_post_keeps_the_method_and_body(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.redirect("/v1/threads-moved", status=307), Reply.json(payloads.thread()))
    client.create_thread(metadata={"k": "v"})
    assert [r.method for r in server.requests] == ["POST", "POST"]
    assert server.requests[1].json() == {"metadata": {"k": "v"}}


def test_endless_redirects_end_in_an_error(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    from assistants_client._exceptions import APIConnectionError

    server.default = lambda request: Reply.redirect("/v1/threads/again")
    with pytest.raises(APIConnectionError, match="redirects"):
        client.get_thread("thread_1", max_retries=0)
    assert server.request_count == 6
