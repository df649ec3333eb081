"""The schema on PostgreSQL: created by the first server to start, refused when newer, and
upgraded from the layout before projects, its objects and keys in the shared namespace.

(The upgrade of the first layout is tested on SQLite, whose first layout predates versions:
``tests/server/test_store.py``.)
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from assistants_client import AssistantsClient, NotFoundError
from assistants_client.server import objects
from assistants_client.server.store import SCHEMA_VERSION
from assistants_client.server.stores.postgres import DIALECT as POSTGRES_DIALECT
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


def test_a_database_of_the_servers_before_projects_is_upgraded_into_the_shared_namespace(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    thread = objects.thread({}, metadata={"made": "before projects"})
    message = objects.message(thread["id"], {"role": "user", "content": "Old"})
    kept = json.dumps(thread)
    with psycopg.connect(database) as connection:
        for statement in POSTGRES_DIALECT.migrations[2]:
            connection.execute(statement)
        connection.execute("CREATE TABLE assistants_schema (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO assistants_schema (version) VALUES (2)")
        for kind, obj_id, parent, data in (
            ("thread", thread["id"], "", thread),
            ("message", message["id"], thread["id"], message),
        ):
            connection.execute(
                "INSERT INTO assistants_objects (kind, id, parent, seq, data) "
                "VALUES (%s, %s, %s, nextval('assistants_seq'), %s)",
                (kind, obj_id, parent, json.dumps(data)),
            )
        connection.execute(
            "INSERT INTO assistants_idempotency_keys (key, status, headers, body) "
            "VALUES (%s, 200, %s, %s)",
            ("POST /v1/threads old-key", '{"Content-Type": "application/json"}', kept),
        )

    def post(server_url: str, key: str) -> Any:
        answer = requests.post(
            f"{server_url}/threads",
            json={},
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "old-key"},
            timeout=BOUND,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    with start_cluster(
        2, database, backend.base_url, tmp_path, client_keys="team-a:sk-a,sk-shared"
    ) as servers:
        for server in servers:
            with (
                AssistantsClient(base_url=server.base_url, api_key="sk-shared") as shared,
                AssistantsClient(base_url=server.base_url, api_key="sk-a") as team,
            ):
                assert shared.get_thread(thread["id"]).metadata == {"made": "before projects"}
                texts = [m.content[0].text.value for m in shared.list_messages(thread["id"])]
                assert texts == ["Old"]
                with pytest.raises(NotFoundError):
                    team.get_thread(thread["id"])
        assert post(servers[0].base_url, "sk-shared") == thread
        assert post(servers[1].base_url, "sk-a")["id"] != thread["id"]
    with psycopg.connect(database) as connection:
        versions = connection.execute("SELECT version FROM assistants_schema").fetchall()
    assert versions == [(SCHEMA_VERSION,)]
