"""The pieces of file_search that need no server: markers found in a streamed answer, what
the model reads back, the queries of a call, and the fallback citation."""

from __future__ import annotations

import pytest

from assistants_client.server.file_search import (
    CITE_INSTRUCTION,
    MAX_MARKER,
    NOTHING_FOUND,
    Citer,
    marker,
    queries_of,
    supporting,
    tool_message,
)
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
    ],
)
def test_the_queries_of_a_call_fall_back_on_the_users_question(arguments, queries):
    assert queries_of(arguments, "asked") == queries


def test_the_fallback_citation_needs_an_answer_that_repeats_a_passage():
    passages = ["Invoices are issued monthly.", "ERR-4411 means the data volume is full."]
    assert supporting("ERR-4411: the data volume is full.", passages) == 1
    assert supporting("I do not know.", passages) is None
    assert supporting("Full.", passages) is None
