"""The HTTP side of the server: the Assistants API as a WSGI application over the engine.

:class:`ApiApp` is a plain WSGI callable, so any WSGI server can host it (gunicorn, or the
standard-library server of ``stdlib.py``). Per request, in this order:

1. the path must be under the API's prefix (``/v1``, ``/openai`` or ``/api/projects/<p>``);
2. the credentials are checked (:class:`Credentials`), before a byte of the body is read, so an
   unauthenticated client cannot make the server read (or keep) anything;
3. the ``api-version`` query parameter, where the mode requires one;
4. the route, from the generated operations table (404, or 405 with ``Allow``);
5. the body: at most ``max_body_bytes`` (413 otherwise), JSON nested at most 64 deep;
6. the operation, at most once per ``Idempotency-Key`` (a retry gets the first answer, a
   streamed one replayed);
7. the answer: JSON, or server-sent events streamed as the engine produces them. A client
   that goes away is noticed on the next write; the run goes on in the engine.

Errors have the API's shape, ``{"error": {"message", "type", "param", "code"}}``, and every
answer carries an ``x-request-id``. No credential is ever echoed or logged.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs

from requests.structures import CaseInsensitiveDict

from assistants_client.server.config import is_loopback
from assistants_client.server.engine import Request, Route, StreamResult
from assistants_client.server.errors import ApiError, error_body

__all__ = [
    "MAX_JSON_DEPTH",
    "ApiApp",
    "Credentials",
    "FaultSource",
    "RecordedRequest",
    "sse",
]

logger = logging.getLogger("assistants_client.server")

MAX_JSON_DEPTH = 64
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
RUN_READS = frozenset({"getRun", "listRuns", "createRun", "createThreadAndRun", "cancelRun"})

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the application received it (for the emulator's request log)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: Any
    raw_body: bytes = field(repr=False)
    request_id: str


class FaultSource(Protocol):
    """Injected failures (the emulator's): whether to fail this POST, and the answer to send."""

    def draw(self) -> Literal["before", "after"] | None: ...

    def response(self) -> tuple[int, dict[str, str], bytes]: ...


class Engine(Protocol):
    """What the application needs of the engine."""

    store: Any

    def close(self) -> None: ...

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]: ...

    def dispatch(self, route: Route, params: dict[str, str], request: Request) -> Any: ...


@dataclass(frozen=True)
class Credentials:
    """Which credentials a request must carry.

    ``keys`` empty: anything goes (a local server), from loopback clients only with
    ``loopback_only`` (a server without keys must not serve the network). Otherwise the request's
    ``Authorization: Bearer <key>`` (or, with ``api_key_header``, an ``api-key: <key>`` header,
    as Azure sends) must equal one of them. Every key is compared in constant time, and all of
    them each time, so the answer's timing says nothing about which key came closest.
    """

    keys: tuple[str, ...] = ()
    api_key_header: bool = False
    loopback_only: bool = False
    missing_message: str = (
        "You didn't provide an API key. Provide it in the Authorization header "
        "(Authorization: Bearer YOUR_KEY)."
    )
    missing_code: str = "missing_api_key"
    invalid_message: str = "Incorrect API key provided."
    invalid_code: str = "invalid_api_key"

    def check(self, headers: Mapping[str, str], remote_addr: str = "") -> None:
        if not self.keys:
            if self.loopback_only and not is_loopback(remote_addr):
                raise ApiError(
                    401,
                    "This server has no API keys configured, so it serves loopback clients "
                    "only. Set ASSISTANTS_SERVER_API_KEYS to serve others.",
                    code="missing_api_key",
                )
            return
        supplied = None
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            supplied = authorization[7:].strip()
        if supplied is None and self.api_key_header:
            supplied = headers.get("api-key")
        if not supplied:
            raise ApiError(401, self.missing_message, code=self.missing_code)
        given = supplied.encode("utf-8", "surrogateescape")
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(given, key.encode("utf-8"))
        if not matched:
            raise ApiError(401, self.invalid_message, code=self.invalid_code)


@dataclass
class _Stored:
    """A finished answer kept for an Idempotency-Key."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _InFlight:
    done: threading.Event = field(default_factory=threading.Event)
    result: _Stored | None = None


def _read(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of the body; a body the HTTP server cannot read (broken framing,
    a connection closed halfway) is the client's error, whichever server runs the app."""
    try:
        return bytes(stream.read(size))
    except Exception as problem:  # each WSGI server raises its own kind
        logger.debug("unreadable request body: %s", problem)
        raise ApiError(
            400, f"The request body could not be read: {problem}", code="incomplete_body"
        ) from None


