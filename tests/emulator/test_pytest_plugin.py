"""The pytest plugin's fixtures: a fresh, scriptable emulator and a client pointed at it."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from assistants_client.emulator import Emulator


def test_the_emulator_fixture_is_running_and_scriptable(assistants_emulator: Emulator) -> None:
    assistants_emulator.script.queue_text("scripted")
    response = requests.get(assistants_emulator.base_url + "/assistants", timeout=5)
    assert response.status_code == 200
    assert response.json()["data"] == []
    assert assistants_emulator.request_count == 1
    assert assistants_emulator.script.pending == 1


def test_each_test_gets_a_fresh_emulator_state(assistants_emulator: Emulator) -> None:
    assert assistants_emulator.request_count == 0
    assert assistants_emulator.store.children("assistant", project="") == []
    assert assistants_emulator.script.pending == 0


def test_the_plugin_is_registered_through_the_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("assistants_client")


def test_the_client_fixture_talks_to_the_emulator(
    assistants_client: Any, assistants_emulator: Emulator
) -> None:
    assert assistants_client.base_url.rstrip("/") == assistants_emulator.base_url
    thread = assistants_client.create_thread(metadata={"from": "fixture"})
    assert thread.id.startswith("thread_")
    assert assistants_emulator.request_count == 1
    assert assistants_emulator.requests[0].path.endswith("/threads")
