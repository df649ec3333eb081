"""Errors come in the API's shape: 404 for unknown ids, 400 naming the field, 401, Azure mode."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from assistants_client.emulator import Emulator

from .conftest import Api
from .spec_tools import assert_valid


def _error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid("ErrorResponse", body)
    assert response.headers["x-request-id"].startswith("req_")
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "path",
    [
        "/assistants/asst_missing",
        "/threads/thread_missing",
        "/threads/thread_missing/messages",
        "/threads/thread_missing/runs/run_missing",
    ],
)
def test_unknown_ids_are_answered_with_404_invalid_request_error(api: Api, path: str) -> None:
    error = _error(api.session.get(api.base + path), 404)
    assert error["type"] == "invalid_request_error"
    assert "missing" in error["message"]


def test_unknown_nested_ids_are_404_even_when_the_parent_exists(api: Api) -> None:
    thread = api.thread()
    error = _error(api.session.get(f"{api.base}/threads/{thread['id']}/messages/msg_nope"), 404)
    assert error["param"] == "message_id"


def test_running_an_unknown_assistant_is_a_404_naming_the_field(api: Api) -> None:
    thread = api.thread()
    response = api.session.post(
        f"{api.base}/threads/{thread['id']}/runs", json={"assistant_id": "asst_nope"}
    )
    assert _error(response, 404)["param"] == "body.assistant_id"


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({}, "body.model", "is required"),
        ({"model": 5}, "body.model", "expected"),
        ({"model": "gpt-4o", "tools": [{"type": "bogus"}]}, "body.tools[0].type", "bogus"),
        (
            {"model": "gpt-4o", "tools": [{"type": "function"}]},
            "body.tools[0].function",
            "is required",
        ),
        ({"model": "gpt-4o", "temperature": 3}, "body.temperature", "greater"),
        ({"model": "gpt-4o", "name": "x" * 300}, "body.name", "at most 256"),
        ({"model": "gpt-4o", "colour": "blue"}, "body.colour", "unknown field"),
        ({"model": "gpt-4o", "metadata": {"k": 1}}, "body.metadata.k", "expected string"),
        (
            {"model": "gpt-4o", "tools": [{"type": "code_interpreter"}] * 129},
            "body.tools",
            "at most",
        ),
    ],
)
def test_bodies_that_break_the_spec_are_400_with_the_field_path_as_param(
    api: Api, body: dict[str, Any], param: str, words: str
) -> None:
    error = _error(api.session.post(api.base + "/assistants", json=body), 400)
    assert error["param"] == param
    assert error["message"].startswith(param + ":")
    assert words in error["message"]


def test_nested_message_content_errors_name_the_deep_path(api: Api) -> None:
    response = api.session.post(
        api.base + "/threads",
        json={"messages": [{"role": "user", "content": [{"type": "text"}]}]},
    )
    assert _error(response, 400)["param"] == "body.messages[0].content[0].text"


def test_empty_message_content_arrays_are_rejected(api: Api) -> None:
    thread = api.thread()
    response = api.session.post(
        f"{api.base}/threads/{thread['id']}/messages", json={"role": "user", "content": []}
    )
    error = _error(response, 400)
    assert error["param"] == "body.content"
    assert "at least 1" in error["message"]


def test_more_than_sixteen_metadata_keys_are_rejected(api: Api) -> None:
    metadata = {f"k{index}": "v" for index in range(17)}
    response = api.session.post(api.base + "/threads", json={"metadata": metadata})
    assert _error(response, 400)["param"] == "body.metadata"


def test_a_required_api_key_rejects_missing_and_wrong_keys_with_401() -> None:
    with Emulator(api_key="sk-right") as emu:
        missing = requests.get(emu.base_url + "/assistants", timeout=5)
        assert _error(missing, 401)["code"] == "missing_api_key"
        wrong = requests.get(
            emu.base_url + "/assistants", headers={"Authorization": "Bearer sk-wrong"}, timeout=5
        )
        assert _error(wrong, 401)["code"] == "invalid_api_key"
        right = requests.get(
            emu.base_url + "/assistants", headers={"Authorization": "Bearer sk-right"}, timeout=5
        )
        assert right.status_code == 200


def test_without_a_configured_key_any_bearer_key_is_accepted(api: Api) -> None:
    response = api.session.get(
        api.base + "/assistants", headers={"Authorization": "Bearer anything"}
    )
    assert response.status_code == 200


def test_azure_mode_serves_under_openai_and_requires_api_version() -> None:
    with Emulator(azure=True, api_key="azure-key") as emu:
        assert emu.base_url.endswith("/openai")
        headers = {"api-key": "azure-key"}
        missing = requests.post(emu.base_url + "/threads", json={}, headers=headers, timeout=5)
        assert _error(missing, 400)["param"] == "api-version"
        params = {"api-version": "2024-05-01-preview"}
        made = requests.post(
            emu.base_url + "/threads", json={}, headers=headers, params=params, timeout=5
        )
        assert made.status_code == 200
        thread_id = made.json()["id"]
        bearer = requests.get(
            f"{emu.base_url}/threads/{thread_id}",
            headers={"Authorization": "Bearer azure-key"},
            params=params,
            timeout=5,
        )
        assert bearer.json()["id"] == thread_id
        wrong = requests.get(
            f"{emu.base_url}/threads/{thread_id}",
            headers={"api-key": "nope"},
            params=params,
            timeout=5,
        )
        assert _error(wrong, 401)["code"] == "invalid_api_key"
        v1 = requests.get(f"{emu.url}/v1/threads/{thread_id}", headers=headers, timeout=5)
        assert _error(v1, 404)["code"] == "unknown_url"
