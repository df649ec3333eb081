"""The chat page, its two ways of answering, and the two steps of a streamed answer."""

from __future__ import annotations

from chat import views
from django.urls import path

urlpatterns = [
    path("", views.index, name="index"),
    path("chat", views.chat, name="chat"),
    path("send", views.send, name="send"),
    path("stream", views.stream, name="stream"),
]
