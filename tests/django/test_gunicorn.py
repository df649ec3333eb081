"""The example site under gunicorn (2 processes x 24 threads, one client each) with 32 users
asking at once and 16 streaming at once: every answer right, none mixed up with another's.

How long they took is measured by ``make bench`` (bench/bench_django.py), not asserted here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.django_site import CITIES, Answer, DjangoSite, User, weather_question, weather_reply

CHATS = 32
STREAMS = 16


@pytest.fixture(scope="module")
def site() -> Iterator[DjangoSite]:
    with DjangoSite(workers=2, threads=24, stream_delay=0.005) as running:
        yield running


def test_32_chats_and_16_streams_at_once_all_get_their_own_right_answer(
    site: DjangoSite,
) -> None:
    chat_questions = [
        weather_question(CITIES[i % len(CITIES)]) if i % 2 else f"chat number {i} here"
        for i in range(CHATS)
    ]
    chat_replies = [
        weather_reply(CITIES[i % len(CITIES)]) if i % 2 else f"You said: chat number {i} here"
        for i in range(CHATS)
    ]
    stream_questions = [f"stream number {i} with a few more words" for i in range(STREAMS)]
    users = [User(site.url) for _ in range(CHATS + STREAMS)]
    start = threading.Barrier(CHATS + STREAMS)

    def ask(index: int) -> Answer:
        start.wait()
        if index < CHATS:
            return users[index].chat(chat_questions[index])
        return users[index].stream(stream_questions[index - CHATS])

    with ThreadPoolExecutor(max_workers=CHATS + STREAMS) as pool:
        answers = list(pool.map(ask, range(CHATS + STREAMS)))

    chats, streams = answers[:CHATS], answers[CHATS:]
    assert [(a.status, a.run_status) for a in chats] == [(200, "completed")] * CHATS
    assert [a.text for a in chats] == chat_replies
    assert [(a.status, a.run_status) for a in streams] == [(200, "completed")] * STREAMS
    assert [a.text for a in streams] == [f"You said: {q}" for q in stream_questions]
    assert all(len([f for f in a.frames if f[0] == "text"]) > 1 for a in streams)
    # Each user's session holds a thread of its own.
    threads = {user.http.cookies.get("sessionid") for user in users}
    assert len(threads) == CHATS + STREAMS
