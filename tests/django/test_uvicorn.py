"""The example site under uvicorn (its async views, one process, one event loop) with 32 users
asking at once and 16 streaming at once: every answer right, none mixed up with another's; and
a page that leaves in the middle of a stream cancels its run at once.

How long they took is not asserted here: ``make bench`` measures the async client.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistants_client import AssistantsClient
from bench.django_site import DjangoSite, User
from tests.django.crowd import all_at_once

CHATS = 32
STREAMS = 16
WAIT = 20.0  # seconds: a bound on a hang, not a speed claim


@pytest.fixture(scope="module")
def site() -> Iterator[DjangoSite]:
    with DjangoSite(workers=1, stream_delay=0.005, server="uvicorn") as running:
        yield running


def test_32_chats_and_16_streams_at_once_on_one_event_loop_all_get_their_own_answer(
    site: DjangoSite,
) -> None:
    all_at_once(site, CHATS, STREAMS)


def test_a_page_that_leaves_a_stream_midway_cancels_its_run(site: DjangoSite) -> None:
    user = User(site.url)
    sent = user.http.post(
        site.url + "/send",
        json={"message": "a long answer that nobody will stay to read " * 6},
        headers={"X-CSRFToken": user.csrf},
        timeout=WAIT,
    )
    thread_id = sent.json()["thread_id"]
    with user.http.get(site.url + "/stream", stream=True, timeout=WAIT) as response:
        received = b""
        for chunk in response.iter_content(chunk_size=None):
            received += chunk
            if b"event: text" in received:
                break
    # The connection is closed here: uvicorn tells Django at once (http.disconnect).
    with AssistantsClient(base_url=site.api_url) as api:
        run = api.list_runs(thread_id, limit=1).data[0]
        final = api.wait_for_run(thread_id, run.id, timeout=WAIT, poll_interval=0.02)
    assert final.status == "cancelled"
