"""Throwaway PostgreSQL servers for tests that need a real database.

`ensure_postgres_installed()` installs Debian's server packages when they are missing;
`PostgresServer` runs initdb in a fresh run directory and starts a server on a free loopback
port; `postgres_server_fixture()` wraps both in a pytest fixture for a conftest:

    from tests.support.postgres import install_when_requested, postgres_server_fixture

    postgres_server = postgres_server_fixture()

    def pytest_collection_modifyitems(items):
        install_when_requested(items)  # an apt install must not count against a test's timeout

Choices:
- The server runs as the current user, or as Debian's `postgres` system user when the tests run
  as root (initdb and postgres refuse root); the run directory is handed over to that user.
- Only TCP on 127.0.0.1 with `trust` authentication: no password exists, so none can leak into a
  log line, and no Unix socket path (length limits, permissions) is involved.
- Durability is switched off (no fsync): the data is thrown away with the run directory.
- One server per pytest process. Under pytest-xdist every worker is its own process with its own
  session fixtures, so every worker gets its own server (about a second to start) instead of
  sharing one: nothing has to count which workers still use a shared server, and a crashing
  worker takes no one else's database with it. Inside one server, `create_database()` gives each
  test or module a database of its own.
- The package's own cluster (`main` on port 5432) is left alone: these servers never use port
  5432 or its data directory, so it makes no difference whether the package started it.
- Clean-up happens in the fixture finalizer and, for Ctrl-C or an error escaping pytest, at
  interpreter exit. The server runs under `setpriv --pdeathsig` so it stops itself when the test
  process dies without cleaning up (SIGKILL), and the next run removes the run directories that
  such runs left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Literal

import pytest

from tests.support import system
from tests.support.system import (
    InstallError,
    create_run_dir,
    ensure_packages,
    reap_leftovers,
    terminate,
)

logger = logging.getLogger(__name__)

PACKAGES = ("postgresql",)
BIN_DIRS_GLOB = "/usr/lib/postgresql/*/bin"
REQUIRED_PROGRAMS = ("initdb", "postgres", "createdb", "dropdb")
SERVER_USER_WHEN_ROOT = "postgres"
SUPERUSER = "tests"
RUN_DIR_PREFIX = "assistants-client-pg-"
FIXTURE_NAME = "postgres_server"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
COMMAND_TIMEOUT_SECONDS = 60.0
PORT_ATTEMPTS = 5
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
PORT_IN_USE_MARKERS = ("could not bind", "Address already in use")
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "log_min_messages": "warning",
}

FixtureScope = Literal["session", "package", "module", "class", "function"]


class PostgresError(RuntimeError):
    """The throwaway PostgreSQL server could not be set up or used."""


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's program directory, if there is one."""

    def major_version(bin_dir: Path) -> int:
        version = bin_dir.parent.name
        return int(version) if version.isdigit() else 0

    candidates = sorted(Path("/").glob(BIN_DIRS_GLOB.lstrip("/")), key=major_version)
    for bin_dir in reversed(candidates):
        if all(os.access(bin_dir / program, os.X_OK) for program in REQUIRED_PROGRAMS):
            return bin_dir
    return None


def ensure_postgres_installed() -> Path:
    """The server's program directory, installing Debian's `postgresql` first when needed."""
    ensure_packages(PACKAGES, lambda: find_bin_dir() is not None, "PostgreSQL tests")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise InstallError(f"PostgreSQL server programs not found in {BIN_DIRS_GLOB}")
    return bin_dir


