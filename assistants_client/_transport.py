"""The HTTP transport: one ``requests.Session``, request building, retries and error mapping.

Layering (as in requests): ``AssistantsClient`` (validates arguments, builds bodies) ->
:class:`Transport` (headers, retries, redirects, errors) -> ``requests.Session`` with a sized
connection pool -> urllib3.

The transport holds no per-call state: everything a call needs lives in local variables, so
one client is safe to share between threads.

Retries
    What is retried and how long to wait is the client's :class:`RetryPolicy` (``_retry``).
    Every POST carries an ``Idempotency-Key`` that stays the same across its retries.

Redirects
    Redirects are followed here rather than by requests (at most 5), so that credential
    headers (``Authorization``, ``api-key``) are dropped whenever the redirect leaves the
    origin (scheme, host and port) of the original request, whatever session is used.

Streaming hook
    ``Transport.request(..., stream=True)`` applies the same retries and error mapping, then
    returns a :class:`TransportResponse` whose ``http_response`` is still open (its body not yet
    read). The caller reads it (e.g. as server-sent events) and must close it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypedDict
from urllib.parse import urljoin, urlsplit

import attrs
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from assistants_client._arguments import to_jsonable
from assistants_client._config import (
    USER_AGENT,
    ClientConfig,
    Timeout,
    TimeoutTypes,
    resolve_max_retries,
    resolve_timeout,
)
from assistants_client._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    InvalidArgumentError,
    status_error_class,
)
from assistants_client._retry import DEFAULT_RETRY_POLICY, RetryPolicy

__all__ = [
    "IDEMPOTENCY_KEY_PREFIX",
    "POOL_MAXSIZE",
    "CallOptions",
    "QueryParams",
    "QueryValue",
    "RequestOptions",
    "Transport",
    "TransportResponse",
    "build_session",
    "caused_by_timeout",
]

logger = logging.getLogger("assistants_client")

POOL_MAXSIZE = 64
MAX_REDIRECTS = 5
IDEMPOTENCY_KEY_PREFIX = "ac-"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = ("authorization", "api-key")
_BODY_CHUNK = 16384

QueryValue = str | int | Sequence[str]
QueryParams = Mapping[str, QueryValue]


def build_session() -> requests.Session:
    """A session with one connection pool per host, sized for many worker threads."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=POOL_MAXSIZE, max_retries=0)
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
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidArgumentError(f"{param} must map str to str", param=param)
        if any(ch in key + item for ch in "\r\n\0"):
            raise InvalidArgumentError(f"{param}[{key!r}] contains a line break", param=param)
    return value


class RequestOptions(TypedDict, total=False):
    """The options every API method takes, for that call only.

    ``timeout`` (seconds, a ``(connect, read)`` pair or a ``Timeout``) and ``max_retries``
    replace the client's; ``extra_headers``, ``extra_query`` and ``extra_body`` are added to
    what the method sends (``extra_body`` after the arguments are checked).
    """

    timeout: TimeoutTypes | None
    max_retries: int | None
    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, QueryValue] | None
    extra_body: Mapping[str, Any] | None


@attrs.frozen
class CallOptions:
    """The per-call options of one call, checked."""

    timeout: Timeout | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, QueryValue] | None = None
    extra_body: Mapping[str, Any] | None = None

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
        )


DEFAULT_OPTIONS = CallOptions()


