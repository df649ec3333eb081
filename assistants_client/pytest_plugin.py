"""pytest fixtures for testing code that talks to the Assistants API, offline.

Registered as the ``assistants_client`` pytest plugin (installed with the package):

* ``assistants_emulator``: a running ``Emulator`` with fresh state for each test; script its
  replies (``assistants_emulator.script.queue_text(...)``), inject faults and inspect
  ``assistants_emulator.requests``;
* ``assistants_client``: an ``AssistantsClient`` pointed at that emulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistants_client._client import AssistantsClient
from assistants_client.emulator import Emulator

__all__ = ["assistants_client", "assistants_emulator"]

EMULATOR_API_KEY = "sk-emulator-test"


@pytest.fixture
def assistants_emulator() -> Iterator[Emulator]:
    """A running emulator on a free loopback port, with fresh state for each test."""
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def assistants_client(assistants_emulator: Emulator) -> Iterator[AssistantsClient]:
    """An ``AssistantsClient`` pointed at ``assistants_emulator``."""
    with AssistantsClient(EMULATOR_API_KEY, base_url=assistants_emulator.base_url) as client:
        yield client
