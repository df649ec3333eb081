"""A Prism mock server for openapi/assistants.yaml, shared by all contract tests.

Prism (``@stoplight/prism-cli``, pinned in package.json / package-lock.json) is installed into
node_modules/ by ``make test`` (``npm ci``). These tests never skip: without node or without
the installed Prism they fail, saying what to run.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
import yaml

from assistants_client import AssistantsClient
from tests.contract.documents import nullable_as_31

ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / "node_modules" / ".bin" / "prism"
SPEC = ROOT / "openapi" / "assistants.yaml"
API_KEY = "sk-test"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
AS_IS = "as-is"
NULLABLE_AS_31 = "nullable-as-3.1"
DOCUMENTS = (AS_IS, NULLABLE_AS_31)


class Prism(NamedTuple):
    url: str
    """The base URL: no ``/v1``, Prism serves the spec's paths bare."""
    document: str
    """``AS_IS`` (openapi/assistants.yaml) or ``NULLABLE_AS_31`` (see documents.py)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    """True once Prism answers an HTTP request (any status) on ``port``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/assistants", headers={"Authorization": f"Bearer {API_KEY}"})
        conn.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        conn.close()


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _check_installed() -> None:
    hint = "run `make test` (or `npm ci --no-audit --no-fund` in the repository root)"
    if shutil.which("node") is None:
        pytest.fail(f"node is not on PATH: the Prism contract tests need Node.js; {hint}")
    if not PRISM.exists():
        pytest.fail(f"Prism is not installed at {PRISM.relative_to(ROOT)}: {hint}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


def _document_path(document: str, directory: Path) -> Path:
    if document == AS_IS:
        return SPEC
    with SPEC.open(encoding="utf-8") as f:
        rewritten = nullable_as_31(yaml.safe_load(f))
    path = directory / "assistants-nullable-as-3.1.yaml"
    path.write_text(yaml.safe_dump(rewritten, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session", params=DOCUMENTS)
def prism(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prism]:
    """A Prism mock server for one of the two documents (see documents.py)."""
    _check_installed()
    document: str = request.param
    directory = tmp_path_factory.mktemp(f"prism-{document}")
    spec_path = _document_path(document, directory)
    log = directory / "prism.log"
    for _attempt in range(3):  # the free port may be taken between the probe and Prism's bind
        port = _free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [str(PRISM), "mock", str(spec_path), "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while process.poll() is None and time.monotonic() < deadline:
                if _answers(port):
                    break
                time.sleep(0.1)
            else:
                if process.poll() is None:
                    pytest.fail(
                        f"Prism did not answer within {START_TIMEOUT:.0f} s; log:\n{_log_tail(log)}"
                    )
                continue  # it exited (e.g. the port was taken): try another port
            yield Prism(f"http://127.0.0.1:{port}", document)
            return
        finally:
            _stop(process)
    pytest.fail(f"Prism exited at start-up three times; log:\n{_log_tail(log)}")


class Exchanges(list[requests.Response]):
    """Every HTTP response the client received (with its request), in order."""

    def hook(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.append(response)


@pytest.fixture(scope="session")
def _session_exchanges() -> Exchanges:
    return Exchanges()


@pytest.fixture
def exchanges(_session_exchanges: Exchanges) -> Exchanges:
    """The responses received by ``prism_client`` during the current test."""
    _session_exchanges.clear()
    return _session_exchanges


@pytest.fixture(scope="session")
def prism_client(prism: Prism, _session_exchanges: Exchanges) -> Iterator[AssistantsClient]:
    """An ``AssistantsClient`` pointed at Prism, without retries (every answer is seen as is)."""
    session = requests.Session()
    session.hooks["response"].append(_session_exchanges.hook)
    client = AssistantsClient(
        API_KEY, base_url=prism.url, max_retries=0, timeout=15.0, session=session
    )
    try:
        yield client
    finally:
        client.close()
        session.close()
