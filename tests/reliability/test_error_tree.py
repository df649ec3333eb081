"""What a peer or a bad setting throws at the client comes out as one of the library's errors.

Scenarios:

1. JSON nested a million levels deep in a 200 body, in an error body and in an event:
   APIResponseValidationError (the error body: the status error, its body kept); nesting
   just under and over what the parser takes is read or refused, never a RecursionError.
2. A redirect whose ``Location`` is no http(s) URL (a broken IPv6 host, a port out of range,
   another scheme): APIResponseValidationError naming the status, no second request.
3. Header values that cannot be sent (not Latin-1, line breaks, other control characters,
   leading whitespace) in the API key, the organization, the project, ``default_headers``
   and an environment variable: InvalidArgumentError when the client is built; in
   ``extra_headers``: when the call is made, before anything is sent; in a token from a
   ``token_provider``: when the token arrives, before anything is sent. No message shows the
   value.
4. Duplicate keys in a JSON object: the last one wins (as in ``json.loads``), documented.
5. ``OpenAI-Organization`` and ``OpenAI-Project`` go to the origin, and are dropped with the
   credentials when a redirect leaves it; they stay on a redirect within the origin.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistants_client import (
    APIResponseValidationError,
    AssistantsClient,
    BadRequestError,
    InvalidArgumentError,
)
from tests import payloads
from tests.servers.misbehaving import MisbehavingServer, event_stream, sse_bytes
from tests.servers.scripted import Reply
from tests.streaming import recorded

from .conftest import API_KEY, make_client

DEEP = b"[" * 1_000_000


def json_reply(body: bytes, status: int = 200) -> Reply:
    return Reply(status=status, headers={"Content-Type": "application/json"}, body=body)


# -- deep nesting ------------------------------------------------------------------------------


def test_a_200_body_nested_a_million_levels_deep_is_a_validation_error(
    server: MisbehavingServer, client: AssistantsClient
) -> None:
    server.enqueue(json_reply(DEEP))
    with pytest.raises(APIResponseValidationError) as caught:
        client.get_thread("thread_1")
    assert caught.value.status_code == 200
    assert "nested too deeply" in str(caught.value)


def test_an_error_body_nested_a_million_levels_deep_still_gives_the_status_error(
    server: MisbehavingServer, client: AssistantsClient
) -> None:
    server.enqueue(json_reply(b'{"error": ' + DEEP, status=400))
    with pytest.raises(BadRequestError) as caught:
        client.get_thread("thread_1")
    assert caught.value.error is None
    assert caught.value.body is not None and caught.value.body.startswith('{"error": [[[')


def test_an_event_nested_a_million_levels_deep_is_a_validation_error_that_keeps_the_partial(
    server: MisbehavingServer, client: AssistantsClient
) -> None:
    events = sse_bytes(recorded.text_run_events(["a", "b"]), done=False)
    server.enqueue(event_stream(events + b"event: thread.message.delta\ndata: " + DEEP + b"\n\n"))
    with pytest.raises(APIResponseValidationError) as caught:
        client.stream_run("thread_1", "asst_1").until_done()
    assert caught.value.partial.text == "ab"


@pytest.mark.parametrize("depth", [400, 900, 990, 2000])
def test_deep_json_in_an_unknown_field_is_read_or_refused_never_a_recursion_error(
    server: MisbehavingServer, client: AssistantsClient, depth: int
) -> None:
    thread = payloads.thread()
    body = Reply.json(thread).body[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
    server.enqueue(json_reply(body))
    try:
        assert client.get_thread("thread_1").id == thread["id"]
    except APIResponseValidationError as exc:
        assert "nested too deeply" in str(exc)


def test_a_deep_unknown_field_in_a_delta_is_accumulated_or_refused_never_a_recursion_error(
    server: MisbehavingServer, client: AssistantsClient
) -> None:
    events = recorded.text_run_events(["a"])
    deep: Any = []
    for _ in range(900):
        deep = [deep]
    for name, data in events:
        if name == "thread.message.delta":
            data["delta"]["x"] = deep
    server.enqueue(event_stream(sse_bytes(events)))
    try:
        stream = client.stream_run("thread_1", "asst_1").until_done()
        assert stream.done
    except APIResponseValidationError as exc:
        assert "nested too deeply" in str(exc)


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    ["http://[::1/threads", "http://127.0.0.1:99999/v1", "ftp://example.com/x", "javascript:x()"],
    ids=["broken-ipv6", "port-out-of-range", "ftp", "javascript"],
)
def test_a_redirect_to_a_malformed_location_is_a_validation_error(
    server: MisbehavingServer, client: AssistantsClient, location: str
) -> None:
    server.enqueue(Reply.redirect(location, status=302))
    with pytest.raises(APIResponseValidationError) as caught:
        client.get_thread("thread_1")
    assert caught.value.status_code == 302
    assert server.request_count == 1


# -- header values -----------------------------------------------------------------------------

BAD_VALUES = {
    "not-latin-1": "caf\u00e9 \u2603",
    "line-break": "a\r\nX-Injected: 1",
    "lone-lf": "a\nb",
    "nul": "a\x00b",
    "escape": "a\x1bb",
    "leading-space": " a",
}


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
@pytest.mark.parametrize("param", ["api_key", "organization", "project", "default_headers"])
def test_a_bad_header_value_is_refused_when_the_client_is_built(
    server: MisbehavingServer, param: str, value: str
) -> None:
    argument: Any = {"X-Custom": value} if param == "default_headers" else value
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient(**{"base_url": server.base_url, param: argument})
    assert caught.value.param == param
    assert value not in str(caught.value)


@pytest.mark.parametrize("name", ["X Space", "X:Colon", "", "X-\u00e9"])
def test_a_bad_header_name_is_refused_when_the_client_is_built(name: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient(base_url="http://127.0.0.1:9/v1", default_headers={name: "v"})
    assert caught.value.param == "default_headers"


def test_azure_and_foundry_credentials_are_checked_when_the_client_is_built() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient.for_azure("https://x.openai.azure.com", api_version="v", api_key="k\u2603")
    assert caught.value.param == "api_key"
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient.for_foundry(
            "https://r.services.ai.azure.com/api/projects/p", azure_ad_token="t\r\nx"
        )
    assert caught.value.param == "azure_ad_token"


def test_a_bad_key_in_the_environment_is_refused_when_the_client_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-\u20ac")
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient(base_url="http://127.0.0.1:9/v1")
    assert caught.value.param == "OPENAI_API_KEY"
    assert "\u20ac" not in str(caught.value)


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_a_bad_extra_header_is_refused_before_anything_is_sent(
    server: MisbehavingServer, client: AssistantsClient, value: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        client.get_thread("thread_1", extra_headers={"X-Custom": value})
    assert caught.value.param == "extra_headers"
    assert server.request_count == 0


@pytest.mark.parametrize("token", ["tok\r\nX-Injected: 1", "tok\u2603", "tok\x00"])
def test_a_bad_token_from_a_provider_is_refused_when_it_arrives_before_anything_is_sent(
    server: MisbehavingServer, token: str
) -> None:
    client = AssistantsClient.for_azure(
        server.url, api_version="v1", token_provider=lambda: token, max_retries=0
    )
    with pytest.raises(InvalidArgumentError) as caught:
        client.get_thread("thread_1")
    assert caught.value.param == "token_provider"
    assert token not in str(caught.value) and token not in repr(caught.value)
    assert server.request_count == 0


def test_latin_1_header_values_are_sent_as_they_are(server: MisbehavingServer) -> None:
    server.enqueue(Reply.json(payloads.thread()))
    with AssistantsClient(
        API_KEY, base_url=server.base_url, default_headers={"X-Name": "caf\u00e9\tau lait"}
    ) as client:
        client.get_thread("thread_1")
    assert server.requests[0].headers["X-Name"].encode("latin-1") == "caf\u00e9\tau lait".encode(
        "latin-1"
    )


# -- duplicate keys ------------------------------------------------------------------------------


def test_of_duplicate_keys_in_an_answer_the_last_one_wins(
    server: MisbehavingServer, client: AssistantsClient
) -> None:
    body = (
        b'{"id": "thread_first", "object": "thread", "created_at": 1, '
        b'"metadata": {"k": "first", "k": "last"}, "id": "thread_last"}'
    )
    server.enqueue(json_reply(body))
    thread = client.get_thread("thread_1")
    assert thread.id == "thread_last"
    assert thread.metadata == {"k": "last"}


# -- account headers on redirects --------------------------------------------------------------

ACCOUNT = {"organization": "org-secretive", "project": "proj_secretive"}


def test_organization_and_project_do_not_follow_a_redirect_to_another_host(
    server: MisbehavingServer, elsewhere: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(Reply.redirect(f"{elsewhere.base_url}/threads/thread_1", status=307))
    elsewhere.enqueue(Reply.json(payloads.thread()))
    with make_client(server.base_url, sleeps, **ACCOUNT) as client:
        client.get_thread("thread_1")
    first, moved = server.requests[0], elsewhere.requests[0]
    assert first.headers["OpenAI-Organization"] == "org-secretive"
    assert first.headers["OpenAI-Project"] == "proj_secretive"
    for name in ("OpenAI-Organization", "OpenAI-Project", "Authorization"):
        assert name not in moved.headers
    assert "secretive" not in str(moved.headers.items())


def test_organization_and_project_follow_a_redirect_within_the_origin(
    server: MisbehavingServer, sleeps: list[float]
) -> None:
    server.enqueue(
        Reply.redirect(f"{server.base_url}/threads/thread_2", status=307),
        Reply.json(payloads.thread()),
    )
    with make_client(server.base_url, sleeps, **ACCOUNT) as client:
        client.get_thread("thread_1")
    again = server.requests[1]
    assert again.headers["OpenAI-Organization"] == "org-secretive"
    assert again.headers["OpenAI-Project"] == "proj_secretive"
