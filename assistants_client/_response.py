"""Turning a 2xx answer into a model, and the raw view of a call (status, headers, request id).

``client.with_raw_response.get_thread(...)`` returns a :class:`RawResponse`: the status code,
headers and request id of that one call, and ``parse()`` to get the model (parsed once, on
first use). Nothing is stored on the shared client, so this is safe across threads.
"""

from __future__ import annotations

import contextvars
import functools
import json
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, cast

from assistants_client._converter import structure
from assistants_client._exceptions import APIResponseValidationError, ModelValidationError
from assistants_client._model_base import Model
from assistants_client._transport import TransportResponse

__all__ = [
    "RawResponse",
    "async_raw_response_wrapper",
    "decode_json",
    "parse_model",
    "raw_response_wrapper",
]

T = TypeVar("T")
M = TypeVar("M", bound=Model)
P = ParamSpec("P")

# Set only for the duration of one call made through ``with_raw_response``; a ContextVar is
# per thread, so concurrent calls on a shared client never see each other's mode.
_RAW_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "assistants_client_raw_mode", default=False
)


def _error(response: TransportResponse, message: str, redact: Callable[[str], str]) -> Any:
    body = response.content.decode("utf-8", errors="replace") if response.content else ""
    return APIResponseValidationError(
        redact(f"{response.method} {response.http_response.request.path_url}: {message}"),
        method=response.method,
        url=response.url,
        status_code=response.status_code,
        request_id=response.request_id,
        body=redact(body),
    )


def decode_json(response: TransportResponse, redact: Callable[[str], str] = str) -> Any:
    """The decoded JSON body; APIResponseValidationError if it is not JSON."""
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise _error(
            response, f"expected a JSON response, got content type {content_type!r}", redact
        )
    content = response.content or b""
    if not content.strip():
        raise _error(response, "expected a JSON response, got an empty body", redact)
    try:
        return json.loads(content)
    except ValueError as exc:
        raise _error(response, f"the response is not valid JSON ({exc})", redact) from None
    except RecursionError:
        raise _error(response, "the response is JSON nested too deeply to read", redact) from None


def parse_model(
    response: TransportResponse,
    cls: type[M],
    redact: Callable[[str], str] = str,
    *,
    strict: bool = False,
) -> M:
    """The body parsed into ``cls``; APIResponseValidationError if it does not fit.

    ``strict`` holds the body to the spec instead of to what servers are known to send.
    """
    data = decode_json(response, redact)
    try:
        return structure(data, cls, strict=strict)
    except ModelValidationError as exc:
        raise _error(response, f"the response does not fit {cls.__name__}: {exc}", redact) from exc
    except RecursionError:
        message = f"the response is nested too deeply to read as {cls.__name__}"
        raise _error(response, message, redact) from None


class RawResponse(Generic[T]):
    """One call's answer before parsing: ``status_code``, ``headers``, ``request_id``.

    ``parse()`` returns what the method would have returned; the result is cached.
    """

    def __init__(self, response: TransportResponse, parser: Callable[[], T]) -> None:
        self._response = response
        self._parser = parser
        self._lock = threading.Lock()
        self._parsed: list[T] = []

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def request_id(self) -> str | None:
        return self._response.request_id

    @property
    def content(self) -> bytes:
        return self._response.content or b""

    @property
    def elapsed(self) -> float:
        """Seconds from the first attempt to the final answer, retries included."""
        return self._response.elapsed

    @property
    def retries_taken(self) -> int:
        return self._response.retries_taken

    @property
    def http_response(self) -> Any:
        """The underlying ``requests.Response`` (body already read)."""
        return self._response.http_response

    def parse(self) -> T:
        with self._lock:
            if not self._parsed:
                self._parsed.append(self._parser())
            return self._parsed[0]

    def __repr__(self) -> str:
        return (
            f"<RawResponse {self._response.method} {self._response.http_response.request.path_url}"
            f" status={self.status_code} request_id={self.request_id!r}>"
        )


def is_raw_mode() -> bool:
    return _RAW_MODE.get()


def respond(response: TransportResponse, parser: Callable[[], T]) -> T:
    """``parser()`` normally; a :class:`RawResponse` instead inside ``with_raw_response``.

    The cast is the one place where the raw view passes through a method's return type; the
    wrapper in :func:`raw_response_wrapper` gives it back its real type.
    """
    if _RAW_MODE.get():
        # Consumed here, so a request made later (e.g. a next page) is an ordinary call.
        _RAW_MODE.set(False)
        return cast(T, RawResponse(response, parser))
    return parser()


def raw_response_wrapper(method: Callable[P, T]) -> Callable[P, RawResponse[T]]:
    """``method`` returning a :class:`RawResponse` of its result instead of the result."""

    @functools.wraps(method)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        token = _RAW_MODE.set(True)
        try:
            result = method(*args, **kwargs)
        finally:
            _RAW_MODE.reset(token)
        return _raw(method, result)

    return wrapped


def async_raw_response_wrapper(
    method: Callable[P, Awaitable[T]],
) -> Callable[P, Awaitable[RawResponse[T]]]:
    """An async ``method`` returning a :class:`RawResponse` of its result instead."""

    @functools.wraps(method)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        token = _RAW_MODE.set(True)
        try:
            result = await method(*args, **kwargs)
        finally:
            _RAW_MODE.reset(token)
        return _raw(method, result)

    return wrapped


def _raw(method: object, result: object) -> RawResponse[Any]:
    """The RawResponse a method returned in raw mode (TypeError for a method that has none)."""
    if not isinstance(result, RawResponse):
        raise TypeError(f"{getattr(method, '__name__', method)!r} has no raw response")
    return result
