"""The HTTP side of the server: the Assistants API as a WSGI application over the engine.

:class:`ApiApp` is a plain WSGI callable, so any WSGI server can host it (gunicorn, or the
built-in server of ``httpd.py``). Per request, in this order:

1. the path must be under the API's prefix (``/v1``, ``/openai`` or ``/api/projects/<p>``),
   matched on the path as it was sent, each segment decoded once (``routes.py``);
2. the credentials are checked (:class:`Credentials`), before a byte of the body is read, so an
   unauthenticated client cannot make the server read (or keep) anything; the key says the
   request's *project* (``projects.py``), which every operation and idempotency key is
   scoped to;
3. the ``api-version`` query parameter, where the mode requires one;
4. the route, from the generated operations table (404, or 405 with ``Allow``);
5. the body: at most ``max_body_bytes`` (413 otherwise), JSON nested at most 64 deep. An
   upload (``POST /files``, ``multipart/form-data``) is not read here: the operation reads it
   from ``wsgi.input`` as it arrives, a piece at a time, outside any transaction, up to the
   engine's file cap (a ``Content-Length`` that announces more is answered 413 at once);
6. the operation, called with typed arguments (``routes.py``: the body checked against the
   spec, the query string parsed, the project), at most once per project and ``Idempotency-Key``
   (``idempotency.py``: a retry gets the first answer, a streamed one replayed; an upload
   holds its key while its bytes arrive, and lets it go if they stop coming);
7. the answer: JSON, server-sent events streamed as the engine produces them (the events
   that are ready together in one write), or a file's bytes, streamed as the store gives
   them. A client that goes away is noticed on the next write; the run goes on in the
   engine.

Errors have the API's shape, ``{"error": {"message", "type", "param", "code"}}``, and every
answer carries an ``x-request-id``. No credential is ever echoed or logged. A store that cannot
be reached (the database went away) answers 503 with ``Retry-After``: nothing was written, and
the client's retry (same key) is safe.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
import math
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs

from requests.structures import CaseInsensitiveDict

from assistants_client._config import is_loopback
from assistants_client.server.errors import ApiError, error_body
from assistants_client.server.files import FileContent, Upload
from assistants_client.server.idempotency import Answer, Idempotency, Stream
from assistants_client.server.projects import SHARED
from assistants_client.server.routes import BodyCheck, Route, Router, path_segments
from assistants_client.server.scheduling import StreamResult
from assistants_client.server.store import Store, StoreUnavailable

__all__ = [
    "MAX_JSON_DEPTH",
    "ApiApp",
    "Credentials",
    "FaultSource",
    "RecordedRequest",
]

logger = logging.getLogger("assistants_client.server")

MAX_JSON_DEPTH = 64
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# Answers whose readers poll them: each says how soon to ask again (openai-poll-after-ms).
POLLED = frozenset(
    {
        "getRun",
        "listRuns",
        "createRun",
        "createThreadAndRun",
        "cancelRun",
        "getVectorStoreFile",
        "createVectorStoreFile",
        "getVectorStoreFileBatch",
        "createVectorStoreFileBatch",
        "cancelVectorStoreFileBatch",
    }
)
FORM = "multipart/form-data"
# What an upload's form may hold beside its file (the fields, their heads, the boundaries).
FORM_OVERHEAD = 3 * 1024 * 1024
# How much of an upload is read from the connection at a time.
UPLOAD_PIECE = 64 * 1024
UNAVAILABLE_RETRY_AFTER = "1"

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
    """What the application needs of the engine, beside a method per operation it serves
    (named as in the operations table): its store, who it is in the store, and a way to
    renew what it holds there."""

    store: Store
    owner: str
    lease: float
    retrieval: Any  # its ``max_file_bytes`` caps an upload

    def close(self) -> None: ...

    def every_sweep(self, sweeper: Callable[[], None]) -> None: ...


@dataclass(frozen=True)
class Credentials:
    """Which credentials a request must carry, and the project each one stands for.

    ``keys`` maps each key to its project (``""``: the shared namespace). Empty: anything goes
    (a local server, in the shared namespace), from loopback clients only with
    ``loopback_only`` (a server without keys must not serve the network). Otherwise the request's
    ``Authorization: Bearer <key>`` (or, with ``api_key_header``, an ``api-key: <key>`` header,
    as Azure sends) must equal one of them. Every key is compared in constant time, and all of
    them each time, so the answer's timing says nothing about which key came closest.
    """

    keys: Mapping[str, str] = field(default_factory=dict)
    api_key_header: bool = False
    loopback_only: bool = False
    missing_message: str = (
        "You didn't provide an API key. Provide it in the Authorization header "
        "(Authorization: Bearer YOUR_KEY)."
    )
    missing_code: str = "missing_api_key"
    invalid_message: str = "Incorrect API key provided."
    invalid_code: str = "invalid_api_key"

    def check(self, headers: Mapping[str, str], remote_addr: str = "") -> str:
        """The project of the request's key (ApiError 401 if it has none that fits)."""
        if not self.keys:
            if self.loopback_only and not is_loopback(remote_addr):
                raise ApiError(
                    401,
                    "This server has no API keys configured, so it serves loopback clients "
                    "only. Set ASSISTANTS_SERVER_API_KEYS to serve others.",
                    code="missing_api_key",
                )
            return SHARED
        supplied = None
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            supplied = authorization[7:].strip()
        if supplied is None and self.api_key_header:
            supplied = headers.get("api-key")
        if not supplied:
            raise ApiError(401, self.missing_message, code=self.missing_code)
        given = supplied.encode("utf-8", "surrogateescape")
        found: str | None = None
        for key, project in self.keys.items():
            if hmac.compare_digest(given, key.encode("utf-8")):
                found = project
        if found is None:
            raise ApiError(401, self.invalid_message, code=self.invalid_code)
        return found


