"""``ASSISTANTS_CLIENT`` and ``get_client()``: one client per process, from one setting."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from assistants_client import AssistantsClient
from assistants_client.django import client_from_settings, close_client, get_client
from assistants_client.emulator import Emulator
from tests.django.conftest import API_KEY, EXAMPLE, ROOT


def foundry_token() -> str:
    """A token provider named by its dotted path in a setting."""
    return "foundry-token-from-settings"


def test_every_thread_gets_the_same_client_built_once(emulator: Emulator) -> None:
    close_client()
    barrier = threading.Barrier(32)

    def first_use(_: int) -> AssistantsClient:
        barrier.wait()
        return get_client()

    with ThreadPoolExecutor(max_workers=32) as pool:
        clients = list(pool.map(first_use, range(32)))

    assert len({id(client) for client in clients}) == 1
    assert clients[0].base_url == emulator.base_url
    assert clients[0].create_thread().id.startswith("thread_")


def test_a_changed_setting_gives_a_new_client(emulator: Emulator) -> None:
    before = get_client()
    with override_settings(ASSISTANTS_CLIENT={"base_url": "http://127.0.0.1:9/v1"}):
        during = get_client()
    after = get_client()

    assert during is not before
    assert during.base_url == "http://127.0.0.1:9/v1"
    assert after.base_url == emulator.base_url


def test_close_client_closes_it_and_the_next_call_builds_another(emulator: Emulator) -> None:
    first = get_client()
    first.create_thread()

    close_client()
    second = get_client()

    assert second is not first
    assert second.create_thread().id


def test_the_azure_form() -> None:
    client = client_from_settings(
        {
            "kind": "azure",
            "endpoint": "https://res.openai.azure.com",
            "api_version": "2024-05-01-preview",
            "api_key": "azure-key",
            "pool_maxsize": 16,
        }
    )

    assert client.base_url == "https://res.openai.azure.com/openai"
    assert repr(client) == (
        "AssistantsClient(base_url='https://res.openai.azure.com/openai', "
        "api_version='2024-05-01-preview')"
    )


def test_the_foundry_form_takes_a_token_provider_by_its_dotted_path() -> None:
    client = client_from_settings(
        {
            "kind": "foundry",
            "endpoint": "https://res.services.ai.azure.com/api/projects/demo",
            "token_provider": "tests.django.test_settings.foundry_token",
        }
    )

    assert client.base_url == "https://res.services.ai.azure.com/api/projects/demo"
    assert client._transport.config.auth.headers() == {
        "Authorization": "Bearer foundry-token-from-settings"
    }


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"base_url": "http://127.0.0.1:9/v1", "endpoint": "x"}, "'endpoint'"),
        ({"kind": "bedrock"}, "'kind'"),
        ({"base_url": "not a url"}, "['base_url']"),
        ({"base_url": "http://127.0.0.1:9/v1", "pool_maxsize": 0}, "['pool_maxsize']"),
        (
            {
                "kind": "foundry",
                "endpoint": "https://h/api/projects/p",
                "token_provider": "tests.django.nowhere.token",
            },
            "['token_provider']",
        ),
        ("http://127.0.0.1:9/v1", "must be a dict"),
    ],
)
def test_a_bad_setting_is_improperly_configured_naming_the_key(config: Any, named: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        client_from_settings(config)

    assert named in str(caught.value)
    assert "ASSISTANTS_CLIENT" in str(caught.value)


def test_without_the_setting_the_client_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")

    assert client_from_settings(None).base_url == "http://127.0.0.1:9/v1"


def test_the_client_is_closed_when_the_process_exits(emulator: Emulator) -> None:
    script = f"""
import sys
sys.path.insert(0, {str(EXAMPLE)!r})
import django
from django.conf import settings
settings.configure(ASSISTANTS_CLIENT={{"base_url": {emulator.base_url!r}, "api_key": {API_KEY!r}}})
django.setup()
from assistants_client import AssistantsClient
closing = AssistantsClient.close
def close(self):
    print("closed", self.base_url, flush=True)
    closing(self)
AssistantsClient.close = close
from assistants_client.django import get_client
print("thread", get_client().create_thread().id, flush=True)
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    lines = result.stdout.splitlines()
    assert lines[0].startswith("thread thread_")
    assert lines[1:] == [f"closed {emulator.base_url}"]
