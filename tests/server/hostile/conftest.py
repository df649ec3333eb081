"""Hostile clients against the built-in server and against gunicorn, over raw sockets.

Each serves the application in a process of its own, started as docs/server.md starts it:

    ASSISTANTS_SERVER_API_KEYS=... assistants-server --backend-url URL
    gunicorn -k gthread --threads 32 -b 127.0.0.1:PORT 'assistants_client.server:wsgi_app()'

A test that takes ``target`` runs against both. Where gunicorn does not hold a bullet itself
(its documentation puts it behind a buffering proxy), the test asserts what gunicorn really
does, so that a gunicorn release that closes the gap shows up here; ``docs/server-security.md``
keeps the table. ``echo`` is a tiny WSGI application (``echo.py``) served by both, for what the
API cannot show from outside: the WSGI environ, and pieces of an answer paced by the client.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistants_client.server.httpd import WSGIServer, raise_open_file_limit
from bench.common import first_answer, free_port, running
from tests.server.hostile import echo
from tests.server.support import BOUND, server_command, server_environ
from tests.servers.fake_chat import FakeChatServer

CLIENT_KEY = "sk-hostile-client-0123456789"
OURS = "assistants-server"
GUNICORN = "gunicorn"
# Enough open files for a thousand idle connections in this process and in the servers it
# starts (they inherit the limit).
OPEN_FILES = 4096


@dataclass
class Answer:
    """What a server sent on one connection, and how the connection ended."""

    data: bytes
    ending: str  # "closed" (FIN), "reset", or "open" (still open when the wait ended)

    @property
    def status(self) -> int:
        assert self.data.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), self.data[:200]
        return int(self.data.split(b" ", 2)[1])

    @property
    def head(self) -> str:
        return self.data.partition(b"\r\n\r\n")[0].decode("latin-1")

    @property
    def body(self) -> bytes:
        return self.data.partition(b"\r\n\r\n")[2]

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            field, _, value = line.partition(":")
            if field.lower() == name.lower():
                return value.strip()
        return None


@dataclass
class Target:
    """A server under attack: where it listens, which one it is, and its log."""

    kind: str
    port: int
    log: Path | None = None
    host: str = "127.0.0.1"
    pid: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def connect(self, timeout: float = BOUND) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def exchange(self, data: bytes, wait: float = BOUND) -> Answer:
        """Send ``data`` and read until the server closes, or ``wait`` seconds of silence."""
        with self.connect(wait) as sock:
            with contextlib.suppress(OSError):  # answered and closed while still sending
                sock.sendall(data)
            return read_answer(sock)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log is not None else ""


def read_answer(sock: socket.socket) -> Answer:
    """Everything the server sends until it closes the connection or the socket times out."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return Answer(data, "open")
    except ConnectionResetError:
        return Answer(data, "reset")
    return Answer(data, "closed")


def request(
    method: str = "GET",
    path: str = "/v1/assistants",
    *lines: str,
    body: bytes = b"",
    key: str | None = CLIENT_KEY,
    version: str = "HTTP/1.1",
) -> bytes:
    """A request with a Host and (unless ``key`` is None) the client key, then ``lines``."""
    head = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    if key is not None:
        head.append(f"Authorization: Bearer {key}")
    head += lines
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


@contextlib.contextmanager
def serving_ours(backend_url: str, tmp: Path, *flags: str) -> Iterator[Target]:
    """``assistants-server --backend-url URL FLAGS`` with client keys, its log in ``tmp``."""
    log = tmp / "assistants-server.log"
    env = server_environ(ASSISTANTS_SERVER_API_KEYS=CLIENT_KEY)
    argv = server_command("--backend-url", backend_url, "--port", "0", *flags)
    with (
        log.open("w") as sink,
        running(argv, env=env, stdout=subprocess.PIPE, stderr=sink, stop_within=BOUND) as proc,
    ):
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"assistants-server exited: {log.read_text()[-2000:]}"
        port = int(line.strip().rsplit(":", 1)[1].split("/")[0])
        yield Target(OURS, port, log, pid=proc.pid)


@contextlib.contextmanager
def serving_gunicorn(
    app: str, tmp: Path, *flags: str, backend_url: str = "", **environ: str
) -> Iterator[Target]:
    """``gunicorn -k gthread --threads 32 FLAGS APP`` on a free port, its log in ``tmp``;
    ``environ``: more settings, as environment variables."""
    port = free_port()
    log = tmp / f"gunicorn-{port}.log"
    env = server_environ(
        ASSISTANTS_BACKEND_URL=backend_url or "http://127.0.0.1:9/v1",
        ASSISTANTS_SERVER_API_KEYS=CLIENT_KEY,
        **environ,
    )
    argv = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "32"]
    argv += ["--bind", f"127.0.0.1:{port}", "--graceful-timeout", "2", *flags, app]
    with (
        log.open("w") as sink,
        running(argv, env=env, stdout=subprocess.DEVNULL, stderr=sink, stop_within=BOUND) as proc,
    ):
        first_answer(proc, f"http://127.0.0.1:{port}/", within=BOUND * 2)
        yield Target(GUNICORN, port, log)


@pytest.fixture(scope="package")
def open_files() -> int:
    return raise_open_file_limit(OPEN_FILES)


@pytest.fixture(scope="package")
def hostile_backend() -> Iterator[FakeChatServer]:
    with FakeChatServer() as fake:
        yield fake


@pytest.fixture(scope="package")
def ours(
    open_files: int, hostile_backend: FakeChatServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    with serving_ours(hostile_backend.base_url, tmp_path_factory.mktemp("ours")) as target:
        yield target


@pytest.fixture(scope="package")
def gunicorn(
    open_files: int, hostile_backend: FakeChatServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("gunicorn")
    app = "assistants_client.server:wsgi_app()"
    with serving_gunicorn(app, tmp, backend_url=hostile_backend.base_url) as target:
        yield target


@pytest.fixture(params=[OURS, GUNICORN])
def target(request: pytest.FixtureRequest) -> Target:
    """Each server in turn: the test runs against both."""
    return request.getfixturevalue("ours" if request.param == OURS else "gunicorn")


@pytest.fixture(scope="package")
def echo_ours() -> Iterator[Target]:
    server = WSGIServer(echo.app, "127.0.0.1", 0).start()
    try:
        yield Target(OURS, server.port)
    finally:
        server.stop()


@pytest.fixture(scope="package")
def echo_gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serving_gunicorn("tests.server.hostile.echo:app", tmp_path_factory.mktemp("echo")) as t:
        yield t


@pytest.fixture(params=[OURS, GUNICORN])
def echo_target(request: pytest.FixtureRequest) -> Target:
    """The echo application under each server in turn."""
    return request.getfixturevalue("echo_ours" if request.param == OURS else "echo_gunicorn")


class Gate:
    """Where the echo application's ``/pieces`` asks, before each piece, whether to go on."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(BOUND)
        self.port: int = self._listener.getsockname()[1]
        self._opened: list[socket.socket] = []

    def path(self, pieces: int) -> str:
        return f"/pieces/{pieces}?gate={self.port}"

    def wait(self) -> socket.socket:
        """The next request's gate: each byte sent on it lets one piece be made."""
        conn, _ = self._listener.accept()
        self._opened.append(conn)
        return conn

    def close(self) -> None:
        for conn in self._opened:
            conn.close()
        self._listener.close()


@pytest.fixture
def gate() -> Iterator[Gate]:
    made = Gate()
    yield made
    made.close()


def wait_for(condition: Callable[[], object], bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"not within {bound} s"
        time.sleep(0.01)
