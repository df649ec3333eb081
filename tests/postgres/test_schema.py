"""The schema on PostgreSQL: created by the first server to start, refused when newer.

(The upgrade of an older layout is tested on SQLite, whose first layout predates versions:
``tests/server/test_store.py``.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg

from assistants_client.server.store import SCHEMA_VERSION
from tests.postgres.support import start_cluster
from tests.server.support import BOUND, ROOT, server_command, server_environ
from tests.servers.fake_chat import FakeChatServer


def test_servers_starting_together_on_an_empty_database_create_one_schema(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    with start_cluster(3, database, backend.base_url, tmp_path) as servers:
        assert all(server.process.poll() is None for server in servers)
    with psycopg.connect(database) as connection:
        versions = connection.execute("SELECT version FROM assistants_schema").fetchall()
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'assistants_%' ORDER BY 1"
        ).fetchall()
    assert versions == [(SCHEMA_VERSION,)]
    assert tables == [
        ("assistants_idempotency_keys",),
        ("assistants_objects",),
        ("assistants_schema",),
    ]


def test_a_server_refuses_the_schema_of_a_newer_server_and_says_why(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    with start_cluster(1, database, backend.base_url, tmp_path):
        pass
    with psycopg.connect(database) as connection:
        connection.execute("UPDATE assistants_schema SET version = %s", (SCHEMA_VERSION + 1,))
    finished = subprocess.run(
        server_command("--backend-url", backend.base_url, "--port", "0", "--db", database),
        cwd=ROOT,
        env=server_environ(),
        capture_output=True,
        text=True,
        timeout=BOUND * 3,
        check=False,
    )
    assert finished.returncode == 2
    assert f"schema version {SCHEMA_VERSION + 1}" in finished.stderr
    assert "newer server" in finished.stderr
    assert finished.stdout == ""
    with psycopg.connect(database) as connection:
        # Refused without a change.
        versions = connection.execute("SELECT version FROM assistants_schema").fetchall()
    assert versions == [(SCHEMA_VERSION + 1,)]
