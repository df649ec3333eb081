"""10. The Django example under gunicorn: 32 chats and 16 streams at once, and how long each took.

``examples/django_chat`` runs under gunicorn (2 worker processes x 24 threads, ``-k gthread``,
one shared client per process) on the emulator (its own process, ``--stream-delay 0.001``),
as ``tests/django/test_gunicorn.py`` runs it (``bench/django_site.py``). Each round, 48 users
(each with its own session, so its own thread) ask at the same instant: 32 through ``/chat``
(half of them need the ``get_weather`` tool: two runs of the assistant and a tool call), 16
through ``/send`` + ``/stream``. Every answer is checked.

* chats: the slowest of the 32 answers (from the POST to the last byte), median over rounds;
* streams: the slowest time from asking for the stream to its first text event, and the
  slowest whole stream;
* floor: the same request made alone, by one user.

The goal is that no user waits more than a second on loopback.
"""

from __future__ import annotations

import statistics
import threading
from concurrent.futures import ThreadPoolExecutor

from bench.common import Row
from bench.django_site import CITIES, Answer, DjangoSite, User, weather_question, weather_reply

CHATS = 32
STREAMS = 16
ROUNDS = 5
GOAL = 1.0  # seconds


def chat_question(i: int) -> tuple[str, str]:
    if i % 2:
        city = CITIES[i % len(CITIES)]
        return weather_question(city), weather_reply(city)
    return f"chat number {i} here", f"You said: chat number {i} here"


def one_round(site: DjangoSite) -> tuple[list[Answer], list[Answer]]:
    users = [User(site.url) for _ in range(CHATS + STREAMS)]
    start = threading.Barrier(CHATS + STREAMS)

    def ask(index: int) -> Answer:
        start.wait()
        if index < CHATS:
            return users[index].chat(chat_question(index)[0])
        return users[index].stream(f"stream number {index} with a few more words")

    with ThreadPoolExecutor(max_workers=CHATS + STREAMS) as pool:
        answers = list(pool.map(ask, range(CHATS + STREAMS)))
    chats, streams = answers[:CHATS], answers[CHATS:]
    for i, answer in enumerate(chats):
        assert (answer.status, answer.text) == (200, chat_question(i)[1]), answer
    for i, answer in enumerate(streams):
        expected = f"You said: stream number {CHATS + i} with a few more words"
        assert (answer.status, answer.text, answer.run_status) == (200, expected, "completed")
    return chats, streams


def alone(site: DjangoSite) -> tuple[float, float, float]:
    """One chat (with the tool), one stream's first text and whole length, each alone."""
    chats, firsts, totals = [], [], []
    for i in range(ROUNDS):
        chats.append(User(site.url).chat(chat_question(1)[0]).seconds)
        streamed = User(site.url).stream(f"alone {i}")
        firsts.append(streamed.first_text_seconds or 0.0)
        totals.append(streamed.seconds)
    return statistics.median(chats), statistics.median(firsts), statistics.median(totals)


def row(name: str, ours: float, floor: float, note: str) -> Row:
    return {
        "benchmark": name,
        "unit": "s",
        "ours": ours,
        "peers": {},
        "floor": floor,
        "ratio": f"at once/alone {ours / floor:.1f}x",
        "ratio_value": ours / floor,
        "target": f"<= {GOAL:g} s",
        "met": ours <= GOAL,
        "note": note,
    }


def run() -> list[Row]:
    with DjangoSite(workers=2, threads=24, stream_delay=0.001) as site:
        one_round(site)  # warm-up: worker threads, connections, the assistant of each process
        chat_alone, first_alone, stream_alone = alone(site)
        rounds = [one_round(site) for _ in range(ROUNDS)]
    slowest_chat = statistics.median(max(a.seconds for a in chats) for chats, _ in rounds)
    slowest_first = statistics.median(
        max(a.first_text_seconds or 0.0 for a in streams) for _, streams in rounds
    )
    slowest_stream = statistics.median(max(a.seconds for a in streams) for _, streams in rounds)
    median_chat = statistics.median(
        statistics.median(a.seconds for a in chats) for chats, _ in rounds
    )
    note = "floor: the same request alone; gunicorn 2x24 threads; every answer checked"
    return [
        row(
            f"10. django: {CHATS} chats + {STREAMS} streams at once, slowest chat, s",
            slowest_chat,
            chat_alone,
            note,
        ),
        row(f"10. django: {CHATS} chats at once, median chat, s", median_chat, chat_alone, note),
        row(
            f"10. django: {STREAMS} streams at once, slowest first text, s",
            slowest_first,
            first_alone,
            note,
        ),
        row(
            f"10. django: {STREAMS} streams at once, slowest whole stream, s",
            slowest_stream,
            stream_alone,
            note,
        ),
    ]


if __name__ == "__main__":
    for result in run():
        print(result)
