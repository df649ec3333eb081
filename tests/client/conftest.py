from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistants_client import AssistantsClient, RetryPolicy
from tests.servers.scripted import ScriptedServer

API_KEY = "sk-test-0123456789abcdef-DO-NOT-LEAK"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as scripted:
        yield scripted


@pytest.fixture
def sleeps() -> list[float]:
    """The waits a client asked for between retries (it does not really sleep)."""
    return []


def make_client(server: ScriptedServer, sleeps: list[float], **kwargs: object) -> AssistantsClient:
    options: dict[str, object] = {
        "base_url": server.base_url,
        "timeout": 5.0,
        "retry_policy": RetryPolicy(sleep=sleeps.append, random=lambda: 0.0),
    }
    options.update(kwargs)
    return AssistantsClient(API_KEY, **options)  # type: ignore[arg-type]


@pytest.fixture
def client(server: ScriptedServer, sleeps: list[float]) -> Iterator[AssistantsClient]:
    with make_client(server, sleeps) as made:
        yield made
