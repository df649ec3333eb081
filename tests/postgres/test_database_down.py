"""The database goes away under a running server, and comes back.

The server reaches PostgreSQL through a TCP relay the test controls (``tcp_proxy.py``). A
request caught mid-statement when the database goes away, and every request while it is away,
is answered at once with a retryable 503 (``Retry-After``, error code ``database_unavailable``),
never left hanging; the client's retry succeeds once the database is back, and the operation
happens once. A database that stops answering without closing anything costs a request the
store's timeout (plus a second), then the same 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from assistants_client import AssistantsClient, InternalServerError
from tests.postgres.support import ServerProcess, start_server_process
from tests.postgres.tcp_proxy import TcpProxy
from tests.server.support import BACKEND_KEY, BOUND, server_environ, wait_until
from tests.servers.fake_chat import FakeChatServer
from tests.support.postgres import SUPERUSER, PostgresServer

DB_TIMEOUT = 2.0


@pytest.fixture
def proxy(postgres_server: PostgresServer) -> Iterator[TcpProxy]:
    with TcpProxy(postgres_server.port) as relay:
        yield relay


@pytest.fixture
def server(
    database: str, proxy: TcpProxy, backend: FakeChatServer, tmp_path: Path
) -> Iterator[ServerProcess]:
    name = database.rsplit("/", 1)[1]
    through_proxy = f"postgresql://{SUPERUSER}@127.0.0.1:{proxy.port}/{name}"
    process = start_server_process(
        tmp_path / "server.log",
        "--backend-url",
        backend.base_url,
        "--port",
        "0",
        "--db",
        through_proxy,
        "--db-timeout",
        str(DB_TIMEOUT),
        environ=server_environ(ASSISTANTS_BACKEND_API_KEY=BACKEND_KEY),
    )
    yield process
    process.stop()


def unavailable_answers(server: ServerProcess) -> int:
    return server.log().count("answered 503")


def assert_retryable_503(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert error["code"] == "database_unavailable"
    assert response.headers["x-request-id"]


def test_a_request_caught_mid_statement_gets_a_retryable_503_and_the_server_recovers(
    server: ServerProcess, proxy: TcpProxy, database: str
) -> None:
    with AssistantsClient(base_url=server.base_url, timeout=BOUND, max_retries=0) as client:
        thread_id = client.create_thread().id
    with (
        psycopg.connect(database, autocommit=False) as holder,
        psycopg.connect(database, autocommit=True) as watcher,
    ):
        # Hold the thread's row: the server's create_message waits on it, mid-statement.
        holder.execute(
            "SELECT 1 FROM assistants_objects WHERE kind = 'thread' AND id = %s FOR UPDATE",
            (thread_id,),
        )
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(
                requests.post,
                f"{server.base_url}/threads/{thread_id}/messages",
                json={"role": "user", "content": "caught"},
                timeout=BOUND * 2,
            )

            def server_waits_on_the_lock() -> bool:
                found = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'assistants-server' AND wait_event_type = 'Lock'"
                ).fetchone()
                return found is not None and found[0] > 0

            wait_until(server_waits_on_the_lock, what="the request waiting on the row lock")
            proxy.go_away()
            assert_retryable_503(waiting.result(BOUND * 2))
        holder.rollback()

    # While the database is away, every request is answered 503 at once.
    assert_retryable_503(requests.get(f"{server.base_url}/threads/{thread_id}", timeout=BOUND))
    with (
        AssistantsClient(base_url=server.base_url, timeout=BOUND, max_retries=0) as client,
        pytest.raises(InternalServerError) as caught,
    ):
        client.create_message(thread_id, "user", "refused")
    assert caught.value.status_code == 503

    # A client that retries gets through once the database is back, and acts once.
    answered_before = unavailable_answers(server)
    with AssistantsClient(base_url=server.base_url, timeout=BOUND, max_retries=5) as retrying:
        with ThreadPoolExecutor(1) as pool:
            created = pool.submit(retrying.create_message, thread_id, "user", "retried")
            wait_until(
                lambda: unavailable_answers(server) > answered_before, what="a 503 to the client"
            )
            proxy.come_back()
            message = created.result(BOUND * 2)
        texts = [m.content[0].text.value for m in retrying.list_messages(thread_id)]
    assert texts == ["retried"]
    assert message.content[0].text.value == "retried"


def test_a_database_that_stops_answering_costs_a_request_its_timeout_not_a_hang(
    server: ServerProcess, proxy: TcpProxy
) -> None:
    with AssistantsClient(base_url=server.base_url, timeout=BOUND, max_retries=0) as client:
        thread_id = client.create_thread().id
        proxy.go_quiet()
        # The connection stays open and silent: only the store's own watchdog ends the wait.
        assert_retryable_503(
            requests.get(f"{server.base_url}/threads/{thread_id}", timeout=DB_TIMEOUT * 4)
        )
        proxy.come_back()
    with AssistantsClient(base_url=server.base_url, timeout=BOUND, max_retries=3) as retrying:
        # The cut connections are dropped; new ones are made.
        assert retrying.get_thread(thread_id).id == thread_id