def install_when_requested(items: Iterable[pytest.Item], fixture_name: str = FIXTURE_NAME) -> None:
    """Install during collection, outside any test's timeout, if a collected test uses the fixture."""
    system.install_when_requested(items, fixture_name, ensure_postgres_installed)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_account() -> pwd.struct_passwd | None:
    """The account to run the server as: None means the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER_WHEN_ROOT)
    except KeyError:
        raise PostgresError(
            f"running as root, and there is no {SERVER_USER_WHEN_ROOT!r} user to run PostgreSQL "
            "as (the Debian package creates it)"
        ) from None


class PostgresServer:
    """A PostgreSQL server in its own run directory, listening on a free loopback port.

    Start it from the main thread: the server is told to stop when the thread that started it
    ends, so that it cannot outlive a test process that was killed.
    """

    def __init__(self, bin_dir: Path | None = None) -> None:
        self._bin_dir = bin_dir
        self._account = _server_account()
        self._run_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._database_counter = itertools.count(1)

    @property
    def port(self) -> int:
        if self._port is None:
            raise PostgresError("the server is not running")
        return self._port

    @property
    def run_dir(self) -> Path:
        """The directory holding the data directory and the server log."""
        if self._run_dir is None:
            raise PostgresError("the server is not running")
        return self._run_dir

    @property
    def user(self) -> str:
        return SUPERUSER

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection URI for `dbname` on this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def __repr__(self) -> str:
        return f"PostgresServer(port={self._port}, run_dir={self._run_dir})"

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._process is not None:
            raise PostgresError("the server is already running")
        reap_leftovers(RUN_DIR_PREFIX, signal.SIGQUIT)
        if self._bin_dir is None:
            self._bin_dir = ensure_postgres_installed()
        started = time.monotonic()
        atexit.register(self.stop)
        try:
            self._run_dir = create_run_dir(RUN_DIR_PREFIX)
            if self._account is not None:
                os.chown(self._run_dir, self._account.pw_uid, self._account.pw_gid)
            self._initdb()
            initialised = time.monotonic()
            self._start_on_free_port()
        except BaseException:
            # Includes KeyboardInterrupt while waiting: no half-started server may survive.
            self.stop()
            raise
        logger.info(
            "PostgreSQL ready on 127.0.0.1:%d in %.2f s (initdb %.2f s, start %.2f s), run dir %s",
            self.port,
            time.monotonic() - started,
            initialised - started,
            time.monotonic() - initialised,
            self._run_dir,
        )

    def stop(self) -> None:
        """Stop the server and remove its run directory; safe to call more than once."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # SIGINT is PostgreSQL's fast shutdown: it disconnects clients instead of waiting.
            terminate([process.pid], signal.SIGINT, STOP_TIMEOUT_SECONDS)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            logger.info("PostgreSQL on port %s stopped", self._port)
        self._port = None
        run_dir, self._run_dir = self._run_dir, None
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)

    def create_database(self, name: str | None = None) -> str:
        """Create a database (a generated unique name when `name` is None) and return its name."""
        if name is None:
            name = f"test_{os.getpid()}_{next(self._database_counter)}"
        self._check_database_name(name)
        # FILE_COPY skips WAL-logging the template's pages: faster, and durability is off anyway.
        self._run_client("createdb", "--strategy=FILE_COPY", name)
        logger.info("created database %s on port %d", name, self.port)
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        self._check_database_name(name)
        self._run_client("dropdb", "--force", "--if-exists", name)
        logger.info("dropped database %s on port %d", name, self.port)

    @staticmethod
    def _check_database_name(name: str) -> None:
        # Plain names only, so the names never need quoting in SQL written by tests.
        if not DATABASE_NAME.fullmatch(name):
            raise PostgresError(f"database name {name!r} must match {DATABASE_NAME.pattern}")

    def _program(self, name: str) -> str:
        assert self._bin_dir is not None
        return str(self._bin_dir / name)

    def _environment(self) -> dict[str, str]:
        # PG* variables of the caller (PGHOST, PGDATA, PGPASSWORD...) must not steer these
        # programs anywhere else.
        environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        environment.update(LC_ALL="C", LANG="C", PGCONNECT_TIMEOUT="10")
        return environment

    @property
    def _uid(self) -> int | None:
        return None if self._account is None else self._account.pw_uid

    @property
    def _gid(self) -> int | None:
        return None if self._account is None else self._account.pw_gid

    @property
    def _extra_groups(self) -> list[int] | None:
        # Root's supplementary groups must not travel along to the server account.
        return None if self._account is None else []

    def _initdb(self) -> None:
        assert self._run_dir is not None
        command = [
            self._program("initdb"),
            f"--pgdata={self._run_dir / 'data'}",
            f"--username={SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        logger.info("running %s", " ".join(command))
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                cwd=self._run_dir,
                env=self._environment(),
                timeout=COMMAND_TIMEOUT_SECONDS,
                check=False,
                user=self._uid,
                group=self._gid,
                extra_groups=self._extra_groups,
            )
        except subprocess.TimeoutExpired as error:
            raise PostgresError(f"initdb did not finish in {COMMAND_TIMEOUT_SECONDS} s") from error
        if result.returncode != 0:
            raise PostgresError(f"initdb failed ({result.returncode}):\n{result.stderr}")

    def _start_on_free_port(self) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = _free_port()
            if self._start_postgres(port):
                self._port = port
                return
            logger.warning(
                "port %d was taken before PostgreSQL bound it (attempt %d)", port, attempt
            )
        raise PostgresError(f"no free port found for PostgreSQL after {PORT_ATTEMPTS} attempts")

    def _start_postgres(self, port: int) -> bool:
        """Start the server on `port`: False if the port turned out to be taken."""
        assert self._run_dir is not None
        data_dir = self._run_dir / "data"
        log_path = self._run_dir / f"postgres-{port}.log"
        command = [self._program("postgres"), "-D", str(data_dir), "-c", f"port={port}"]
        for setting, value in SERVER_SETTINGS.items():
            command += ["-c", f"{setting}={value}"]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            command = [setpriv, "--pdeathsig=INT", *command]
        logger.info("running %s", " ".join(command))
        with log_path.open("wb") as log:
            self._process = self._spawn(command, log)
        ready = self._wait_until_ready(data_dir, port)
        if ready:
            return True
        log_text = log_path.read_text(errors="replace")
        process, self._process = self._process, None
        if process.poll() is None:
            terminate([process.pid], signal.SIGQUIT, STOP_TIMEOUT_SECONDS)
        process.wait(timeout=5)
        if any(marker in log_text for marker in PORT_IN_USE_MARKERS):
            return False
        raise PostgresError(f"PostgreSQL did not start on port {port}; its log:\n{log_text}")

    def _spawn(self, command: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
        assert self._run_dir is not None
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._run_dir,
            env=self._environment(),
            # Its own session: Ctrl-C in the terminal reaches pytest, which then stops the
            # server in order, instead of the server vanishing under running teardowns.
            start_new_session=True,
            user=self._uid,
            group=self._gid,
            extra_groups=self._extra_groups,
        )

    def _wait_until_ready(self, data_dir: Path, port: int) -> bool:
        """Whether the server came up; False when it exited (the caller reads its log)."""
        assert self._process is not None
        pid_file = data_dir / "postmaster.pid"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                # Line 4 is the port, the last line the status the postmaster reports.
                if len(lines) >= 8 and lines[3] == str(port) and lines[7].strip() == "ready":
                    return True
            time.sleep(0.01)
        raise PostgresError(f"PostgreSQL did not become ready within {START_TIMEOUT_SECONDS} s")

    def _run_client(self, program: str, *arguments: str) -> None:
        command = [
            self._program(program),
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--username={SUPERUSER}",
            "--no-password",
            *arguments,
        ]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                env=self._environment(),
                timeout=COMMAND_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise PostgresError(
                f"{program} did not finish in {COMMAND_TIMEOUT_SECONDS} s"
            ) from error
        if result.returncode != 0:
            raise PostgresError(f"{' '.join(command)} failed:\n{result.stderr}")


def postgres_server_fixture(
    *, name: str = FIXTURE_NAME, scope: FixtureScope = "session"
) -> Callable[[], Iterator[PostgresServer]]:
    """A pytest fixture (assign it to a name in a conftest) yielding a running PostgresServer."""

    @pytest.fixture(scope=scope, name=name)
    def postgres_server() -> Iterator[PostgresServer]:
        with PostgresServer(ensure_postgres_installed()) as server:
            yield server

    return postgres_server
