"""A throwaway PostgreSQL server with pgvector, from the `pgserver` wheel (a dev dependency).

Debian's PostgreSQL has no pgvector package, so the pgvector path of the retrieval index would
be tested only where an operator installed it. The PyPI wheel `pgserver` ships PostgreSQL 16
binaries with the `vector` extension (0.6.2, HNSW) inside the package (`pgserver/pginstall/`);
`PgvectorServer` starts them exactly as `PostgresServer` starts Debian's (initdb in a run
directory, a free loopback port, durability off, stopped with the test process). The wheel's
Python API is not used: only its binaries.

As root the server runs as Debian's `postgres` user, like the other one, so Debian's package
is installed first when missing (it creates that user).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from tests.support import system
from tests.support.postgres import FixtureScope, PostgresServer, ensure_postgres_installed
from tests.support.system import InstallError

FIXTURE_NAME = "pgvector_server"


def find_pgserver_bin() -> Path | None:
    """The program directory of the PostgreSQL that the `pgserver` wheel ships, if installed."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    return bin_dir if (bin_dir / "postgres").exists() else None


def ensure_pgvector_available() -> Path:
    """The `pgserver` program directory; Debian's PostgreSQL is installed first when running
    as root (its `postgres` account runs the server)."""
    bin_dir = find_pgserver_bin()
    if bin_dir is None:
        raise InstallError("the pgserver wheel is missing: pip install -e '.[dev]'")
    if os.geteuid() == 0:
        ensure_postgres_installed()
    return bin_dir


def install_when_requested(items: Iterable[pytest.Item], fixture_name: str = FIXTURE_NAME) -> None:
    system.install_when_requested(items, fixture_name, ensure_pgvector_available)


class PgvectorServer(PostgresServer):
    """A `PostgresServer` running pgserver's PostgreSQL 16 (with pgvector)."""

    def create_database(self, name: str | None = None) -> str:
        if name is None:
            name = f"test_{os.getpid()}_{next(self._database_counter)}"
        self._check_database_name(name)
        # PostgreSQL 16.2's createdb takes the strategy in lower case only.
        self._run_client("createdb", "--strategy=file_copy", name)
        return name


def pgvector_server_fixture(
    *, name: str = FIXTURE_NAME, scope: FixtureScope = "session"
) -> Callable[[], Iterator[PgvectorServer]]:
    """A pytest fixture yielding a running PostgreSQL server that has pgvector."""

    @pytest.fixture(scope=scope, name=name)
    def pgvector_server() -> Iterator[PgvectorServer]:
        with PgvectorServer(ensure_pgvector_available()) as server:
            yield server

    return pgvector_server
