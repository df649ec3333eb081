"""Exceptions raised by assistants-client.

    AssistantsError
     +-- InvalidArgumentError (also ValueError)    bad argument, raised before any network I/O
     +-- ModelValidationError (also ValueError)     a payload does not fit a generated model
     +-- UploadSourceError                          a file being uploaded could not be read
     +-- ToolCallError                              a tool call failed (in ``_runs``)
     +-- RunFailedError                             run_and_get_reply: the run did not complete
     +-- APIError                                   something went wrong talking to the server
          +-- APIConnectionError                    no usable response (refused, reset, DNS, TLS)
          |    +-- APITimeoutError                  connect or read timeout, or a polling deadline
          |    |    +-- PollTimeoutError            polling ended at its deadline (`last` object)
          |    +-- StreamInterruptedError           an event stream ended before `done`
          |         +-- StreamClosedError           closed (by `close()`) while being read
          +-- APIResponseValidationError            a response body that is not the expected JSON
          |    +-- ResponseTooLargeError            a body or one event over the client's limit
          +-- APIStatusError                        a 4xx/5xx answer
               +-- BadRequestError                  400
               |    +-- ActiveRunError              the thread already has an active run
               +-- AuthenticationError              401
               +-- PermissionDeniedError            403
               +-- NotFoundError                    404
               +-- ConflictError                    409
               +-- UnprocessableEntityError         422
               +-- RateLimitError                   429
               +-- InternalServerError              >= 500
          +-- StreamError                           an `error` event inside an event stream

An APIError's ``error`` is the server's error object when its answer had one (an
:class:`ErrorObject`: ``err.error.message``, ``.type``, ``.param``, ``.code``), else None.

No exception's message or repr contains the API key: messages are built from the status, the
server's error object, the request id and a truncated body, never from request headers.

Every error also says how a web view should answer it: ``http_status`` (400 for a bad argument,
the server's own status for what the request asked wrongly, 502/503/504 when the service behind
failed) and ``safe_body()``, a JSON object without secrets, URLs or stack, with the request id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistants_client._client import RunReply
    from assistants_client.models import RunResponse

__all__ = [
    "ActiveRunError",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AssistantsError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ErrorObject",
    "InternalServerError",
    "InvalidArgumentError",
    "ModelValidationError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "RateLimitError",
    "ResponseTooLargeError",
    "RunFailedError",
    "StreamClosedError",
    "StreamError",
    "StreamInterruptedError",
    "UnprocessableEntityError",
    "UploadSourceError",
]

BODY_EXCERPT_CHARS = 2000


def _excerpt(body: str | None) -> str | None:
    if body is None or len(body) <= BODY_EXCERPT_CHARS:
        return body
    return body[:BODY_EXCERPT_CHARS] + f"... [{len(body) - BODY_EXCERPT_CHARS} more characters]"


class ErrorObject(dict[str, Any]):
    """The error object of a server's answer (``{"error": {"message": ..., ...}}``), typed.

    ``message`` is a str (empty when the object had none); ``type``, ``param`` and ``code``
    are a str, or None when absent or not a string. It is also the object as it was sent
    (secrets redacted), a dict: ``error["code"]``, ``error.get("param")``, ``json.dumps(error)``.
    """

    __slots__ = ()

    def _text(self, key: str) -> str | None:
        value = self.get(key)
        return value if isinstance(value, str) else None

    @property
    def message(self) -> str:
        return self._text("message") or ""

    @property
    def type(self) -> str | None:
        return self._text("type")

    @property
    def param(self) -> str | None:
        return self._text("param")

    @property
    def code(self) -> str | None:
        return self._text("code")


class AssistantsError(Exception):
    """Root of every error this library raises."""

    @property
    def http_status(self) -> int:
        """The HTTP status a web view should answer with this error."""
        return 500

    def safe_body(self) -> dict[str, Any]:
        """A JSON object a web view may show: no secret, no URL, no stack."""
        return _safe_error(_PUBLIC_MESSAGES[500], "internal_error")


class InvalidArgumentError(AssistantsError, ValueError):
    """An argument is invalid; nothing was sent to the server."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param

    @property
    def http_status(self) -> int:
        return 400

    def safe_body(self) -> dict[str, Any]:
        return _safe_error(str(self), "invalid_request_error", param=self.param)


