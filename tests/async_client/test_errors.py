"""The async client's errors: the sync client's classes, and bad input refused before any I/O.

- For each failure a server can answer with (statuses, bodies that do not parse, cuts, resets,
  stalls), the async client raises exactly the class the sync client raises, with the same
  status, request id and message.
- Every invalid argument that the sync client's property-based tests try
  (tests/reliability/test_bad_input.py: ids, cursors, bodies, options, wait and tool-loop
  settings) is refused by the async client too, as an InvalidArgumentError naming it, and the
  server counts no request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistants_client import (
    APIError,
    AssistantsClient,
    AsyncAssistantsClient,
    InvalidArgumentError,
    RetryPolicy,
)
from tests import payloads
from tests.async_client.support import API_KEY
from tests.reliability.test_bad_input import (
    ARGUMENT_PAIRS,
    ID_CASES,
    METHODS,
    STREAMING,
    invalid_ids,
)
from tests.servers.misbehaving import MisbehavingServer, event_stream, html, sse_bytes, status
from tests.servers.scripted import Reply

FAILURES: dict[str, Reply] = {
    "400": status(400, "bad", type="invalid_request_error"),
    "401": status(401, "no key", type="invalid_request_error"),
    "404": status(404, "no such thread", type="invalid_request_error"),
    "409-active-run": Reply.error(
        400,
        "Thread thread_1 already has an active run run_1.",
        code="thread_has_active_run",
    ),
    "429": status(429, "slow down", headers={"x-should-retry": "false"}),
    "500": status(500, "boom", headers={"x-should-retry": "false"}),
    "502-html": html(502),
    "not-json": Reply.text("not json", content_type="application/json"),
    "wrong-shape": Reply.json({"id": 42}),
    "reset": Reply(reset="before_headers"),
    "stall": Reply(delay=5.0),
    "stream-not-sse": Reply.json(payloads.run()),
    "stream-cut": event_stream(sse_bytes([("thread.run.created", payloads.run())], done=False)),
}
STREAMED = {"stream-not-sse", "stream-cut"}


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as misbehaving:
        yield misbehaving


def options(server: MisbehavingServer) -> dict[str, Any]:
    return {
        "base_url": server.base_url,
        "timeout": 0.5,
        "max_retries": 0,
        "retry_policy": RetryPolicy(sleep=lambda _: None),
    }


def sync_failure(server: MisbehavingServer, case: str) -> APIError:
    with AssistantsClient(API_KEY, **options(server)) as client:
        try:
            if case in STREAMED:
                with client.stream_run("thread_1", "asst_1") as stream:
                    stream.until_done()
            else:
                client.get_thread("thread_1")
        except APIError as error:
            return error
    raise AssertionError(f"{case}: no error")


async def async_failure(server: MisbehavingServer, case: str) -> APIError:
    async with AsyncAssistantsClient(API_KEY, **options(server)) as client:
        try:
            if case in STREAMED:
                async with client.stream_run("thread_1", "asst_1") as stream:
                    await stream.until_done()
            else:
                await client.get_thread("thread_1")
        except APIError as error:
            return error
    raise AssertionError(f"{case}: no error")


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_the_async_client_raises_what_the_sync_client_raises(
    server: MisbehavingServer, case: str
) -> None:
    server.enqueue(FAILURES[case], FAILURES[case])
    sync = sync_failure(server, case)
    mine = asyncio.run(async_failure(server, case))
    assert type(mine) is type(sync)
    assert (mine.status_code, mine.http_status) == (sync.status_code, sync.http_status)
    assert (mine.request_id is None) == (sync.request_id is None)
    assert str(mine).replace(str(mine.request_id), "") == str(sync).replace(
        str(sync.request_id), ""
    )


# -- bad input ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    made = asyncio.new_event_loop()
    yield made
    made.close()


@pytest.fixture(scope="module")
def client(server: MisbehavingServer) -> Iterator[AsyncAssistantsClient]:
    made = AsyncAssistantsClient(API_KEY, base_url=server.base_url, timeout=5, max_retries=0)
    yield made
    made._close_now()


async def call(client: AsyncAssistantsClient, method: str, **overrides: Any) -> None:
    """``client.<method>(valid arguments, **overrides)``, awaited or streamed to its end."""
    method, _, variant = method.partition(":")
    kwargs = {**METHODS[method], **({"stream": False} if variant == "polling" else {}), **overrides}
    result = getattr(client, method)(**kwargs)
    if method in STREAMING:
        async with result as stream:
            await stream.until_done()
    else:
        await result


def assert_refused(
    loop: asyncio.AbstractEventLoop,
    client: AsyncAssistantsClient,
    server: MisbehavingServer,
    method: str,
    param: str,
    value: Any,
) -> InvalidArgumentError:
    before = server.request_count
    with pytest.raises(InvalidArgumentError) as caught:
        loop.run_until_complete(call(client, method, **{param: value}))
    assert server.request_count == before, f"{method}({param}={value!r}) sent a request"
    return caught.value


PROPERTY = settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def test_every_public_method_of_the_async_client_is_covered() -> None:
    public = {
        name
        for name in dir(AsyncAssistantsClient)
        if not name.startswith("_") and callable(getattr(AsyncAssistantsClient, name))
    }
    assert public - {"close", "for_azure", "for_foundry"} == set(METHODS)


@PROPERTY
@given(case=st.sampled_from(ID_CASES), bad=invalid_ids)
def test_an_invalid_id_raises_before_any_request(
    loop: asyncio.AbstractEventLoop,
    client: AsyncAssistantsClient,
    server: MisbehavingServer,
    case: tuple[str, str],
    bad: Any,
) -> None:
    method, param = case
    assert assert_refused(loop, client, server, method, param, bad).param == param


@PROPERTY
@given(data=st.data(), case=st.sampled_from(ARGUMENT_PAIRS))
def test_an_invalid_argument_raises_before_any_request(
    loop: asyncio.AbstractEventLoop,
    client: AsyncAssistantsClient,
    server: MisbehavingServer,
    data: st.DataObject,
    case: tuple[str, str, st.SearchStrategy[Any]],
) -> None:
    method, param, strategy = case
    assert_refused(loop, client, server, method, param, data.draw(strategy, label=param))


def test_a_stream_method_refuses_bad_input_when_called_before_it_is_awaited(
    client: AsyncAssistantsClient,
) -> None:
    # No event loop runs here: the check is in the call itself.
    with pytest.raises(InvalidArgumentError) as caught:
        client.stream_run("", "asst_1")
    assert caught.value.param == "thread_id"
