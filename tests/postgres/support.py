"""Server processes on one database: started as ``assistants-server`` is, in parallel.

:func:`start_cluster` starts ``python -m assistants_client.server`` processes with the same
``--db`` and backend, each on a free port, and returns them once every one printed its base
URL; each keeps its log in a file (read by :meth:`ServerProcess.log` when a test needs it).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.server import support
from tests.server.support import (
    BACKEND_KEY,
    BOUND,
    ROOT,
    first_line,
    server_command,
    server_environ,
)

__all__ = ["ServerProcess", "start_cluster", "start_server_process"]


@dataclass
class ServerProcess(support.ServerProcess):
    """A server process whose log goes to ``log_path`` (its stderr is that file)."""

    log_path: Path

    @property
    def url(self) -> str:
        """The server root (its base URL without ``/v1``)."""
        return self.base_url.removesuffix("/v1")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """``kill -9``: the process gets no chance to clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(BOUND)


def start_server_process(
    log_path: Path, *args: str, environ: dict[str, str] | None = None
) -> ServerProcess:
    """``python -m assistants_client.server ARGS``, once it printed its base URL."""
    env = environ if environ is not None else server_environ()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            server_command(*args),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    line = first_line(process, BOUND * 3)
    if not line:
        process.kill()
        process.wait(BOUND)
        raise AssertionError(f"the server did not start: {log_path.read_text()[-2000:]}")
    return ServerProcess(process, line.strip(), log_path)


@contextmanager
def start_cluster(
    count: int,
    database: str,
    backend_url: str,
    log_dir: Path,
    *flags: str,
    client_keys: str | None = None,
) -> Iterator[list[ServerProcess]]:
    """``count`` server processes on ``database``, stopped at the end; ``client_keys`` is their
    ``ASSISTANTS_SERVER_API_KEYS``."""
    args = ("--backend-url", backend_url, "--port", "0", "--db", database, *flags)
    env = server_environ(ASSISTANTS_BACKEND_API_KEY=BACKEND_KEY)
    if client_keys is not None:
        env["ASSISTANTS_SERVER_API_KEYS"] = client_keys
    with ThreadPoolExecutor(count) as pool:
        futures = [
            pool.submit(start_server_process, log_dir / f"server-{n}.log", *args, environ=env)
            for n in range(count)
        ]
        started: list[ServerProcess] = []
        failure: BaseException | None = None
        for future in futures:
            try:
                started.append(future.result())
            except BaseException as problem:
                failure = problem
    try:
        if failure is not None:
            raise failure
        yield started
    finally:
        for server in started:
            server.stop()