@attrs.define
class TransportResponse:
    """A final (non-retried) 2xx answer.

    ``content`` holds the whole body for a normal request; for ``stream=True`` it is None and
    ``http_response`` is still open.
    """

    http_response: requests.Response
    content: bytes | None
    method: str
    url: str
    elapsed: float
    retries_taken: int

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
    ) -> None:
        self.config = config
        self.policy = policy
        self._owns_session = session is None
        self.session = session if session is not None else build_session()

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
        self, *, has_body: bool, idempotency_key: str | None, options: CallOptions
    ) -> dict[str, str]:
        # OpenAI-Beta, where the server wants it, comes with the config's default headers.
        headers: dict[str, str] = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if has_body:
            headers["Content-Type"] = "application/json"
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

    def _encode_body(self, body: Mapping[str, Any] | None, options: CallOptions) -> bytes | None:
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

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """The whole body, or ReadTimeout once ``deadline`` passes (however slowly it trickles).

        ``read1`` returns whatever bytes have arrived, so the deadline is checked at least once
        per network read; ``iter_content`` would block until a full chunk was in.
        """
        raw = response.raw
        read1 = getattr(raw, "read1", None)
        if read1 is None:  # a non-urllib3 adapter
            chunks = []
            for chunk in response.iter_content(_BODY_CHUNK):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise requests.exceptions.ReadTimeout("the response body took too long")
            return b"".join(chunks)
        buffer = bytearray()
        try:
            while True:
                chunk = read1(_BODY_CHUNK, decode_content=True)
                if not chunk:
                    break
                buffer += chunk
                if time.monotonic() > deadline:
                    raise requests.exceptions.ReadTimeout("the response body took too long")
        except requests.RequestException:
            raise
        except (Urllib3HTTPError, OSError) as exc:
            if caused_by_timeout(exc):
                raise requests.exceptions.ReadTimeout(str(exc)) from exc
            raise requests.exceptions.ChunkedEncodingError(str(exc)) from exc
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
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
            error = self._redact_value(decoded["error"])
        elif isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
            error = self._redact_value(decoded)
        status = response.status_code
        detail = error.get("message") if error else None
        if not isinstance(detail, str) or not detail:
            reason = response.reason or ""
            detail = f"HTTP {status} {reason}".strip()
        cls = status_error_class(status)
        return cls(
            f"{method} {urlsplit(url).path}: {detail}",
            method=method,
            url=url,
            status_code=status,
            request_id=response.headers.get("x-request-id"),
            body=text,
            error=error,
        )

    # -- sending ------------------------------------------------------------------------------

    def _send_following_redirects(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]],
        data: bytes | None,
        headers: dict[str, str],
        timeout: Timeout,
    ) -> tuple[requests.Response, str, str]:
        """Send once, following redirects by hand; credentials never leave the origin."""
        origin = url
        current_method, current_url = method, url
        current_params: list[tuple[str, str]] | None = params
        for _ in range(MAX_REDIRECTS + 1):
            response = self.session.request(
                current_method,
                current_url,
                params=current_params,
                data=data,
                headers=headers,
                timeout=timeout.as_requests_timeout(),
                allow_redirects=False,
                stream=True,
                auth=_NO_NETRC,
            )
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response, current_method, response.url or current_url
            response.close()
            next_url = urljoin(response.url or current_url, location)
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
                headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
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
        data: bytes | None,
        idempotency_key: str | None,
        options: CallOptions,
        timeout: Timeout,
        stream: bool,
        attempt: int = 1,
    ) -> tuple[requests.Response, bytes | None]:
        """One attempt (the ``attempt``-th); raises _RetryableFailure or a final APIError."""
        headers = self._headers(
            has_body=data is not None, idempotency_key=idempotency_key, options=options
        )
        path = urlsplit(url).path
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "HTTP %s %s headers=%s", method, path, self.redact(str(_redacted_headers(headers)))
            )
        started = time.monotonic()
        deadline = started + timeout.read
        response: requests.Response | None = None
        try:
            response, _, final_url = self._send_following_redirects(
                method, url, params=params, data=data, headers=headers, timeout=timeout
            )
            if stream and response.status_code < 300:
                body = None
            else:
                body = self._read_body(response, deadline)
        except APIError:
            raise
        except requests.RequestException as exc:
            if response is not None:
                response.close()
            error: APIError
            reason = self.redact(str(exc))
            # Should this attempt be the last, the message tells how many were made in all.
            tries = f"{attempt} attempt" + ("s" if attempt != 1 else "")
            if caused_by_timeout(exc):
                error = APITimeoutError(
                    f"{method} {path}: timed out after {tries} ({reason})", method=method, url=url
                )
            else:
                error = APIConnectionError(
                    f"{method} {path}: connection failed after {tries} ({reason})",
                    method=method,
                    url=url,
                )
            retryable = isinstance(
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
    ) -> TransportResponse:
        """Send ``method path`` with retries; return the final 2xx answer or raise APIError.

        ``path`` must already be safe (built from validated ids). With ``stream=True`` the
        returned response is open and unread; the caller must close it.
        """
        url = self.config.base_url + path
        params = self._params(query, options)
        data = self._encode_body(body, options)
        timeout = options.timeout or self.config.timeout
        max_retries = (
            options.max_retries if options.max_retries is not None else self.config.max_retries
        )
        idempotency_key = f"{IDEMPOTENCY_KEY_PREFIX}{uuid.uuid4()}" if method == "POST" else None
        started = time.monotonic()
        retries_taken = 0
        while True:
            try:
                response, content = self._attempt(
                    method,
                    url,
                    params=params,
                    data=data,
                    idempotency_key=idempotency_key,
                    options=options,
                    timeout=timeout,
                    stream=stream,
                    attempt=retries_taken + 1,
                )
            except _RetryableFailure as failure:
                wait = self._retry_wait(failure, retries_taken, max_retries, method, path)
                if wait is None:
                    raise failure.error from None
                self.policy.sleep(wait)
                retries_taken += 1
                continue
            return TransportResponse(
                http_response=response,
                content=content,
                method=method,
                url=url,
                elapsed=time.monotonic() - started,
                retries_taken=retries_taken,
            )

    def _retry_wait(
        self,
        failure: _RetryableFailure,
        retries_taken: int,
        max_retries: int,
        method: str,
        path: str,
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
        """The raw body chunks of a ``stream=True`` response (closed at the end)."""
        try:
            yield from response.http_response.iter_content(chunk_size=None)
        finally:
            response.http_response.close()


def _redacted_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        key: ("<redacted>" if key.lower() in CREDENTIAL_HEADERS else value)
        for key, value in headers.items()
    }
