from __future__ import annotations

import inspect
import threading
from typing import Any

import attrs
import pytest

from assistants_client._client import AssistantsClient
from assistants_client._model_base import OMIT, Model
from assistants_client._pagination import SyncPage
from assistants_client._response import RawResponse
from assistants_client.models import (
    Assistant,
    AssistantDeleted,
    CodeInterpreterToolParam,
    FileDeleted,
    FileObject,
    MessageDeleted,
    RunResponse,
    RunStep,
    Thread,
    ThreadDeleted,
    ThreadMessage,
    VectorStore,
    VectorStoreDeleted,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileContent,
    VectorStoreFileDeleted,
    VectorStoreSearchResults,
)
from assistants_client.models.operations import OPERATIONS
from tests import payloads
from tests.servers.scripted import RecordedRequest, Reply, ScriptedServer

from .calls import CALLS, ID_PARAMS, reply_for

RETURNS: dict[str, type[Any]] = {
    "create_assistant": Assistant,
    "get_assistant": Assistant,
    "update_assistant": Assistant,
    "delete_assistant": AssistantDeleted,
    "create_thread": Thread,
    "get_thread": Thread,
    "update_thread": Thread,
    "delete_thread": ThreadDeleted,
    "create_message": ThreadMessage,
    "get_message": ThreadMessage,
    "update_message": ThreadMessage,
    "delete_message": MessageDeleted,
    "create_run": RunResponse,
    "create_thread_and_run": RunResponse,
    "get_run": RunResponse,
    "update_run": RunResponse,
    "cancel_run": RunResponse,
    "submit_tool_outputs": RunResponse,
    "get_run_step": RunStep,
    "upload_file": FileObject,
    "get_file": FileObject,
    "delete_file": FileDeleted,
    "get_file_content": bytes,
    "create_vector_store": VectorStore,
    "get_vector_store": VectorStore,
    "update_vector_store": VectorStore,
    "delete_vector_store": VectorStoreDeleted,
    "create_vector_store_file_batch": VectorStoreFileBatch,
    "get_vector_store_file_batch": VectorStoreFileBatch,
    "cancel_vector_store_file_batch": VectorStoreFileBatch,
    "create_vector_store_file": VectorStoreFile,
    "get_vector_store_file": VectorStoreFile,
    "update_vector_store_file": VectorStoreFile,
    "delete_vector_store_file": VectorStoreFileDeleted,
    "get_vector_store_file_content": VectorStoreFileContent,
    "search_vector_store": VectorStoreSearchResults,
}

# Every method that sends a body, with the generated request model of its operation.
REQUEST_MODELS: dict[str, type[Model]] = {
    op.name: op.request for op in OPERATIONS if op.request is not None
}

# Streaming has its own API; these methods always ask for a complete JSON answer.
STREAMING_FIELDS = {"stream"}
# What describes the file part of an upload, beside the form's fields.
FILE_PART = {"filename", "content_type"}
PER_CALL_OPTIONS = {"timeout", "max_retries", "extra_headers", "extra_query", "extra_body"}


def test_the_client_has_the_forty_four_api_methods() -> None:
    assert len(CALLS) == 44
    assert sorted(CALLS) == sorted(operation.name for operation in OPERATIONS)
    for name in CALLS:
        assert callable(getattr(AssistantsClient, name))
        assert callable(
            getattr(AssistantsClient(base_url="http://127.0.0.1:1").with_raw_response, name)
        )


@pytest.mark.parametrize("name", list(CALLS))
def test_each_method_calls_its_endpoint_and_returns_its_model(
    client: AssistantsClient, server: ScriptedServer, name: str
) -> None:
    kwargs, verb, path, answer = CALLS[name]
    server.enqueue(reply_for(answer))
    result = getattr(client, name)(**kwargs)
    request = server.requests[0]
    assert (request.method, request.path) == (verb, "/v1" + path)
    if name.startswith("list_"):
        assert isinstance(result, SyncPage)
        assert [item.id for item in result.data] == [answer["data"][0]["id"]]
    elif RETURNS[name] is bytes:
        assert result == answer
    else:
        assert isinstance(result, RETURNS[name])
        assert result.to_dict() == answer


