"""Fixtures for the compatibility suite: the official SDKs against the emulator over loopback.

One emulator serves the whole directory (starting one per test would dominate the run time);
every test starts from an empty emulator, so no test sees another's objects or scripted replies.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from assistants_client.emulator import Emulator

# Bounds every request of the SDK, so a stream the server never finishes fails the test quickly.
SDK_TIMEOUT_SECONDS = 10.0


@pytest.fixture(scope="session")
def compat_emulator() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def emulator(compat_emulator: Emulator) -> Emulator:
    compat_emulator.reset()
    return compat_emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[openai.OpenAI]:
    sdk = openai.OpenAI(
        base_url=emulator.base_url,
        api_key="sk-test",
        max_retries=0,
        timeout=SDK_TIMEOUT_SECONDS,
    )
    with sdk:
        yield sdk
