"""Smoke tests of the test infrastructure: a real PostgreSQL server and a real headless Chromium."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import chromium, postgres
from tests.support.postgres import PostgresServer
from tests.support.system import processes_mentioning

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONNECT_TIMEOUT_SECONDS = 10
CHILD_TIMEOUT_SECONDS = 60.0
DOM_WAIT_SECONDS = 10.0

# Starts a server, reports where it is, then waits to be interrupted or killed.
SERVER_CHILD_SCRIPT = """
import time
from tests.support.postgres import PostgresServer

server = PostgresServer()
server.start()
print(server.port, server.run_dir, flush=True)
time.sleep(120)
"""


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_until_closed(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while accepts_connections(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


class ServerChild:
    """A separate Python process owning a PostgresServer, to be interrupted or killed."""

    def __init__(self, environment: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER_CHILD_SCRIPT],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=CHILD_TIMEOUT_SECONDS):
                self.process.kill()
                raise AssertionError("the child did not report its server in time")
        port_text, run_dir_text = self.process.stdout.readline().split()
        self.port = int(port_text)
        self.run_dir = Path(run_dir_text)

    def finish(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=CHILD_TIMEOUT_SECONDS)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    yield postgres_server.dsn(name)
    postgres_server.drop_database(name)


def test_a_table_written_through_psycopg_reads_back_its_rows(database: str) -> None:
    with psycopg.connect(database, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
        connection.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        connection.execute("INSERT INTO notes (body) VALUES (%s), (%s)", ("first", "second"))
        rows = connection.execute("SELECT id, body FROM notes ORDER BY id").fetchall()

    assert rows == [(1, "first"), (2, "second")]


def test_two_connections_see_each_others_rows_once_committed(database: str) -> None:
    with (
        psycopg.connect(database, connect_timeout=CONNECT_TIMEOUT_SECONDS) as writer,
        psycopg.connect(database, connect_timeout=CONNECT_TIMEOUT_SECONDS) as reader,
    ):
        writer.execute("CREATE TABLE events (source text NOT NULL)")
        writer.commit()
        writer.execute("INSERT INTO events VALUES ('writer')")
        before_commit = reader.execute("SELECT source FROM events").fetchall()
        reader.commit()
        writer.commit()
        reader.execute("INSERT INTO events VALUES ('reader')")
        reader.commit()
        seen_by_reader = reader.execute("SELECT source FROM events ORDER BY source").fetchall()
        seen_by_writer = writer.execute("SELECT source FROM events ORDER BY source").fetchall()

    assert before_commit == []
    assert seen_by_reader == seen_by_writer == [("reader",), ("writer",)]


def test_databases_created_on_one_server_are_separate(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    try:
        with psycopg.connect(
            postgres_server.dsn(first), connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as connection:
            connection.execute("CREATE TABLE only_in_first (id int)")
        with psycopg.connect(
            postgres_server.dsn(second), connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as connection:
            found = connection.execute("SELECT to_regclass('only_in_first')").fetchone()
    finally:
        postgres_server.drop_database(first)
        postgres_server.drop_database(second)

    assert first != second
    assert found == (None,)


def test_the_server_runs_as_an_unprivileged_user(database: str) -> None:
    with psycopg.connect(database, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
        backend = connection.execute("SELECT pg_backend_pid()").fetchone()
        assert backend is not None
        # Read while the connection, and so the backend process serving it, is still open.
        backend_uid = os.stat(f"/proc/{backend[0]}").st_uid

    assert backend_uid != 0


def test_the_server_moves_to_another_port_when_its_first_choice_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        taken_port = occupant.getsockname()[1]
        choices = iter([taken_port])
        real_free_port = postgres._free_port
        monkeypatch.setattr(postgres, "_free_port", lambda: next(choices, None) or real_free_port())

        with (
            PostgresServer() as server,
            psycopg.connect(server.dsn(), connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection,
        ):
            chosen_port = server.port
            answer = connection.execute("SELECT 1").fetchone()

    assert next(choices, None) is None, "the taken port was never offered"
    assert chosen_port != taken_port
    assert answer == (1,)


def test_stopping_the_server_closes_its_port_and_removes_its_run_directory() -> None:
    server = PostgresServer()
    server.start()
    port, run_dir = server.port, server.run_dir
    was_listening = accepts_connections(port)

    server.stop()

    assert was_listening
    assert not accepts_connections(port)
    assert not run_dir.exists()


def test_an_interrupted_test_process_still_stops_its_server() -> None:
    child = ServerChild()
    try:
        child.process.send_signal(signal.SIGINT)
        child.process.wait(timeout=CHILD_TIMEOUT_SECONDS)
    finally:
        child.finish()

    assert not accepts_connections(child.port)
    assert not child.run_dir.exists()


def test_the_server_stops_itself_when_its_test_process_is_killed() -> None:
    child = ServerChild()
    child.finish()

    assert wait_until_closed(child.port, timeout=CHILD_TIMEOUT_SECONDS)


def test_a_server_left_running_by_a_killed_run_is_removed_by_the_next_start() -> None:
    # Without setpriv on PATH nothing stops the server when its owner dies: a true leftover.
    child = ServerChild(dict(os.environ, PATH="/nonexistent"))
    child.finish()
    leftover_was_running = accepts_connections(child.port)

    with PostgresServer():
        pass

    assert leftover_was_running
    assert wait_until_closed(child.port, timeout=CHILD_TIMEOUT_SECONDS)
    assert not child.run_dir.exists()


class PageHandler(BaseHTTPRequestHandler):
    PAGE = b"""<!doctype html>
<title>smoke</title>
<p id="computed">waiting</p>
<p id="fetched">waiting</p>
<script>
document.getElementById("computed").textContent = ["Chromium", "ran", "this:", 6 * 7].join(" ");
fetch("/data.json")
  .then((response) => response.json())
  .then((data) => { document.getElementById("fetched").textContent = data.message; });
</script>
"""

    def do_GET(self) -> None:
        if self.path == "/":
            body, content_type = self.PAGE, "text/html; charset=utf-8"
        elif self.path == "/data.json":
            body = json.dumps({"message": "fetched over loopback"}).encode()
            content_type = "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_headless_chromium_reads_text_that_javascript_wrote_into_the_dom(
    browser: WebDriver, page_url: str
) -> None:
    browser.get(page_url)
    WebDriverWait(browser, DOM_WAIT_SECONDS).until(
        lambda driver: driver.find_element(By.ID, "fetched").text != "waiting"
    )

    assert browser.find_element(By.ID, "computed").text == "Chromium ran this: 42"
    assert browser.find_element(By.ID, "fetched").text == "fetched over loopback"


def test_closing_the_browser_ends_its_processes_and_removes_its_profile(page_url: str) -> None:
    with chromium.headless_chromium() as driver:
        driver.get(page_url)
        profile_dir = Path(driver.capabilities["chrome"]["userDataDir"])
        running_while_open = processes_mentioning(str(profile_dir))

    assert running_while_open
    assert processes_mentioning(str(profile_dir)) == []
    assert not profile_dir.exists()
