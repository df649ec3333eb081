"""Fixtures for the reliability suite: misbehaving servers and clients that never really sleep."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistants_client import AssistantsClient, RetryPolicy
from tests.servers.misbehaving import MisbehavingServer

API_KEY = "sk-SECRET-abc123def456ghi789jkl012-reliability"
"""Distinctive enough that finding it anywhere (a message, a log line) is a leak."""


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as misbehaving:
        yield misbehaving


@pytest.fixture
def elsewhere() -> Iterator[MisbehavingServer]:
    """A second server, addressed as ``localhost``: another origin than ``server``."""
    with MisbehavingServer(host="localhost") as other:
        yield other


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the client asked for between attempts (it does not really sleep)."""
    return []


def make_client(base_url: str, sleeps: list[float], **kwargs: object) -> AssistantsClient:
    # No jitter: waits are exactly 0.5 s, 1 s, ...
    policy = RetryPolicy(sleep=sleeps.append, random=lambda: 0.0)
    options: dict[str, object] = {"base_url": base_url, "timeout": 0.5, "retry_policy": policy}
    options.update(kwargs)
    return AssistantsClient(API_KEY, **options)  # type: ignore[arg-type]


@pytest.fixture
def client(server: MisbehavingServer, sleeps: list[float]) -> Iterator[AssistantsClient]:
    with make_client(server.base_url, sleeps) as made:
        yield made
