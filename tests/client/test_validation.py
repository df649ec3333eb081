from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from assistants_client._client import AssistantsClient
from assistants_client._exceptions import AssistantsError, InvalidArgumentError
from tests import payloads
from tests.servers.scripted import Reply, ScriptedServer

from .calls import CALLS, ID_CASES
from .conftest import API_KEY

BAD_IDS: list[Any] = [
    None,
    123,
    b"thread_1",
    "",
    "   ",
    ".",
    "..",
    "a/b",
    "../assistants",
    "a?b=1",
    "a#b",
    "a%2Fb",
    "a\\b",
    "a b",
    "a\tb",
    "a\nb",
    "a\x00b",
    "a\x7fb",
    "a\u200bb",
    "a" * 257,
]


@pytest.fixture(scope="module")
def silent_server() -> Iterator[ScriptedServer]:
    """One server for the module; no test here may cause a single request."""
    with ScriptedServer() as server:
        yield server
        assert server.request_count == 0


@pytest.fixture
def client(silent_server: ScriptedServer) -> Iterator[AssistantsClient]:
    with AssistantsClient(API_KEY, base_url=silent_server.base_url) as made:
        yield made
    assert silent_server.request_count == 0


def call(client: AssistantsClient, method: str, /, **overrides: Any) -> Any:
    kwargs = dict(CALLS[method][0])
    kwargs.update(overrides)
    return getattr(client, method)(**kwargs)


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
@pytest.mark.parametrize(("method", "param"), ID_CASES)
def test_a_bad_id_raises_an_invalid_argument_error_naming_it_and_sends_nothing(
    client: AssistantsClient, silent_server: ScriptedServer, method: str, param: str, bad: Any
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(client, method, **{param: bad})
    assert caught.value.param == param
    assert param in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, AssistantsError)
    assert silent_server.request_count == 0


@pytest.mark.parametrize("content", [None, "", "  \n", []])
def test_empty_message_content_is_rejected(client: AssistantsClient, content: Any) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(client, "create_message", content=content)
    assert caught.value.param == "content"


@pytest.mark.parametrize("role", ["system", "User", "", None])
def test_a_role_other_than_user_or_assistant_is_rejected(
    client: AssistantsClient, role: Any
) -> None:
    with pytest.raises(InvalidArgumentError, match="'user' or 'assistant'") as caught:
        call(client, "create_message", role=role)
    assert caught.value.param == "role"