class ModelValidationError(AssistantsError, ValueError):
    """A payload does not fit the generated model it was parsed into.

    ``path`` names the class and the field path, e.g. ``RunResponse.required_action.type``.
    """

    def __init__(self, message: str, *, model: str, path: str, errors: list[str]) -> None:
        super().__init__(message)
        self.model = model
        self.path = path
        self.errors = errors

    @property
    def http_status(self) -> int:
        return 502

    def safe_body(self) -> dict[str, Any]:
        return _safe_error(_PUBLIC_MESSAGES[502], "upstream_error")


class UploadSourceError(AssistantsError):
    """A file being uploaded could not be read to its end: it changed size while it was sent,
    or reading it failed. The upload was cut short: the server got an incomplete body, which
    creates no file."""


class RunFailedError(AssistantsError):
    """A run ended without completing: ``failed``, ``expired``, ``cancelled``, or
    ``incomplete`` (cut short, by ``max_completion_tokens`` for instance).

    ``reply`` is what there is (the run and the messages it wrote, ``reply.text`` their text),
    ``run`` the run: ``run.status``, and ``run.last_error`` or ``run.incomplete_details`` say why.
    The message says it too.
    """

    def __init__(self, reply: RunReply) -> None:
        run = reply.run
        why = ""
        if run.last_error is not None:
            why = f": {run.last_error.code}: {run.last_error.message}"
        elif run.incomplete_details is not None and run.incomplete_details.reason:
            why = f": {run.incomplete_details.reason}"
        super().__init__(f"run {run.id} ended {run.status}{why}")
        self.reply = reply

    @property
    def run(self) -> RunResponse:
        return self.reply.run

    @property
    def http_status(self) -> int:
        """504 for a run that expired, else 502: the assistant service did not answer."""
        return 504 if self.run.status == "expired" else 502

    def safe_body(self) -> dict[str, Any]:
        return _safe_error(_PUBLIC_MESSAGES[self.http_status], "upstream_error")


class APIError(AssistantsError):
    """An error that happened while talking to the server.

    ``status_code`` is None when no response was received. ``body`` is a truncated copy of the
    response body. ``error`` is the server's error object when the body had one (an
    :class:`ErrorObject`: ``error.message``, ``.type``, ``.param``, ``.code``), else None.
    ``partial`` is what an event stream had accumulated when it failed (a ``StreamSnapshot``),
    None otherwise.
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
        error: Mapping[str, Any] | None = None,
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
        self.error: ErrorObject | None = (
            error if isinstance(error, ErrorObject) or error is None else ErrorObject(error)
        )

    @property
    def code(self) -> str | None:
        """The server's error code (``error.code``), or None."""
        return self.error.code if self.error is not None else None

    @property
    def type(self) -> str | None:
        """The server's error type (``error.type``), or None."""
        return self.error.type if self.error is not None else None

    @property
    def param(self) -> str | None:
        """The parameter the server's error names (``error.param``), or None."""
        return self.error.param if self.error is not None else None

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

    @property
    def http_status(self) -> int:
        """502 when the service failed or answered what cannot be read; subclasses say more."""
        return 502

    def safe_body(self) -> dict[str, Any]:
        status = self.http_status
        if status in _PASSED_ON:
            # The service refused what the request asked (an unknown thread, a bad value): its
            # message is about the request, and was redacted when the error was built.
            detail = self.error.message if self.error is not None else ""
            return _safe_error(
                detail or _PUBLIC_MESSAGES[status],
                self.type or "invalid_request_error",
                param=self.param,
                code=self.code,
                request_id=self.request_id,
            )
        return _safe_error(
            _PUBLIC_MESSAGES.get(status, _PUBLIC_MESSAGES[502]),
            "upstream_error",
            request_id=self.request_id,
        )


class APIConnectionError(APIError):
    """No usable response: refused, reset, DNS or TLS failure, or a dropped connection."""


class APITimeoutError(APIConnectionError):
    """A connect or read timeout, or an overall polling deadline, ran out."""

    @property
    def http_status(self) -> int:
        return 504


