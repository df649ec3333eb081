"""Exceptions raised by assistants-client.

    AssistantsError
     +-- InvalidArgumentError (also ValueError)    bad argument, raised before any network I/O
     +-- ModelValidationError (also ValueError)     a payload does not fit a generated model
     +-- APIError                                   something went wrong talking to the server
          +-- APIConnectionError                    no usable response (refused, reset, DNS, TLS)
          |    +-- APITimeoutError                  connect or read timeout, or a polling deadline
          |    +-- StreamInterruptedError           an event stream ended before `done`
          +-- APIResponseValidationError            a response body that is not the expected JSON
          +-- APIStatusError                        a 4xx/5xx answer
               +-- BadRequestError                  400
               +-- AuthenticationError              401
               +-- PermissionDeniedError            403
               +-- NotFoundError                    404
               +-- ConflictError                    409
               +-- UnprocessableEntityError         422
               +-- RateLimitError                   429
               +-- InternalServerError              >= 500
          +-- StreamError                           an `error` event inside an event stream

No exception's message or repr contains the API key: messages are built from the status, the
server's error object, the request id and a truncated body, never from request headers.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AssistantsError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidArgumentError",
    "ModelValidationError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamError",
    "StreamInterruptedError",
    "UnprocessableEntityError",
]

BODY_EXCERPT_CHARS = 2000


def _excerpt(body: str | None) -> str | None:
    if body is None or len(body) <= BODY_EXCERPT_CHARS:
        return body
    return body[:BODY_EXCERPT_CHARS] + f"... [{len(body) - BODY_EXCERPT_CHARS} more characters]"


class AssistantsError(Exception):
    """Root of every error this library raises."""


class InvalidArgumentError(AssistantsError, ValueError):
    """An argument is invalid; nothing was sent to the server."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ModelValidationError(AssistantsError, ValueError):
    """A payload does not fit the generated model it was parsed into.

    ``path`` names the class and the field path, e.g. ``RunResponse.required_action.type``.
    """

    def __init__(self, message: str, *, model: str, path: str, errors: list[str]) -> None:
        super().__init__(message)
        self.model = model
        self.path = path
        self.errors = errors


class APIError(AssistantsError):
    """An error that happened while talking to the server.

    ``status_code`` is None when no response was received. ``body`` is a truncated copy of the
    response body. ``error`` is the server's error object (message, type, param, code) when the
    body had one. ``partial`` is what an event stream had accumulated when it failed (a
    ``StreamSnapshot``), None otherwise.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        body: str | None = None,
        error: dict[str, Any] | None = None,
        partial: Any = None,
    ) -> None:
        super().__init__(message)
        self.partial = partial
        self.message = message
        self.method = method
        self.url = url
        self.status_code = status_code
        self.request_id = request_id
        self.body = _excerpt(body)
        self.error = error

    @property
    def code(self) -> str | None:
        value = (self.error or {}).get("code")
        return value if isinstance(value, str) else None

    @property
    def type(self) -> str | None:
        value = (self.error or {}).get("type")
        return value if isinstance(value, str) else None

    @property
    def param(self) -> str | None:
        value = (self.error or {}).get("param")
        return value if isinstance(value, str) else None

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status_code={self.status_code!r}, "
            f"request_id={self.request_id!r})"
        )


class APIConnectionError(APIError):
    """No usable response: refused, reset, DNS or TLS failure, or a dropped connection."""


class APITimeoutError(APIConnectionError):
    """A connect or read timeout, or an overall polling deadline, ran out."""


class StreamInterruptedError(APIConnectionError):
    """An event stream ended before its ``done`` event.

    ``partial`` holds what was accumulated before the cut (a stream snapshot), so that nothing
    already received is lost.
    """


class APIResponseValidationError(APIError):
    """The response body is not the JSON the API describes (HTML page, truncated, wrong shape)."""


class StreamError(APIError):
    """The server sent an ``error`` event inside an event stream."""


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status."""


class BadRequestError(APIStatusError):
    """400."""


class AuthenticationError(APIStatusError):
    """401."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404."""


class ConflictError(APIStatusError):
    """409."""


class UnprocessableEntityError(APIStatusError):
    """422."""


class RateLimitError(APIStatusError):
    """429."""


class InternalServerError(APIStatusError):
    """>= 500."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)