@pytest.mark.parametrize("name", list(REQUEST_MODELS))
def test_every_field_of_the_request_model_is_a_parameter_of_its_method(name: str) -> None:
    parameters = inspect.signature(getattr(AssistantsClient, name)).parameters
    fields = {field.name for field in attrs.fields(REQUEST_MODELS[name])}  # type: ignore[arg-type]
    missing = fields - STREAMING_FIELDS - set(parameters)
    assert not missing, f"{name} does not expose {sorted(missing)}"
    keyword_only = {p.name for p in parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    positional = {
        p.name for p in parameters.values() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    } - {"self"}
    # The per-call options come in `**options: Unpack[RequestOptions]`.
    assert parameters["options"].kind is inspect.Parameter.VAR_KEYWORD
    # `on_event` streams the call (see the streaming tests); it is not a body field.
    unknown = (keyword_only - {"include", "on_event"} - FILE_PART - PER_CALL_OPTIONS - fields) | (
        positional - fields - set(ID_PARAMS)
    )
    assert not unknown, f"{name} has parameters the request model does not know: {sorted(unknown)}"


@pytest.mark.parametrize("name", list(REQUEST_MODELS))
def test_optional_body_fields_are_keyword_only_and_omitted_by_default(name: str) -> None:
    parameters = inspect.signature(getattr(AssistantsClient, name)).parameters
    model_fields = {f.name: f for f in attrs.fields(REQUEST_MODELS[name])}  # type: ignore[arg-type]
    for field_name, field in model_fields.items():
        if field_name in STREAMING_FIELDS or field.default is attrs.NOTHING:
            continue
        parameter = parameters[field_name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, field_name
        assert parameter.default is OMIT, field_name


def test_omitted_fields_are_left_out_and_none_is_sent_as_null(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.assistant()))
    client.update_assistant("asst_1", name=None, instructions="Be brief", metadata=None)
    assert server.requests[0].json() == {"name": None, "instructions": "Be brief", "metadata": None}


def test_generated_models_and_plain_dicts_are_both_accepted(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.assistant()))
    client.create_assistant(
        "gpt-4o",
        tools=[CodeInterpreterToolParam(), {"type": "file_search"}],
        response_format={"type": "json_object"},
    )
    assert server.requests[0].json() == {
        "model": "gpt-4o",
        "tools": [{"type": "code_interpreter"}, {"type": "file_search"}],
        "response_format": {"type": "json_object"},
    }


def test_create_message_sends_role_content_and_attachments(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.message()))
    client.create_message(
        "thread_1",
        "user",
        "Hello",
        attachments=[{"file_id": "file_1", "tools": [{"type": "code_interpreter"}]}],
    )
    assert server.requests[0].json() == {
        "role": "user",
        "content": "Hello",
        "attachments": [{"file_id": "file_1", "tools": [{"type": "code_interpreter"}]}],
    }


