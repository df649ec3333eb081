"""The server keeps PostgreSQL's ``synchronous_commit`` as the database has it: on.

A commit the server answered for is flushed to the log before the answer leaves, so a crash of
PostgreSQL's machine loses nothing a client was told succeeded. The throwaway server of the
tests runs with ``synchronous_commit = off`` for speed; the database here is set as a
production one is (``on``), and every session the server opens, after it has served requests,
streamed a run and written its idempotency keys, must still have it on.
"""

from __future__ import annotations

import psycopg
import requests

from assistants_client.server.stores.postgres import PostgresStore
from tests.server.support import BOUND, start_server
from tests.servers.fake_chat import FakeChatServer, text_answer
from tests.support.postgres import PostgresServer


def test_every_session_of_the_server_keeps_synchronous_commit_on(
    postgres_server: PostgresServer, backend: FakeChatServer
) -> None:
    name = postgres_server.create_database()
    try:
        with psycopg.connect(postgres_server.dsn(name), autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = on")
        server = start_server(backend.base_url, "--db", postgres_server.dsn(name))
        try:
            base = server.base_url
            backend.script(text_answer("Durable.", chunks=3))
            assistant = requests.post(
                f"{base}/assistants", json={"model": "gpt-4o"}, timeout=BOUND
            ).json()
            streamed = requests.post(
                f"{base}/threads/runs",
                json={
                    "assistant_id": assistant["id"],
                    "stream": True,
                    "thread": {"messages": [{"role": "user", "content": "Hi"}]},
                },
                headers={"Idempotency-Key": "durable-1"},
                timeout=BOUND,
            )
            assert streamed.status_code == 200 and "thread.run.completed" in streamed.text

            store = server.engine.store
            assert isinstance(store, PostgresStore)
            with store.transaction():
                (inside,) = store._execute(
                    store._local.handle, "SHOW synchronous_commit"
                ).fetchone()
            sessions = list(store._pool._idle)
            settings = [conn.execute("SHOW synchronous_commit").fetchone()[0] for conn in sessions]
            for conn in sessions:
                conn.rollback()
        finally:
            server.stop()
    finally:
        postgres_server.drop_database(name)

    assert inside == "on"
    assert sessions and settings == ["on"] * len(sessions)
