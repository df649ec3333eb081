from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from assistants_client._client import AssistantsClient
from tests import payloads
from tests.servers.scripted import RecordedRequest, Reply, ScriptedServer


def serve_assistants(server: ScriptedServer, total: int) -> None:
    """Pages of ``asst_<n>`` generated on the fly, honouring ``limit`` and ``after``."""
    template = payloads.assistant()

    def answer(request: RecordedRequest) -> Reply:
        query = request.query
        limit = int(query.get("limit", ["20"])[0])
        start = int(query["after"][0].split("_")[1]) + 1 if "after" in query else 0
        stop = min(start + limit, total)
        items = [{**template, "id": f"asst_{n}"} for n in range(start, stop)]
        return Reply.json(payloads.listing(items, has_more=stop < total))

    server.route("GET", "/v1/assistants", answer)


def test_a_page_exposes_its_items_and_cursors(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    serve_assistants(server, total=5)
    page = client.list_assistants(limit=2)
    assert [a.id for a in page.data] == ["asst_0", "asst_1"]
    assert (page.first_id, page.last_id, page.has_more) == ("asst_0", "asst_1", True)
    assert page.has_next_page()
    assert server.request_count == 1


def test_iterating_a_page_fetches_the_next_pages_only_when_needed(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    serve_assistants(server, total=5)
    items = iter(client.list_assistants(limit=2))
    assert [next(items).id for _ in range(2)] == ["asst_0", "asst_1"]
    assert server.request_count == 1
    assert next(items).id == "asst_2"
    assert server.request_count == 2
    assert [a.id for a in items] == ["asst_3", "asst_4"]
    assert server.request_count == 3
    assert [r.query.get("after") for r in server.requests] == [None, ["asst_1"], ["asst_3"]]


def test_the_next_page_keeps_limit_and_order_and_drops_before(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(
        Reply.json(payloads.listing([payloads.message("m1")], has_more=True)),
        Reply.json(payloads.listing([payloads.message("m2")])),
    )
    page = client.list_messages("thread_1", limit=1, order="asc", before="m9", run_id="run_1")
    assert [m.id for m in page] == ["m1", "m2"]
    assert server.requests[1].query == {
        "limit": ["1"],
        "order": ["asc"],
        "run_id": ["run_1"],
        "after": ["m1"],
    }


def test_next_page_and_iter_pages_walk_page_by_page(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    serve_assistants(server, total=5)
    first = client.list_assistants(limit=2)
    second = first.next_page()
    assert second is not None and [a.id for a in second.data] == ["asst_2", "asst_3"]
    pages = list(first.iter_pages())
    assert [[a.id for a in p.data] for p in pages] == [
        ["asst_0", "asst_1"],
        ["asst_2", "asst_3"],
        ["asst_4"],
    ]
    assert pages[-1].next_page() is None
    assert not pages[-1].has_next_page()


def test_an_empty_list_iterates_nothing_and_sends_one_request(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    serve_assistants(server, total=0)
    assert list(client.list_assistants()) == []
    assert server.request_count == 1


def test_an_empty_page_that_claims_more_ends_the_iteration(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(
        Reply.json(payloads.listing([payloads.run("r1")], has_more=True)),
        Reply.json({"object": "list", "data": [], "first_id": "", "last_id": "", "has_more": True}),
    )
    assert [r.id for r in client.list_runs("thread_1")] == ["r1"]
    assert server.request_count == 2


def test_a_failing_next_page_raises_from_the_iteration(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    from assistants_client._exceptions import NotFoundError

    server.enqueue(
        Reply.json(payloads.listing([payloads.run("r1")], has_more=True)), Reply.error(404)
    )
    seen: list[str] = []
    with pytest.raises(NotFoundError):
        for run in client.list_runs("thread_1"):
            seen.append(run.id)
    assert seen == ["r1"]


def test_iterating_a_hundred_thousand_items_holds_one_page_at_a_time(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    serve_assistants(server, total=100_000)
    first = client.list_assistants(limit=100)
    earlier: list[weakref.ref[Any]] = []
    most_alive = 0
    count = 0
    for index, assistant in enumerate(first):
        count += 1
        if index % 100 == 0 and index >= 100:
            earlier.append(weakref.ref(assistant))
        if index % 100 == 50 and index >= 100:
            most_alive = max(most_alive, sum(ref() is not None for ref in earlier))
    assert count == 100_000
    assert server.request_count == 1000
    # Only the item of the page being iterated is alive: earlier pages were freed as soon as
    # iteration moved past them (by reference counting, without waiting for the collector).
    assert most_alive == 1


def test_iter_pages_releases_each_page_the_caller_does_not_keep(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    serve_assistants(server, total=2_000)
    first = client.list_assistants(limit=100)
    refs: list[weakref.ref[Any]] = []
    alive_counts: list[int] = []
    for page in first.iter_pages():
        refs.append(weakref.ref(page))
        del page
        gc.collect()
        alive_counts.append(sum(ref() is not None for ref in refs[1:]))
    assert len(refs) == 20
    assert max(alive_counts) <= 1
