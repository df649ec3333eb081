"""Django responses: a run streamed to the page, and errors as JSON."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from assistants_client._async_client import AsyncAssistantsClient
from assistants_client._async_sse_relay import AsyncSSERelay
from assistants_client._async_streaming import AsyncAssistantStream
from assistants_client._client import AssistantsClient
from assistants_client._exceptions import AssistantsError, InvalidArgumentError
from assistants_client._sse_relay import DEFAULT_HEARTBEAT, SSERelay
from assistants_client._streaming import AssistantStream
from assistants_client.django._settings import get_async_client, get_client
from assistants_client.models import RunResponse

__all__ = ["AssistantsErrorMiddleware", "error_response", "sse_response"]

logger = logging.getLogger("assistants_client")


def sse_response(
    stream: AssistantStream | AsyncAssistantStream,
    cancel_on_disconnect: bool = False,
    *,
    client: AssistantsClient | AsyncAssistantsClient | None = None,
    events: Iterable[str] = (),
    heartbeat: float = DEFAULT_HEARTBEAT,
) -> StreamingHttpResponse:
    """A ``text/event-stream`` response relaying ``stream`` to the page (``stream.to_sse()``).

    Sent with ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no`` (so that nginx passes
    each event on at once). With ``cancel_on_disconnect=True`` a page that goes away before
    the run ends cancels it, through ``client`` (by default :func:`get_client`, or
    :func:`get_async_client` for an async stream).

    Under WSGI, give it an :class:`AssistantStream` (``get_client().stream_run(...)``): each
    stream holds a worker thread (and a connection of the client's pool) until the run ends or
    the page goes away, and a page that went away is noticed on the next write: a text event,
    or a heartbeat after ``heartbeat`` seconds of quiet.

    Under ASGI (uvicorn, daphne), in an ``async def`` view, give it an
    :class:`AsyncAssistantStream` (``get_async_client().stream_run(...)``, not awaited): the
    body is an async iterator, the event loop never waits on the service, and the server tells
    at once that the page went away, which cancels the run then.
    """
    if isinstance(stream, AsyncAssistantStream):
        return _async_sse_response(stream, cancel_on_disconnect, client, events, heartbeat)
    on_disconnect: Callable[[RunResponse], object] | None = None
    if cancel_on_disconnect:
        canceller = client if client is not None else get_client()
        if not isinstance(canceller, AssistantsClient):
            raise InvalidArgumentError(
                "client must be an AssistantsClient for an AssistantStream", param="client"
            )

        def on_disconnect(run: RunResponse) -> object:
            logger.debug("the page left the stream of run %s: cancelling it", run.id)
            return canceller.cancel_run(run.thread_id, run.id)

    relay = stream.to_sse(events=events, heartbeat=heartbeat, on_disconnect=on_disconnect)
    return _event_stream_response(relay)


def _async_sse_response(
    stream: AsyncAssistantStream,
    cancel_on_disconnect: bool,
    client: AssistantsClient | AsyncAssistantsClient | None,
    events: Iterable[str],
    heartbeat: float,
) -> StreamingHttpResponse:
    on_disconnect: Callable[[RunResponse], Awaitable[object]] | None = None
    if cancel_on_disconnect:
        canceller = client if client is not None else get_async_client()
        if not isinstance(canceller, AsyncAssistantsClient):
            raise InvalidArgumentError(
                "client must be an AsyncAssistantsClient for an AsyncAssistantStream",
                param="client",
            )

        def on_disconnect(run: RunResponse) -> Awaitable[object]:
            logger.debug("the page left the stream of run %s: cancelling it", run.id)
            return canceller.cancel_run(run.thread_id, run.id)

    relay = stream.to_sse(events=events, heartbeat=heartbeat, on_disconnect=on_disconnect)
    return _event_stream_response(relay)


def _event_stream_response(relay: SSERelay | AsyncSSERelay) -> StreamingHttpResponse:
    response = StreamingHttpResponse(relay, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def error_response(error: AssistantsError) -> JsonResponse:
    """The JSON answer to an error: ``error.safe_body()`` with ``error.http_status``.

    A bad argument is a 400 naming the parameter; what the service refused about the request
    keeps its status (404, 409 for a thread with an active run...); a failure of the service is
    a 502, 503 or 504 without its details, which are logged.
    """
    status = error.http_status
    if status >= 500:
        logger.warning("answering %d for %s: %s", status, type(error).__name__, error)
    return JsonResponse(error.safe_body(), status=status)


class AssistantsErrorMiddleware:
    """Answers every :class:`AssistantsError` a view lets through with :func:`error_response`.

    Add ``"assistants_client.django.AssistantsErrorMiddleware"`` to ``MIDDLEWARE``. It serves
    sync and async views alike (under ASGI, no thread is spent on it).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if isinstance(exception, AssistantsError):
            return error_response(exception)
        return None
