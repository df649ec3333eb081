"""Files, vector stores, their files and batches, and search: what the client sends and reads.

Every JSON body sent here is validated against the official spec's schema of its operation
(openapi/assistants.yaml, as the trim step took it from the OpenAI spec, without the overlay);
every bad argument is refused before a request goes out.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from assistants_client import (
    AssistantsClient,
    InvalidArgumentError,
    ResponseTooLargeError,
)
from assistants_client.models import operations as ops
from tests import payloads
from tests.emulator.spec_tools import to_json_schema
from tests.servers.scripted import Reply, ScriptedServer

from .calls import reply_for

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "assistants.yaml"
STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 1200, "chunk_overlap_tokens": 600}}
NESTED_FILTER = {
    "type": "or",
    "filters": [
        {"type": "in", "key": "team", "value": ["ops", "sre"]},
        {
            "type": "and",
            "filters": [
                {"type": "gte", "key": "year", "value": 2024},
                {"type": "eq", "key": "draft", "value": False},
            ],
        },
    ],
}


@functools.cache
def official() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return document


def request_schema(method: str, path: str) -> jsonschema.Draft202012Validator:
    """The official schema of an operation's JSON body (``path`` as sent, under /v1)."""
    operation = next(
        op
        for op in ops.OPERATIONS
        if op.method == method
        and op.path.count("/") == path.count("/")
        and all(
            a == b or a.startswith("{")
            for a, b in zip(op.path.split("/"), path.split("/"), strict=False)
        )
    )
    spec = official()["paths"][operation.path][method.lower()]
    ref = spec["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    components = to_json_schema(official()["components"])
    return jsonschema.Draft202012Validator({"$ref": ref, "components": components})


def sent_body_is_valid(server: ScriptedServer, index: int = -1) -> dict[str, Any]:
    request = server.requests[index]
    body: dict[str, Any] = request.json()
    request_schema(request.method, request.path.removeprefix("/v1")).validate(body)
    return body


# (method, arguments, answer) of calls with rich bodies: each body must fit the official schema.
RICH_CALLS: list[tuple[str, dict[str, Any], Any]] = [
    (
        "create_vector_store",
        {
            "name": "Handbook",
            "description": "Team handbook",
            "file_ids": ["file-1", "file-2"],
            "chunking_strategy": STATIC,
            "expires_after": {"anchor": "last_active_at", "days": 7},
            "metadata": {"team": "ops"},
        },
        payloads.vector_store(),
    ),
    (
        "update_vector_store",
        {"vector_store_id": "vs_1", "name": None, "expires_after": None, "metadata": {"a": "b"}},
        payloads.vector_store(),
    ),
    (
        "create_vector_store_file",
        {
            "vector_store_id": "vs_1",
            "file_id": "file-1",
            "attributes": {"team": "ops", "year": 2024, "score": 0.5, "draft": False},
            "chunking_strategy": {"type": "auto"},
        },
        payloads.vector_store_file(),
    ),
    (
        "update_vector_store_file",
        {"vector_store_id": "vs_1", "file_id": "file-1", "attributes": None},
        payloads.vector_store_file(),
    ),
    (
        "create_vector_store_file_batch",
        {
            "vector_store_id": "vs_1",
            "file_ids": ["file-1", "file-2"],
            "attributes": {"team": "ops"},
            "chunking_strategy": STATIC,
        },
        payloads.file_batch(),
    ),
    (
        "create_vector_store_file_batch",
        {
            "vector_store_id": "vs_1",
            "files": [
                {"file_id": "file-1", "attributes": {"lang": "fr"}},
                {"file_id": "file-2", "chunking_strategy": STATIC},
            ],
        },
        payloads.file_batch(),
    ),
    (
        "search_vector_store",
        {"vector_store_id": "vs_1", "query": "cake"},
        payloads.search_results(),
    ),
    (
        "search_vector_store",
        {
            "vector_store_id": "vs_1",
            "query": ["favorite food", "Filip"],
            "max_num_results": 50,
            "filters": NESTED_FILTER,
            "ranking_options": {"ranker": "default-2024-11-15", "score_threshold": 0.4},
            "rewrite_query": True,
        },
        payloads.search_results(),
    ),
    (
        "create_assistant",
        {
            "model": "gpt-4o",
            "tools": [
                {
                    "type": "file_search",
                    "file_search": {
                        "max_num_results": 1,
                        "ranking_options": {"ranker": "auto", "score_threshold": 0.9},
                    },
                }
            ],
            "tool_resources": {
                "file_search": {
                    "vector_stores": [{"file_ids": ["file-1"], "chunking_strategy": STATIC}]
                }
            },
        },
        payloads.assistant(),
    ),
    (
        "create_thread",
        {
            "messages": [
                {
                    "role": "user",
                    "content": "What is in the report?",
                    "attachments": [{"file_id": "file-1", "tools": [{"type": "file_search"}]}],
                }
            ],
            "tool_resources": {"file_search": {"vector_store_ids": ["vs_1"]}},
        },
        payloads.thread(),
    ),
    (
        "create_message",
        {
            "thread_id": "thread_1",
            "role": "user",
            "content": "Summarise it",
            "attachments": [{"file_id": "file-1", "tools": [{"type": "file_search"}]}],
        },
        payloads.message(),
    ),
    (
        "create_run",
        {
            "thread_id": "thread_1",
            "assistant_id": "asst_1",
            "tools": [{"type": "file_search", "file_search": {"max_num_results": 5}}],
            "include": ["step_details.tool_calls[*].file_search.results[*].content"],
        },
        payloads.run(),
    ),
]


@pytest.mark.parametrize(
    ("method", "kwargs", "answer"),
    RICH_CALLS,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(RICH_CALLS)],
)
def test_every_json_body_sent_fits_the_official_schema_of_its_operation(
    client: AssistantsClient,
    server: ScriptedServer,
    method: str,
    kwargs: dict[str, Any],
    answer: Any,
) -> None:
    server.enqueue(reply_for(answer))
    getattr(client, method)(**kwargs)
    body = sent_body_is_valid(server)
    sent_fields = {
        k for k in kwargs if k not in ("vector_store_id", "file_id", "thread_id", "include")
    }
    if method == "create_vector_store_file":
        sent_fields.add("file_id")
    assert set(body) == sent_fields | ({"assistant_id"} if method == "create_run" else set())


