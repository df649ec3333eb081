"""The emulator's Foundry mode: Azure AI Foundry's Agent Service (classic agents), over HTTP.

Paths under ``/api/projects/<project>``, a required ``api-version`` among Foundry's, a bearer
token and nothing else, lists without ``object`` and ``first_id``, and Foundry's own tool
types kept as given (which the default mode refuses, as api.openai.com does).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from assistants_client.emulator import FOUNDRY_API_VERSIONS, Emulator
from assistants_client.server.objects import FOUNDRY_TOOL_TYPES

from .conftest import Api
from .spec_tools import assert_response_valid, assert_valid, schemas_by_kind

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi-FOUNDRY-TOKEN-SECRET"
PROJECT = "trips"

AZURE_AI_SEARCH_TOOL = {"type": "azure_ai_search"}
BING_TOOL = {
    "type": "bing_grounding",
    "bing_grounding": {
        "search_configurations": [
            {"connection_id": "/subscriptions/s/connections/bing", "market": "en-US", "count": 5}
        ]
    },
}
MCP_TOOL = {
    "type": "mcp",
    "server_label": "github",
    "server_url": "https://api.githubcopilot.com/mcp/",
    "allowed_tools": ["search_issues"],
}
CONNECTED_AGENT_TOOL = {
    "type": "connected_agent",
    "connected_agent": {"id": "asst_1", "name": "stock_lookup", "description": "Stock levels"},
}
FOUNDRY_RESOURCES = {
    "azure_ai_search": {
        "indexes": [
            {
                "index_connection_id": "/subscriptions/s/connections/search",
                "index_name": "handbook",
                "query_type": "vector_semantic_hybrid",
                "top_k": 5,
                "filter": "",
            }
        ]
    },
    "mcp": [{"server_label": "github", "headers": {}, "require_approval": "never"}],
}


def without_foundry_tools(value: Any) -> Any:
    """``value`` with Foundry's tools and resources left out: the OpenAI spec knows neither,
    so the spec checks the rest and the tests check those themselves."""
    if isinstance(value, list):
        return [
            without_foundry_tools(item)
            for item in value
            if not (isinstance(item, dict) and item.get("type") in FOUNDRY_TOOL_TYPES)
        ]
    if isinstance(value, dict):
        return {
            key: without_foundry_tools(item)
            for key, item in value.items()
            if key not in FOUNDRY_TOOL_TYPES
        }
    return value


class FoundryApi(Api):
    """Raw calls to a Foundry-mode emulator: the token and ``api-version=v1`` on every call."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__(emulator)
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"
        self.session.params = {"api-version": "v1"}  # type: ignore[assignment]

    def call(self, method: str, path: str, operation: str | None = None, **kwargs: Any) -> Any:
        body = super().call(method, path, None, **kwargs)
        if operation is not None and kwargs.get("expect", 200) == 200:
            checked = without_foundry_tools(body)
            if "data" in checked:
                # Foundry's lists are its spec's, not OpenAI's (no object, no first_id); what
                # they hold has every field the OpenAI spec requires.
                assert_response_valid(operation, checked, served=False)
                for item in checked["data"]:
                    assert_valid(schemas_by_kind()[item["object"]], item)
            else:
                assert_response_valid(operation, checked)
        return body


@pytest.fixture
def foundry() -> Iterator[FoundryApi]:
    with Emulator(foundry=PROJECT, api_key=TOKEN) as emulator:
        api = FoundryApi(emulator)
        yield api
        api.session.close()


