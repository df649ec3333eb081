from __future__ import annotations

import email.utils
import time

import pytest

from assistants_client import AssistantsClient, RetryPolicy
from assistants_client._exceptions import (
    APIConnectionError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    RateLimitError,
)
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer

from .conftest import make_client


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_a_retryable_status_is_retried_until_it_succeeds(
    client: AssistantsClient, server: ScriptedServer, status: int
) -> None:
    server.enqueue(Reply.error(status), Reply.json(payloads.thread()))
    assert client.get_thread("thread_1").id == "thread_1"
    assert server.request_count == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_client_error_is_not_retried(
    client: AssistantsClient, server: ScriptedServer, status: int
) -> None:
    server.enqueue(Reply.error(status), Reply.json(payloads.thread()))
    with pytest.raises(Exception):  # noqa: B017 - the class is checked in test_errors
        client.get_thread("thread_1")
    assert server.request_count == 1


def test_the_last_error_is_raised_once_retries_run_out(
    client: AssistantsClient, server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.error(500), Reply.error(502), Reply.error(429, "slow down"))
    with pytest.raises(RateLimitError, match="slow down"):
        client.get_thread("thread_1")
    assert server.request_count == 3
    assert len(sleeps) == 2


def test_waits_double_from_half_a_second_and_are_capped_at_eight_seconds(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(*[Reply.error(500)] * 7, Reply.json(payloads.thread()))
    with make_client(server, sleeps, max_retries=7) as client:
        client.get_thread("thread_1")
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_shortens_a_wait_by_at_most_a_quarter(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.error(500), Reply.error(500), Reply.json(payloads.thread()))
    policy = RetryPolicy(sleep=sleeps.append, random=lambda: 1.0)
    with make_client(server, sleeps, retry_policy=policy) as client:
        client.get_thread("thread_1")
    assert sleeps == [0.375, 0.75]


def test_retry_after_in_seconds_sets_the_wait(
    client: AssistantsClient, server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.error(429, headers={"Retry-After": "3"}), Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    assert sleeps == [3.0]


def test_retry_after_ms_wins_over_retry_after(
    client: AssistantsClient, server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(
        Reply.error(429, headers={"retry-after-ms": "250", "Retry-After": "30"}),
        Reply.json(payloads.thread()),
    )
    client.get_thread("thread_1")
    assert sleeps == [0.25]


def test_retry_after_as_an_http_date_waits_until_that_date(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    policy = RetryPolicy(sleep=sleeps.append, clock=lambda: 1_700_000_000.0)
    client = make_client(server, sleeps, retry_policy=policy)
    when = email.utils.formatdate(1_700_000_000 + 7, usegmt=True)
    server.enqueue(Reply.error(503, headers={"Retry-After": when}), Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    assert sleeps == [7.0]


@pytest.mark.parametrize(
    "when",
    [
        "Tue, 14 Nov 2023 22:13:27 GMT",  # IMF-fixdate
        "Tuesday, 14-Nov-23 22:13:27 GMT",  # the obsolete RFC 850 form
        "Tue Nov 14 22:13:27 2023",  # the obsolete asctime form: no zone, GMT all the same
    ],
)
def test_every_form_of_http_date_in_retry_after_is_read_as_gmt(
    server: ScriptedServer, sleeps: list[float], when: str
) -> None:
    policy = RetryPolicy(sleep=sleeps.append, clock=lambda: 1_700_000_000.0)
    client = make_client(server, sleeps, retry_policy=policy)
    server.enqueue(Reply.error(503, headers={"Retry-After": when}), Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    assert sleeps == [7.0]


def test_a_retry_after_date_in_the_past_retries_at_once(
    client: AssistantsClient, server: ScriptedServer, sleeps: list[float]
) -> None:
    when = email.utils.formatdate(time.time() - 3600, usegmt=True)
    server.enqueue(Reply.error(503, headers={"Retry-After": when}), Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    assert sleeps == [0.0]


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "61"},
        {"retry-after-ms": "120000"},
        {"Retry-After": email.utils.formatdate(time.time() + 3600, usegmt=True)},
    ],
)
def test_a_requested_wait_over_sixty_seconds_is_raised_not_retried(
    client: AssistantsClient, server: ScriptedServer, sleeps: list[float], headers: dict[str, str]
) -> None:
    server.enqueue(Reply.error(429, headers=headers), Reply.json(payloads.thread()))
    with pytest.raises(RateLimitError):
        client.get_thread("thread_1")
    assert server.request_count == 1
    assert sleeps == []


def test_an_unreadable_retry_after_falls_back_to_backoff(
    client: AssistantsClient, server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.error(429, headers={"Retry-After": "soon"}), Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    assert sleeps == [0.5]


def test_x_should_retry_false_stops_a_retry_the_status_would_allow(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(
        Reply.error(503, headers={"x-should-retry": "false"}), Reply.json(payloads.thread())
    )
    with pytest.raises(InternalServerError):
        client.get_thread("thread_1")
    assert server.request_count == 1


def test_x_should_retry_true_retries_a_status_that_is_not_retried_by_default(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(
        Reply.error(400, headers={"x-should-retry": "true"}), Reply.json(payloads.thread())
    )
    assert client.get_thread("thread_1").id == "thread_1"
    assert server.request_count == 2


def test_max_retries_per_call_overrides_the_client_setting(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(*[Reply.error(500)] * 6, Reply.json(payloads.thread()))
    with pytest.raises(InternalServerError):
        client.get_thread("thread_1", max_retries=0)
    assert server.request_count == 1
    assert client.get_thread("thread_1", max_retries=5).id == "thread_1"
    assert server.request_count == 7


def test_max_retries_zero_on_the_client_sends_each_call_once(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.error(409), Reply.json(payloads.thread()))
    with make_client(server, sleeps, max_retries=0) as client, pytest.raises(ConflictError):
        client.get_thread("thread_1")
    assert server.request_count == 1


def test_a_connection_reset_before_the_answer_is_retried(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply(reset="before_headers"), Reply.json(payloads.thread()))
    assert client.get_thread("thread_1").id == "thread_1"
    assert server.request_count == 2


def test_a_body_cut_short_by_a_reset_is_retried(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    body = Reply.json(payloads.thread()).body
    server.enqueue(
        Reply(
            headers={"Content-Type": "application/json"},
            body=body[:10],
            content_length=len(body),
            reset="after_headers",
        ),
        Reply.json(payloads.thread()),
    )
    assert client.get_thread("thread_1").id == "thread_1"
    assert server.request_count == 2


def test_a_refused_connection_is_retried_then_raised_as_a_connection_error(
    sleeps: list[float],
) -> None:
    free = ScriptedServer().start()
    url = free.base_url
    free.stop()  # nothing listens on that port any more
    client = AssistantsClient(
        base_url=url, max_retries=2, retry_policy=RetryPolicy(sleep=sleeps.append)
    )
    with pytest.raises(APIConnectionError) as caught:
        client.get_thread("thread_1")
    assert caught.value.status_code is None
    assert len(sleeps) == 2


def test_a_create_retried_after_a_reset_sends_the_same_body_and_key(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply(reset="before_headers"), Reply.json(payloads.assistant()))
    client.create_assistant("gpt-4o", name="helper")
    first, second = server.requests
    assert first.body == second.body
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_a_bad_request_is_raised_without_waiting(
    client: AssistantsClient, server: ScriptedServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.error(400, "bad"))
    with pytest.raises(BadRequestError):
        client.get_thread("thread_1")
    assert sleeps == []
