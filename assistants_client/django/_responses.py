"""Django responses: a run streamed to the page, and errors as JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from assistants_client._client import AssistantsClient
from assistants_client._exceptions import AssistantsError
from assistants_client._sse_relay import DEFAULT_HEARTBEAT
from assistants_client._streaming import AssistantStream
from assistants_client.django._settings import get_client
from assistants_client.models import RunResponse

__all__ = ["AssistantsErrorMiddleware", "error_response", "sse_response"]

logger = logging.getLogger("assistants_client")


def sse_response(
    stream: AssistantStream,
    cancel_on_disconnect: bool = False,
    *,
    client: AssistantsClient | None = None,
    events: Iterable[str] = (),
    heartbeat: float = DEFAULT_HEARTBEAT,
) -> StreamingHttpResponse:
    """A ``text/event-stream`` response relaying ``stream`` to the page (``stream.to_sse()``).

    Sent with ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no`` (so that nginx passes
    each event on at once). With ``cancel_on_disconnect=True`` a page that goes away before
    the run ends cancels it, through ``client`` (by default :func:`get_client`).

    Under WSGI each stream holds a worker thread (and a connection of the client's pool) until
    the run ends or the page goes away, and a page that went away is noticed on the next write:
    a text event, or a heartbeat after ``heartbeat`` seconds of quiet.
    """
    on_disconnect: Callable[[RunResponse], object] | None = None
    if cancel_on_disconnect:
        canceller = client if client is not None else get_client()

        def on_disconnect(run: RunResponse) -> object:
            logger.debug("the page left the stream of run %s: cancelling it", run.id)
            return canceller.cancel_run(run.thread_id, run.id)

    relay = stream.to_sse(events=events, heartbeat=heartbeat, on_disconnect=on_disconnect)
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

    Add ``"assistants_client.django.AssistantsErrorMiddleware"`` to ``MIDDLEWARE``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if isinstance(exception, AssistantsError):
            return error_response(exception)
        return None
