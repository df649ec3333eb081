from __future__ import annotations

import json
import logging

import pytest

from assistants_client._client import AssistantsClient
from assistants_client._exceptions import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer

from .conftest import API_KEY


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (418, APIStatusError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
def test_each_error_status_raises_its_own_class_with_the_servers_error_object(
    client: AssistantsClient, server: ScriptedServer, status: int, error_class: type[APIStatusError]
) -> None:
    reply = Reply.error(
        status, "No thread found", type="invalid_request_error", code="not_found", param="thread_id"
    )
    reply.headers["x-request-id"] = "req_abc"
    server.enqueue(reply)
    with pytest.raises(error_class) as caught:
        client.get_thread("thread_1", max_retries=0)
    error = caught.value
    assert type(error) is error_class
    assert error.status_code == status
    assert error.request_id == "req_abc"
    assert error.error == {
        "message": "No thread found",
        "type": "invalid_request_error",
        "param": "thread_id",
        "code": "not_found",
    }
    assert (error.code, error.type, error.param) == (
        "not_found",
        "invalid_request_error",
        "thread_id",
    )
    assert error.error is not None and error.error.message == "No thread found"
    assert (error.error.code, error.error.type, error.error.param) == (
        "not_found",
        "invalid_request_error",
        "thread_id",
    )
    assert error.method == "GET"
    assert "No thread found" in str(error)
    assert "req_abc" in str(error)


def test_an_html_502_page_is_an_internal_server_error_with_the_page_in_its_body(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.text("<html><body>Bad Gateway</body></html>", status=502))
    with pytest.raises(InternalServerError) as caught:
        client.get_thread("thread_1", max_retries=0)
    assert caught.value.error is None
    assert caught.value.body is not None and "Bad Gateway" in caught.value.body
    assert "502" in str(caught.value)


def test_truncated_json_with_status_200_is_a_response_validation_error(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    body = Reply.json(payloads.thread()).body[:-8]
    server.enqueue(
        Reply(headers={"Content-Type": "application/json", "x-request-id": "req_t"}, body=body)
    )
    with pytest.raises(APIResponseValidationError, match="not valid JSON") as caught:
        client.get_thread("thread_1")
    assert caught.value.status_code == 200
    assert caught.value.request_id == "req_t"
    assert caught.value.body == body.decode()
    assert server.request_count == 1  # the server acted; a bad body is not retried


def test_a_body_that_is_not_json_by_content_type_is_a_response_validation_error(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.text(json.dumps(payloads.thread()), content_type="text/plain"))
    with pytest.raises(APIResponseValidationError, match="content type 'text/plain'"):
        client.get_thread("thread_1")


def test_json_of_the_wrong_shape_is_a_response_validation_error_naming_the_field(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json({"id": "thread_1", "object": "thread"}))
    with pytest.raises(APIResponseValidationError, match="created_at"):
        client.get_thread("thread_1")


def test_an_empty_200_body_is_a_response_validation_error(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply(headers={"Content-Type": "application/json"}))
    with pytest.raises(APIResponseValidationError, match="empty"):
        client.get_thread("thread_1")


def test_a_json_content_type_with_a_charset_is_accepted(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(
        Reply.json(payloads.thread(), headers={"Content-Type": "application/json; charset=utf-8"})
    )
    assert client.get_thread("thread_1").id == "thread_1"


def test_a_long_error_body_is_truncated(client: AssistantsClient, server: ScriptedServer) -> None:
    server.enqueue(Reply.text("x" * 50_000, status=400))
    with pytest.raises(BadRequestError) as caught:
        client.get_thread("thread_1")
    assert caught.value.body is not None
    assert len(caught.value.body) < 3000


def test_a_key_echoed_back_by_the_server_never_reaches_an_exception(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    def echo(request: object) -> Reply:
        auth = request.headers["Authorization"]  # type: ignore[attr-defined]
        return Reply.error(401, f"Incorrect API key provided: {auth}")

    server.enqueue(echo)
    with pytest.raises(AuthenticationError) as caught:
        client.get_thread("thread_1")
    error = caught.value
    for text in (str(error), repr(error), error.body or "", json.dumps(error.error)):
        assert API_KEY not in text
    assert "<redacted>" in str(error)


def test_debug_logs_name_method_path_status_request_id_and_retries_but_never_the_key(
    client: AssistantsClient, server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.enqueue(
        Reply.error(503, headers={"x-request-id": "req_first"}),
        Reply.json(payloads.thread(), headers={"x-request-id": "req_second"}),
    )
    with caplog.at_level(logging.DEBUG, logger="assistants_client"):
        client.get_thread("thread_1")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert all(record.name == "assistants_client" for record in caplog.records)
    assert "GET /v1/threads/thread_1 -> 503" in text
    assert "GET /v1/threads/thread_1 -> 200" in text
    assert "req_second" in text
    assert "retrying in 0.500s" in text
    assert "Authorization" in text and "<redacted>" in text
    assert API_KEY not in text


def test_connections_are_reused_across_calls_and_after_errors(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.thread()), Reply.error(404), Reply.json(payloads.thread()))
    client.get_thread("thread_1")
    with pytest.raises(NotFoundError):
        client.get_thread("thread_1")
    client.get_thread("thread_1")
    assert len({r.client_port for r in server.requests}) == 1


def test_a_404_from_a_base_url_without_v1_asks_whether_v1_was_meant(
    server: ScriptedServer,
) -> None:
    server.default = lambda request: Reply.text("404 page not found", 404, "text/plain")
    bare = server.url.replace("http://", "http://user:pw-secret@")
    for base_url, hint in (
        (bare, f" (did you mean base_url={server.url}/v1?)"),
        (f"{bare}/api", f" (did you mean base_url={server.url}/api/v1?)"),
        (server.base_url, ""),
    ):
        with (
            AssistantsClient(API_KEY, base_url=base_url, max_retries=0) as client,
            pytest.raises(NotFoundError) as caught,
        ):
            client.get_thread("thread_1")
        assert caught.value.message.endswith(f": HTTP 404 Not Found{hint}")
        assert "pw-secret" not in str(caught.value)


def test_an_azure_404_gets_no_v1_hint_since_azure_urls_have_no_v1(server: ScriptedServer) -> None:
    server.default = lambda request: Reply.error(404, "No thread found with id 'thread_1'.")
    with (
        AssistantsClient.for_azure(
            endpoint=server.url, api_key=API_KEY, api_version="2024-05-01-preview", max_retries=0
        ) as client,
        pytest.raises(NotFoundError) as caught,
    ):
        client.get_thread("thread_1")
    assert caught.value.message.endswith(": No thread found with id 'thread_1'.")
