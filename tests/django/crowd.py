"""Many users of the example site at once, each checking that it got its own right answer.

Shared by the gunicorn and uvicorn tests: half the chats ask for the weather (a tool call),
every stream must arrive in several text events, and nothing may be mixed up between users.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bench.django_site import CITIES, Answer, DjangoSite, User, weather_question, weather_reply


def all_at_once(site: DjangoSite, chats: int, streams: int) -> list[User]:
    """``chats`` users asking through /chat and ``streams`` through /send + /stream, all
    released at the same moment; asserts every answer, returns the users."""
    chat_questions = [
        weather_question(CITIES[i % len(CITIES)]) if i % 2 else f"chat number {i} here"
        for i in range(chats)
    ]
    chat_replies = [
        weather_reply(CITIES[i % len(CITIES)]) if i % 2 else f"You said: chat number {i} here"
        for i in range(chats)
    ]
    stream_questions = [f"stream number {i} with a few more words" for i in range(streams)]
    users = [User(site.url) for _ in range(chats + streams)]
    start = threading.Barrier(chats + streams)

    def ask(index: int) -> Answer:
        start.wait()
        if index < chats:
            return users[index].chat(chat_questions[index])
        return users[index].stream(stream_questions[index - chats])

    with ThreadPoolExecutor(max_workers=chats + streams) as pool:
        answers = list(pool.map(ask, range(chats + streams)))

    chatted, streamed = answers[:chats], answers[chats:]
    assert [(a.status, a.run_status) for a in chatted] == [(200, "completed")] * chats
    assert [a.text for a in chatted] == chat_replies
    assert [(a.status, a.run_status) for a in streamed] == [(200, "completed")] * streams
    assert [a.text for a in streamed] == [f"You said: {q}" for q in stream_questions]
    assert all(len([f for f in a.frames if f[0] == "text"]) > 1 for a in streamed)
    return users