def _content_length(headers: Mapping[str, str]) -> int | None:
    """The request's Content-Length (None without one); a 400 when it is not a length."""
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        length = int(raw)
    except ValueError:
        raise ApiError(400, "Invalid Content-Length header.", param="Content-Length") from None
    if length < 0:
        raise ApiError(400, "Invalid Content-Length header.", param="Content-Length")
    return length


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


def _pieces(stream: Any, length: int | None) -> Iterator[bytes]:
    """The body of an upload as it arrives: ``length`` bytes, or (chunked) up to its end. A
    body cut short is the client's error (400), raised where the upload is read, so that
    nothing of it is kept."""
    remaining = length
    while remaining is None or remaining > 0:
        size = UPLOAD_PIECE if remaining is None else min(UPLOAD_PIECE, remaining)
        data = _read(stream, size)
        if not data:
            if remaining:
                raise ApiError(
                    400,
                    f"Incomplete request body: it ended {remaining} bytes before its "
                    "Content-Length.",
                    code="incomplete_body",
                )
            return
        if remaining is not None:
            remaining -= len(data)
        yield data


class _NotJson:
    """What a request's JSON held that JSON cannot carry: ``NaN``, ``Infinity``,
    ``-Infinity``, or a number too large for a double (``1e999``), as it was written."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _number(text: str) -> float | _NotJson:
    value = float(text)
    return value if math.isfinite(value) else _NotJson(text)


# Python's json reads NaN and Infinity, and 1e999 as infinity: here they are kept aside (and
# answered 400), so that nothing the server stores or sends can hold them (RFC 8259 section 6).
_DECODER = json.JSONDecoder(parse_constant=_NotJson, parse_float=_number)
# An escaped UTF-16 surrogate: the one way a JSON text can spell a string that is no Unicode.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _check_values(body: Any, *, lone_surrogates: bool) -> None:
    """400 for a body nested deeper than ``MAX_JSON_DEPTH`` levels, for a value JSON cannot
    carry (``NaN``, ``Infinity``, ``1e999``), and, when ``lone_surrogates`` may be there, for a
    string holding half of a UTF-16 surrogate pair (no character: I-JSON, RFC 7493 section
    2.1). Checked without recursion; the offending value is named by its path."""
    stack = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
            if lone_surrogates:
                children = [*children, *node]  # keys are strings too
        elif isinstance(node, list):
            children = node
        elif type(node) is _NotJson:
            where = _path_to(body, node)
            raise ApiError(
                400,
                f"{where}: {node.text} is not a JSON number; send a finite number.",
                param=where,
                code="invalid_json",
            )
        elif lone_surrogates and isinstance(node, str) and not _whole_unicode(node):
            where = _path_to(body, node)
            raise ApiError(
                400,
                f"{where}: the string holds an unpaired UTF-16 surrogate, which is no "
                "character; send valid Unicode.",
                param=where,
                code="invalid_json",
            )
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise ApiError(
                400,
                f"The JSON body of your request is nested deeper than {MAX_JSON_DEPTH} levels.",
                param="body",
                code="invalid_json",
            )
        stack.extend((child, depth + 1) for child in children)


def _whole_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path_to(body: Any, target: object) -> str:
    """The path (``body.tools[0].type``) of ``target`` in ``body``, a value or a key."""
    stack: list[tuple[Any, str]] = [(body, "body")]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            for key, value in reversed(list(node.items())):
                where = f"{path}.{key}" if isinstance(key, str) and _whole_unicode(key) else path
                if key is target:
                    return where
                stack.append((value, where))
        elif isinstance(node, list):
            stack.extend(
                (item, f"{path}[{index}]") for index, item in reversed(list(enumerate(node)))
            )
    return "body"


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
    * ``extra_tool_types``: tool types accepted beyond the spec's (a vendor's own).
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
        extra_tool_types: frozenset[str] = frozenset(),
        recorder: Callable[[RecordedRequest], None] | None = None,
        faults: FaultSource | None = None,
    ) -> None:
        self.engine = engine
        self.router = Router(engine)
        self.check_body = BodyCheck(extra_tool_types)
        self.keys = Idempotency(engine.store, engine.owner, engine.lease)
        engine.every_sweep(self.keys.renew)
        self.prefix = prefix.rstrip("/")
        self._prefix_segments = self.prefix.lstrip("/").split("/") if self.prefix else []
        self.credentials = credentials or Credentials()
        self.require_api_version = require_api_version or api_versions is not None
        self.api_versions = frozenset(api_versions) if api_versions is not None else None
        self.max_body_bytes = max_body_bytes
        self.poll_after_ms = poll_after_ms
        self.recorder = recorder
        self.faults = faults

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = "req_" + secrets.token_hex(16)
        try:
            return self._handle(environ, start_response, request_id)
        except ApiError as error:
            return self._json(start_response, request_id, error.status, error.body(), error.headers)
        except StoreUnavailable as problem:
            logger.warning("answered 503, the store is unavailable: %s", problem)
            body = error_body(
                "The server's database is unavailable; nothing was changed. Retry the request.",
                type="server_error",
                code="database_unavailable",
            )
            headers = {"Retry-After": UNAVAILABLE_RETRY_AFTER}
            return self._json(start_response, request_id, 503, body, headers)
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
        segments = path_segments(environ)
        prefix = self._prefix_segments
        if segments[: len(prefix)] != prefix:
            raise ApiError(404, f"Unknown request URL: {method} {path}.", code="unknown_url")
        project = self.credentials.check(headers, environ.get("REMOTE_ADDR", ""))
        self._check_api_version(query)
        route, params = self.router.match(method, segments[len(prefix) :] or [""])
        uploading = route.operation.request_media_type == FORM
        body: Any = None
        if uploading:
            raw = b""  # read by the operation, as it arrives
            body = self._upload(environ, headers)
        else:
            raw = self._read_body(environ, headers)
        try:
            if not uploading:
                body = self._parse(headers, raw)
        finally:
            if self.recorder is not None:
                recorded = CaseInsensitiveDict(headers)
                self.recorder(
                    RecordedRequest(
                        method,
                        path,
                        query,
                        recorded,
                        None if uploading else copy.deepcopy(body),
                        raw,
                        request_id,
                    )
                )
        fault = self.faults.draw() if self.faults is not None and method == "POST" else None
        if fault == "before":
            return self._fault(start_response, request_id)

        def operation() -> Answer | Stream | Download:
            return self._run(route, params, query, body, project)

        def posted() -> Answer | Stream:
            outcome = operation()
            assert not isinstance(outcome, Download)  # a file's bytes answer a GET only
            return outcome

        key = headers.get("idempotency-key") if method == "POST" else None
        outcome: Answer | Stream | Download
        if key:
            outcome = self.keys.once(
                f"{method} {path} {key}", posted, project=project, apart=uploading
            )
        else:
            outcome = operation()
        if fault == "after":
            if isinstance(outcome, Stream):
                for _ in outcome:
                    pass
            return self._fault(start_response, request_id)
        if isinstance(outcome, Stream):
            return self._stream(start_response, request_id, outcome)
        if isinstance(outcome, Download):
            return self._download(start_response, request_id, outcome.content)
        extra = {"openai-poll-after-ms": self.poll_after_ms} if route.operation_id in POLLED else {}
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
        length = _content_length(headers)
        if length is not None:
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

    def _upload(self, environ: Mapping[str, Any], headers: Mapping[str, str]) -> Upload:
        """An upload's body, to be read by the operation (see the module docstring)."""
        stream = environ.get("wsgi.input")
        length = _content_length(headers)
        if length is not None:
            limit = int(self.engine.retrieval.max_file_bytes)
            if length > limit + FORM_OVERHEAD:
                raise ApiError(
                    413,
                    f"The upload of {length} bytes is larger than this server accepts (files "
                    f"of at most {limit:,} bytes); nothing was stored.",
                    param="file",
                    code="file_too_large",
                )
        elif not environ.get("wsgi.input_terminated") and "chunked" not in headers.get(
            "transfer-encoding", ""
        ):
            length = 0
        chunks = _pieces(stream, length) if stream is not None else iter(())
        return Upload(headers.get("content-type"), chunks)

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
            body = _DECODER.decode(raw.decode(json.detect_encoding(raw)))
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
        _check_values(body, lone_surrogates=_SURROGATE_ESCAPE.search(raw) is not None)
        return body

    # -- operations ---------------------------------------------------------------------------

    def _run(
        self,
        route: Route,
        params: dict[str, str],
        query: Mapping[str, list[str]],
        body: Any,
        project: str,
    ) -> Answer | Stream | Download:
        """The operation's answer, in ``project``: JSON (an error too), a stream, or a file's
        bytes."""
        try:
            result = route.call(params, query, body, self.check_body, project=project)
        except ApiError as error:
            headers = {"Content-Type": "application/json", **error.headers}
            # A body cut short: the client's retry, with the same key, is to be served.
            keep = error.code != "incomplete_body"
            return Answer(error.status, headers, _dumps(error.body()), keep)
        if isinstance(result, StreamResult):
            return Stream(result.events)
        if isinstance(result, FileContent):
            return Download(result)
        return Answer(200, {"Content-Type": "application/json"}, _dumps(result))

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
        return self._send(start_response, request_id, status, merged, _dumps(payload))

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
    def _download(
        start_response: StartResponse, request_id: str, content: FileContent
    ) -> Iterator[bytes]:
        """A file's exact bytes, with its length and name, as the live API answers them."""
        name = content.filename.replace("\\", "_").replace('"', "_")
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/octet-stream"),
                ("Content-Length", str(content.size)),
                ("Content-Disposition", f'attachment; filename="{_latin1(name)}"'),
                ("x-request-id", request_id),
            ],
        )
        return content.chunks

    @staticmethod
    def _stream(start_response: StartResponse, request_id: str, stream: Stream) -> Stream:
        """The answer's body is ``stream``, an iterable the WSGI server closes when it is done
        (the client went away, or the answer ended): closing it lets the run go on without a
        listener."""
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/event-stream; charset=utf-8"),
                ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no"),
                ("x-request-id", request_id),
            ],
        )
        return stream


@dataclass(frozen=True)
class Download:
    """An answer of a file's bytes (never kept with an idempotency key: it answers a GET)."""

    content: FileContent


def _latin1(text: str) -> str:
    """``text`` as a header value may carry it (other characters become ``_``)."""
    return "".join(ch if " " <= ch <= "~" or "\xa0" <= ch <= "\xff" else "_" for ch in text)


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


def _dumps(value: Any) -> bytes:
    """An answer's JSON: standard JSON only (a value JSON cannot carry raises, and the request
    is answered 500, rather than sending what a strict parser refuses)."""
    return json.dumps(value, allow_nan=False).encode()


def _status_line(status: int) -> str:
    return f"{status} {_REASONS.get(status, 'Status')}"
