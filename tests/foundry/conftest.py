"""Fixtures for the Foundry client tests: a scripted loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.scripted import ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as scripted:
        yield scripted


def project_endpoint(server: ScriptedServer, project: str = "trips") -> str:
    return f"{server.url}/api/projects/{project}"
