"""Fixtures of the tests of several server processes on one PostgreSQL database.

A throwaway PostgreSQL server runs for the session (``tests/support/postgres.py``: installed
from Debian's packages when missing); each test gets a database of its own, so the tests are
independent, and safe to run in parallel processes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.fake_chat import FakeChatServer
from tests.support import postgres
from tests.support.postgres import PostgresServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    postgres.install_when_requested(items)


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database."""
    name = postgres_server.create_database()
    yield postgres_server.dsn(name)
    postgres_server.drop_database(name)


@pytest.fixture
def backend() -> Iterator[FakeChatServer]:
    with FakeChatServer() as fake:
        yield fake
