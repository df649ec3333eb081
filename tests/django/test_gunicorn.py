"""The example site under gunicorn (2 processes x 24 threads, one client each) with 32 users
asking at once and 16 streaming at once: every answer right, none mixed up with another's.

How long they took is measured by ``make bench`` (bench/bench_django.py), not asserted here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.django_site import DjangoSite
from tests.django.crowd import all_at_once

CHATS = 32
STREAMS = 16


@pytest.fixture(scope="module")
def site() -> Iterator[DjangoSite]:
    with DjangoSite(workers=2, threads=24, stream_delay=0.005) as running:
        yield running


def test_32_chats_and_16_streams_at_once_all_get_their_own_right_answer(
    site: DjangoSite,
) -> None:
    users = all_at_once(site, CHATS, STREAMS)
    # Each user's session holds a thread of its own.
    threads = {user.http.cookies.get("sessionid") for user in users}
    assert len(threads) == CHATS + STREAMS