def test_foundry_mode_serves_under_the_project_path(foundry: FoundryApi) -> None:
    assert foundry.emulator.base_url == f"{foundry.emulator.url}/api/projects/{PROJECT}"
    thread = foundry.thread("hello")
    assert thread["id"].startswith("thread_")
    elsewhere = requests.get(
        f"{foundry.emulator.url}/v1/assistants",
        params={"api-version": "v1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert elsewhere.status_code == 404
    other_project = requests.get(
        f"{foundry.emulator.url}/api/projects/other/assistants",
        params={"api-version": "v1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert other_project.status_code == 404


@pytest.mark.parametrize("version", FOUNDRY_API_VERSIONS)
def test_every_foundry_api_version_is_accepted(foundry: FoundryApi, version: str) -> None:
    answer = foundry.session.get(
        foundry.base + "/assistants", params={"api-version": version}, timeout=5
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("params", [{}, {"api-version": ""}, {"api-version": "2024-05-01-preview"}])
def test_a_missing_or_unknown_api_version_is_a_400_naming_it(
    foundry: FoundryApi, params: dict[str, str]
) -> None:
    answer = requests.get(
        foundry.base + "/assistants",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == "api-version"
    assert "api-version" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-value"},
        {"Authorization": f"Basic {TOKEN}"},
        {"api-key": TOKEN},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong", "not-bearer", "api-key-header", "empty"],
)
def test_only_the_configured_bearer_token_is_accepted_and_never_echoed(
    foundry: FoundryApi, headers: dict[str, str]
) -> None:
    answer = requests.get(
        foundry.base + "/assistants", params={"api-version": "v1"}, headers=headers, timeout=5
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert TOKEN not in answer.text
    assert "wrong-token-value" not in answer.text


def test_foundry_lists_have_no_object_nor_first_id_and_last_id_only_when_not_empty(
    foundry: FoundryApi,
) -> None:
    empty = foundry.call("GET", "/assistants", "listAssistants")
    assert empty == {"data": [], "has_more": False}
    made = [foundry.assistant(name=f"a{index}")["id"] for index in range(3)]
    page = foundry.call("GET", "/assistants", "listAssistants", params={"limit": 2})
    assert list(page) == ["data", "last_id", "has_more"]
    assert [item["id"] for item in page["data"]] == made[::-1][:2]
    assert page["last_id"] == made[1] and page["has_more"] is True
    rest = foundry.call(
        "GET", "/assistants", "listAssistants", params={"limit": 2, "after": page["last_id"]}
    )
    assert [item["id"] for item in rest["data"]] == [made[0]]
    assert rest["has_more"] is False


def test_foundry_tools_and_resources_are_stored_and_returned_as_given(
    foundry: FoundryApi,
) -> None:
    tools = [AZURE_AI_SEARCH_TOOL, BING_TOOL, MCP_TOOL, CONNECTED_AGENT_TOOL]
    created = foundry.assistant(tools=tools, tool_resources=FOUNDRY_RESOURCES)
    assert created["tools"] == tools
    assert created["tool_resources"] == FOUNDRY_RESOURCES
    read = foundry.call("GET", f"/assistants/{created['id']}", "getAssistant")
    assert read["tools"] == tools and read["tool_resources"] == FOUNDRY_RESOURCES
    updated = foundry.call(
        "POST",
        f"/assistants/{created['id']}",
        "modifyAssistant",
        json_body={"tools": [MCP_TOOL]},
    )
    assert updated["tools"] == [MCP_TOOL]
    thread = foundry.thread("find it")
    run = foundry.run(thread["id"], created["id"], tools=[BING_TOOL, AZURE_AI_SEARCH_TOOL])
    assert run["tools"] == [BING_TOOL, AZURE_AI_SEARCH_TOOL]
    assert foundry.wait_run(thread["id"], run["id"])["status"] == "completed"
    both = foundry.call(
        "POST",
        "/threads/runs",
        "createThreadAndRun",
        json_body={
            "assistant_id": created["id"],
            "tools": [AZURE_AI_SEARCH_TOOL],
            "tool_resources": FOUNDRY_RESOURCES,
        },
    )
    assert both["tools"] == [AZURE_AI_SEARCH_TOOL]
    assert both["tool_resources"] == FOUNDRY_RESOURCES


def test_in_foundry_mode_a_bad_field_next_to_a_foundry_tool_is_still_named(
    foundry: FoundryApi,
) -> None:
    error = foundry.call(
        "POST",
        "/assistants",
        json_body={"model": "gpt-4o", "tools": [BING_TOOL, {"type": "function"}]},
        expect=400,
    )["error"]
    assert error["param"] == "body.tools[1].function"
    unknown = foundry.call(
        "POST",
        "/assistants",
        json_body={"model": "gpt-4o", "tool_resources": {"crystal_ball": {}}},
        expect=400,
    )["error"]
    assert unknown["param"] == "body.tool_resources.crystal_ball"


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4o", "tools": [AZURE_AI_SEARCH_TOOL]},
        {"model": "gpt-4o", "tools": [MCP_TOOL]},
        {
            "model": "gpt-4o",
            "tool_resources": {"azure_ai_search": FOUNDRY_RESOURCES["azure_ai_search"]},
        },
    ],
    ids=["azure_ai_search", "mcp", "azure_ai_search-resource"],
)
def test_the_default_mode_refuses_foundry_tools_as_openai_does(
    api: Api, body: dict[str, Any]
) -> None:
    error = api.call("POST", "/assistants", json_body=body, expect=400)["error"]
    assert error["param"].startswith(("body.tools[0]", "body.tool_resources.azure_ai_search"))
    assert api.call("GET", "/assistants", "listAssistants")["data"] == []


def test_the_default_mode_refuses_a_foundry_resource_on_a_thread(api: Api) -> None:
    error = api.call(
        "POST",
        "/threads",
        json_body={"tool_resources": {"mcp": FOUNDRY_RESOURCES["mcp"]}},
        expect=400,
    )["error"]
    assert error["param"] == "body.tool_resources.mcp"


def test_foundry_and_azure_modes_exclude_each_other_and_the_project_name_is_checked() -> None:
    with pytest.raises(ValueError, match="one of azure and foundry"):
        Emulator(azure=True, foundry=PROJECT)
    with pytest.raises(ValueError, match="project name"):
        Emulator(foundry="a/b")


def test_the_cli_serves_foundry_mode_with_a_token() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistants_client.emulator",
            "--port",
            "0",
            "--foundry",
            PROJECT,
            "--api-key",
            TOKEN,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.endswith(f"/api/projects/{PROJECT}")
        denied = requests.get(base_url + "/assistants", params={"api-version": "v1"}, timeout=5)
        assert denied.status_code == 401
        served = requests.get(
            base_url + "/assistants",
            params={"api-version": "v1"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        assert served.json() == {"data": [], "has_more": False}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_cli_refuses_azure_and_foundry_together() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "assistants_client.emulator", "--azure", "--foundry", PROJECT],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2
    assert "not allowed with argument" in finished.stderr
