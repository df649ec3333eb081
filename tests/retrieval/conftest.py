"""Fixtures of the retrieval tests: one suite over every store.

``make_retrieval(embedder=..., **options)`` builds a :class:`Retrieval` over a fresh store of
the test's kind: memory, SQLite, PostgreSQL (Debian's, through ``tests/support/postgres.py``:
its vectors are searched in Python, the fallback), and PostgreSQL with pgvector (the
``pgserver`` wheel's, ``tests/support/pgvector.py``: HNSW). Each PostgreSQL case gets a
database of its own.

``citing_target``: ``assistants-server`` on the fake backend's citing model, or the emulator,
for end-to-end runs (``cited_runs.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistants_client.server.retrieval import Embedder, LocalEmbedder, Retrieval
from assistants_client.server.retrieval.sql import PostgresIndexStore
from assistants_client.server.store import Store
from assistants_client.server.stores import MemoryStore, PostgresStore, SqliteStore
from tests.compat.file_search_flow import citing_server
from tests.files.support import Target, emulator_target
from tests.support import pgvector, postgres

pgvector_server = pgvector.pgvector_server_fixture()

STORES = ["memory", "sqlite", "postgres", "pgvector"]
TIMEOUT = 10.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    postgres.install_when_requested(items, "store_kind")
    pgvector.install_when_requested(items, "store_kind")


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MakeRetrieval = Callable[..., Retrieval]


@pytest.fixture
def database_url(request: pytest.FixtureRequest, store_kind: str) -> Iterator[str | None]:
    """The URL of a fresh database for the PostgreSQL kinds (None for the others)."""
    if store_kind not in ("postgres", "pgvector"):
        yield None
        return
    server = request.getfixturevalue(
        "postgres_server" if store_kind == "postgres" else "pgvector_server"
    )
    name = server.create_database()
    yield server.dsn(name)
    server.drop_database(name)


@pytest.fixture
def open_main(store_kind: str, database_url: str | None, tmp_path: Path) -> Callable[[], Store]:
    """Opens the test's server store (a second call opens the same database again)."""
    memory = MemoryStore()

    def open_store() -> Store:
        if store_kind == "memory":
            return memory
        if store_kind == "sqlite":
            return SqliteStore(str(tmp_path / "state.db"))
        assert database_url is not None
        return PostgresStore(database_url, pool_size=4, timeout=TIMEOUT)

    return open_store


@pytest.fixture
def make_retrieval(store_kind: str, open_main: Callable[[], Store]) -> Iterator[MakeRetrieval]:
    made: list[tuple[Store, Retrieval]] = []

    def make(embedder: Embedder | None = None, **options: Any) -> Retrieval:
        main = open_main()
        if store_kind == "postgres":
            options.setdefault("pgvector", False)
        if store_kind == "pgvector":
            options.setdefault("pgvector", True)
        retrieval = Retrieval.over(main, embedder=embedder, **options)
        if store_kind == "pgvector":
            assert isinstance(retrieval.index, PostgresIndexStore) and retrieval.index.pgvector
        made.append((main, retrieval))
        return retrieval

    yield make
    for main, retrieval in made:
        retrieval.close()
        if store_kind != "memory":
            main.close()


@pytest.fixture
def retrieval(make_retrieval: MakeRetrieval) -> Retrieval:
    return make_retrieval(LocalEmbedder(64))


@pytest.fixture(params=["server", "emulator"])
def citing_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """``assistants-server`` on the fake backend's citing model (which serves embeddings of 64
    dimensions), or the emulator; every answer checked against the spec."""
    made = citing_server(tmp_path) if request.param == "server" else emulator_target()
    try:
        yield made
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()
