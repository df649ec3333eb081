"""End-to-end: ``AssistantsClient.for_foundry`` against the emulator's Foundry mode.

Real loopback sockets; the emulator serves as Azure AI Foundry's Agent Service (classic
agents) does: under ``/api/projects/<project>``, with a required ``api-version``, a bearer
token, Foundry's list shape and Foundry's own tools.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from assistants_client import (
    AssistantsClient,
    AuthenticationError,
    BadRequestError,
)
from assistants_client.emulator import Emulator
from assistants_client.models import FunctionTool

TOKEN = "eyJ0eXAiOiJKV1Qi.FOUNDRY-E2E-TOKEN-SECRET.sig"
PROJECT = "contoso-trips"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {"type": "azure_ai_search"}
SEARCH_RESOURCES = {
    "azure_ai_search": {
        "indexes": [
            {
                "index_connection_id": "/subscriptions/s/connections/search-hr",
                "index_name": "handbook-v3",
                "query_type": "vector_semantic_hybrid",
                "top_k": 5,
                "filter": "",
            }
        ]
    }
}


@pytest.fixture(scope="module")
def foundry() -> Iterator[Emulator]:
    with Emulator(foundry=PROJECT, api_key=TOKEN) as emulator:
        yield emulator


@pytest.fixture
def client(foundry: Emulator) -> Iterator[AssistantsClient]:
    foundry.reset()
    with AssistantsClient.for_foundry(foundry.base_url, azure_ad_token=TOKEN) as made:
        yield made


def test_an_assistant_with_a_foundry_tool_round_trips_with_its_raw_data(
    client: AssistantsClient, foundry: Emulator
) -> None:
    assistant = client.create_assistant(
        "gpt-4o",
        name="policy-expert",
        tools=[WEATHER_TOOL, SEARCH_TOOL],
        tool_resources=SEARCH_RESOURCES,
    )
    function_tool, search_tool = assistant.tools
    assert isinstance(function_tool, FunctionTool)
    assert function_tool.function.name == "get_weather"
    assert type(search_tool).__name__ == "UnknownAssistantTool"
    assert search_tool.to_dict() == SEARCH_TOOL
    assert assistant.to_dict()["tool_resources"] == SEARCH_RESOURCES

    read = client.get_assistant(assistant.id)
    assert read.to_dict()["tools"][1] == SEARCH_TOOL
    assert read.to_dict()["tool_resources"] == SEARCH_RESOURCES

    # The tools as read are sent back as they are: the unknown one verbatim.
    foundry.reset_requests()
    updated = client.update_assistant(assistant.id, name="renamed", tools=read.tools)
    sent = foundry.requests[0].body
    assert sent["tools"][1] == SEARCH_TOOL
    assert updated.name == "renamed"
    assert updated.to_dict()["tools"][1] == SEARCH_TOOL

    listed = list(client.list_assistants())
    assert [item.id for item in listed] == [assistant.id]
    assert listed[0].to_dict()["tools"][1] == SEARCH_TOOL


def test_a_thread_a_message_and_a_streamed_run(client: AssistantsClient, foundry: Emulator) -> None:
    foundry.script.queue_text("Pack a light jacket.", chunks=4)
    assistant = client.create_assistant("gpt-4o", tools=[SEARCH_TOOL])
    thread = client.create_thread()
    message = client.create_message(thread.id, "user", "What should I pack?")
    assert message.thread_id == thread.id
    with client.stream_run(thread.id, assistant.id) as stream:
        text = "".join(stream.text_deltas())
    assert text == "Pack a light jacket."
    assert stream.final_run is not None and stream.final_run.status == "completed"
    messages = list(client.list_messages(thread.id, order="asc"))
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content[0].text.value == text


def test_run_with_tools_answers_the_function_calls_and_lists_the_run_steps(
    client: AssistantsClient, foundry: Emulator
) -> None:
    assistant = client.create_assistant("gpt-4o", tools=[WEATHER_TOOL, SEARCH_TOOL])
    thread = client.create_thread(
        messages=[{"role": "user", "content": "Use get_weather for city=Lisbon."}]
    )
    calls: list[str] = []

    def get_weather(city: str) -> dict[str, object]:
        calls.append(city)
        return {"city": city, "temp_c": 21}

    run = client.run_with_tools(thread.id, assistant.id, functions={"get_weather": get_weather})
    assert run.status == "completed"
    assert calls == ["Lisbon"]
    reply = client.list_messages(thread.id).data[0]
    assert "get_weather returned" in reply.content[0].text.value
    steps = list(client.list_run_steps(thread.id, run.id, order="asc"))
    assert [step.type for step in steps] == ["tool_calls", "message_creation"]
    tool_step = client.get_run_step(thread.id, run.id, steps[0].id)
    (call,) = tool_step.step_details.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Lisbon"}
    assert json.loads(call.function.output or "") == {"city": "Lisbon", "temp_c": 21}


def test_pagination_follows_has_more_and_the_last_id_over_several_pages(
    client: AssistantsClient, foundry: Emulator
) -> None:
    made = [client.create_assistant("gpt-4o", name=f"agent {index}").id for index in range(7)]
    foundry.reset_requests()
    listed = [assistant.id for assistant in client.list_assistants(limit=3, order="asc")]
    assert listed == made
    pages = foundry.requests
    assert len(pages) == 3
    assert [request.query.get("after") for request in pages] == [None, [made[2]], [made[5]]]
    assert all(request.query["api-version"] == ["v1"] for request in pages)

    thread = client.create_thread(
        messages=[{"role": "user", "content": f"message {index}"} for index in range(5)]
    )
    texts = [m.content[0].text.value for m in client.list_messages(thread.id, limit=2, order="asc")]
    assert texts == [f"message {index}" for index in range(5)]


def test_a_foundry_page_has_no_first_id_and_the_client_reads_it(
    client: AssistantsClient,
) -> None:
    made = client.create_assistant("gpt-4o")
    raw = client.with_raw_response.list_assistants()
    assert json.loads(raw.content) == {
        "data": [json.loads(raw.content)["data"][0]],
        "last_id": made.id,
        "has_more": False,
    }
    page = raw.parse()
    assert page.first_id is None and page.last_id == made.id
    empty = client.with_raw_response.list_runs(client.create_thread().id)
    assert json.loads(empty.content) == {"data": [], "has_more": False}
    assert empty.parse().data == []


def test_requests_carry_the_bearer_token_and_api_version_and_no_api_key_or_beta_header(
    client: AssistantsClient, foundry: Emulator
) -> None:
    foundry.reset_requests()
    client.create_thread()
    client.list_assistants()
    for request in foundry.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.query["api-version"] == ["v1"]
        assert "api-key" not in request.headers
        assert "OpenAI-Beta" not in request.headers


def test_a_missing_api_version_is_a_bad_request_naming_it(client: AssistantsClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        client.list_assistants(extra_query={"api-version": ""})
    assert caught.value.error is not None
    assert caught.value.error["param"] == "api-version"


def test_an_api_version_foundry_does_not_serve_is_a_bad_request(foundry: Emulator) -> None:
    with (
        AssistantsClient.for_foundry(
            foundry.base_url, azure_ad_token=TOKEN, api_version="2024-05-01-preview"
        ) as client,
        pytest.raises(BadRequestError, match="api-version"),
    ):
        client.create_thread()


def test_a_wrong_token_is_an_authentication_error_that_never_shows_a_token(
    foundry: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "eyJ0eXAiOiJKV1Qi.WRONG-TOKEN-SECRET.sig"
    caplog.set_level(logging.DEBUG)
    with AssistantsClient.for_foundry(foundry.base_url, azure_ad_token=wrong) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.create_thread()
        shown = [str(caught.value), repr(caught.value), repr(client), repr(client._transport)]
    shown.append(repr(client._transport.config))
    shown.extend(record.getMessage() for record in caplog.records)
    assert caught.value.status_code == 401
    for text in shown:
        assert wrong not in text and TOKEN not in text


def test_a_token_provider_is_asked_again_before_a_retry_and_its_tokens_never_show(
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued: list[str] = []
    counter = itertools.count(1)
    lock = threading.Lock()

    def rotating() -> str:
        with lock:
            token = f"eyJ0eXAi.ROTATED-{next(counter)}-TOKEN-SECRET.sig"
            issued.append(token)
            return token

    caplog.set_level(logging.DEBUG)
    # This emulator checks no token, so every rotated one is accepted.
    with Emulator(foundry=PROJECT) as emulator:
        emulator.faults.fail_posts(rate=1.0, times=1, status=503, retry_after=0)
        with AssistantsClient.for_foundry(
            emulator.base_url, token_provider=rotating, max_retries=2
        ) as client:
            thread = client.create_thread()
            shown = [repr(client), repr(client._transport.config)]
        posts = [r for r in emulator.requests if r.method == "POST"]
    assert thread.id.startswith("thread_")
    assert [r.headers["Authorization"] for r in posts] == [f"Bearer {t}" for t in issued]
    assert len(issued) == 2 and issued[0] != issued[1]
    assert posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"]
    shown.extend(record.getMessage() for record in caplog.records)
    assert any("retrying" in text for text in shown)
    for text in shown:
        assert not any(token in text for token in issued)
