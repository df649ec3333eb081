"""The HTTP transport: one ``requests.Session``, request building, retries and error mapping.

Layering (as in requests): ``AssistantsClient`` (validates arguments, builds bodies) ->
:class:`Transport` (headers, retries, redirects, errors) -> ``requests.Session`` with a sized
connection pool -> urllib3.

The transport holds no per-call state: everything a call needs lives in local variables, so
one client is safe to share between threads.

Retries
    What is retried and how long to wait is the client's :class:`RetryPolicy` (``_retry``).
    Every POST carries an ``Idempotency-Key`` that stays the same across its retries. Each
    attempt and each wait before a retry is a step of the call's plan (:meth:`request_plan`,
    see ``_plan``): :meth:`request` carries it out blocking; the async client runs each attempt
    on a worker thread and waits on its event loop.

Redirects
    Redirects are followed here rather than by requests (at most 5), so that credential
    headers (``Authorization``, ``api-key``) and the account headers (``OpenAI-Organization``,
    ``OpenAI-Project``) are dropped whenever the redirect leaves the origin (scheme, host and
    port) of the original request, whatever session is used. A ``Location`` that is not an
    http(s) URL is an APIResponseValidationError.

Deadlines and limits
    Each attempt of a plain call is bounded as a whole (the read timeout, from sending to the
    last byte of the body), and the call by its optional total timeout; a :class:`Deadline`
    shuts the connection down under the reading thread when one passes, so a server that
    trickles its headers cannot hold a call. A body is read at most ``max_response_bytes``
    (decoded) before the response is closed and ResponseTooLargeError raised.

Uploads
    ``Transport.request(..., form=MultipartForm)`` sends a multipart/form-data body read from
    its files while it is sent (``_uploads``). Each attempt, and each redirect that keeps the
    body, opens the form afresh; a form that cannot be read twice (a file object that cannot
    seek) gets one attempt only.

Streaming hook
    ``Transport.request(..., stream=True)`` applies the same retries and error mapping, then
    returns a :class:`TransportResponse` whose ``http_response`` is still open (its body not yet
    read). The caller reads it (e.g. as server-sent events) and must close it.

Shared by many users
    The session the transport builds stores no cookie a server sets and so sends none: one
    client serves every user of a web application, and a cookie answered to one user's call
    must not ride along on another's. Its connection pool holds ``pool_maxsize`` connections
    per host (64 by default); a call made while all of them are busy waits for one to come
    free, at most the connect timeout, then fails with ``APITimeoutError`` (and is retried as
    any connect timeout is). Opening a connection beyond the pool only to throw it away after
    one call would make every call above the pool's size pay a new TCP (and TLS) handshake.
"""

from __future__ import annotations

import functools
import http.cookiejar
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypedDict
from urllib.parse import urljoin, urlsplit

import attrs
import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError as Urllib3DecodeError
from urllib3.exceptions import EmptyPoolError
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.poolmanager import PoolManager, ProxyManager
from urllib3.response import BaseHTTPResponse
from urllib3.response import HTTPResponse as Urllib3Response

from assistants_client._arguments import to_jsonable
from assistants_client._config import (
    USER_AGENT,
    ClientConfig,
    Timeout,
    TimeoutTypes,
    check_byte_limit,
    check_header,
    resolve_max_retries,
    resolve_timeout,
)
from assistants_client._deadline import (
    Deadline,
    GuardedHTTPConnection,
    GuardedHTTPSConnection,
    GuardedPool,
)
from assistants_client._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AssistantsError,
    InvalidArgumentError,
    ResponseTooLargeError,
    status_error_class,
)
from assistants_client._plan import Blocking, Plan, Sleep, run_plan
from assistants_client._retry import DEFAULT_RETRY_POLICY, RetryPolicy
from assistants_client._uploads import MultipartForm, form_fields

__all__ = [
    "IDEMPOTENCY_KEY_PREFIX",
    "POOL_MAXSIZE",
    "CallOptions",
    "QueryParams",
    "QueryValue",
    "RequestOptions",
    "Transport",
    "TransportResponse",
    "body_chunks",
    "build_session",
    "pool_adapter",
    "check_pool_maxsize",
    "caused_by_timeout",
]