def sse(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


DONE_EVENT = sse("done", "[DONE]")


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


class _Headers(Mapping[str, str]):
    """The request headers of a WSGI environ, by case-insensitive name."""

    def __init__(self, environ: Mapping[str, Any]) -> None:
        found: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                found[key[5:].replace("_", "-").lower()] = value
        if "CONTENT_TYPE" in environ:
            found["content-type"] = environ["CONTENT_TYPE"]
        if "CONTENT_LENGTH" in environ:
            found["content-length"] = environ["CONTENT_LENGTH"]
        self._items = found

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        return self._items.get(name.lower(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class ApiApp:
    """The Assistants API over an engine, as a WSGI application. Safe for many threads.

    * ``prefix``: where the API is served (``/v1``; ``/openai`` for Azure;
      ``/api/projects/<project>`` for Foundry).
    * ``credentials``: see :class:`Credentials`.
    * ``api_versions``: when given, the ``api-version`` query parameter is required and must
      be one of them (``None`` allows any non-empty value: Azure mode).
    * ``require_api_version``: whether ``api-version`` is required at all.
    * ``recorder`` and ``faults``: the emulator's request log and fault injection.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        prefix: str = "/v1",
        credentials: Credentials | None = None,
        require_api_version: bool = False,
        api_versions: Sequence[str] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        poll_after_ms: str = "20",
        recorder: Callable[[RecordedRequest], None] | None = None,
        faults: FaultSource | None = None,
    ) -> None:
        self.engine = engine
        self.prefix = prefix.rstrip("/")
        self.credentials = credentials or Credentials()
        self.require_api_version = require_api_version or api_versions is not None
        self.api_versions = frozenset(api_versions) if api_versions is not None else None
        self.max_body_bytes = max_body_bytes
        self.poll_after_ms = poll_after_ms
        self.recorder = recorder
        self.faults = faults
        self._in_flight: dict[str, _InFlight] = {}
        self._in_flight_lock = threading.Lock()

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = "req_" + secrets.token_hex(16)
        try:
            return self._handle(environ, start_response, request_id)
        except ApiError as error:
            return self._json(start_response, request_id, error.status, error.body(), error.headers)
        except Exception:
            logger.exception(
                "unhandled error in %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
            )
            body = error_body("The server failed to handle the request.", type="server_error")
            return self._json(start_response, request_id, 500, body)

    def _handle(
        self, environ: dict[str, Any], start_response: StartResponse, request_id: str
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        headers = _Headers(environ)
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            raise ApiError(404, f"Unknown request URL: {method} {path}.", code="unknown_url")
        self.credentials.check(headers, environ.get("REMOTE_ADDR", ""))
        self._check_api_version(query)
        route, params = self.engine.match(method, path[len(self.prefix) :] or "/")
        raw = self._read_body(environ, headers)
        body: Any = None
        try:
            body = self._parse(headers, raw)
        finally:
            if self.recorder is not None:
                recorded = CaseInsensitiveDict(headers)
                self.recorder(
                    RecordedRequest(
                        method, path, query, recorded, copy.deepcopy(body), raw, request_id
                    )
                )
        request = Request(method, path[len(self.prefix) :], query, headers, body)
        fault = self.faults.draw() if self.faults is not None and method == "POST" else None
        if fault == "before":
            return self._fault(start_response, request_id)
        key = headers.get("idempotency-key") if method == "POST" else None
        if key:
            outcome = self._once(f"{method} {path} {key}", route, params, request)
        else:
            outcome = self._run(route, params, request)
        if fault == "after":
            if isinstance(outcome, StreamResult):
                for _ in outcome.events:
                    pass
            return self._fault(start_response, request_id)
        if isinstance(outcome, StreamResult):
            return self._stream(start_response, request_id, outcome)
        extra = (
            {"openai-poll-after-ms": self.poll_after_ms} if route.operation_id in RUN_READS else {}
        )
        return self._send(
            start_response,
            request_id,
            outcome.status,
            {**outcome.headers, **(extra if outcome.status == 200 else {})},
            outcome.body,
        )

    # -- request ------------------------------------------------------------------------------

    def _check_api_version(self, query: Mapping[str, list[str]]) -> None:
        if not self.require_api_version:
            return
        version = (query.get("api-version") or [""])[-1]
        if not version:
            raise ApiError(
                400,
                "The api-version query parameter (?api-version=) is required.",
                param="api-version",
                code="missing_api_version",
            )
        if self.api_versions is not None and version not in self.api_versions:
            supported = ", ".join(sorted(self.api_versions))
            raise ApiError(
                400,
                f"Unsupported api-version {version[:40]!r}; supported: {supported}.",
                param="api-version",
                code="unsupported_api_version",
            )

    def _read_body(self, environ: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        raw_length = headers.get("content-length")
        if raw_length is not None:
            try:
                length = int(raw_length)
            except ValueError:
                raise ApiError(
                    400, "Invalid Content-Length header.", param="Content-Length"
                ) from None
            if length < 0:
                raise ApiError(400, "Invalid Content-Length header.", param="Content-Length")
            if length > self.max_body_bytes:
                raise self._too_large(length)
            data = _read(stream, length) if length else b""
            if len(data) < length:
                raise ApiError(
                    400,
                    f"Incomplete request body: {len(data)} of {length} bytes arrived.",
                    code="incomplete_body",
                )
            return bytes(data)
        if not environ.get("wsgi.input_terminated") and "chunked" not in headers.get(
            "transfer-encoding", ""
        ):
            return b""
        data = _read(stream, self.max_body_bytes + 1)
        if len(data) > self.max_body_bytes:
            raise self._too_large(None)
        return bytes(data)

    def _too_large(self, length: int | None) -> ApiError:
        size = f"of {length} bytes " if length is not None else ""
        return ApiError(
            413,
            f"Request body {size}exceeds the limit of {self.max_body_bytes} bytes.",
            code="request_too_large",
        )

    @staticmethod
    def _parse(headers: Mapping[str, str], raw: bytes) -> Any:
        if not raw.strip():
            return None
        content_type = headers.get("content-type", "")
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

    # -- operations ---------------------------------------------------------------------------

    def _run(
        self, route: Route, params: dict[str, str], request: Request
    ) -> _Stored | StreamResult:
        try:
            result = self.engine.dispatch(route, params, request)
        except ApiError as error:
            headers = {"Content-Type": "application/json", **error.headers}
            return _Stored(error.status, headers, json.dumps(error.body()).encode())
        if isinstance(result, StreamResult):
            return result
        return _Stored(200, {"Content-Type": "application/json"}, json.dumps(result).encode())

    def _once(
        self, key: str, route: Route, params: dict[str, str], request: Request
    ) -> _Stored | StreamResult:
        """Run the operation once per key; concurrent and later duplicates get its answer.

        A streamed answer goes to the first request live (a StreamResult) and is stored when
        it ends; duplicates wait for that and get the recorded stream.
        """
        store = self.engine.store
        owner = False
        with self._in_flight_lock:
            flight = self._in_flight.get(key)
            if flight is None:
                with store.lock:
                    saved = store.get("idempotency", key)
                flight = _InFlight()
                if saved is not None:
                    flight.result = _Stored(
                        int(saved["status"]), dict(saved["headers"]), saved["body"].encode()
                    )
                    flight.done.set()
                else:
                    owner = True
                self._in_flight[key] = flight
        if not owner:
            flight.done.wait()
            if flight.result is None:  # the first attempt failed before storing anything
                return self._once(key, route, params, request)
            return flight.result
        try:
            outcome = self._run(route, params, request)
        except BaseException:
            with self._in_flight_lock:
                self._in_flight.pop(key, None)
            flight.done.set()
            raise
        if isinstance(outcome, StreamResult):
            return StreamResult(self._recorded(key, flight, outcome.events))
        return self._keep(key, flight, outcome)

    def _recorded(
        self, key: str, flight: _InFlight, events: Iterator[tuple[str, str]]
    ) -> Iterator[tuple[str, str]]:
        parts: list[bytes] = []
        try:
            for name, data in events:
                parts.append(sse(name, data))
                yield name, data
        finally:
            # Driven to the end even when the client went away: the run carries on.
            for name, data in events:
                parts.append(sse(name, data))
            parts.append(DONE_EVENT)
            headers = {"Content-Type": "text/event-stream; charset=utf-8"}
            self._keep(key, flight, _Stored(200, headers, b"".join(parts)))

    def _keep(self, key: str, flight: _InFlight, stored: _Stored) -> _Stored:
        store = self.engine.store
        if stored.status < 500:
            with store.lock:
                store.put(
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
            with self._in_flight_lock:
                self._in_flight.pop(key, None)
        flight.done.set()
        return stored

    def forget_keys(self) -> None:
        """Forget the answers kept in memory for idempotency keys (the emulator's reset)."""
        with self._in_flight_lock:
            self._in_flight.clear()

    # -- answers ------------------------------------------------------------------------------

    def _fault(self, start_response: StartResponse, request_id: str) -> Iterable[bytes]:
        assert self.faults is not None
        status, headers, body = self.faults.response()
        return self._send(start_response, request_id, status, headers, body)

    def _json(
        self,
        start_response: StartResponse,
        request_id: str,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
    ) -> Iterable[bytes]:
        merged = {"Content-Type": "application/json", **(headers or {})}
        return self._send(start_response, request_id, status, merged, json.dumps(payload).encode())

    @staticmethod
    def _send(
        start_response: StartResponse,
        request_id: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Iterable[bytes]:
        listed = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
        listed += [("Content-Length", str(len(body))), ("x-request-id", request_id)]
        start_response(_status_line(status), listed)
        return [body]

    @staticmethod
    def _stream(
        start_response: StartResponse, request_id: str, result: StreamResult
    ) -> Iterable[bytes]:
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/event-stream; charset=utf-8"),
                ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no"),
                ("x-request-id", request_id),
            ],
        )
        return _EventStream(result.events)


class _EventStream:
    """The body of a streamed answer: an iterable the WSGI server closes when it is done.

    Closing it (the client went away, or the answer ended) closes the engine's event
    iterator, whose own ``finally`` lets the run go on without a listener.
    """

    def __init__(self, events: Iterator[tuple[str, str]]) -> None:
        self._events = events

    def __iter__(self) -> Iterator[bytes]:
        for name, data in self._events:
            yield sse(name, data)
        yield DONE_EVENT

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _status_line(status: int) -> str:
    return f"{status} {_REASONS.get(status, 'Status')}"
