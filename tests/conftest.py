"""Fixtures for the whole suite."""

from __future__ import annotations

import pytest

from tests.support import postgres

# One throwaway PostgreSQL server for the whole session, started on first use (the store suite
# in tests/server, the several-process tests in tests/postgres, the smoke tests of
# tests/support); each user creates its own databases in it.
postgres_server = postgres.postgres_server_fixture()

CLIENT_ENVIRONMENT = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_VERSION",
    "AZURE_AI_PROJECT_ENDPOINT",
    "AZURE_AI_AGENTS_API_VERSION",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client reads these; a developer's own settings must not leak into a test."""
    for name in CLIENT_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