def test_include_is_sent_as_repeated_include_brackets(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    item = "step_details.tool_calls[*].file_search.results[*].content"
    server.enqueue(Reply.json(payloads.run()), Reply.json(payloads.run_step()))
    client.create_run("thread_1", "asst_1", include=[item])
    client.get_run_step("thread_1", "run_1", "step_1", include=[item])
    assert server.requests[0].query == {"include[]": [item]}
    assert server.requests[0].json() == {"assistant_id": "asst_1"}
    assert server.requests[1].query == {"include[]": [item]}


def test_list_parameters_become_the_query(client: AssistantsClient, server: ScriptedServer) -> None:
    server.enqueue(Reply.json(payloads.listing([])))
    client.list_messages("thread_1", limit=10, order="asc", after="msg_0", run_id="run_1")
    assert server.requests[0].query == {
        "limit": ["10"],
        "order": ["asc"],
        "after": ["msg_0"],
        "run_id": ["run_1"],
    }


def test_cancel_run_sends_no_body(client: AssistantsClient, server: ScriptedServer) -> None:
    server.enqueue(Reply.json(payloads.run(status="cancelling")))
    client.cancel_run("thread_1", "run_1")
    assert server.requests[0].body == b""
    assert "Content-Type" not in server.requests[0].headers


def test_with_raw_response_gives_status_headers_request_id_and_a_cached_parse(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(
        Reply.json(payloads.thread(), headers={"x-request-id": "req_42", "X-Extra": "1"})
    )
    raw = client.with_raw_response.get_thread("thread_1")
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert raw.request_id == "req_42"
    assert raw.headers["x-extra"] == "1"
    assert raw.retries_taken == 0
    thread = raw.parse()
    assert isinstance(thread, Thread)
    assert raw.parse() is thread
    assert server.request_count == 1


def test_with_raw_response_reports_the_retries_a_call_took(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.error(500), Reply.json(payloads.thread()))
    raw = client.with_raw_response.create_thread()
    assert raw.retries_taken == 1
    assert raw.parse().id == "thread_1"


def test_a_raw_list_parses_into_a_page_that_still_fetches_lazily(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(
        Reply.json(payloads.listing([payloads.run("r1")], has_more=True)),
        Reply.json(payloads.listing([payloads.run("r2")])),
    )
    raw = client.with_raw_response.list_runs("thread_1")
    assert server.request_count == 1
    page = raw.parse()
    assert isinstance(page, SyncPage)
    next_page = page.next_page()
    assert next_page is not None
    assert not isinstance(next_page, RawResponse)
    assert server.request_count == 2


def test_ordinary_calls_on_the_same_client_stay_parsed_while_another_thread_asks_for_raw(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    def answer(request: RecordedRequest) -> Reply:
        return Reply.json(payloads.thread(request.path.rsplit("/", 1)[1]))

    server.default = answer
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for n in range(10):
                if index % 2:
                    raw = client.with_raw_response.get_thread(f"t{index}_{n}")
                    results.append(("raw", type(raw), raw.parse().id == f"t{index}_{n}"))
                else:
                    thread = client.get_thread(f"t{index}_{n}")
                    results.append(("plain", type(thread), thread.id == f"t{index}_{n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 160
    assert all(ok for _, _, ok in results)
    assert {kind_type for kind, kind_type, _ in results if kind == "plain"} == {Thread}
    assert {kind_type for kind, kind_type, _ in results if kind == "raw"} == {RawResponse}


@pytest.mark.parametrize(
    ("params", "model"),
    [("CreateRunParams", "create_run"), ("CreateThreadAndRunParams", "create_thread_and_run")],
)
def test_the_streaming_variants_accept_every_field_of_the_request_model(
    params: str, model: str
) -> None:
    import typing

    import assistants_client

    accepted = set(typing.get_type_hints(getattr(assistants_client, params)))
    fields = {field.name for field in attrs.fields(REQUEST_MODELS[model])}  # type: ignore[arg-type]
    missing = fields - STREAMING_FIELDS - {"assistant_id"} - accepted
    assert not missing, f"{params} does not accept {sorted(missing)}"


def test_a_tool_and_its_resources_of_a_type_the_spec_does_not_know_are_sent_verbatim(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    search = {"type": "azure_ai_search", "azure_ai_search": {"indexes": [{"index_name": "docs"}]}}
    resources = {"azure_ai_search": {"indexes": [{"index_connection_id": "c1"}]}}
    server.enqueue(Reply.json(payloads.assistant()))
    client.create_assistant("gpt-4o", tools=[search], tool_resources=resources)
    assert server.requests[0].json() == {
        "model": "gpt-4o",
        "tools": [search],
        "tool_resources": resources,
    }
