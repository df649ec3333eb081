"""Fixtures for the smoke tests of the test infrastructure, wired the way suites should wire them."""

from __future__ import annotations

import pytest

from tests.support import chromium, postgres

browser = chromium.browser_fixture()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    postgres.install_when_requested(items)
    chromium.install_when_requested(items)