METADATA_METHODS = [
    name for name in CALLS if "metadata" in getattr(AssistantsClient, name).__code__.co_varnames
]


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({f"k{i}": "v" for i in range(17)}, "17 keys; at most 16"),
        ({"k" * 65: "v"}, "65 characters; at most 64"),
        ({"k": "v" * 513}, "513 characters; at most 512"),
        ({"k": 1}, "must be a str"),
        ({1: "v"}, "keys must be str"),
        (["k", "v"], "must be a dict"),
    ],
)
@pytest.mark.parametrize("method", METADATA_METHODS)
def test_metadata_over_the_limits_is_rejected(
    client: AssistantsClient, method: str, metadata: Any, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        call(client, method, metadata=metadata)
    assert caught.value.param == "metadata"


def test_metadata_at_the_limits_is_accepted_by_validation() -> None:
    from assistants_client._arguments import validate_metadata

    at_limit = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    assert validate_metadata(at_limit) is at_limit


LIST_METHODS = [name for name in CALLS if name.startswith("list_")]
# Files are listed up to 10,000 a page; every other list up to 100.
LIMITS = {name: 10_000 if name == "list_files" else 100 for name in LIST_METHODS}


@pytest.mark.parametrize("limit", [0, "above", -1, True, "10", 1.5])
@pytest.mark.parametrize("method", LIST_METHODS)
def test_a_limit_outside_one_to_the_lists_page_size_is_rejected(
    client: AssistantsClient, method: str, limit: Any
) -> None:
    most = LIMITS[method]
    with pytest.raises(InvalidArgumentError, match=f"1 to {most:,}") as caught:
        call(client, method, limit=most + 1 if limit == "above" else limit)
    assert caught.value.param == "limit"


@pytest.mark.parametrize("order", ["ascending", "ASC", "", None])
@pytest.mark.parametrize("method", LIST_METHODS)
def test_an_order_other_than_asc_or_desc_is_rejected(
    client: AssistantsClient, method: str, order: Any
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(client, method, order=order)
    assert caught.value.param == "order"


@pytest.mark.parametrize("cursor", ["a/b", "", None])
@pytest.mark.parametrize("param", ["after", "before"])
def test_a_bad_cursor_is_rejected(client: AssistantsClient, param: str, cursor: Any) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(client, "list_messages", **{param: cursor})
    assert caught.value.param == param


@pytest.mark.parametrize("include", ["step_details", [1], [""], {"a": 1}])
def test_include_must_be_a_list_of_strings(client: AssistantsClient, include: Any) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(client, "list_run_steps", include=include)
    assert caught.value.param == "include"


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [
        ("create_assistant", "temperature", 2.5),
        ("create_assistant", "top_p", -0.1),
        ("create_assistant", "name", "n" * 257),
        ("create_assistant", "description", "d" * 513),
        ("create_assistant", "reasoning_effort", "extreme"),
        ("create_assistant", "tools", [{"type": "function", "function": {"nme": "f"}}]),
        ("create_assistant", "tools", [{"type": 7}]),
        ("update_assistant", "instructions", "i" * 256_001),
        ("create_run", "max_prompt_tokens", 100),
        ("create_run", "temperature", 3),
        ("create_run", "tools", [{"type": "code_interpreter"}] * 21),
        ("create_thread_and_run", "max_completion_tokens", 1),
        ("create_thread", "messages", [{"role": "user"}]),
        ("submit_tool_outputs", "tool_outputs", [{"tool_call_id": 1}]),
    ],
)
def test_spec_constraints_from_the_request_model_are_raised_naming_the_parameter(
    client: AssistantsClient, method: str, field: str, value: Any
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(client, method, **{field: value})
    assert caught.value.param == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_value_that_is_not_json_is_rejected(client: AssistantsClient) -> None:
    with pytest.raises(InvalidArgumentError, match="NaN"):
        call(client, "create_assistant", temperature=float("nan"))
    with pytest.raises(InvalidArgumentError, match="not JSON"):
        call(client, "create_thread", metadata=None, extra_body={"when": object()})


@pytest.mark.parametrize(
    ("option", "value"),
    [("timeout", -1), ("max_retries", -1), ("extra_headers", {"a": 1}), ("extra_query", [1])],
)
def test_bad_per_call_options_are_rejected(
    client: AssistantsClient, option: str, value: Any
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(client, "get_thread", **{option: value})
    assert caught.value.param == option


def test_an_id_of_256_characters_is_sent_and_one_of_257_is_refused_before_any_request() -> None:
    longest, too_long = "t" * 256, "t" * 257
    with ScriptedServer() as server:
        server.route("GET", r"/v1/threads/t+", Reply.json(payloads.thread(id=longest)))
        server.route("GET", r"/v1/threads/t+/messages", Reply.json(payloads.listing([])))
        server.route("POST", r"/v1/vector_stores", Reply.json(payloads.vector_store()))
        with AssistantsClient(API_KEY, base_url=server.base_url, max_retries=0) as client:
            assert client.get_thread(longest).id == longest
            client.list_messages(longest, after=longest)
            client.create_vector_store(file_ids=[longest])
            assert server.request_count == 3
            for refused in (
                lambda: client.get_thread(too_long),
                lambda: client.list_messages("thread_1", after=too_long),
                lambda: client.create_vector_store(file_ids=[too_long]),
            ):
                with pytest.raises(InvalidArgumentError, match="257 characters; an id has at"):
                    refused()
            assert server.request_count == 3
