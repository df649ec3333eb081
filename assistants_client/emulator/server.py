"""The emulator: the server's engine with a scripted responder, fault injection and a request log.

It is the server (``assistants_client.server``) with its brain replaced: runs are answered by
the :class:`Script` (and otherwise deterministically), at a pace that lets every state be seen
(:class:`Timing`). On top of the server it adds what tests need: injected faults
(:class:`Faults`) and a log of the requests received (``emulator.requests``, the last
``request_log`` of them).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from assistants_client.emulator.replies import default_reply
from assistants_client.server import engine
from assistants_client.server.engine import Engine
from assistants_client.server.errors import error_body
from assistants_client.server.http import ApiApp, Credentials, RecordedRequest
from assistants_client.server.httpd import DEFAULT_MAX_CONNECTIONS, WSGIServer
from assistants_client.server.objects import FOUNDRY_TOOL_TYPES
from assistants_client.server.projects import SHARED, check_project, keys_by_project
from assistants_client.server.responders.script import Script
from assistants_client.server.responders.scripted import ScriptedResponder
from assistants_client.server.retrieval import DEFAULT_MAX_FILE_BYTES, LocalEmbedder
from assistants_client.server.stores import open_store

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_REQUEST_LOG",
    "FOUNDRY_API_VERSIONS",
    "Emulator",
    "Faults",
    "RecordedRequest",
    "Timing",
]

logger = logging.getLogger("assistants_client.emulator")

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_REQUEST_LOG = 10_000
# What the log keeps of one raw body: enough to inspect any test request, not a memory sink.
RECORDED_BODY_BYTES = 64 * 1024
POLL_AFTER_MS = "20"
# The dimension of the emulator's local embeddings (the API's file_search uses 256 as well).
EMBEDDING_DIMENSIONS = 256
# The api-version values Azure AI Foundry's Agent Service (classic agents) answers to.
FOUNDRY_API_VERSIONS = ("v1", "2025-05-01", "2025-05-15-preview")
_PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Timing(engine.Timing):
    """The emulator's pace: a few milliseconds per state, so that each can be observed.

    ``queued`` and ``cancelling`` are spent in those states, ``in_progress`` before a run in
    the background answers, ``stream_interval`` between two streamed pieces, and
    ``run_expires_after`` is how long a run may wait for tool outputs.
    """

    queued: float = 0.005
    in_progress: float = 0.015
    cancelling: float = 0.005
    stream_interval: float = 0.001
    run_expires_after: float = 600.0


class Faults:
    """Fault injection: answer a fraction of POSTs with an error status.

    ``when="before"`` fails before the operation runs (nothing stored); ``"after"`` runs the
    operation (and stores its Idempotency-Key response) and then answers with the error, so a
    retry with the same key gets the stored first response; ``"random"`` picks either.
    ``times`` stops injecting after that many faults (``fail_posts(1.0, times=1)`` fails only
    the next POST).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rate = 0.0
        self.status = 503
        self.retry_after: float | None = 0
        self.when: Literal["before", "after", "random"] = "before"
        self.times: int | None = None
        self._random = random.Random(0)
        self.injected = 0

    def fail_posts(
        self,
        rate: float = 0.1,
        *,
        status: int = 503,
        retry_after: float | None = 0,
        when: Literal["before", "after", "random"] = "before",
        seed: int | None = None,
        times: int | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if when not in ("before", "after", "random"):
            raise ValueError("when must be 'before', 'after' or 'random'")
        if times is not None and times < 0:
            raise ValueError("times must not be negative")
        with self._lock:
            self.rate = rate
            self.status = status
            self.retry_after = retry_after
            self.when = when
            self.times = times
            self._random = random.Random(seed)
            self.injected = 0

    def clear(self) -> None:
        with self._lock:
            self.rate = 0.0
            self.injected = 0

    def draw(self) -> Literal["before", "after"] | None:
        """Whether (and when) to fail the next POST."""
        with self._lock:
            if self.times is not None and self.injected >= self.times:
                return None
            if self.rate <= 0.0 or self._random.random() >= self.rate:
                return None
            self.injected += 1
            if self.when == "random":
                return "before" if self._random.random() < 0.5 else "after"
            return self.when

    def response(self) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        body = error_body(
            "The server is temporarily unable to handle the request (injected fault).",
            type="server_error",
            code="service_unavailable",
        )
        return self.status, headers, json.dumps(body).encode()


def _keys(api_key: str | None, projects: Mapping[str, Sequence[str]] | None) -> dict[str, str]:
    """Each key with its project: ``api_key`` (taken as it is, colons included) in the shared
    namespace, and the keys of ``projects`` (ValueError for a name or a key the server would
    refuse)."""
    entries = [("api_key", f"{SHARED}:{api_key}")] if api_key is not None else []
    for project, keys in (projects or {}).items():
        if isinstance(keys, str):
            raise ValueError(f"projects[{project!r}] must be a list of keys, not a string")
        if project != SHARED:
            try:
                check_project(project)
            except ValueError as problem:
                raise ValueError(f"projects: {project!r} is not allowed: {problem}") from None
        entries += [
            (f"projects[{project!r}][{number}]", f"{project}:{key}")
            for number, key in enumerate(keys)
        ]
    return keys_by_project(entries)


def _credentials(keys: Mapping[str, str], azure: bool, foundry: str | None) -> Credentials:
    if not keys:
        return Credentials()
    if foundry is not None:
        return Credentials(
            keys=keys,
            missing_message=(
                "Access token is missing: send Authorization: Bearer <token> with a Microsoft "
                "Entra ID token for https://ai.azure.com (an api-key header is not accepted)."
            ),
            missing_code="missing_token",
            invalid_message="The access token is invalid, expired or for another audience.",
            invalid_code="invalid_token",
        )
    return Credentials(keys=keys, api_key_header=azure)


class Emulator:
    """A stateful local Assistants API server with scripted answers.

    ``with Emulator() as emu:`` serves on a free loopback port; ``emu.base_url`` is the URL to
    give a client (``http://127.0.0.1:<port>/v1``, ``.../openai`` in Azure mode, or
    ``.../api/projects/<project>`` in Foundry mode).

    * ``api_key``: when set, requests must carry it (``Authorization: Bearer`` or, in Azure
      mode, ``api-key``); otherwise any key, or none, is accepted. In Foundry mode it is the
      bearer token to require, and only ``Authorization: Bearer`` carries it. Either way, every
      caller shares one namespace of objects.
    * ``projects``: keys by project, e.g. ``{"team-a": ["sk-a1", "sk-a2"], "team-b":
      ["sk-b1"]}``, as the server's ``ASSISTANTS_SERVER_API_KEYS="team-a:sk-a1,..."``: requests
      must carry one of them (or ``api_key``), and a project's keys see only that project's
      objects (another's are 404s, as if they did not exist).
    * ``azure``: serve under ``/openai`` and require the ``api-version`` query parameter.
    * ``foundry``: a project name; serve as Azure AI Foundry's Agent Service (classic agents)
      does, under ``/api/projects/<project>``, with an ``api-version`` of
      ``FOUNDRY_API_VERSIONS`` required, Foundry's list shape, and Foundry's own tool types
      (``azure_ai_search``, ``bing_grounding``, ``mcp``...) accepted and kept as given.
    * ``db_path``: persist the state to this SQLite file (it survives a restart; a run that was
      under way resumes).
    * ``max_body_bytes``: larger request bodies are answered with 413 (uploads excepted).
    * ``max_file_bytes``: larger uploads are answered with 413 (512 MiB by default). Files
      are embedded by a deterministic local embedder (``LocalEmbedder``): searches run the
      semantic path offline, the same every time.
    * ``timing``: the pace of runs (see :class:`Timing`).
    * ``max_connections``: connections open at once, idle ones included; past them a new
      connection is answered ``503`` with ``Retry-After`` (which clients retry).
    * ``request_log``: how many of the latest requests ``requests`` keeps (0: none). Of a
      body over ``RECORDED_BODY_BYTES`` (64 KiB) the log keeps that many bytes of
      ``raw_body``, and ``body`` (the parsed JSON) is None.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        projects: Mapping[str, Sequence[str]] | None = None,
        azure: bool = False,
        foundry: str | None = None,
        db_path: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timing: Timing | None = None,
        request_log: int = DEFAULT_REQUEST_LOG,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        if foundry is not None:
            if azure:
                raise ValueError("choose one of azure and foundry")
            if not isinstance(foundry, str) or not _PROJECT_NAME.fullmatch(foundry):
                raise ValueError(
                    "foundry must be a project name: letters, digits, '.', '_' and '-'"
                )
        if request_log < 0:
            raise ValueError("request_log must not be negative")
        keys = _keys(api_key, projects)
        self.host = host
        self.port = port
        self.api_key = api_key
        self.azure = azure
        self.foundry = foundry
        self.db_path = db_path
        self.max_body_bytes = max_body_bytes
        self.max_connections = max_connections
        if foundry is not None:
            self.prefix = f"/api/projects/{foundry}"
        else:
            self.prefix = "/openai" if azure else "/v1"
        self.timing = timing or Timing()
        self.script = Script()
        self.faults = Faults()
        self.store = open_store(db_path)
        self.responder = ScriptedResponder(
            self.script,
            default_reply=default_reply,
            stream_interval=self.timing.stream_interval,
        )
        self.api = Engine(
            self.store,
            self.responder,
            timing=self.timing,
            foundry=foundry is not None,
            embedder=LocalEmbedder(EMBEDDING_DIMENSIONS),
            max_file_bytes=max_file_bytes,
        )
        self._log: deque[RecordedRequest] = deque(maxlen=request_log or None)
        self._logging = request_log > 0
        self._count = 0
        self._log_lock = threading.Lock()
        self.app = ApiApp(
            self.api,
            prefix=self.prefix,
            credentials=_credentials(keys, azure, foundry),
            require_api_version=azure or foundry is not None,
            api_versions=FOUNDRY_API_VERSIONS if foundry is not None else None,
            max_body_bytes=max_body_bytes,
            poll_after_ms=POLL_AFTER_MS,
            extra_tool_types=FOUNDRY_TOOL_TYPES if foundry is not None else frozenset(),
            recorder=self._record,
            faults=self.faults,
        )
        self._server: WSGIServer | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def _bind(self) -> WSGIServer:
        server = WSGIServer(
            self.app,
            self.host,
            self.port,
            max_connections=self.max_connections,
            server_name="assistants-emulator",
        )
        self._server = server
        self.port = server.port
        logger.info("emulator listening on %s", self.base_url)
        return server

    def start(self) -> Emulator:
        """Bind and serve in a background thread."""
        if self._server is None:
            self._bind().start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until ``stop()`` is called from elsewhere."""
        self._bind().serve_forever()

    def stop(self) -> None:
        """Stop serving and release the port and the database."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self.api.close()
        self.store.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:8000``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:8000/v1``."""
        return self.url + self.prefix

    # -- inspection -----------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._log_lock:
            self._count += 1
            if not self._logging:
                return
            if len(request.raw_body) > RECORDED_BODY_BYTES:
                # Kept bounded: the first bytes of the raw body, and not its parsed form (a
                # 4 MiB string parsed is 4 MiB more for every request the log keeps).
                request = RecordedRequest(
                    request.method,
                    request.path,
                    request.query,
                    request.headers,
                    None,
                    request.raw_body[:RECORDED_BODY_BYTES],
                    request.request_id,
                )
            self._log.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The latest requests received (at most ``request_log``), oldest first (a copy)."""
        with self._log_lock:
            return list(self._log)

    @property
    def request_count(self) -> int:
        """How many requests were received since the start (or the last reset)."""
        with self._log_lock:
            return self._count

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        with self._log_lock:
            self._log.clear()
            self._count = 0

    def reset(self) -> None:
        """Forget every object, file, vector store, idempotency key, recorded request,
        scripted reply and fault."""
        with self.store.transaction():
            self.api.forget_runs()
            self.store.clear()
            self.api.clear_files()
        self.script.clear()
        self.faults.clear()
        self.reset_requests()