logger = logging.getLogger("assistants_client")

POOL_MAXSIZE = 64
MAX_REDIRECTS = 5
IDEMPOTENCY_KEY_PREFIX = "ac-"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = ("authorization", "api-key")
# Dropped with the credentials when a redirect leaves the origin: they name the account.
CROSS_ORIGIN_DROPPED = frozenset({*CREDENTIAL_HEADERS, "openai-organization", "openai-project"})
_BODY_CHUNK = 16384
_STREAM_CHUNK = 65536
# What is read of an error answer's body: enough for any error object; the rest is dropped.
ERROR_BODY_BYTES = 1 << 20

QueryValue = str | int | Sequence[str]
QueryParams = Mapping[str, QueryValue]
Body = bytes | MultipartForm  # a JSON document, or a form sent streamed
JSON = "application/json"


class _NoCookies(http.cookiejar.CookiePolicy):
    """Accepts no cookie from a server and returns none to it."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


class _WaitingPool:
    """A connection pool whose callers wait for a free connection at most the connect timeout.

    urllib3 waits without a bound when ``block`` is set and the caller gives no pool timeout,
    which requests never does.
    """

    def urlopen(self, method: str, url: str, *args: Any, **kwargs: Any) -> BaseHTTPResponse:
        if kwargs.get("pool_timeout") is None:
            timeout = kwargs.get("timeout")
            kwargs["pool_timeout"] = getattr(timeout, "connect_timeout", None) or 5.0
        return super().urlopen(method, url, *args, **kwargs)  # type: ignore[misc, no-any-return]


class _WaitingHTTPPool(_WaitingPool, GuardedPool, HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _WaitingHTTPSPool(_WaitingPool, GuardedPool, HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


_WAITING_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _WaitingHTTPPool,
    "https": _WaitingHTTPSPool,
}


class _PoolAdapter(HTTPAdapter):
    """requests' adapter over pools of guarded connections (a :class:`Deadline` can cut them)
    that keep ``pool_maxsize`` connections per host and, with ``block``, never open more."""

    def __init__(self, pool_maxsize: int, block: bool = True) -> None:
        self.maxsize = pool_maxsize
        super().__init__(
            pool_connections=8, pool_maxsize=pool_maxsize, max_retries=0, pool_block=block
        )

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WAITING_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # a SOCKS manager has pools of its own kind
            manager.pool_classes_by_scheme = _WAITING_POOLS
        return manager

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().send(request, *args, **kwargs)
        except EmptyPoolError:
            raise requests.exceptions.ConnectTimeout(
                f"no connection of the pool ({self.maxsize}) came free within the connect timeout",
                request=request,
            ) from None


def check_pool_maxsize(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(
            f"pool_maxsize must be an int >= 1, got {value!r}", param="pool_maxsize"
        )
    return value


def pool_adapter(pool_maxsize: int = POOL_MAXSIZE, *, block: bool = True) -> HTTPAdapter:
    """An adapter whose connections a :class:`Deadline` can cut, keeping ``pool_maxsize`` of
    them per host. With ``block``, a call made while all are busy waits for one (at most the
    connect timeout); without, it opens one more, closed after its call."""
    return _PoolAdapter(check_pool_maxsize(pool_maxsize), block)


def build_session(pool_maxsize: int = POOL_MAXSIZE, *, block: bool = True) -> requests.Session:
    """A session that keeps no cookies, over :func:`pool_adapter` pools."""
    session = requests.Session()
    session.cookies = requests.cookies.RequestsCookieJar(policy=_NoCookies())
    adapter = pool_adapter(pool_maxsize, block=block)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _NoNetrcAuth(requests.auth.AuthBase):
    """Keeps requests from replacing our credentials with ones found in ~/.netrc."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


_NO_NETRC = _NoNetrcAuth()


def _check_header_map(value: Mapping[str, str] | None, param: str) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{param} must be a mapping of str to str", param=param)
    for key, item in value.items():
        check_header(key, item, param)
    return value


