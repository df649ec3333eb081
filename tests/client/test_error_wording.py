"""Error messages that read right: how many attempts a connection error took, and limits of one
("at most 1 item", not "1 items")."""

from __future__ import annotations

import socket

import pytest

from assistants_client import (
    APIConnectionError,
    APITimeoutError,
    AssistantsClient,
    InvalidArgumentError,
    RetryPolicy,
)
from tests.servers.scripted import Reply, ScriptedServer


def refused_url() -> str:
    """A loopback URL where nothing listens (the port was just free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def no_waits() -> RetryPolicy:
    return RetryPolicy(sleep=lambda seconds: None, random=lambda: 0.0)


@pytest.mark.parametrize(
    ("max_retries", "wording"), [(0, "after 1 attempt ("), (2, "after 3 attempts (")]
)
def test_a_refused_connection_says_how_many_attempts_were_made(
    max_retries: int, wording: str
) -> None:
    with (
        AssistantsClient(
            "sk-x", base_url=refused_url(), max_retries=max_retries, retry_policy=no_waits()
        ) as client,
        pytest.raises(APIConnectionError) as caught,
    ):
        client.get_thread("thread_1")
    assert type(caught.value) is APIConnectionError
    assert f"GET /v1/threads/thread_1: connection failed {wording}" in str(caught.value)


def test_a_timeout_says_how_many_attempts_were_made() -> None:
    with ScriptedServer() as server:
        server.enqueue(Reply.json({}, delay=5.0), Reply.json({}, delay=5.0))
        with (
            AssistantsClient(
                "sk-x",
                base_url=server.base_url,
                max_retries=1,
                timeout=0.2,
                retry_policy=no_waits(),
            ) as client,
            pytest.raises(APITimeoutError) as caught,
        ):
            client.get_thread("thread_1")
        assert len(server.requests) == 2
    assert "GET /v1/threads/thread_1: timed out after 2 attempts (" in str(caught.value)


def test_a_limit_of_one_item_is_worded_in_the_singular() -> None:
    with (
        AssistantsClient("sk-x", base_url=refused_url()) as client,
        pytest.raises(InvalidArgumentError) as caught,
    ):
        client.create_assistant(
            "gpt-4o", tool_resources={"file_search": {"vector_store_ids": ["vs_1", "vs_2"]}}
        )
    assert "vector_store_ids: at most 1 item allowed, got 2" in str(caught.value)
    assert caught.value.param == "tool_resources"
