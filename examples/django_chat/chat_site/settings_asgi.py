"""Settings of the chat example under an ASGI server: those of `settings`, with async views.

DJANGO_SETTINGS_MODULE=chat_site.settings_asgi uvicorn chat_site.asgi:application
"""

from __future__ import annotations

from chat_site.settings import *  # noqa: F403 - the same site, served another way

ROOT_URLCONF = "chat_site.urls_async"
