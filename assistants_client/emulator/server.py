"""The HTTP side of the emulator: routing, auth, limits, idempotency, faults, recording."""

from __future__ import annotations

import copy
import json
import logging
import random
import secrets
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

from assistants_client.emulator.api import Api, Request, StreamResult, Timing
from assistants_client.emulator.errors import ApiError, error_body
from assistants_client.emulator.responder import Script
from assistants_client.emulator.store import Store

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "Emulator",
    "Faults",
    "RecordedRequest",
]

logger = logging.getLogger("assistants_client.emulator")

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# Bodies up to this size are read and discarded before answering 413, so the client sees the
# answer instead of a reset connection; anything larger closes the connection after answering.
_DRAIN_LIMIT = 64 * 1024 * 1024
POLL_AFTER_MS = "20"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: Any
    raw_body: bytes = field(repr=False)
    request_id: str


class Faults:
    """Fault injection: answer a fraction of POSTs with an error status.

    ``when="before"`` fails before the operation runs (nothing stored); ``"after"`` runs the
    operation (and stores its Idempotency-Key response) and then answers with the error, so a
    retry with the same key gets the stored first response; ``"random"`` picks either.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rate = 0.0
        self.status = 503
        self.retry_after: float | None = 0
        self.when: Literal["before", "after", "random"] = "before"
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
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if when not in ("before", "after", "random"):
            raise ValueError("when must be 'before', 'after' or 'random'")
        with self._lock:
            self.rate = rate
            self.status = status
            self.retry_after = retry_after
            self.when = when
            self._random = random.Random(seed)
            self.injected = 0

    def clear(self) -> None:
        with self._lock:
            self.rate = 0.0
            self.injected = 0

    def draw(self) -> Literal["before", "after"] | None:
        """Whether (and when) to fail the next POST."""
        with self._lock:
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


@dataclass
class _Stored:
    """A finished response kept for an Idempotency-Key."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _InFlight:
    done: threading.Event = field(default_factory=threading.Event)
    result: _Stored | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that resets its connection is routine (a test, a cancelled stream).
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            logger.debug("connection from %s ended: %s", client_address, error)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return "assistants-emulator"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Protocol-level errors (bad request line, oversized headers...) keep the JSON shape.
        body = json.dumps(error_body(message or self.responses.get(code, ("Error",))[0])).encode()
        self.close_connection = True
        # An unparsable request line leaves the protocol at HTTP/0.9 (no headers): answer 1.1.
        self.request_version = self.protocol_version
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-request-id", "req_" + secrets.token_hex(16))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass

    def do_GET(self) -> None:
        self.server.emulator._handle(self)

    do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = do_HEAD = do_GET