class RequestOptions(TypedDict, total=False):
    """The options every API method takes, for that call only.

    ``timeout`` (seconds, a ``(connect, read)`` pair or a ``Timeout``), ``max_retries``,
    ``max_response_bytes`` and ``max_event_bytes`` replace the client's; ``extra_headers``,
    ``extra_query`` and ``extra_body`` are added to what the method sends (``extra_body`` after
    the arguments are checked).
    """

    timeout: TimeoutTypes | None
    max_retries: int | None
    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, QueryValue] | None
    extra_body: Mapping[str, Any] | None
    max_response_bytes: int | None
    max_event_bytes: int | None


@attrs.frozen
class CallOptions:
    """The per-call options of one call, checked."""

    timeout: Timeout | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, QueryValue] | None = None
    extra_body: Mapping[str, Any] | None = None
    max_response_bytes: int | None = None
    max_event_bytes: int | None = None

    @classmethod
    def of(cls, options: Mapping[str, Any], method: str) -> CallOptions:
        """Check a method's ``**options`` (raises before any I/O).

        An unknown keyword is a TypeError, as Python raises for any function; a bad value is an
        InvalidArgumentError naming the option.
        """
        unknown = [name for name in options if name not in RequestOptions.__annotations__]
        if unknown:
            raise TypeError(f"{method}() got an unexpected keyword argument {unknown[0]!r}")
        timeout = options.get("timeout")
        max_retries = options.get("max_retries")
        max_response_bytes = options.get("max_response_bytes")
        max_event_bytes = options.get("max_event_bytes")
        extra_query = options.get("extra_query")
        extra_body = options.get("extra_body")
        if extra_query is not None and not isinstance(extra_query, Mapping):
            raise InvalidArgumentError("extra_query must be a mapping", param="extra_query")
        if extra_body is not None and not isinstance(extra_body, Mapping):
            raise InvalidArgumentError("extra_body must be a mapping", param="extra_body")
        return cls(
            timeout=None if timeout is None else resolve_timeout(timeout),
            max_retries=None if max_retries is None else resolve_max_retries(max_retries),
            extra_headers=_check_header_map(options.get("extra_headers"), "extra_headers"),
            extra_query=extra_query,
            extra_body=extra_body,
            max_response_bytes=None
            if max_response_bytes is None
            else check_byte_limit(max_response_bytes, "max_response_bytes"),
            max_event_bytes=None
            if max_event_bytes is None
            else check_byte_limit(max_event_bytes, "max_event_bytes"),
        )


DEFAULT_OPTIONS = CallOptions()


@attrs.define
class TransportResponse:
    """A final (non-retried) 2xx answer.

    ``content`` holds the whole body for a normal request; for ``stream=True`` it is None,
    ``http_response`` is still open, and ``deadline`` (bound to its connection) is the reader's
    to re-arm, fire and disarm; ``started`` is when the call began (``time.monotonic()``).
    """

    http_response: requests.Response
    content: bytes | None
    method: str
    url: str
    elapsed: float
    retries_taken: int
    deadline: Deadline | None = None
    timeout: Timeout | None = None
    started: float = 0.0
    max_event_bytes: int | None = None

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self.http_response.headers

    @property
    def request_id(self) -> str | None:
        return self.http_response.headers.get("x-request-id")


