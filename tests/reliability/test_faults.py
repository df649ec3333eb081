"""What every kind of misbehaving server does to a plain (non-streamed) call.

Each test states the behaviour of one fault: how many attempts reach the server, which waits
the client asks for between them (``sleeps``: the client's sleep is replaced, so nothing
really waits and jitter is off: backoff is exactly 0.5 s, then 1 s), which typed error is
raised with which status and request id (the server numbers its answers ``req_1``,
``req_2``...), and that the call returns within a generous bound of its timeout.

Scenarios (33):

 1. 429 with ``Retry-After: 2``, then success: 2 attempts, one wait of 2 s.
 2. 429 with ``retry-after-ms: 150``, then success: one wait of 0.15 s.
 3. 429 with ``Retry-After`` every time: RateLimitError(429, last request id) after 3 attempts.
 4. A requested wait over 60 s: raised at once, 1 attempt, no wait.
 5-8. 500, 502, 503, 504 every time: InternalServerError with that status after 3 attempts,
    waits 0.5 s and 1 s.
 9. 500 once, then success: 2 attempts, the answer is returned.
10. ``x-should-retry: false`` on a 503: 1 attempt.
11. ``x-should-retry: true`` on a 400: retried.
12. A 500 whose body is not JSON: the error says ``HTTP 500`` and keeps the body.
13. Connection reset before the headers, every time: APIConnectionError after 3 attempts.
14. Connection reset before the headers once: the retry succeeds.
15. Connection reset after the headers, mid-body: APIConnectionError after 3 attempts.
16. A body shorter than its Content-Length (connection closed): APIConnectionError, retried.
17. A chunked body cut mid-chunk: APIConnectionError, retried.
18. A chunked body in one-byte chunks: parsed normally.
19. Stall before the status line past the read timeout: APITimeoutError, 1 attempt, ~0.5 s.
20. The same with retries: 3 attempts, total time ~3 timeouts, never more.
21. Stall after the headers, before the body: APITimeoutError within the timeout.
22. A body dripped one byte at a time, all of it within the timeout: success.
23. A body dripped one byte at a time, each byte well within the timeout but the whole past
    it: APITimeoutError at the timeout, not when the drip ends.
24. A stalled POST, then success: the retry carries the same Idempotency-Key.
25. Truncated JSON with a matching Content-Length: APIResponseValidationError(200), no retry.
26. An empty 200 body: APIResponseValidationError.
27. An HTML page with 200: APIResponseValidationError naming the content type, no retry.
28. An HTML page with 502: InternalServerError(502) after 3 attempts, the page in ``body``.
29. Valid JSON sent as ``text/plain``: APIResponseValidationError.
30. A 200 of the wrong shape: APIResponseValidationError naming the model.
31. A redirect to another host: followed, the answer from there is returned.
32. Endless redirects: APIConnectionError after 6 requests, not retried.
33. Nothing listening on the port: APIConnectionError after 3 attempts, quickly.

Streamed runs have their own scenarios in ``test_stream_faults.py``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from assistants_client import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
)
from assistants_client._client import AssistantsClient
from tests import payloads
from tests.servers.misbehaving import Fault, MisbehavingServer, html, status
from tests.servers.scripted import Reply

from .conftest import make_client

THREAD = payloads.thread()
THREAD_BODY = Reply.json(THREAD).body
BACKOFF = [0.5, 1.0]
"""The waits before the two default retries, without jitter."""


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Fail if the block takes longer than ``seconds`` (a generous bound, not a benchmark)."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.2f}s, bound {seconds}s"


def json_reply(**kw: object) -> Reply:
    return Reply(headers={"Content-Type": "application/json"}, body=THREAD_BODY, **kw)  # type: ignore[arg-type]


# -- status answers ---------------------------------------------------------------------------


def test_429_with_retry_after_waits_that_many_seconds_then_succeeds(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(status(429, headers={"Retry-After": "2"}), Reply.json(THREAD))
    with bounded(2):
        assert client.get_thread("thread_1").id == "thread_1"
    assert server.request_count == 2
    assert sleeps == [2.0]


def test_429_with_retry_after_ms_waits_that_many_milliseconds(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(status(429, headers={"retry-after-ms": "150"}), Reply.json(THREAD))
    assert client.get_thread("thread_1").id == "thread_1"
    assert server.request_count == 2
    assert sleeps == [0.15]


def test_429_every_time_raises_rate_limit_error_with_the_last_request_id(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: status(429, "slow down", headers={"Retry-After": "1"})
    with bounded(2), pytest.raises(RateLimitError, match="slow down") as caught:
        client.get_thread("thread_1")
    assert server.request_count == 3
    assert sleeps == [1.0, 1.0]
    assert caught.value.status_code == 429
    assert caught.value.request_id == "req_3"


def test_a_requested_wait_over_sixty_seconds_is_raised_at_once(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(status(429, headers={"Retry-After": "3600"}), Reply.json(THREAD))
    with pytest.raises(RateLimitError) as caught:
        client.get_thread("thread_1")
    assert server.request_count == 1
    assert sleeps == []
    assert caught.value.request_id == "req_1"


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_a_server_error_every_time_raises_internal_server_error_after_three_attempts(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float], code: int
) -> None:
    server.default = lambda _: status(code, f"failure {code}")
    with bounded(2), pytest.raises(InternalServerError, match=f"failure {code}") as caught:
        client.get_thread("thread_1")
    assert server.request_count == 3
    assert sleeps == BACKOFF
    assert caught.value.status_code == code
    assert caught.value.request_id == "req_3"
    assert caught.value.type == "server_error"


def test_one_server_error_then_success_returns_the_answer(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(status(500), Reply.json(THREAD))
    assert client.get_thread("thread_1").id == "thread_1"
    assert server.request_count == 2
    assert sleeps == [0.5]


def test_x_should_retry_false_stops_the_retries_of_a_503(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(status(503, headers={"x-should-retry": "false"}), Reply.json(THREAD))
    with pytest.raises(InternalServerError) as caught:
        client.get_thread("thread_1")
    assert server.request_count == 1
    assert sleeps == []
    assert caught.value.request_id == "req_1"


def test_x_should_retry_true_retries_a_400(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: status(400, "bad", headers={"x-should-retry": "true"})
    with pytest.raises(BadRequestError):
        client.get_thread("thread_1")
    assert server.request_count == 3
    assert sleeps == BACKOFF


def test_a_500_without_a_json_body_keeps_the_body_and_names_the_status(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    server.default = lambda _: Reply.text("upstream exploded", 500, "text/plain")
    with pytest.raises(InternalServerError, match="HTTP 500") as caught:
        client.get_thread("thread_1", max_retries=0)
    assert caught.value.body == "upstream exploded"
    assert caught.value.error is None
    assert caught.value.request_id == "req_1"


# -- dropped connections ----------------------------------------------------------------------


def test_a_reset_before_the_headers_every_time_raises_a_connection_error(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: Reply(reset="before_headers")
    with bounded(2), pytest.raises(APIConnectionError) as caught:
        client.get_thread("thread_1")
    assert not isinstance(caught.value, APITimeoutError)
    assert server.request_count == 3
    assert sleeps == BACKOFF
    assert caught.value.status_code is None


def test_one_reset_before_the_headers_is_retried(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply(reset="before_headers"), Reply.json(THREAD))
    assert client.get_thread("thread_1").id == "thread_1"
    assert server.request_count == 2
    assert sleeps == [0.5]


def test_a_reset_after_the_headers_mid_body_raises_a_connection_error(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: Fault(
        headers={"Content-Type": "application/json"}, body=THREAD_BODY, cut_at=10, abort="reset"
    )
    with bounded(2), pytest.raises(APIConnectionError) as caught:
        client.get_thread("thread_1")
    assert not isinstance(caught.value, APITimeoutError)
    assert server.request_count == 3
    assert sleeps == BACKOFF


def test_a_body_shorter_than_its_content_length_raises_a_connection_error(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: Fault(
        headers={"Content-Type": "application/json"}, body=THREAD_BODY, cut_at=len(THREAD_BODY) // 2
    )
    with bounded(2), pytest.raises(APIConnectionError):
        client.get_thread("thread_1")
    assert server.request_count == 3
    assert sleeps == BACKOFF


def test_a_chunked_body_cut_mid_chunk_raises_a_connection_error(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    half = len(THREAD_BODY) // 2
    server.default = lambda _: Fault(
        headers={"Content-Type": "application/json"},
        pieces=[THREAD_BODY[:half], THREAD_BODY[half:]],
        cut_at=half + 20,  # inside the second chunk
    )
    with bounded(2), pytest.raises(APIConnectionError) as caught:
        client.get_thread("thread_1")
    assert not isinstance(caught.value, APITimeoutError)
    assert server.request_count == 3
    assert sleeps == BACKOFF


def test_a_chunked_body_in_one_byte_chunks_is_read_whole(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    server.enqueue(
        Fault(
            headers={"Content-Type": "application/json"},
            pieces=[THREAD_BODY[i : i + 1] for i in range(len(THREAD_BODY))],
        )
    )
    assert client.get_thread("thread_1").metadata == {}
    assert server.request_count == 1


# -- stalls and drips -------------------------------------------------------------------------


def test_a_stall_before_the_headers_times_out_at_the_read_timeout(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(json_reply(delay=30))
    with bounded(1.5), pytest.raises(APITimeoutError) as caught:
        client.get_thread("thread_1", max_retries=0)
    assert server.request_count == 1
    assert caught.value.status_code is None


def test_stalls_with_retries_take_about_three_timeouts_and_no_more(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: json_reply(delay=30)
    with bounded(3.5), pytest.raises(APITimeoutError):
        client.get_thread("thread_1")
    assert server.request_count == 3
    assert sleeps == BACKOFF


def test_a_stall_between_the_headers_and_the_body_times_out(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    server.enqueue(json_reply(body_delay=30))
    with bounded(1.5), pytest.raises(APITimeoutError):
        client.get_thread("thread_1", max_retries=0)
    assert server.request_count == 1


def test_a_body_dripped_a_byte_at_a_time_within_the_timeout_is_read(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    server.enqueue(json_reply(chunk_size=1, chunk_delay=0.001))
    with bounded(3):
        assert client.get_thread("thread_1", timeout=3).id == "thread_1"
    assert server.request_count == 1


def test_a_drip_that_would_outlast_the_timeout_is_cut_off_at_the_timeout(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    # One byte every 50 ms: each gap is a tenth of the timeout, the whole body ~10 s.
    server.enqueue(json_reply(chunk_size=1, chunk_delay=0.05))
    with bounded(1.5), pytest.raises(APITimeoutError):
        client.get_thread("thread_1", max_retries=0)


def test_a_stalled_post_is_retried_with_the_same_idempotency_key(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(json_reply(delay=30), Reply.json(THREAD))
    with bounded(2):
        client.create_thread(metadata={"k": "v"})
    first, second = server.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers["Idempotency-Key"].startswith("ac-")
    assert first.body == second.body
    assert sleeps == [0.5]


# -- bodies that are not the expected JSON ----------------------------------------------------


def test_truncated_json_with_a_matching_length_is_a_validation_error_and_not_retried(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply(headers={"Content-Type": "application/json"}, body=THREAD_BODY[:-7]))
    with pytest.raises(APIResponseValidationError, match="not valid JSON") as caught:
        client.get_thread("thread_1")
    assert server.request_count == 1
    assert sleeps == []
    assert caught.value.status_code == 200
    assert caught.value.request_id == "req_1"
    assert caught.value.body == THREAD_BODY[:-7].decode()


def test_an_empty_200_body_is_a_validation_error(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    server.enqueue(Reply(headers={"Content-Type": "application/json"}))
    with pytest.raises(APIResponseValidationError, match="empty body") as caught:
        client.get_thread("thread_1")
    assert caught.value.request_id == "req_1"


def test_an_html_page_with_200_is_a_validation_error_naming_the_content_type(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(html(200, "Welcome"))
    with pytest.raises(APIResponseValidationError, match="text/html") as caught:
        client.get_thread("thread_1")
    assert server.request_count == 1
    assert sleeps == []
    assert caught.value.status_code == 200
    assert caught.value.request_id == "req_1"
    assert "<h1>Welcome</h1>" in (caught.value.body or "")


def test_an_html_page_with_502_is_retried_then_raised_with_the_page(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: html(502)
    with pytest.raises(InternalServerError, match="HTTP 502 Bad Gateway") as caught:
        client.get_thread("thread_1")
    assert server.request_count == 3
    assert sleeps == BACKOFF
    assert caught.value.status_code == 502
    assert caught.value.request_id == "req_3"
    assert "<title>502 Bad Gateway</title>" in (caught.value.body or "")


def test_json_sent_with_a_wrong_content_type_is_a_validation_error(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    server.enqueue(Reply(headers={"Content-Type": "text/plain"}, body=THREAD_BODY))
    with pytest.raises(APIResponseValidationError, match="text/plain") as caught:
        client.get_thread("thread_1")
    assert caught.value.request_id == "req_1"


def test_a_200_of_the_wrong_shape_is_a_validation_error_naming_the_model(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    server.enqueue(Reply.json({"id": 42, "object": "thread"}))
    with pytest.raises(APIResponseValidationError, match="Thread") as caught:
        client.get_thread("thread_1")
    assert caught.value.status_code == 200
    assert caught.value.request_id == "req_1"


# -- redirects and unreachable servers --------------------------------------------------------


def test_a_redirect_to_another_host_is_followed(
    client: AssistantsClient, server: MisbehavingServer, elsewhere: MisbehavingServer
) -> None:
    server.enqueue(Reply.redirect(f"{elsewhere.base_url}/threads/thread_1"))
    elsewhere.enqueue(Reply.json(THREAD))
    assert client.get_thread("thread_1").id == "thread_1"
    assert (server.request_count, elsewhere.request_count) == (1, 1)
    assert elsewhere.requests[0].path == "/v1/threads/thread_1"


def test_endless_redirects_raise_after_six_requests_without_retrying(
    client: AssistantsClient, server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.default = lambda _: Reply.redirect("/v1/threads/again")
    with bounded(2), pytest.raises(APIConnectionError, match="redirects"):
        client.get_thread("thread_1")
    assert server.request_count == 6
    assert sleeps == []


def test_a_port_with_nothing_listening_raises_a_connection_error_quickly(
    sleeps: list[float],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is free again: connecting to it is refused.
    with (
        make_client(f"http://127.0.0.1:{port}/v1", sleeps) as client,
        bounded(2),
        pytest.raises(APIConnectionError) as caught,
    ):
        client.get_thread("thread_1")
    assert not isinstance(caught.value, APITimeoutError)
    assert sleeps == BACKOFF
