"""The transport hook that streaming builds on: an open response after retries and checks."""

from __future__ import annotations

import pytest

from assistants_client._client import AssistantsClient
from assistants_client._exceptions import BadRequestError
from tests.servers.scripted import Reply, ScriptedServer


def test_a_streamed_request_is_retried_then_returned_open_and_unread(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    events = b"event: thread.run.created\ndata: {}\n\nevent: done\ndata: [DONE]\n\n"
    server.enqueue(
        Reply.error(503),
        Reply(headers={"Content-Type": "text/event-stream"}, body=events, chunk_size=16),
    )
    response = client._transport.request(
        "POST",
        "/threads/thread_1/runs",
        body={"assistant_id": "asst_1", "stream": True},
        stream=True,
    )
    assert response.content is None
    assert response.retries_taken == 1
    assert response.status_code == 200
    assert b"".join(client._transport.iter_stream(response)) == events
    first, second = server.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_a_streamed_request_that_fails_raises_the_mapped_error_before_any_event(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.error(400, "stream not allowed"))
    with pytest.raises(BadRequestError, match="stream not allowed"):
        client._transport.request("POST", "/threads/runs", body={}, stream=True)