class PollTimeoutError(APITimeoutError):
    """Polling reached its deadline before the object was done.

    ``last`` is the object as the last poll saw it (a run, a vector store file, a file batch),
    or None when no poll answered; its ``status`` and counts say how far it got.
    """

    def __init__(self, message: str, *, last: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.last = last


class StreamInterruptedError(APIConnectionError):
    """An event stream ended before its ``done`` event.

    ``partial`` holds what was accumulated before the cut (a stream snapshot), so that nothing
    already received is lost.
    """


class StreamClosedError(StreamInterruptedError):
    """The stream was closed (``close()``, from any thread) while a thread was reading it.

    The reading thread gets this error, with what was accumulated in ``partial``.
    """


class APIResponseValidationError(APIError):
    """The response body is not the JSON the API describes (HTML page, truncated, wrong shape)."""


class ResponseTooLargeError(APIResponseValidationError):
    """A response body, or one event of a stream, is larger than the client accepts.

    ``limit`` is the limit that was reached (``max_response_bytes`` or ``max_event_bytes``, in
    bytes, counted after decompression). The connection was closed before more was read.
    """

    def __init__(self, message: str, *, limit: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.limit = limit


class StreamError(APIError):
    """The server sent an ``error`` event inside an event stream."""


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status.

    A view passes on 400, 404, 409 and 422 (the request asked for something wrong) with the
    server's message; a 429 becomes 503 (the service behind is busy, not the page's user);
    401, 403 (this server's own credentials) and anything else become 502.
    """

    @property
    def http_status(self) -> int:
        status = self.status_code or 502
        if status in _PASSED_ON:
            return status
        return 503 if status == 429 else 502


class BadRequestError(APIStatusError):
    """400."""


class ActiveRunError(BadRequestError):
    """400: the thread already has an active run, so it takes no new run nor message.

    Two requests on one thread at once (two tabs, a double click) meet this. ``thread_id`` and
    ``run_id`` name the run in the way (``run_id`` is None when the server did not say). Wait
    for it with ``client.wait_for_run(error.thread_id, error.run_id)`` (a run waiting for tool
    outputs stops there: submit them or cancel it), or stop it with
    ``client.cancel_run(error.thread_id, error.run_id)`` and then wait; then try again. A view
    answers it with 409 Conflict.

    It is recognised by the server's message: "Thread thread_x already has an active run
    run_y." for a new run, "Can't add messages to thread_x while a run run_y is active." for
    a new message (the API and this project's server send both, with code null).
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        found = _active_run_match(self.error)
        self.thread_id: str | None = found.group("thread") if found else None
        self.run_id: str | None = found.group("run") if found else None

    @property
    def http_status(self) -> int:
        return 409

    def safe_body(self) -> dict[str, Any]:
        body = super().safe_body()
        body["error"]["code"] = body["error"].get("code") or "thread_has_active_run"
        return body


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


# What the API says when a thread is busy with a run (ids are letters, digits, `_` and `-`).
_ACTIVE_RUN_MESSAGES = (
    re.compile(r"\bthread (?P<thread>[\w-]+) already has an active run (?P<run>[\w-]+)", re.I),
    re.compile(
        r"can't add messages to (?P<thread>[\w-]+) while a run (?P<run>[\w-]+) is active", re.I
    ),
)


def _active_run_match(error: Mapping[str, Any] | None) -> re.Match[str] | None:
    message = (error or {}).get("message")
    if not isinstance(message, str):
        return None
    for pattern in _ACTIVE_RUN_MESSAGES:
        found = pattern.search(message)
        if found:
            return found
    return None


def status_error_class(status: int, error: Mapping[str, Any] | None = None) -> type[APIStatusError]:
    """The exception class for an HTTP error status and the server's error object."""
    if status >= 500:
        return InternalServerError
    if status == 400 and _active_run_match(error) is not None:
        return ActiveRunError
    return _BY_STATUS.get(status, APIStatusError)


# Statuses a view passes on with the service's message: the request asked for something wrong.
_PASSED_ON = frozenset({400, 404, 409, 422})

_PUBLIC_MESSAGES = {
    400: "The request is invalid.",
    404: "Not found.",
    409: "The request conflicts with the current state (a run is under way on this thread).",
    422: "The request cannot be processed.",
    500: "Internal error.",
    502: "The assistant service failed to answer. Try again later.",
    503: "The assistant service is busy. Try again shortly.",
    504: "The assistant service took too long to answer. Try again later.",
}


def _safe_error(
    message: str,
    type: str,
    *,
    param: str | None = None,
    code: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": type, "param": param, "code": code}
    if request_id:
        error["request_id"] = request_id
    return {"error": error}
