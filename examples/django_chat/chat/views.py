"""The chat views: a page, a view that runs with tools, and a run streamed to an EventSource.

Every view uses the process's one client (`get_client()`); the user's thread id lives in the
session. Errors of the library need no code here: `AssistantsErrorMiddleware` answers them (a
second message while a run is under way on the thread is a 409, an empty message a 400).

A streamed answer that needs a tool takes two streams: the first ends when the run asks for
the call (the page shows it, from the `thread.run.requires_action` event), and the page opens
the stream again; this time the view calls the function and streams the rest of the run.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from assistants_client import AssistantsClient
from assistants_client.django import get_client, sse_response
from assistants_client.models import RunResponse

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


def get_weather(city: str) -> dict[str, Any]:
    """The example's tool: a fixed forecast."""
    return {"city": city, "temperature_c": 18, "sky": "partly cloudy"}


FUNCTIONS = {"get_weather": get_weather}
# Sent to the page besides the text: the calls a run asks for, to show them.
PAGE_EVENTS = ("thread.run.requires_action",)

_assistants: dict[str, str] = {}
_assistants_lock = threading.Lock()


def assistant_id() -> str:
    """The example's assistant on the configured server, created once per process."""
    client = get_client()
    with _assistants_lock:
        if client.base_url not in _assistants:
            assistant = client.create_assistant(
                settings.CHAT_MODEL,
                name="Django chat example",
                instructions="Answer briefly. Use get_weather for questions about the weather.",
                tools=[WEATHER_TOOL],
            )
            _assistants[client.base_url] = assistant.id
        return _assistants[client.base_url]


def thread_id(request: HttpRequest) -> str:
    """The user's thread, created on the first message."""
    found = request.session.get("thread_id")
    if isinstance(found, str):
        return found
    created = get_client().create_thread().id
    request.session["thread_id"] = created
    return created


def waiting_run(client: AssistantsClient, thread: str) -> RunResponse | None:
    """The thread's latest run if it waits for tool outputs (a stream that stopped for them)."""
    latest = client.list_runs(thread, limit=1).data
    return latest[0] if latest and latest[0].status == "requires_action" else None


def message_of(request: HttpRequest) -> Any:
    """The `message` of a JSON body (or of a form); the client checks it before sending it."""
    if request.content_type == "application/json":
        try:
            return json.loads(request.body or b"{}").get("message")
        except (ValueError, AttributeError):
            return None
    return request.POST.get("message")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/index.html")


@require_POST
def chat(request: HttpRequest) -> JsonResponse:
    """Answer a message in one response, running the tools the assistant asks for."""
    client = get_client()
    thread = thread_id(request)
    client.create_message(thread, "user", message_of(request))
    reply = client.run_and_get_reply(thread, assistant_id(), FUNCTIONS)
    return JsonResponse({"reply": reply.text, "status": reply.run.status, "run_id": reply.run.id})


@require_POST
def send(request: HttpRequest) -> JsonResponse:
    """Add the user's message; the page then opens the stream of the answer."""
    thread = thread_id(request)
    get_client().create_message(thread, "user", message_of(request))
    request.session["answer_pending"] = True
    return JsonResponse({"thread_id": thread}, status=202)


@require_GET
def stream(request: HttpRequest) -> HttpResponse:
    """Stream the answer to the message just sent; leaving the page cancels the run.

    A run is started only for a message sent from this session, so a link to this URL cannot
    start one. When the session's run waits for tool outputs (its first stream ended with
    `requires_action`), the view calls the functions and streams the rest of that run instead.
    """
    client = get_client()
    thread = thread_id(request)
    waiting = waiting_run(client, thread)
    if waiting is not None:
        outputs = client.call_functions(waiting, FUNCTIONS)
        run_stream = client.stream_tool_outputs(thread, waiting.id, outputs)
    elif request.session.pop("answer_pending", False):
        run_stream = client.stream_run(thread, assistant_id())
    else:
        return JsonResponse(
            {"error": {"message": "Send a message first.", "type": "invalid_request_error"}},
            status=409,
        )
    return sse_response(run_stream, cancel_on_disconnect=True, events=PAGE_EVENTS)
