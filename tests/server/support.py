"""Helpers of the server's tests: starting a server, reading its streams, checking their shapes.

* :func:`start_server` builds the server as ``assistants-server`` does and serves it on a free
  loopback port; every answer it sends is kept (``RunningServer.answers``), so a test can check
  that a secret appears in none of them, and every JSON answer of an operation is checked
  against the spec: it must carry every field the spec requires, or the server's test fails
  when the server stops. An operation added later is checked as soon as a test calls it.
* :func:`stream_events` posts a request with ``stream: true`` and returns the raw
  ``(event, data)`` pairs, as any client would see them on the wire.
* :func:`assert_valid_events` checks each event's data against the spec (the overlay applied);
  :func:`assert_like_recording` compares a stream with one recorded from api.openai.com: the
  same events in the same order (runs of deltas counted as one) and, per event, the recorded
  keys in the recorded order, and others only where the spec declares them.
* :func:`run_process` starts ``python -m assistants_client.server`` and reads its base URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import requests
import sseclient

from assistants_client import AssistantsClient
from assistants_client.server import ServerConfig, build_app, parse_config
from assistants_client.server.errors import ApiError
from assistants_client.server.http import ApiApp
from assistants_client.server.httpd import WSGIServer
from assistants_client.server.routes import path_segments
from tests.emulator.spec_tools import (
    assert_event_valid,
    assert_response_valid,
    response_schemas,
    spec_paths_of_object,
)
from tests.realservers.recordings import REFERENCE, events, sse_body

ROOT = Path(__file__).resolve().parents[2]
BACKEND_KEY = "sk-backend-0123456789abcdefSECRET"
BOUND = 10.0  # seconds: the bound on every wait for another thread or process

Event = tuple[str, Any]


def wait_until(condition: Callable[[], object], bound: float = BOUND, what: str = "") -> None:
    """Return once ``condition()`` is true; fail after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"not within {bound} s: {what or condition}"
        time.sleep(0.005)


def missing_id(real_id: str) -> str:
    """An id shaped like ``real_id`` (same prefix and length) that names nothing (``file-``
    ids too)."""
    separator = "_" if "_" in real_id else "-"
    prefix, _, rest = real_id.partition(separator)
    return f"{prefix}{separator}{'0' * len(rest)}"


# -- the server in this process ------------------------------------------------------------------


