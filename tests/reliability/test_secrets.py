"""The API key never leaves where it belongs.

- not in ``repr(client)`` (OpenAI and Azure clients);
- not in the str, repr, message, body or error object of any error the library raises, even
  when the server echoes the key back (as the API does in "Incorrect API key provided"), in
  every error class: each status class, connection, timeout, response validation, stream
  interruption, stream error, invalid argument, too many redirects;
- not in any log record, at DEBUG, of calls that succeed, fail, retry, redirect and stream;
- not sent to another origin: ``Authorization`` and ``api-key`` are dropped when a redirect
  leaves the host (127.0.0.1 -> localhost) for every redirect status, in OpenAI and Azure mode,
  for plain and streamed calls.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from assistants_client import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AssistantsError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    StreamInterruptedError,
    UnprocessableEntityError,
)
from assistants_client._client import AssistantsClient
from tests import payloads
from tests.servers.misbehaving import MisbehavingServer, event_stream, sse_bytes
from tests.servers.scripted import Reply
from tests.streaming import recorded

from .conftest import API_KEY, make_client

AZURE_KEY = "az-SECRET-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
SECRETS = (API_KEY, AZURE_KEY)


def leaks(text: object) -> bool:
    return any(secret in str(text) for secret in SECRETS)


def assert_no_secret_in(error: BaseException) -> None:
    texts: list[object] = [str(error), repr(error), error.args]
    if isinstance(error, APIError):
        texts += [error.message, error.body, error.error, error.url, repr(error.partial)]
        if error.partial is not None:
            texts.append(error.partial.text)
    for text in texts:
        assert not leaks(text), f"{type(error).__name__} leaks the key: {text!r}"


def echo(status: int, **extra: Any) -> Reply:
    """An error answer that quotes the key back, in the message and elsewhere in the body."""
    message = f"Incorrect API key provided: {API_KEY}. You can find your key at ..."
    return Reply.error(
        status,
        message,
        type="invalid_request_error",
        code="invalid_api_key",
        param=API_KEY,
        **extra,
    )


# -- repr --------------------------------------------------------------------------------------


def test_the_client_repr_shows_no_key() -> None:
    with AssistantsClient(API_KEY, base_url="http://127.0.0.1:9/v1") as client:
        assert not leaks(repr(client))
        assert not leaks(repr(client._transport.config))
        assert not leaks(repr(client._transport.config.auth))
        assert "127.0.0.1:9" in repr(client)
    azure = AssistantsClient.for_azure(
        "http://127.0.0.1:9", api_version="2024-05-01-preview", api_key=AZURE_KEY
    )
    assert not leaks(repr(azure))
    assert not leaks(repr(azure._transport.config))


# -- every error class -------------------------------------------------------------------------

Scenario = Callable[[AssistantsClient, MisbehavingServer], None]


def _status(code: int) -> Scenario:
    def run(client: AssistantsClient, server: MisbehavingServer) -> None:
        server.default = lambda _: echo(code)
        client.get_thread("thread_1")

    return run


def _html_echo(client: AssistantsClient, server: MisbehavingServer) -> None:
    server.enqueue(Reply.text(f"<html><body>key {API_KEY}</body></html>", status=200))
    client.get_thread("thread_1")


def _wrong_shape_echo(client: AssistantsClient, server: MisbehavingServer) -> None:
    server.enqueue(Reply.json({"id": 7, "object": API_KEY, "created_at": API_KEY}))
    client.get_thread("thread_1")


def _reset(client: AssistantsClient, server: MisbehavingServer) -> None:
    server.default = lambda _: Reply(reset="before_headers")
    client.get_thread("thread_1")


def _stall(client: AssistantsClient, server: MisbehavingServer) -> None:
    server.default = lambda _: Reply.json(payloads.thread(), delay=30)
    client.get_thread("thread_1", max_retries=0, timeout=0.3)


def _redirect_to_nowhere_with_the_key_in_the_url(
    client: AssistantsClient, server: MisbehavingServer
) -> None:
    server.default = lambda _: Reply.redirect(f"http://127.0.0.1:9/v1/threads?key={API_KEY}")
    client.get_thread("thread_1", max_retries=0)


def _endless_redirects(client: AssistantsClient, server: MisbehavingServer) -> None:
    server.default = lambda _: Reply.redirect(f"/v1/threads/{API_KEY[:10]}")
    client.get_thread("thread_1")


def _stream_events(data: bytes, **kw: Any) -> Scenario:
    def run(client: AssistantsClient, server: MisbehavingServer) -> None:
        server.enqueue(event_stream(data, **kw))
        with client.stream_run("thread_1", "asst_1") as stream:
            stream.until_done()

    return run


_RUN_EVENTS = [("thread.run.created", recorded.run("queued"))]
_ERROR_EVENT = (
    "error",
    {
        "message": f"bad key {API_KEY}",
        "type": "invalid_request_error",
        "param": API_KEY,
        "code": "invalid_api_key",
    },
)
_BAD_EVENT = ("thread.run.in_progress", {**recorded.run("in_progress"), "status": 5, "id": API_KEY})

ERROR_SCENARIOS: list[tuple[str, type[AssistantsError], Scenario]] = [
    ("400", BadRequestError, _status(400)),
    ("401", AuthenticationError, _status(401)),
    ("403", PermissionDeniedError, _status(403)),
    ("404", NotFoundError, _status(404)),
    ("409", ConflictError, _status(409)),
    ("418", APIStatusError, _status(418)),
    ("422", UnprocessableEntityError, _status(422)),
    ("429", RateLimitError, _status(429)),
    ("500", InternalServerError, _status(500)),
    ("html-200", APIResponseValidationError, _html_echo),
    ("wrong-shape", APIResponseValidationError, _wrong_shape_echo),
    ("reset", APIConnectionError, _reset),
    ("stall", APITimeoutError, _stall),
    ("redirect-url", APIConnectionError, _redirect_to_nowhere_with_the_key_in_the_url),
    ("redirects", APIConnectionError, _endless_redirects),
    (
        "stream-cut",
        StreamInterruptedError,
        _stream_events(sse_bytes(_RUN_EVENTS, done=False) + f"event: x\ndata: {API_KEY}".encode()),
    ),
    ("stream-error", StreamError, _stream_events(sse_bytes([*_RUN_EVENTS, _ERROR_EVENT]))),
    (
        "stream-schema",
        APIResponseValidationError,
        _stream_events(sse_bytes([*_RUN_EVENTS, _BAD_EVENT])),
    ),
    (
        "stream-json",
        APIResponseValidationError,
        _stream_events(f'event: thread.run.created\ndata: {{"id": "{API_KEY}\n\n'.encode()),
    ),
]


@pytest.fixture
def quick_client(server: MisbehavingServer, sleeps: list[float]) -> Iterator[AssistantsClient]:
    with make_client(server.base_url, sleeps) as client:
        yield client


@pytest.mark.parametrize(
    ("error_class", "scenario"),
    [pytest.param(cls, run, id=name) for name, cls, run in ERROR_SCENARIOS],
)
def test_no_error_shows_the_key_even_when_the_server_echoes_it(
    quick_client: AssistantsClient,
    server: MisbehavingServer,
    error_class: type[AssistantsError],
    scenario: Scenario,
) -> None:
    with pytest.raises(AssistantsError) as caught:
        scenario(quick_client, server)
    assert type(caught.value) is error_class
    assert_no_secret_in(caught.value)


def test_no_traceback_shows_the_key(
    quick_client: AssistantsClient, server: MisbehavingServer
) -> None:
    with pytest.raises(AssistantsError) as caught:
        _redirect_to_nowhere_with_the_key_in_the_url(quick_client, server)
    printed = "".join(traceback.format_exception(caught.value))
    assert not leaks(printed)


def test_an_invalid_argument_error_does_not_show_a_header_value(server: MisbehavingServer) -> None:
    with (
        AssistantsClient(API_KEY, base_url=server.base_url) as client,
        pytest.raises(InvalidArgumentError) as caught,
    ):
        client.get_thread("thread_1", extra_headers={"Authorization": f"Bearer {API_KEY}\n"})
    assert_no_secret_in(caught.value)
    assert server.request_count == 0


# -- logs --------------------------------------------------------------------------------------


def test_no_debug_log_record_shows_the_key(
    caplog: pytest.LogCaptureFixture,
    server: MisbehavingServer,
    elsewhere: MisbehavingServer,
    sleeps: list[float],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: the library's, requests' and urllib3's
    run_stream = sse_bytes(recorded.text_run_events(["a", "b"]))
    server.enqueue(
        Reply.json(payloads.thread()),  # success
        echo(401),  # failure, the key echoed back
        Reply.error(503, headers={"Retry-After": "0"}),  # a retry ...
        Reply.json(payloads.thread()),  # ... that succeeds
        Reply.redirect("/v1/threads/thread_2"),  # a redirect on the same origin
        Reply.json(payloads.thread("thread_2")),
        Reply.redirect(f"{elsewhere.base_url}/threads/thread_3"),  # and to another host
        Reply(reset="before_headers"),  # a dropped connection ...
        event_stream(run_stream),  # ... before a stream
    )
    elsewhere.enqueue(Reply.json(payloads.thread("thread_3")))
    with make_client(server.base_url, sleeps) as client:
        client.get_thread("thread_1")
        with pytest.raises(AuthenticationError):
            client.get_thread("thread_1")
        client.create_thread(metadata={"k": "v"})
        client.get_thread("thread_1")
        client.get_thread("thread_1")
        with client.stream_run("thread_1", "asst_1") as stream:
            stream.until_done()
    assert server.request_count == 9
    assert len(caplog.records) >= 9
    for record in caplog.records:
        shown = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        assert not leaks(shown), f"{record.name}: {shown}"
    library = [r for r in caplog.records if r.name.startswith("assistants_client")]
    assert any("headers=" in r.getMessage() for r in library)
    assert any("<redacted>" in r.getMessage() for r in library)


# -- redirects to another origin ---------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_the_bearer_key_does_not_follow_a_redirect_to_another_host(
    server: MisbehavingServer, elsewhere: MisbehavingServer, sleeps: list[float], code: int
) -> None:
    server.enqueue(Reply.redirect(f"{elsewhere.base_url}/threads/thread_1", status=code))
    elsewhere.enqueue(Reply.json(payloads.thread()))
    with make_client(server.base_url, sleeps) as client:
        assert client.get_thread("thread_1").id == "thread_1"
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    moved = elsewhere.requests[0]
    assert "Authorization" not in moved.headers
    assert not leaks(moved.headers) and not leaks(moved.target) and not leaks(moved.body)


def test_a_streamed_run_redirected_to_another_host_carries_no_key(
    server: MisbehavingServer, elsewhere: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.redirect(f"{elsewhere.base_url}/threads/thread_1/runs", status=307))
    elsewhere.enqueue(event_stream(sse_bytes(recorded.text_run_events(["a", "b"]))))
    with (
        make_client(server.base_url, sleeps) as client,
        client.stream_run("thread_1", "asst_1") as stream,
    ):
        assert "".join(stream.text_deltas()) == "ab"
    moved = elsewhere.requests[0]
    assert moved.method == "POST"
    assert moved.json()["stream"] is True
    assert "Authorization" not in moved.headers
    assert not leaks(moved.headers)


@pytest.mark.parametrize(
    ("credentials", "header"),
    [
        ({"api_key": AZURE_KEY}, "api-key"),
        ({"azure_ad_token": AZURE_KEY}, "Authorization"),
        ({"token_provider": lambda: AZURE_KEY}, "Authorization"),
    ],
    ids=["api-key", "ad-token", "token-provider"],
)
@pytest.mark.parametrize("code", [302, 307])
def test_azure_credentials_do_not_follow_a_redirect_to_another_host(
    server: MisbehavingServer,
    elsewhere: MisbehavingServer,
    credentials: dict[str, Any],
    header: str,
    code: int,
) -> None:
    server.enqueue(Reply.redirect(f"{elsewhere.url}/openai/threads/t?api-version=v1", status=code))
    elsewhere.enqueue(Reply.json(payloads.thread("t")))
    client = AssistantsClient.for_azure(server.url, api_version="v1", max_retries=0, **credentials)
    with client:
        assert client.get_thread("t").id == "t"
    assert AZURE_KEY in server.requests[0].headers[header]
    moved = elsewhere.requests[0]
    assert header not in moved.headers
    assert not leaks(moved.headers) and not leaks(moved.target)


def test_credentials_stay_dropped_when_a_redirect_chain_returns_to_the_origin(
    server: MisbehavingServer, elsewhere: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(
        Reply.redirect(f"{elsewhere.base_url}/threads/thread_1"), Reply.json(payloads.thread())
    )
    elsewhere.enqueue(Reply.redirect(f"{server.base_url}/threads/thread_1"))
    with make_client(server.base_url, sleeps) as client:
        client.get_thread("thread_1")
    back = server.requests[1]
    assert "Authorization" not in back.headers