class _RetryableFailure(Exception):
    """Internal: one attempt failed in a way that may be retried."""

    def __init__(self, error: APIError, response: requests.Response | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.response = response


def _is_timeout(exc: BaseException) -> bool:
    # urllib3's ReadTimeoutError is not a builtin TimeoutError, but its name says what it is;
    # requests wraps it in a plain ConnectionError when it happens while reading the body.
    return isinstance(exc, (TimeoutError, requests.Timeout)) or "timeout" in (
        type(exc).__name__.lower()
    )


def caused_by_timeout(exc: BaseException) -> bool:
    """Whether ``exc``, its first argument or anything in its cause chain is a timeout."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        nested = current.args[0] if current.args else None
        if _is_timeout(current) or (isinstance(nested, BaseException) and _is_timeout(nested)):
            return True
        current = current.__cause__ or current.__context__
    return False


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}
    return (
        pa.scheme == pb.scheme
        and pa.hostname == pb.hostname
        and (pa.port or default.get(pa.scheme)) == (pb.port or default.get(pb.scheme))
    )


class Transport:
    """Sends requests for one client. Shared by threads; never mutated after construction."""

    def __init__(
        self,
        config: ClientConfig,
        session: requests.Session | None = None,
        policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        pool_maxsize: int = POOL_MAXSIZE,
    ) -> None:
        self.config = config
        self.policy = policy
        self.pool_maxsize = check_pool_maxsize(pool_maxsize)
        self._owns_session = session is None
        self.session = session if session is not None else build_session(pool_maxsize)

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    # -- helpers ------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` with every known credential replaced by ``<redacted>``."""
        for secret in self.config.auth.secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "<redacted>")
        return text

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self._redact_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_value(v) for v in value]
        return value

    def _headers(
        self,
        *,
        content_type: str | None,
        idempotency_key: str | None,
        options: CallOptions,
        accept: str = JSON,
    ) -> dict[str, str]:
        # OpenAI-Beta, where the server wants it, comes with the config's default headers.
        headers: dict[str, str] = {"Accept": accept, "User-Agent": USER_AGENT}
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers.update(self.config.default_headers)
        headers.update(self.config.auth.headers())
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if options.extra_headers:
            lowered = {k.lower(): k for k in headers}
            for key, value in options.extra_headers.items():
                headers.pop(lowered.get(key.lower(), key), None)
                headers[key] = value
        return headers

    def _params(self, query: QueryParams | None, options: CallOptions) -> list[tuple[str, str]]:
        merged: dict[str, QueryValue] = dict(self.config.default_query)
        if query:
            merged.update(query)
        if options.extra_query:
            merged.update(options.extra_query)
        params: list[tuple[str, str]] = []
        for key, value in merged.items():
            if isinstance(value, (list, tuple)):
                params.extend((key, str(item)) for item in value)
            elif isinstance(value, bool):
                params.append((key, "true" if value else "false"))
            else:
                params.append((key, str(value)))
        return params

    def _encode_body(
        self, body: Mapping[str, Any] | None, options: CallOptions, form: MultipartForm | None
    ) -> Body | None:
        if form is not None:
            if not options.extra_body:
                return form
            extra = to_jsonable(dict(options.extra_body), "extra_body")
            return form.with_fields(form_fields(extra))
        if body is None and not options.extra_body:
            return None
        merged: dict[str, Any] = dict(body or {})
        if options.extra_body:
            merged.update(to_jsonable(dict(options.extra_body), "extra_body"))
        try:
            text = json.dumps(merged, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"the request body is not JSON-serialisable: {exc}", param="extra_body"
            ) from exc
        return text.encode("utf-8")

    def _read_body(
        self,
        response: requests.Response,
        limit: int,
        *,
        deadline: float | None = None,
        truncate: bool = False,
    ) -> bytes:
        """The body, decoded, read as it arrives; the response is closed at the end.

        Past ``limit`` decoded bytes (a gzip bomb counts as inflated) it raises _BodyTooLarge,
        or, with ``truncate`` (error answers), returns the first ``limit`` bytes. ``deadline``
        (``time.monotonic()``) is checked after every network read too: a session whose
        connections a Deadline cannot reach still has its body bounded.
        """
        buffer = bytearray()
        try:
            declared = _declared_length(response)
            if declared is not None and declared > limit and not truncate:
                raise _BodyTooLarge(limit, declared)
            for chunk in body_chunks(response, _BODY_CHUNK):
                buffer += chunk
                if len(buffer) > limit:
                    if not truncate:
                        raise _BodyTooLarge(limit, None)
                    del buffer[limit:]
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise requests.exceptions.ReadTimeout("the response body took too long")
        finally:
            response.close()
        return bytes(buffer)

    def _status_error(
        self, response: requests.Response, body: bytes, method: str, url: str
    ) -> APIStatusError:
        text = self.redact(body.decode("utf-8", errors="replace"))
        error: dict[str, Any] | None = None
        try:
            decoded = json.loads(text) if text else None
            if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
                error = self._redact_value(decoded["error"])
            elif isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
                error = self._redact_value(decoded)
        except (ValueError, RecursionError):
            # Not JSON, or nested too deeply to read: the status and the body tell the rest.
            error = None
        status = response.status_code
        detail = error.get("message") if error else None
        if not isinstance(detail, str) or not detail:
            reason = response.reason or ""
            detail = f"HTTP {status} {reason}".strip()
        if status == 404:
            detail += self._v1_hint(url)
        cls = status_error_class(status, error)
        return cls(
            f"{method} {urlsplit(url).path}: {detail}",
            method=method,
            url=url,
            status_code=status,
            request_id=response.headers.get("x-request-id"),
            body=text,
            error=error,
        )

    def _v1_hint(self, url: str) -> str:
        """For a 404 at a path without ``/v1`` from a base URL without it either (and not an
        Azure one, which has none): the base URL the server most likely serves."""
        base = urlsplit(self.config.base_url)
        if self.config.api_version is not None or "v1" in base.path.split("/"):
            return ""
        if "v1" in urlsplit(url).path.split("/"):
            return ""
        host = f"[{base.hostname}]" if ":" in (base.hostname or "") else base.hostname
        port = f":{base.port}" if base.port else ""
        shown = f"{base.scheme}://{host}{port}{base.path}"
        return f" (did you mean base_url={shown}/v1?)"

    # -- sending ------------------------------------------------------------------------------

    def _send_following_redirects(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]],
        data: Body | None,
        headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> tuple[requests.Response, str, str]:
        """Send once, following redirects by hand; credentials never leave the origin.

        A form is opened for each send (a redirect that keeps the body sends it again) and
        closed once it is sent.
        """
        origin = url
        current_method, current_url = method, url
        current_params: list[tuple[str, str]] | None = params
        answered: list[requests.Response] = []

        def keep(response: requests.Response, **_: Any) -> None:
            answered.append(response)

        # A request's hooks replace the session's of the same kind: keep the caller's too.
        hooks = {"response": [*self.session.hooks.get("response", ()), keep]}

        for _ in range(MAX_REDIRECTS + 1):
            answered.clear()
            payload = data.open() if isinstance(data, MultipartForm) else data
            try:
                response = self.session.request(
                    current_method,
                    current_url,
                    params=current_params,
                    data=payload,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    stream=True,
                    auth=_NO_NETRC,
                    hooks=hooks,
                )
            except ValueError as exc:
                if isinstance(exc, (requests.RequestException, AssistantsError)):
                    raise
                # requests reads the Location of a redirect it does not follow, and raises a
                # bare ValueError on one it cannot parse (a port out of range, a broken IPv6).
                for unread in answered:
                    unread.close()
                raise APIResponseValidationError(
                    f"{method} {urlsplit(url).path}: the server's answer could not be read "
                    f"({type(exc).__name__}; a malformed redirect location?)",
                    method=method,
                    url=url,
                    status_code=answered[-1].status_code if answered else None,
                    request_id=answered[-1].headers.get("x-request-id") if answered else None,
                ) from None
            finally:
                if payload is not None and not isinstance(payload, bytes):
                    payload.close()
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response, current_method, response.url or current_url
            response.close()
            next_url = _redirect_target(response.url or current_url, location)
            if next_url is None:
                raise APIResponseValidationError(
                    f"{method} {urlsplit(url).path}: the server redirected "
                    f"({response.status_code}) to a location that is not an http(s) URL",
                    method=method,
                    url=url,
                    status_code=response.status_code,
                    request_id=response.headers.get("x-request-id"),
                )
            logger.debug(
                "HTTP %s %s redirected (%d) to %s",
                current_method,
                urlsplit(current_url).path,
                response.status_code,
                urlsplit(next_url).path,
            )
            if response.status_code == 303 or (
                response.status_code in (301, 302) and current_method == "POST"
            ):
                current_method, data = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            if not _same_origin(origin, next_url):
                headers = {
                    k: v for k, v in headers.items() if k.lower() not in CROSS_ORIGIN_DROPPED
                }
            current_url, current_params = next_url, None
        raise APIConnectionError(
            f"{method} {urlsplit(url).path}: more than {MAX_REDIRECTS} redirects",
            method=method,
            url=url,
        )

    def _attempt(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]],
        data: Body | None,
        idempotency_key: str | None,
        options: CallOptions,
        timeout: Timeout,
        stream: bool,
        limit: int,
        call_deadline: float | None,
        deadline: Deadline,
        attempt: int = 1,
        accept: str = JSON,
    ) -> tuple[requests.Response, bytes | None]:
        """One attempt (the ``attempt``-th); raises _RetryableFailure or a final APIError.

        The attempt is bounded as a whole by ``timeout.read`` and by ``call_deadline``:
        ``deadline`` (fresh, one per attempt) shuts its connection down when the first of them
        passes, or at once when fired from another thread. For a stream, it stays armed and
        bound to the open connection.
        """
        content_type = None
        if isinstance(data, MultipartForm):
            content_type = data.content_type
        elif data is not None:
            content_type = JSON
        headers = self._headers(
            content_type=content_type,
            idempotency_key=idempotency_key,
            options=options,
            accept=accept,
        )
        path = urlsplit(url).path
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "HTTP %s %s headers=%s", method, path, self.redact(str(_redacted_headers(headers)))
            )
        started = time.monotonic()
        ends = started + timeout.read
        if call_deadline is not None:
            ends = min(ends, call_deadline)
        left = ends - started
        tries = _attempts(attempt)
        total = f"the {'stream_total' if stream else 'total'} timeout of " + (
            f"{timeout.stream_total if stream else timeout.total} s ran out"
        )
        if left <= 0:
            raise APITimeoutError(
                f"{method} {path}: timed out after {_attempts(attempt - 1)} ({total})",
                method=method,
                url=url,
            )
        deadline.arm(ends)
        # Per socket operation: connecting never outlasts what is left, and a read of a plain
        # call neither (a session whose connections the Deadline cannot reach).
        socket_timeout = (
            min(timeout.connect, left),
            timeout.read if stream else min(timeout.read, left),
        )
        response: requests.Response | None = None
        keep_armed = False
        try:
            with deadline.active():
                response, _, final_url = self._send_following_redirects(
                    method, url, params=params, data=data, headers=headers, timeout=socket_timeout
                )
            if response.status_code >= 300:
                body = self._read_body(response, ERROR_BODY_BYTES, deadline=ends, truncate=True)
            elif stream:
                body = None
                keep_armed = True
            else:
                body = self._read_body(response, limit, deadline=ends)
            if not keep_armed:
                deadline.disarm()
            if deadline.fired:
                # The connection was shut down at the deadline: what ended the body was that.
                raise requests.exceptions.ReadTimeout("the answer was not complete in time")
        except APIError:
            deadline.disarm()
            raise
        except _BodyTooLarge as too_large:
            deadline.disarm()
            declared = f" (it declares {too_large.declared} bytes)" if too_large.declared else ""
            raise ResponseTooLargeError(
                f"{method} {path}: the response body is larger than max_response_bytes "
                f"({limit} bytes){declared}; the connection was closed",
                limit=limit,
                method=method,
                url=url,
                status_code=response.status_code if response is not None else None,
                request_id=response.headers.get("x-request-id") if response is not None else None,
            ) from None
        except requests.RequestException as exc:
            deadline.disarm()
            if response is not None:
                response.close()
            error: APIError
            reason = self.redact(str(exc))
            # Should this attempt be the last, the message tells how many were made in all.
            out_of_time = call_deadline is not None and time.monotonic() >= call_deadline
            if out_of_time:
                error = APITimeoutError(
                    f"{method} {path}: timed out after {tries} ({total})", method=method, url=url
                )
                raise error from None
            if deadline.fired:
                error = APITimeoutError(
                    f"{method} {path}: timed out after {tries} (no complete answer within the "
                    f"read timeout of {timeout.read} s)",
                    method=method,
                    url=url,
                )
            elif caused_by_timeout(exc):
                error = APITimeoutError(
                    f"{method} {path}: timed out after {tries} ({reason})", method=method, url=url
                )
            elif isinstance(exc, requests.exceptions.ContentDecodingError):
                raise APIResponseValidationError(
                    f"{method} {path}: the response body could not be decompressed ({reason})",
                    method=method,
                    url=url,
                    status_code=response.status_code if response is not None else None,
                    request_id=response.headers.get("x-request-id")
                    if response is not None
                    else None,
                ) from None
            else:
                error = APIConnectionError(
                    f"{method} {path}: connection failed after {tries} ({reason})",
                    method=method,
                    url=url,
                )
            retryable = deadline.fired or isinstance(
                exc,
                (
                    requests.ConnectionError,
                    requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                ),
            )
            # The cause is left out on purpose: its text (a URL, a header) is not redacted; the
            # message above carries its redacted form.
            if not retryable:
                raise error from None
            raise _RetryableFailure(error, None) from None
        except BaseException:
            deadline.disarm()
            if response is not None:
                response.close()
            raise
        elapsed = time.monotonic() - started
        logger.debug(
            "HTTP %s %s -> %d in %.3fs request_id=%s",
            method,
            path,
            response.status_code,
            elapsed,
            response.headers.get("x-request-id"),
        )
        if response.status_code >= 300:
            status_error = self._status_error(response, body or b"", method, final_url)
            if self.policy.should_retry(response.status_code, response.headers):
                raise _RetryableFailure(status_error, response)
            raise status_error
        return response, body

    def request(
        self,
        method: str,
        path: str,
        *,
        query: QueryParams | None = None,
        body: Mapping[str, Any] | None = None,
        options: CallOptions = DEFAULT_OPTIONS,
        stream: bool = False,
        form: MultipartForm | None = None,
        accept: str = JSON,
    ) -> TransportResponse:
        """Send ``method path`` with retries; return the final 2xx answer or raise APIError.

        ``path`` must already be safe (built from validated ids). With ``stream=True`` the
        returned response is open and unread; the caller must close it and disarm its
        ``deadline``. ``form`` is a multipart body, sent instead of a JSON ``body``; one that
        cannot be read twice is not retried. ``accept`` is what the answer may be (JSON, or
        anything for a file's content).
        """
        plan = self.request_plan(
            method,
            path,
            query=query,
            body=body,
            options=options,
            stream=stream,
            form=form,
            accept=accept,
        )
        return run_plan(plan, self.policy.sleep)

    def request_plan(
        self,
        method: str,
        path: str,
        *,
        query: QueryParams | None = None,
        body: Mapping[str, Any] | None = None,
        options: CallOptions = DEFAULT_OPTIONS,
        stream: bool = False,
        form: MultipartForm | None = None,
        accept: str = JSON,
    ) -> Plan[TransportResponse]:
        """The plan of :meth:`request` (see ``_plan``): each attempt is a Blocking step, which
        firing its Deadline cuts short, and each wait before a retry a Sleep step. An upload's
        form is opened and its files read within the attempt's step (on a worker thread in
        the async client), a piece at a time as it is sent."""
        url = self.config.base_url + path
        params = self._params(query, options)
        data = self._encode_body(body, options, form)
        timeout = options.timeout or self.config.timeout
        max_retries = (
            options.max_retries if options.max_retries is not None else self.config.max_retries
        )
        if isinstance(data, MultipartForm) and not data.replayable:
            max_retries = 0
        limit = options.max_response_bytes or self.config.max_response_bytes
        idempotency_key = f"{IDEMPOTENCY_KEY_PREFIX}{uuid.uuid4()}" if method == "POST" else None
        started = time.monotonic()
        total = timeout.stream_total if stream else timeout.total
        call_deadline = started + total if total is not None else None
        retries_taken = 0
        while True:
            deadline = Deadline()
            attempt = functools.partial(
                self._attempt,
                method,
                url,
                params=params,
                data=data,
                idempotency_key=idempotency_key,
                options=options,
                timeout=timeout,
                stream=stream,
                limit=limit,
                call_deadline=call_deadline,
                deadline=deadline,
                attempt=retries_taken + 1,
                accept=accept,
            )
            try:
                response, content = yield Blocking(
                    attempt,
                    cancel=deadline.fire,
                    abandon=_release_stream(deadline) if stream else None,
                )
            except _RetryableFailure as failure:
                wait = self._retry_wait(
                    failure, retries_taken, max_retries, method, path, call_deadline
                )
                if wait is None:
                    raise failure.error from None
                yield Sleep(wait)
                retries_taken += 1
                continue
            return TransportResponse(
                http_response=response,
                content=content,
                method=method,
                url=url,
                elapsed=time.monotonic() - started,
                retries_taken=retries_taken,
                deadline=deadline if stream else None,
                timeout=timeout,
                started=started,
                max_event_bytes=options.max_event_bytes or self.config.max_event_bytes,
            )

    def _retry_wait(
        self,
        failure: _RetryableFailure,
        retries_taken: int,
        max_retries: int,
        method: str,
        path: str,
        call_deadline: float | None = None,
    ) -> float | None:
        """How long to wait before the next attempt, or None to raise now."""
        what = (
            f"status {failure.error.status_code}"
            if failure.error.status_code is not None
            else type(failure.error).__name__
        )
        if retries_taken >= max_retries:
            logger.debug(
                "HTTP %s %s: %s, not retrying (%d of %d retries used)",
                method,
                path,
                what,
                retries_taken,
                max_retries,
            )
            return None
        headers = failure.response.headers if failure.response is not None else None
        wait = self.policy.wait_before_retry(retries_taken, headers)
        if wait is None:
            logger.debug(
                "HTTP %s %s: %s, the server asked for a wait over %.0fs, not retrying",
                method,
                path,
                what,
                self.policy.max_retry_after,
            )
            return None
        if call_deadline is not None and time.monotonic() + wait >= call_deadline:
            logger.debug(
                "HTTP %s %s: %s, not retrying: the total timeout ends before a retry could",
                method,
                path,
                what,
            )
            return None
        logger.debug(
            "HTTP %s %s: %s, retrying in %.3fs (retry %d of %d)",
            method,
            path,
            what,
            wait,
            retries_taken + 1,
            max_retries,
        )
        return wait

    def iter_stream(self, response: TransportResponse) -> Iterator[bytes]:
        """The body chunks of a ``stream=True`` response, as they arrive (closed at the end)."""
        try:
            yield from body_chunks(response.http_response, _STREAM_CHUNK, stream=True)
        finally:
            response.http_response.close()


