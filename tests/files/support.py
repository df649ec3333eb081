"""What the end-to-end tests of files and vector stores share.

* :class:`SpecChecked` wraps the server's WSGI application and checks every answer it sends:
  a JSON answer of 2xx against the spec's schema of its operation (the overlay applied: the
  live API's nulls), an error against the API's error shape, a file's content as bytes with
  its length. A test's fixture fails it when any answer did not fit.
* :func:`emulator_target` and :func:`server_target` serve the same API two ways: the
  emulator, and ``assistants-server`` (SQLite) on a fake Chat Completions backend that also
  serves ``/embeddings``.
* :func:`documents` writes the files the tests upload: three text files and a binary one.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistants_client.emulator import Emulator
from assistants_client.server import build_app, parse_config
from assistants_client.server.http import ApiApp
from assistants_client.server.httpd import WSGIServer
from assistants_client.server.routes import path_segments
from tests.emulator.spec_tools import assert_response_valid, jsonschema
from tests.servers.fake_chat import FakeChatServer

BACKEND_KEY = "sk-backend-files-0123456789SECRET"
ERROR_SHAPE = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}


class SpecChecked:
    """A WSGI middleware that checks every answer of the API it wraps (see the module doc)."""

    def __init__(self, app: ApiApp, prefix: str, *, served: bool = True) -> None:
        self.app = app
        self.prefix = prefix.strip("/").split("/")
        # Every field the spec requires; else (Azure AI Foundry's mode, whose lists the spec's
        # overlay records without cursors) the spec as a client reads it.
        self.served = served
        self.failures: list[str] = []
        self.checked: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            seen["status"] = int(status.split(" ", 1)[0])
            seen["headers"] = {name.lower(): value for name, value in headers}
            return start_response(status, headers, *exc_info)

        body = self.app(environ, capture)
        return _Checking(self, environ, seen, body)

    def fail(self, problem: str) -> None:
        with self._lock:
            self.failures.append(problem)

    def check(
        self, method: str, segments: list[str], status: int, headers: Any, body: bytes
    ) -> None:
        media = str(headers.get("content-type", "")).split(";")[0]
        where = f"{method} /{'/'.join(segments)} -> {status}"
        if media == "text/event-stream":
            return  # streamed runs: checked by the streaming suites
        if media == "application/octet-stream":
            if status != 200 or int(headers.get("content-length", -1)) != len(body):
                self.fail(f"{where}: a file's content of {len(body)} bytes, declared otherwise")
            with self._lock:
                self.checked["downloadFile"] += 1
            return
        if media != "application/json":
            self.fail(f"{where}: answered {media!r}")
            return
        try:
            document = json.loads(body)
        except ValueError as problem:
            self.fail(f"{where}: not JSON ({problem})")
            return
        try:
            if status >= 300:
                jsonschema.validate(document, ERROR_SHAPE)
                return
            route, _ = self.app.router.match(method, segments[len(self.prefix) :] or [""])
            assert_response_valid(route.operation_id, document, served=self.served)
            with self._lock:
                self.checked[route.operation_id] += 1
        except Exception as problem:  # the fixture reports them all
            self.fail(f"{where}: {problem}")


class _Checking:
    """An answer's body on its way out, kept (when it is not a stream) to be checked."""

    def __init__(
        self, owner: SpecChecked, environ: dict[str, Any], seen: dict[str, Any], body: Any
    ) -> None:
        self._owner = owner
        self._method = environ["REQUEST_METHOD"]
        self._segments = path_segments(environ)
        self._seen = seen
        self._body = body
        self._kept: list[bytes] = []

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._body:
            self._kept.append(piece)
            yield piece

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
        if "status" in self._seen:
            self._owner.check(
                self._method,
                self._segments,
                self._seen["status"],
                self._seen["headers"],
                b"".join(self._kept),
            )


@dataclass
class Target:
    """An API to test: where it is, what serves it, and its answers' checker."""

    kind: str
    base_url: str
    checker: SpecChecked
    engine: Any
    backend: FakeChatServer | None = None
    stop: Callable[[], None] = lambda: None
    extra: dict[str, Any] = field(default_factory=dict)

    def assert_all_answers_fit_the_spec(self) -> None:
        assert not self.checker.failures, "\n".join(self.checker.failures[:10])


def emulator_target(**options: Any) -> Target:
    emulator = Emulator(**options)
    checker = SpecChecked(emulator.app, emulator.prefix, served="foundry" not in options)
    emulator.app = checker  # type: ignore[assignment] - served as the emulator's application
    emulator.start()
    return Target("emulator", emulator.base_url, checker, emulator.api, stop=emulator.stop)


def server_target(
    tmp_path: Path, *flags: str, backend: FakeChatServer | None = None, **environ: str
) -> Target:
    """``assistants-server --db state.db`` on a fake backend serving ``/embeddings``."""
    own = backend is None
    if backend is None:
        backend = FakeChatServer().start()
    env = {"ASSISTANTS_BACKEND_API_KEY": BACKEND_KEY, **environ}
    config = parse_config(
        [
            "--backend-url",
            backend.base_url,
            "--port",
            "0",
            "--db",
            str(tmp_path / "state.db"),
            *flags,
        ],
        env,
    )
    app = build_app(config)
    checker = SpecChecked(app, "/v1")
    http = WSGIServer(checker, config.host, 0, threads=config.threads).start()

    def stop() -> None:
        http.stop()
        app.engine.close()
        app.engine.store.close()
        if own:
            backend.stop()

    return Target("server", f"{http.url}/v1", checker, app.engine, backend, stop)


@dataclass(frozen=True)
class Documents:
    """The files the tests upload (paths), and what the searches expect of them."""

    runbook: Path
    billing: Path
    garden: Path
    binary: Path

    @property
    def texts(self) -> list[Path]:
        return [self.runbook, self.billing, self.garden]

    @property
    def all(self) -> list[Path]:
        return [*self.texts, self.binary]


def documents(folder: Path) -> Documents:
    folder.mkdir(parents=True, exist_ok=True)
    runbook = folder / "runbook.md"
    runbook.write_text(
        "# Disk alerts\n\nERR-4411 means the data volume is full. Rotate the logs, then "
        "restart the ingest daemon.\n\n## Paging\n\nPage the storage on-call after two alerts.\n",
        encoding="utf-8",
    )
    billing = folder / "billing.txt"
    billing.write_text(
        "Invoices are issued on the first business day of each month. A refund takes five "
        "to seven days to reach the customer's card.\n",
        encoding="utf-8",
    )
    garden = folder / "garden.html"
    garden.write_text(
        "<html><body><h1>Tomatoes</h1><p>Water the tomato plants every morning; "
        "they need full sun and staking.</p><script>ignored()</script></body></html>",
        encoding="utf-8",
    )
    binary = folder / "firmware.bin"
    binary.write_bytes(bytes(range(256)) * 64)
    return Documents(runbook, billing, garden, binary)


def body_of(chunks: Iterable[bytes]) -> bytes:
    return b"".join(chunks)
