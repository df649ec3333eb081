"""Fixtures of the async client's tests: the emulator over loopback.

Each test is a plain function that runs its scenario with ``tests.support.aio.run``
(``asyncio.run``, with a bound on a hang): no plugin decides which loop a test gets, and a test
can start several.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistants_client.emulator import Emulator
from tests.async_client.support import API_KEY


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
def base_url(emulator: Emulator) -> str:
    emulator.reset()
    return emulator.base_url