class Emulator:
    """A stateful local Assistants API server.

    ``with Emulator() as emu:`` serves on a free loopback port; ``emu.base_url`` is the URL to
    give a client (``http://127.0.0.1:<port>/v1``, or ``.../openai`` in Azure mode).

    * ``api_key``: when set, requests must carry it (``Authorization: Bearer`` or, in Azure
      mode, ``api-key``); otherwise any key, or none, is accepted.
    * ``azure``: serve under ``/openai`` and require the ``api-version`` query parameter.
    * ``db_path``: persist the state to this SQLite file (it survives a restart).
    * ``max_body_bytes``: larger request bodies are answered with 413.
    * ``timing``: the pace of runs (see ``Timing``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        azure: bool = False,
        db_path: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timing: Timing | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.azure = azure
        self.db_path = db_path
        self.max_body_bytes = max_body_bytes
        self.prefix = "/openai" if azure else "/v1"
        self.script = Script()
        self.faults = Faults()
        self.store = Store(db_path)
        self.api = Api(self.store, self.script, timing)
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._idempotent: dict[str, _InFlight] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and serve in a background thread."""
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"assistants-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("emulator listening on %s", self.base_url)
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until ``stop()`` is called from elsewhere."""
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        self._server = server
        self.port = server.server_address[1]
        logger.info("emulator listening on %s", self.base_url)
        server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Stop serving and release the port and the database."""
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None:
                server.shutdown()
                self._thread.join(timeout=5)
                self._thread = None
            server.server_close()
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

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first (a copy)."""
        with self._requests_lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._requests_lock:
            return len(self._requests)

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        with self._requests_lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget every object, recorded request, scripted reply and fault."""
        with self.store.lock:
            self.store.clear()
            self.api._active.clear()
            self._idempotent.clear()
        self.script.clear()
        self.faults.clear()
        self.reset_requests()

    # -- request handling -----------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        request_id = "req_" + secrets.token_hex(16)
        try:
            self._handle_request(handler, request_id)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        except Exception:  # pragma: no cover - a bug; still answer in the API's shape
            logger.exception("unhandled error in %s %s", handler.command, handler.path)
            handler.close_connection = True
            try:
                body = error_body("The emulator failed to handle the request.", type="server_error")
                headers = {"Content-Type": "application/json"}
                self._send(handler, request_id, 500, headers, json.dumps(body).encode())
            except OSError:
                pass

    def _read_body(self, handler: _Handler) -> bytes:
        """The request body; ApiError 411/413 when it cannot or must not be read."""
        encoding = handler.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in encoding:
            return self._read_chunked(handler)
        raw_length = handler.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            handler.close_connection = True
            raise ApiError(400, "Invalid Content-Length header.", param="Content-Length") from None
        if length < 0:
            handler.close_connection = True
            raise ApiError(400, "Invalid Content-Length header.", param="Content-Length")
        if length > self.max_body_bytes:
            if length <= _DRAIN_LIMIT:
                remaining = length
                while remaining > 0:
                    got = handler.rfile.read(min(remaining, 1 << 16))
                    if not got:
                        break
                    remaining -= len(got)
            else:
                handler.close_connection = True
            raise ApiError(
                413,
                f"Request body of {length} bytes exceeds the limit of {self.max_body_bytes} bytes.",
                code="request_too_large",
            )
        data = handler.rfile.read(length) if length else b""
        if len(data) < length:
            # The client hung up mid-body: nothing is done with a partial request.
            handler.close_connection = True
            raise ApiError(
                400,
                f"Incomplete request body: {len(data)} of {length} bytes arrived.",
                code="incomplete_body",
            )
        return data

    def _read_chunked(self, handler: _Handler) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = handler.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                handler.close_connection = True
                raise ApiError(400, "Malformed chunked request body.") from None
            if size == 0:
                while handler.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                break
            total += size
            if total > self.max_body_bytes:
                handler.close_connection = True
                raise ApiError(
                    413,
                    f"Request body exceeds the limit of {self.max_body_bytes} bytes.",
                    code="request_too_large",
                )
            parts.append(handler.rfile.read(size))
            handler.rfile.readline(1024)
        return b"".join(parts)

    def _check_auth(self, headers: Any) -> None:
        if self.api_key is None:
            return
        supplied = None
        authorization = headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            supplied = authorization[7:].strip()
        if supplied is None and self.azure:
            supplied = headers.get("api-key")
        if supplied is None:
            raise ApiError(
                401,
                "You didn't provide an API key. Provide it in the Authorization header "
                "(Authorization: Bearer YOUR_KEY).",
                code="missing_api_key",
            )
        if not secrets.compare_digest(supplied.encode(), self.api_key.encode()):
            shown = supplied[:3] + "*" * max(0, len(supplied) - 7) + supplied[-4:]
            raise ApiError(401, f"Incorrect API key provided: {shown}.", code="invalid_api_key")

    def _parse(self, handler: _Handler, raw: bytes) -> Any:
        if not raw.strip():
            return None
        content_type = handler.headers.get("Content-Type", "")
        media = content_type.split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise ApiError(
                415,
                f"Unsupported Content-Type {content_type or '(none)'!r}: send application/json.",
                code="unsupported_media_type",
            )
        try:
            body = json.loads(raw)
        except RecursionError:
            raise ApiError(
                400,
                "We could not parse the JSON body of your request: it is nested too deeply.",
                param="body",
                code="invalid_json",
            ) from None
        except (ValueError, UnicodeDecodeError) as problem:
            raise ApiError(
                400,
                f"We could not parse the JSON body of your request: {problem}.",
                param="body",
                code="invalid_json",
            ) from None
        if _depth_exceeds(body, MAX_JSON_DEPTH):
            raise ApiError(
                400,
                f"The JSON body of your request is nested deeper than {MAX_JSON_DEPTH} levels.",
                param="body",
                code="invalid_json",
            )
        return body

    def _handle_request(self, handler: _Handler, request_id: str) -> None:
        method = handler.command
        split = urlsplit(handler.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers: Mapping[str, str] = CaseInsensitiveDict(handler.headers.items())
        raw = b""
        body: Any = None
        status = 0
        try:
            try:
                raw = self._read_body(handler)
                self._check_auth(handler.headers)
                path = split.path
                if not (path == self.prefix or path.startswith(self.prefix + "/")):
                    raise ApiError(
                        404, f"Unknown request URL: {method} {path}.", code="unknown_url"
                    )
                if self.azure and not query.get("api-version", [""])[-1]:
                    raise ApiError(
                        400,
                        "The api-version query parameter (?api-version=) is required.",
                        param="api-version",
                        code="missing_api_version",
                    )
                route, params = self.api.match(method, path[len(self.prefix) :] or "/")
                body = self._parse(handler, raw)
            finally:
                self._record(method, split.path, query, headers, body, raw, request_id)
            request = Request(method, path[len(self.prefix) :], query, headers, body)
            key = handler.headers.get("Idempotency-Key") if method == "POST" else None
            fault = self.faults.draw() if method == "POST" else None
            if fault == "before":
                status, fault_headers, fault_body = self.faults.response()
                self._send(handler, request_id, status, fault_headers, fault_body)
                return
            if key:
                stored = self._idempotent_call(
                    f"{method} {split.path} {key}", route, params, request
                )
                if isinstance(stored, StreamResult):
                    # The first request with this key: streamed live, recorded as it goes.
                    if fault == "after":
                        for _ in stored.events:
                            pass
                        status, fault_headers, fault_body = self.faults.response()
                        self._send(handler, request_id, status, fault_headers, fault_body)
                        return
                    self._send_stream(handler, request_id, stored.events)
                    return
                status = stored.status
                if fault == "after":
                    status, fault_headers, fault_body = self.faults.response()
                    self._send(handler, request_id, status, fault_headers, fault_body)
                    return
                replay = dict(stored.headers)
                self._send(handler, request_id, stored.status, replay, stored.body)
                return
            result = self.api.dispatch(route, params, request)
            if fault == "after":
                if isinstance(result, StreamResult):
                    for _ in result.events:
                        pass
                status, fault_headers, fault_body = self.faults.response()
                self._send(handler, request_id, status, fault_headers, fault_body)
                return
            status = 200
            if isinstance(result, StreamResult):
                self._send_stream(handler, request_id, result.events)
            else:
                extra = (
                    {"openai-poll-after-ms": POLL_AFTER_MS}
                    if _is_run_read(route.operation_id)
                    else {}
                )
                self._send_json(handler, request_id, 200, result, extra)
        except ApiError as error:
            status = error.status
            self._send_json(handler, request_id, error.status, error.body(), error.headers)

    def _idempotent_call(
        self, key: str, route: Any, params: dict[str, str], request: Request
    ) -> _Stored | StreamResult:
        """Run the operation once per key; concurrent and later duplicates get its response.

        A streamed answer goes to the first request live (a StreamResult) and is stored when
        it ends; duplicates wait for that and get the recorded stream.
        """
        owner = False
        with self.store.lock:
            flight = self._idempotent.get(key)
            if flight is None:
                saved = self.store.get("idempotency", key)
                flight = _InFlight()
                if saved is not None:
                    flight.result = _Stored(
                        int(saved["status"]), dict(saved["headers"]), saved["body"].encode()
                    )
                    flight.done.set()
                else:
                    owner = True
                self._idempotent[key] = flight
        if not owner:
            flight.done.wait()
            if flight.result is None:  # the first attempt failed before storing anything
                return self._idempotent_call(key, route, params, request)
            return flight.result
        try:
            outcome = self._run_for_storage(route, params, request)
        except BaseException:
            with self.store.lock:
                self._idempotent.pop(key, None)
            flight.done.set()
            raise
        if isinstance(outcome, StreamResult):
            return StreamResult(self._recorded(key, flight, outcome.events))
        return self._store_idempotent(key, flight, outcome)

    def _recorded(
        self, key: str, flight: _InFlight, events: Iterator[tuple[str, str]]
    ) -> Iterator[tuple[str, str]]:
        parts: list[str] = []
        try:
            for name, data in events:
                parts.append(_sse(name, data))
                yield name, data
        finally:
            # Driven to the end even when the client went away: the run carries on server-side.
            for name, data in events:
                parts.append(_sse(name, data))
            parts.append(_sse("done", "[DONE]"))
            headers = {"Content-Type": "text/event-stream; charset=utf-8"}
            self._store_idempotent(key, flight, _Stored(200, headers, "".join(parts).encode()))

    def _store_idempotent(self, key: str, flight: _InFlight, stored: _Stored) -> _Stored:
        with self.store.lock:
            if stored.status < 500:
                self.store.put(
                    "idempotency",
                    key,
                    {
                        "status": stored.status,
                        "headers": stored.headers,
                        "body": stored.body.decode(),
                    },
                )
                flight.result = stored
            else:
                self._idempotent.pop(key, None)
        flight.done.set()
        return stored

    def _run_for_storage(
        self, route: Any, params: dict[str, str], request: Request
    ) -> _Stored | StreamResult:
        try:
            result = self.api.dispatch(route, params, request)
        except ApiError as error:
            headers = {"Content-Type": "application/json", **error.headers}
            return _Stored(error.status, headers, json.dumps(error.body()).encode())
        if isinstance(result, StreamResult):
            return result
        return _Stored(200, {"Content-Type": "application/json"}, json.dumps(result).encode())

    def _record(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: Any,
        raw: bytes,
        request_id: str,
    ) -> None:
        entry = RecordedRequest(method, path, query, headers, copy.deepcopy(body), raw, request_id)
        with self._requests_lock:
            self._requests.append(entry)

    # -- writing --------------------------------------------------------------------------

    def _send_json(
        self,
        handler: _Handler,
        request_id: str,
        status: int,
        payload: Any,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        headers = {"Content-Type": "application/json", **(extra or {})}
        self._send(handler, request_id, status, headers, json.dumps(payload).encode())

    def _send(
        self,
        handler: _Handler,
        request_id: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        phrase = handler.responses.get(status, ("",))[0]
        lines = [
            f"HTTP/1.1 {status} {phrase}",
            "Server: assistants-emulator",
            f"Date: {handler.date_time_string()}",
        ]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        lines.append(f"Content-Length: {len(body)}")
        lines.append(f"x-request-id: {request_id}")
        if handler.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # Headers and body leave in one write.
        handler.wfile.write(head if handler.command == "HEAD" else head + body)
        handler.log_request(status, len(body))

    def _send_stream(
        self, handler: _Handler, request_id: str, events: Iterator[tuple[str, str]]
    ) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("x-request-id", request_id)
        handler.end_headers()
        writer = handler.wfile
        connected = True
        try:
            for name, data in events:
                if connected:
                    connected = _write_chunk(writer, _sse(name, data).encode())
            if connected:
                connected = _write_chunk(writer, _sse("done", "[DONE]").encode())
            if connected:
                writer.write(b"0\r\n\r\n")
                writer.flush()
        except OSError:
            connected = False
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        if not connected:
            handler.close_connection = True


MAX_JSON_DEPTH = 64


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit`` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _write_chunk(writer: Any, data: bytes) -> bool:
    try:
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        writer.flush()
    except OSError:
        return False
    return True


def _sse(name: str, data: str) -> str:
    return f"event: {name}\ndata: {data}\n\n"


def _is_run_read(operation_id: str) -> bool:
    return operation_id in {"getRun", "listRuns", "createRun", "createThreadAndRun", "cancelRun"}


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.005) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes (a helper for tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
