"""Fixtures for the server's tests: a fake Chat Completions backend and the server in front of it.

The server is built exactly as ``assistants-server`` builds it (``parse_config`` then
``build_app``) and served on a loopback port by the built-in server of ``httpd.py``.
Tests that need the command itself or gunicorn start those as processes (see
``test_cli_and_config.py``, ``test_restart.py`` and ``test_gunicorn.py``). The suites that take
``store`` (``test_store.py``, ``test_projects.py``) run on each adapter, PostgreSQL on a
throwaway server (``tests/support/postgres.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from assistants_client import AssistantsClient
from assistants_client.server.store import Store
from assistants_client.server.stores import MemoryStore, PostgresStore, SqliteStore
from tests.server.support import BOUND, RunningServer, start_server
from tests.servers.fake_chat import FakeChatServer
from tests.support import postgres


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The store suites ask for the server only in their PostgreSQL cases, through `store`
    # (and the file_search runs through `database`).
    postgres.install_when_requested(items, "store")
    postgres.install_when_requested(items, "database")


STORES = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A new, empty store of each adapter (PostgreSQL: a database of its own)."""
    if request.param == "memory":
        made: Store = MemoryStore()
        yield made
        return
    if request.param == "sqlite":
        made = SqliteStore(str(tmp_path / "state.db"))
        yield made
        made.close()
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    made = PostgresStore(server.dsn(name), pool_size=4, timeout=BOUND)
    yield made
    made.close()
    server.drop_database(name)


@pytest.fixture
def backend() -> Iterator[FakeChatServer]:
    with FakeChatServer() as fake:
        yield fake


@pytest.fixture
def make_server(backend: FakeChatServer) -> Iterator[Callable[..., RunningServer]]:
    """``make_server(*flags, environ={...}, backend_url=...)``: a server, stopped at the end."""
    started: list[RunningServer] = []

    def make(
        *flags: str, environ: Mapping[str, str] | None = None, backend_url: str | None = None
    ) -> RunningServer:
        server = start_server(backend_url or backend.base_url, *flags, environ=environ)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    return make_server()


@pytest.fixture
def client(server: RunningServer) -> Iterator[AssistantsClient]:
    with server.client() as made:
        yield made