class _Tap:
    """A WSGI middleware that keeps a copy of every answer body the application sends, and
    checks every JSON answer of an operation (200) against the spec's response schema of the
    operation, with every field the spec requires (``problems``: what did not hold)."""

    def __init__(self, app: ApiApp) -> None:
        self.app = app
        self.answers: list[bytes] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen: dict[str, Any] = {}

        def noting(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            seen["status"] = status
            seen["headers"] = headers
            return start_response(status, headers, *rest)

        body = self.app(environ, noting)
        return _Tapped(self, body, lambda answer: self._check(environ, seen, answer))

    def keep(self, piece: bytes) -> None:
        with self._lock:
            self.answers.append(piece)

    def _check(self, environ: dict[str, Any], seen: dict[str, Any], answer: bytes) -> None:
        kind = dict((k.lower(), v) for k, v in seen.get("headers", ()))
        if not str(seen.get("status", "")).startswith("200") or not kind.get(
            "content-type", ""
        ).startswith("application/json"):
            return
        segments = path_segments(environ)[len(self.app._prefix_segments) :]
        try:
            route, _ = self.app.router.match(environ["REQUEST_METHOD"], segments or [""])
            if route.operation_id not in response_schemas():
                return  # not a JSON answer in the spec
            assert_response_valid(route.operation_id, json.loads(answer))
        except (AssertionError, ApiError) as problem:
            with self._lock:
                self.problems.append(f"{environ['REQUEST_METHOD']} {segments}: {problem}")


class _Tapped:
    def __init__(self, tap: _Tap, body: Iterable[bytes], check: Callable[[bytes], None]) -> None:
        self._tap = tap
        self._body = body
        self._check = check

    def __iter__(self) -> Iterator[bytes]:
        pieces = []
        for piece in self._body:
            self._tap.keep(piece)
            pieces.append(piece)
            yield piece
        self._check(b"".join(pieces))

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


@dataclass
class RunningServer:
    config: ServerConfig
    app: ApiApp
    http: WSGIServer
    tap: _Tap
    clients: list[AssistantsClient] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"{self.http.url}/v1"

    @property
    def engine(self) -> Any:
        return self.app.engine

    @property
    def answers(self) -> bytes:
        """Every answer body the server sent so far, concatenated."""
        with self.tap._lock:
            return b"".join(self.tap.answers)

    def client(self, **options: Any) -> AssistantsClient:
        options.setdefault("base_url", self.base_url)
        options.setdefault("timeout", BOUND)
        options.setdefault("max_retries", 0)
        made = AssistantsClient(**options)
        self.clients.append(made)
        return made

    def stored(self, kind: str, obj_id: str) -> dict[str, Any]:
        """An object as the engine keeps it (messages with their status, runs with state)."""
        found = self.engine.store.get(kind, obj_id, project="")
        assert found is not None, f"no {kind} {obj_id}"
        return found  # type: ignore[no-any-return]

    def count(self, kind: str) -> int:
        return len(self.engine.store.iter_kind(kind, project=""))

    def stop(self) -> None:
        for made in self.clients:
            made.close()
        self.http.stop()
        self.engine.close()
        self.engine.store.close()
        problems = list(self.tap.problems)
        assert not problems, "answers without every field the spec requires:\n" + "\n".join(
            problems[:5]
        )


def start_server(
    backend_url: str, *flags: str, environ: Mapping[str, str] | None = None
) -> RunningServer:
    """The server as ``assistants-server --backend-url URL FLAGS`` builds it, on a free port.

    ``environ`` stands for the process environment (secrets come only from there); by default
    the backend key is :data:`BACKEND_KEY`.
    """
    env = {"ASSISTANTS_BACKEND_API_KEY": BACKEND_KEY} if environ is None else dict(environ)
    config = parse_config(["--backend-url", backend_url, "--port", "0", *flags], env)
    config.check_bind()
    app = build_app(config)
    tap = _Tap(app)
    http = WSGIServer(
        tap, config.host, 0, max_connections=config.max_connections, threads=config.threads
    ).start()
    return RunningServer(config, app, http, tap)


# -- streams on the wire -------------------------------------------------------------------------


def stream_events(
    base_url: str,
    path: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    on_event: Callable[[str, Any], None] | None = None,
) -> list[Event]:
    """POST ``body`` with ``stream: true`` and return the ``(event, data)`` pairs, ``done`` last.

    ``on_event`` sees each event as it arrives (the stream is read one event at a time).
    """
    response = requests.post(
        f"{base_url}{path}",
        json={**body, "stream": True},
        headers=dict(headers or {}),
        stream=True,
        timeout=BOUND,
    )
    try:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        found: list[Event] = []
        for item in sseclient.SSEClient(response.iter_content(chunk_size=None)).events():
            data = item.data if item.data == "[DONE]" else json.loads(item.data)
            found.append((item.event, data))
            if on_event is not None:
                on_event(item.event, data)
        return found
    finally:
        response.close()


def names(found: Sequence[Event]) -> list[str]:
    return [name for name, _ in found]


def collapsed(sequence: Iterable[str]) -> list[str]:
    """Event names with each run of repeated deltas counted once."""
    return [name for name, _ in groupby(sequence)]


def only(found: Sequence[Event], name: str) -> list[Any]:
    return [data for event, data in found if event == name]


def assert_valid_events(found: Sequence[Event]) -> None:
    """Each event's data is valid against the spec; the stream ends with ``done``."""
    assert found, "no events"
    assert found[-1] == ("done", "[DONE]"), found[-1]
    for name, data in found[:-1]:
        assert_event_valid(name, data)


def recording(name: str) -> list[Event]:
    """The events of ``tests/fixtures/reference/<name>``, recorded from api.openai.com."""
    return events(sse_body(REFERENCE / name))


# What a run echoes of its request: its shape is the caller's, not the server's.
_ECHOED = frozenset({"metadata", "tools", "tool_resources", "response_format", "tool_choice"})


def same_keys(
    found: Any,
    expected: Any,
    path: str = "",
    *,
    at: str = "",
    declared: frozenset[str] = frozenset(),
) -> None:
    """Dicts have the recorded keys in the recorded order, recursively where both sides hold a
    dict (or a non-empty list, by its first item), and other keys only where the spec declares
    them (``declared``: key paths as ``spec_tools.key_paths`` writes them, ``at`` the path
    here); echoed request fields are not compared."""
    if isinstance(found, dict) and isinstance(expected, dict):
        tag = found.get("type")
        if isinstance(tag, str):
            at = f"{at}<{tag}>"
        shared = [key for key in found if key in expected]
        assert shared == list(expected), f"{path}: {list(found)} != {list(expected)}"
        extra = [key for key in found if key not in expected]
        unknown = [key for key in extra if (f"{at}.{key}" if at else key) not in declared]
        assert not unknown, f"{path}: {unknown} neither recorded nor in the spec"
        for key in shared:
            if key not in _ECHOED:
                where = f"{at}.{key}" if at else key
                same_keys(found[key], expected[key], f"{path}.{key}", at=where, declared=declared)
    elif isinstance(found, list) and isinstance(expected, list) and found and expected:
        same_keys(found[0], expected[0], f"{path}[0]", at=f"{at}[]", declared=declared)


def assert_like_recording(found: Sequence[Event], recorded: Sequence[Event]) -> None:
    """Same event order (runs of deltas counted once) and, in each event's data, the same keys
    as the recorded event of that name (deltas: as the recorded delta at the same position)."""
    assert collapsed(names(found)) == collapsed(names(recorded))
    by_name: dict[str, list[Any]] = {}
    for name, data in recorded:
        by_name.setdefault(name, []).append(data)
    seen: dict[str, int] = {}
    for name, data in found:
        if name == "done":
            continue
        position = seen.get(name, 0)
        seen[name] = position + 1
        candidates = by_name[name]
        declared = frozenset(spec_paths_of_object(data)) if isinstance(data, dict) else frozenset()
        same_keys(data, candidates[min(position, len(candidates) - 1)], name, declared=declared)


# -- the server as a process ---------------------------------------------------------------------


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    base_url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(BOUND)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(BOUND)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistants_client.server", *args]


def server_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANTS_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_process(*args: str, environ: Mapping[str, str] | None = None) -> ServerProcess:
    """``python -m assistants_client.server ARGS``, once it printed its base URL."""
    process = subprocess.Popen(
        server_command(*args),
        cwd=ROOT,
        env=dict(environ) if environ is not None else server_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = first_line(process, BOUND)
    if not line:
        process.kill()
        _, err = process.communicate(timeout=BOUND)
        raise AssertionError(f"the server exited before printing its URL: {err[-2000:]}")
    return ServerProcess(process, line.strip())


def first_line(process: subprocess.Popen[str], bound: float) -> str:
    """The first line of the process's output, or "" if none came within ``bound`` seconds."""
    found: list[str] = []
    reader = threading.Thread(
        target=lambda: found.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(bound)
    return found[0] if found else ""
