"""Django integration: one shared client per process, runs streamed to pages, errors as JSON.

Install with ``pip install 'assistants-client[django]'``; the core package never imports
Django, and importing this package reads no setting (settings are read on first use).

One setting::

    ASSISTANTS_CLIENT = {"base_url": "http://127.0.0.1:8000/v1", "api_key": "..."}
    ASSISTANTS_CLIENT = {"kind": "azure", "endpoint": "https://res.openai.azure.com",
                         "api_version": "2024-05-01-preview", "api_key": "..."}
    ASSISTANTS_CLIENT = {"kind": "foundry", "endpoint": "https://res.services.ai.azure.com/api/projects/p",
                         "token_provider": "myproject.auth.foundry_token"}

``kind`` picks the constructor (``AssistantsClient``, ``.for_azure`` or ``.for_foundry``), the
other keys are its keyword arguments; without the setting the client reads the environment.

- :func:`get_client` returns the process's client, built on first use, shared by every thread,
  closed at exit; :func:`get_async_client` the same for async views under ASGI
  (an :class:`~assistants_client.AsyncAssistantsClient`, shared by every event loop).
- :func:`sse_response` streams a run to an ``EventSource`` (an ``AssistantStream`` under WSGI,
  an ``AsyncAssistantStream`` under ASGI), and can cancel the run when the page goes away.
- :func:`error_response` and :class:`AssistantsErrorMiddleware` answer the library's errors
  with the status and JSON body each one carries (``http_status``, ``safe_body()``).
"""

from assistants_client.django._responses import (
    AssistantsErrorMiddleware,
    error_response,
    sse_response,
)
from assistants_client.django._settings import (
    SETTING,
    async_client_from_settings,
    client_from_settings,
    close_async_client,
    close_client,
    get_async_client,
    get_client,
)

__all__ = [
    "SETTING",
    "AssistantsErrorMiddleware",
    "async_client_from_settings",
    "client_from_settings",
    "close_async_client",
    "close_client",
    "error_response",
    "get_async_client",
    "get_client",
    "sse_response",
]
