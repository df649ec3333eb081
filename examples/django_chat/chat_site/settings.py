"""Settings of the chat example: one entry for the library, no database.

The client's settings come from the environment, as the library itself reads them
(OPENAI_BASE_URL, OPENAI_API_KEY); `make django-demo` points them at the emulator. Each user's
thread id lives in the session, a signed cookie: a page can only ever reach its own thread.
"""

from __future__ import annotations

import os

DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
# Signs the session cookies; every worker process must share it. Set your own outside a demo.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-chat-example-not-a-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = ["chat"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # The library's errors as JSON: 400 naming a bad argument, 409 for a busy thread, 502...
    "assistants_client.django.AssistantsErrorMiddleware",
]
ROOT_URLCONF = "chat_site.urls"
WSGI_APPLICATION = "chat_site.wsgi.application"
ASGI_APPLICATION = "chat_site.asgi.application"  # with `settings_asgi`: the async views
TEMPLATES = [
    {"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True}
]
DATABASES: dict[str, dict[str, str]] = {}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True
USE_TZ = True

# The one setting of assistants_client.django: the arguments of AssistantsClient(...).
ASSISTANTS_CLIENT = {
    "base_url": os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
    "api_key": os.environ.get("OPENAI_API_KEY") or None,
    "timeout": (5.0, 120.0),
    # At least as many as the threads of a worker process (`gunicorn --threads`), or as the
    # streams an ASGI worker serves at once.
    "pool_maxsize": 64,
}
CHAT_MODEL = os.environ.get("CHAT_MODEL", "gpt-4o-mini")
