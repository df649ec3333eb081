"""Fixtures for the whole suite."""

from __future__ import annotations

import pytest

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