def _release_stream(deadline: Deadline) -> Callable[[tuple[requests.Response, Any]], None]:
    """Releases the open answer of a stream attempt that nobody will read."""

    def release(result: tuple[requests.Response, Any]) -> None:
        deadline.disarm()
        result[0].close()

    return release


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("s" if count != 1 else "")


class _BodyTooLarge(Exception):
    """Internal: a body passed the size limit while it was read."""

    def __init__(self, limit: int, declared: int | None) -> None:
        super().__init__(limit)
        self.limit = limit
        self.declared = declared


def _declared_length(response: requests.Response) -> int | None:
    """The Content-Length of an uncompressed body (a compressed one may inflate past it)."""
    if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
        return None
    raw = response.headers.get("content-length", "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 20 else None


def body_chunks(response: requests.Response, size: int, *, stream: bool = False) -> Iterator[bytes]:
    """The decoded body of ``response``, a piece per network read, as requests' exceptions.

    ``read1`` returns what has arrived (at most ``size`` bytes, decompressed as far as that),
    so the caller sees every read: a deadline or a size limit is checked between two of them,
    and an event stream's events are handed on as they come.
    """
    raw = response.raw
    read1 = getattr(raw, "read1", None) if isinstance(raw, Urllib3Response) else None
    try:
        if read1 is None:  # another adapter than urllib3's
            yield from response.iter_content(None if stream else size)
            return
        if stream and raw.chunked and raw.supports_chunked_reads():
            # Also a piece per read (per HTTP chunk, at most `size`), and cheaper than read1.
            yield from response.iter_content(size)
            return
        while True:
            chunk = read1(size, decode_content=True)
            if not chunk:
                return
            yield chunk
    except requests.RequestException:
        raise
    except Urllib3DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(str(exc)) from exc
    except (Urllib3HTTPError, OSError) as exc:
        if caused_by_timeout(exc):
            raise requests.exceptions.ReadTimeout(str(exc)) from exc
        raise requests.exceptions.ChunkedEncodingError(str(exc)) from exc


def _redirect_target(base: str, location: str) -> str | None:
    """Where a redirect leads, or None when ``location`` is no http(s) URL one can send to."""
    try:
        target = urljoin(base, location.strip())
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        return None
    return target


def _redacted_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        key: ("<redacted>" if key.lower() in CREDENTIAL_HEADERS else value)
        for key, value in headers.items()
    }
