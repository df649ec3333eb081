"""The pieces of file_search that need no server: markers found in a streamed answer, what
the model reads back, the queries of a call, and the fallback citation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistants_client.server.file_search import (
    CITE_INSTRUCTION,
    MAX_MARKER,
    NOTHING_FOUND,
    Citer,
    FileSearcher,
    SearchOptions,
    marker,
    queries_of,
    supporting,
    tool_message,
)
from assistants_client.server.retrieval import APPROXIMATE_CL100K, LocalEmbedder, Retrieval
from assistants_client.server.stores import MemoryStore
from tests.servers.fake_chat import MARKER_PATTERN, every_position

RESULTS = [
    (0, 0, "file-a", "runbook.md"),
    (0, 1, "file-b", "billing.txt"),
    (1, 0, "file-a", "runbook.md"),
]
ANSWER = "Rotate the logs【0:0†runbook.md】, invoices monthly【0:1†source】; not 【0:1†runbook.md】 nor 【5:0†x】."


def settle(pieces: list[str]) -> list[tuple[str, str | None]]:
    citer = Citer(RESULTS)
    found = [stretch for piece in pieces for stretch in citer.feed(piece)] + citer.flush()
    merged: list[tuple[str, str | None]] = []
    for text, file_id in found:
        if merged and file_id is None and merged[-1][1] is None:
            merged[-1] = (merged[-1][0] + text, None)
        else:
            merged.append((text, file_id))
    return merged


def test_markers_naming_results_are_cut_out_with_their_file_whatever_the_pieces():
    whole = settle([ANSWER])
    assert whole == [
        ("Rotate the logs", None),
        ("【0:0†runbook.md】", "file-a"),
        (", invoices monthly", None),
        ("【0:1†source】", "file-b"),
        ("; not 【0:1†runbook.md】 nor 【5:0†x】.", None),
    ]
    cuts = every_position(ANSWER)
    assert (
        settle([ANSWER[i:j] for i, j in zip([0, *cuts], [*cuts, len(ANSWER)], strict=True)])
        == whole
    )


def test_a_possible_marker_is_held_back_only_while_it_may_still_be_one():
    citer = Citer(RESULTS)
    assert citer.feed("text 【0:") == [("text ", None)]
    assert citer.feed("0†run") == []
    assert citer.feed("book.md】 after") == [("【0:0†runbook.md】", "file-a"), (" after", None)]
    assert citer.feed("【 not a marker") == [("【 not a marker", None)]
    assert citer.feed("【12:") == []
    assert citer.feed("x") == [("【12:x", None)]
    long_name = "【0:0†" + "n" * (MAX_MARKER + 10)
    assert citer.feed(long_name) == [(long_name, None)]
    assert citer.feed("【0:0†open") == []
    assert citer.flush() == [("【0:0†open", None)]


def test_the_model_reads_each_result_as_its_marker_and_passage_then_how_to_cite():
    results = [
        {"marker": marker(2, 0, "a【b】.txt"), "text": "First passage."},
        {"marker": marker(2, 1, "notes.md"), "text": "Second."},
    ]
    text = tool_message(results, "1 file(s) were not ready.")
    assert text == (
        "1 file(s) were not ready.\n\n【2:0†a b .txt】\nFirst passage.\n\n【2:1†notes.md】\nSecond.\n\n"
        + CITE_INSTRUCTION
    )
    assert MARKER_PATTERN.findall(text) == ["【2:0†a b .txt】", "【2:1†notes.md】"]
    assert tool_message([]) == NOTHING_FOUND
    assert MARKER_PATTERN.search(tool_message([])) is None


@pytest.mark.parametrize(
    ("arguments", "queries"),
    [
        ('{"queries": ["a", " b "]}', ["a", "b"]),
        ('{"queries": "one"}', ["one"]),
        ('{"query": "legacy"}', ["legacy"]),
        ("not json", ["asked"]),
        ('{"queries": []}', ["asked"]),
        ('{"queries": ["1", "2", "3", "4", "5", "6"]}', ["1", "2", "3", "4", "5"]),
        ('{"queries": ["' + "x" * 5000 + '"]}', ["x" * 2000]),
    ],
)
def test_the_queries_of_a_call_fall_back_on_the_users_question(arguments, queries):
    assert queries_of(arguments, "asked") == queries


def test_the_fallback_citation_needs_an_answer_that_repeats_a_passage():
    passages = ["Invoices are issued monthly.", "ERR-4411 means the data volume is full."]
    assert supporting("ERR-4411: the data volume is full.", passages) == 1
    assert supporting("I do not know.", passages) is None
    assert supporting("Full.", passages) is None


# -- the searcher, over the retrieval port ----------------------------------------------------


@pytest.fixture
def retrieval() -> Iterator[Retrieval]:
    made = Retrieval.over(MemoryStore(), embedder=LocalEmbedder())
    yield made
    made.close()


def store_with(retrieval: Retrieval, files: dict[str, str]) -> str:
    ids = [
        retrieval.create_file("", name, "assistants", text.encode()).id
        for name, text in files.items()
    ]
    store = retrieval.create_vector_store("", name="docs", file_ids=ids)
    for file_id in ids:
        assert retrieval.ingest("", store.id, file_id) == "completed"
    return store.id


FILES = {
    "runbook.md": "ERR-4411 means the data volume is full. Rotate the logs.",
    "garden.txt": "Water the tomato plants every morning; they need full sun.",
    "billing.txt": "Invoices are issued on the first business day of each month.",
}


def test_several_queries_search_at_once_and_merge_into_one_ranked_list(retrieval):
    store = store_with(retrieval, FILES)
    searcher = FileSearcher(retrieval)
    try:
        found = searcher.search(
            "", [store], ["ERR-4411 data volume", "tomato plants water"], SearchOptions(), 3
        )
    finally:
        searcher.close()

    names = [result["file_name"] for result in found.results]
    assert set(names[:2]) == {"runbook.md", "garden.txt"}
    assert len(names) == len(set(names)), "a chunk found by both queries is listed once"
    assert [r["marker"] for r in found.results][:2] == [
        marker(3, 0, names[0]),
        marker(3, 1, names[1]),
    ]
    assert [r["score"] for r in found.results] == sorted(
        (r["score"] for r in found.results), reverse=True
    )


def test_the_passages_handed_to_the_model_fit_the_token_budget(retrieval):
    long = {
        f"notes-{n}.md": f"ERR-4411 note {n}. " + "Disk volume logs rotate. " * 60 for n in range(6)
    }
    store = store_with(retrieval, long)
    searcher, unbounded_searcher = FileSearcher(retrieval, budget=900), FileSearcher(retrieval)
    try:
        found = searcher.search("", [store], ["ERR-4411 disk volume"], SearchOptions(), 0)
        unbounded = unbounded_searcher.search(
            "", [store], ["ERR-4411 disk volume"], SearchOptions(), 0
        )
    finally:
        searcher.close()
        unbounded_searcher.close()

    spent = sum(
        APPROXIMATE_CL100K.count(r["marker"]) + APPROXIMATE_CL100K.count(r["text"]) + 2
        for r in found.results
    )
    assert 0 < len(found.results) < len(unbounded.results)
    assert spent <= 900
    assert found.results == unbounded.results[: len(found.results)]
