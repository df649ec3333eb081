"""The URLs of the site under ASGI: the same paths, served by `chat.async_views`."""

from __future__ import annotations

from chat import async_views
from django.urls import path

urlpatterns = [
    path("", async_views.index, name="index"),
    path("chat", async_views.chat, name="chat"),
    path("send", async_views.send, name="send"),
    path("stream", async_views.stream, name="stream"),
]
