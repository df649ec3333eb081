"""The chat views for an ASGI server (uvicorn, daphne): the same page and answers, as `async def`.

They use the process's async client (`get_async_client()`): while the service answers, a request
holds no thread, only a task of the server's event loop, and a streamed answer reaches the page
through `sse_response` as an async iterator. A page that goes away is known at once under ASGI,
and its run is cancelled then. `chat_site.settings_asgi` routes the site here
(`chat_site.urls_async`); under WSGI it uses `chat.views`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from assistants_client import AsyncAssistantsClient
from assistants_client.django import get_async_client, sse_response
from assistants_client.models import RunResponse
from chat.views import FUNCTIONS, PAGE_EVENTS, WEATHER_TOOL, message_of

_assistants: dict[str, str] = {}


async def assistant_id() -> str:
    """The example's assistant on the configured server, created once per process.

    Two first requests at once may each create one; the second is kept, and both work.
    """
    client = get_async_client()
    found = _assistants.get(client.base_url)
    if found is None:
        assistant = await client.create_assistant(
            settings.CHAT_MODEL,
            name="Django chat example",
            instructions="Answer briefly. Use get_weather for questions about the weather.",
            tools=[WEATHER_TOOL],
        )
        found = _assistants[client.base_url] = assistant.id
    return found


async def thread_id(request: HttpRequest) -> str:
    """The user's thread, created on the first message."""
    found = await request.session.aget("thread_id")
    if isinstance(found, str):
        return found
    created = (await get_async_client().create_thread()).id
    await request.session.aset("thread_id", created)
    return created


async def waiting_run(client: AsyncAssistantsClient, thread: str) -> RunResponse | None:
    """The thread's latest run if it waits for tool outputs (see `chat.views.waiting_run`)."""
    latest = (await client.list_runs(thread, limit=1)).data
    return latest[0] if latest and latest[0].status == "requires_action" else None


@require_GET
async def index(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/index.html")


@require_POST
async def chat(request: HttpRequest) -> JsonResponse:
    """Answer a message in one response, running the tools the assistant asks for."""
    client = get_async_client()
    thread = await thread_id(request)
    await client.create_message(thread, "user", message_of(request))
    reply = await client.run_and_get_reply(thread, await assistant_id(), FUNCTIONS)
    return JsonResponse({"reply": reply.text, "status": reply.run.status, "run_id": reply.run.id})


@require_POST
async def send(request: HttpRequest) -> JsonResponse:
    """Add the user's message; the page then opens the stream of the answer."""
    thread = await thread_id(request)
    await get_async_client().create_message(thread, "user", message_of(request))
    await request.session.aset("answer_pending", True)
    return JsonResponse({"thread_id": thread}, status=202)


@require_GET
async def stream(request: HttpRequest) -> HttpResponse:
    """Stream the answer to the message just sent, or the rest of a run that waited for tool
    outputs; leaving the page cancels the run (see `chat.views.stream`)."""
    client = get_async_client()
    thread = await thread_id(request)
    waiting = await waiting_run(client, thread)
    if waiting is not None:
        outputs = await client.call_functions(waiting, FUNCTIONS)
        run_stream = client.stream_tool_outputs(thread, waiting.id, outputs)
    elif await request.session.apop("answer_pending", False):
        run_stream = client.stream_run(thread, await assistant_id())
    else:
        return JsonResponse(
            {"error": {"message": "Send a message first.", "type": "invalid_request_error"}},
            status=409,
        )
    return sse_response(run_stream, cancel_on_disconnect=True, events=PAGE_EVENTS)