def test_search_sends_the_query_filters_and_options_as_given(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.search_results()))
    results = client.search_vector_store(
        "vs_1", ("a", "b"), filters=NESTED_FILTER, max_num_results=3, rewrite_query=False
    )
    assert server.requests[0].json() == {
        "query": ["a", "b"],
        "filters": NESTED_FILTER,
        "max_num_results": 3,
        "rewrite_query": False,
    }
    (hit,) = results.data
    assert (hit.file_id, hit.filename, hit.score) == ("file-1", "favorite_foods.txt", 0.75)
    assert hit.attributes == {"team": "ops", "year": 2024, "draft": False}
    assert type(hit.attributes["draft"]) is bool
    assert hit.content[0].text == "Filip Carola: cake"
    assert results.search_query == ["cake"]


def test_list_filters_and_cursors_become_the_query(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(
        Reply.json(payloads.listing([payloads.file()])),
        Reply.json(payloads.listing([payloads.vector_store_file()])),
        Reply.json(payloads.listing([payloads.vector_store_file()])),
    )
    client.list_files(purpose="assistants", limit=10_000, order="asc", after="file-0")
    client.list_vector_store_files("vs_1", filter="failed", limit=5, before="file-9")
    client.list_vector_store_file_batch_files("vs_1", "vsfb_1", filter="completed")
    assert [r.query for r in server.requests] == [
        {"limit": ["10000"], "order": ["asc"], "after": ["file-0"], "purpose": ["assistants"]},
        {"limit": ["5"], "before": ["file-9"], "filter": ["failed"]},
        {"filter": ["completed"]},
    ]


def test_a_file_list_without_cursors_reads_as_one_page(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    # Foundry answers {object, data} only (openapi/overlay.yaml).
    server.enqueue(
        Reply.json({"object": "list", "data": [payloads.file("f1"), payloads.file("f2")]})
    )
    page = client.list_files()
    assert [f.id for f in page] == ["f1", "f2"]
    assert not page.has_next_page()
    assert server.request_count == 1


def test_a_files_content_is_its_exact_bytes_whatever_their_type(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    data = bytes(range(256)) * 4
    server.enqueue(
        Reply(headers={"Content-Type": "application/octet-stream"}, body=data),
        Reply(headers={"Content-Type": "text/plain"}, body=b"plain text"),
        Reply(headers={"Content-Type": "application/json"}, body=b'{"not": "parsed"}'),
        Reply(body=b""),
    )
    assert client.get_file_content("file-1") == data
    assert client.get_file_content("file-2") == b"plain text"
    assert client.get_file_content("file-3") == b'{"not": "parsed"}'
    assert client.get_file_content("file-4") == b""
    assert server.requests[0].headers["Accept"] == "*/*"
    server.enqueue(Reply(headers={"Content-Type": "application/pdf"}, body=data))
    raw = client.with_raw_response.get_file_content("file-1")
    assert (raw.status_code, raw.headers["Content-Type"]) == (200, "application/pdf")
    assert raw.parse() == data


def test_a_files_content_is_bounded_by_max_response_bytes(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply(headers={"Content-Type": "application/octet-stream"}, body=b"x" * 2048))
    with pytest.raises(ResponseTooLargeError):
        client.get_file_content("file-1", max_response_bytes=1024)
    server.enqueue(Reply(headers={"Content-Type": "application/octet-stream"}, body=b"y" * 2048))
    assert client.get_file_content("file-1", max_response_bytes=4096) == b"y" * 2048


def test_live_api_departures_read_without_error(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    # As api.openai.com answers (openapi/overlay.yaml): null name and expiry, a description the
    # spec lacks, `vector_store.file_batch`, batch files without usage_bytes.
    server.enqueue(
        Reply.json(payloads.vector_store(name=None, expires_after=None, description=None)),
        Reply.json(payloads.file_batch()),
        Reply.json(
            payloads.listing(
                [
                    {
                        "id": "file-1",
                        "object": "vector_store.file",
                        "created_at": 1,
                        "vector_store_id": "vs_1",
                        "status": "completed",
                        "last_error": None,
                    }
                ]
            )
        ),
    )
    store = client.get_vector_store("vs_1")
    assert (store.name, store.expires_after, store.description) == (None, None, None)
    batch = client.get_vector_store_file_batch("vs_1", "vsfb_1")
    assert batch.file_counts.in_progress == 2
    (item,) = client.list_vector_store_file_batch_files("vs_1", "vsfb_1").data
    assert item.usage_bytes is None and item.status == "completed"
    with pytest.raises(Exception, match="usage_bytes"):
        server.enqueue(Reply.json(payloads.listing([{"id": "f", "object": "vector_store.file"}])))
        strict = AssistantsClient("sk-test", base_url=server.base_url, strict_responses=True)
        strict.list_vector_store_file_batch_files("vs_1", "vsfb_1")


# -- refused before anything is sent --------------------------------------------------------------


@pytest.fixture
def silent(server: ScriptedServer) -> Iterator[ScriptedServer]:
    yield server
    assert server.request_count == 0


TOO_MUCH_OVERLAP = {
    "type": "static",
    "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401},
}


def static(size: int, overlap: int) -> dict[str, Any]:
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    # chunking: the schema's bounds, and the overlap the spec states in words
    ("create_vector_store", {"chunking_strategy": TOO_MUCH_OVERLAP}, "chunking_strategy"),
    ("create_vector_store", {"chunking_strategy": static(99, 0)}, "chunking_strategy"),
    ("create_vector_store", {"chunking_strategy": static(4097, 0)}, "chunking_strategy"),
    ("create_vector_store", {"chunking_strategy": static(800, -1)}, "chunking_strategy"),
    ("create_vector_store", {"chunking_strategy": {"type": "semantic"}}, "chunking_strategy"),
    ("create_vector_store", {"file_ids": [f"file-{i}" for i in range(501)]}, "file_ids"),
    ("create_vector_store", {"file_ids": ["ok", "../x"]}, "file_ids"),
    (
        "create_vector_store",
        {"expires_after": {"anchor": "last_active_at", "days": 366}},
        "expires_after",
    ),
    (
        "create_vector_store",
        {"expires_after": {"anchor": "created_at", "days": 1}},
        "expires_after",
    ),
    (
        "create_vector_store_file",
        {"vector_store_id": "vs_1", "file_id": "file-1", "chunking_strategy": TOO_MUCH_OVERLAP},
        "chunking_strategy",
    ),
    (
        "create_assistant",
        {
            "model": "gpt-4o",
            "tool_resources": {
                "file_search": {
                    "vector_stores": [{"file_ids": ["f"], "chunking_strategy": TOO_MUCH_OVERLAP}]
                }
            },
        },
        "tool_resources",
    ),
    (
        "create_thread",
        {
            "tool_resources": {
                "file_search": {"vector_stores": [{"chunking_strategy": TOO_MUCH_OVERLAP}]}
            }
        },
        "tool_resources",
    ),
    # attributes
    (
        "create_vector_store_file",
        {"vector_store_id": "vs_1", "file_id": "f", "attributes": {f"k{i}": i for i in range(17)}},
        "attributes",
    ),
    (
        "create_vector_store_file",
        {"vector_store_id": "vs_1", "file_id": "f", "attributes": {"k" * 65: 1}},
        "attributes",
    ),
    (
        "update_vector_store_file",
        {"vector_store_id": "vs_1", "file_id": "f", "attributes": {"k": "v" * 513}},
        "attributes",
    ),
    (
        "update_vector_store_file",
        {"vector_store_id": "vs_1", "file_id": "f", "attributes": {"k": ["a", "list"]}},
        "attributes",
    ),
    # batches
    (
        "create_vector_store_file_batch",
        {"vector_store_id": "vs_1", "file_ids": ["f1"], "files": [{"file_id": "f2"}]},
        "files",
    ),
    ("create_vector_store_file_batch", {"vector_store_id": "vs_1"}, "file_ids"),
    ("create_vector_store_file_batch", {"vector_store_id": "vs_1", "file_ids": []}, "file_ids"),
    (
        "create_vector_store_file_batch",
        {"vector_store_id": "vs_1", "file_ids": [f"f{i}" for i in range(2001)]},
        "file_ids",
    ),
    (
        "create_vector_store_file_batch",
        {"vector_store_id": "vs_1", "files": [{"file_id": "f1"}], "attributes": {"a": "b"}},
        "attributes",
    ),
    (
        "create_vector_store_file_batch",
        {
            "vector_store_id": "vs_1",
            "files": [{"file_id": "f1"}],
            "chunking_strategy": {"type": "auto"},
        },
        "chunking_strategy",
    ),
    (
        "create_vector_store_file_batch",
        {
            "vector_store_id": "vs_1",
            "files": [{"file_id": "f1", "chunking_strategy": TOO_MUCH_OVERLAP}],
        },
        "files[0]",
    ),
    (
        "create_vector_store_file_batch",
        {"vector_store_id": "vs_1", "files": [{"file_id": "f1", "purpose": "x"}]},
        "files",
    ),
    # search
    ("search_vector_store", {"vector_store_id": "vs_1", "query": ""}, "query"),
    ("search_vector_store", {"vector_store_id": "vs_1", "query": []}, "query"),
    ("search_vector_store", {"vector_store_id": "vs_1", "query": ["ok", "  "]}, "query"),
    ("search_vector_store", {"vector_store_id": "vs_1", "query": 42}, "query"),
    (
        "search_vector_store",
        {"vector_store_id": "vs_1", "query": "q", "max_num_results": 0},
        "max_num_results",
    ),
    (
        "search_vector_store",
        {"vector_store_id": "vs_1", "query": "q", "max_num_results": 51},
        "max_num_results",
    ),
    (
        "search_vector_store",
        {"vector_store_id": "vs_1", "query": "q", "ranking_options": {"score_threshold": 1.5}},
        "ranking_options",
    ),
    (
        "search_vector_store",
        {"vector_store_id": "vs_1", "query": "q", "ranking_options": {"ranker": "best"}},
        "ranking_options",
    ),
    (
        "search_vector_store",
        {
            "vector_store_id": "vs_1",
            "query": "q",
            "filters": {"type": "in", "key": "k", "value": "a"},
        },
        "filters",
    ),
    (
        "search_vector_store",
        {
            "vector_store_id": "vs_1",
            "query": "q",
            "filters": {"type": "eq", "key": "k", "value": [1]},
        },
        "filters",
    ),
    (
        "search_vector_store",
        {"vector_store_id": "vs_1", "query": "q", "filters": {"type": "xor", "filters": []}},
        "filters",
    ),
    (
        "search_vector_store",
        {"vector_store_id": "vs_1", "query": "q", "filters": {"type": "eq", "key": "k"}},
        "filters",
    ),
    (
        "search_vector_store",
        {
            "vector_store_id": "vs_1",
            "query": "q",
            "filters": {"type": "and", "filters": [{"type": "eq", "key": "k", "value": {"a": 1}}]},
        },
        "filters",
    ),
    # the file_search tool's options
    (
        "create_assistant",
        {
            "model": "gpt-4o",
            "tools": [{"type": "file_search", "file_search": {"max_num_results": 51}}],
        },
        "tools",
    ),
    (
        "create_run",
        {
            "thread_id": "thread_1",
            "assistant_id": "asst_1",
            "tools": [
                {
                    "type": "file_search",
                    "file_search": {"ranking_options": {"score_threshold": -0.1}},
                }
            ],
        },
        "tools",
    ),
    # lists
    ("list_vector_store_files", {"vector_store_id": "vs_1", "filter": "done"}, "filter"),
    (
        "list_vector_store_file_batch_files",
        {"vector_store_id": "vs_1", "batch_id": "b", "filter": ""},
        "filter",
    ),
    ("list_files", {"purpose": ""}, "purpose"),
]


@pytest.mark.parametrize(
    ("method", "kwargs", "param"),
    BAD_CALLS,
    ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(BAD_CALLS)],
)
def test_a_bad_argument_is_refused_naming_it_before_anything_is_sent(
    client: AssistantsClient,
    silent: ScriptedServer,
    method: str,
    kwargs: dict[str, Any],
    param: str,
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        getattr(client, method)(**kwargs)
    assert caught.value.param == param, caught.value


def test_filters_nested_past_the_bound_are_refused(
    client: AssistantsClient, silent: ScriptedServer
) -> None:
    nested: dict[str, Any] = {"type": "eq", "key": "k", "value": 1}
    for _ in range(40):
        nested = {"type": "and", "filters": [nested]}
    with pytest.raises(InvalidArgumentError, match="levels deep"):
        client.search_vector_store("vs_1", "q", filters=nested)


def test_the_chunk_overlap_may_be_exactly_half(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(payloads.vector_store()))
    client.create_vector_store(chunking_strategy=static(800, 400))
    assert sent_body_is_valid(server)["chunking_strategy"] == static(800, 400)
