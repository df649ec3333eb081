"""``ThreadMessage.text_with_citations()`` and ``plain_text()``: markers rendered or removed.

A citation is right only when ``text[start_index:end_index]`` is its marker; these tests hold
the helpers to that, and to never cutting the text in the wrong place when a server's indices
are off (counted in UTF-16 units, or pointing at an older text).
"""

from __future__ import annotations

import json
from typing import Any

from assistants_client import Citation, CitedText
from assistants_client.models import ThreadMessage
from tests.realservers.recordings import REFERENCE

CORPUS = REFERENCE.parent / "corpus"


def citation(
    marker: str, start: int | None, file_id: str, end: int | None = None
) -> dict[str, Any]:
    begin = start if start is not None else 0
    return {
        "type": "file_citation",
        "text": marker,
        "start_index": begin,
        "end_index": end if end is not None else begin + len(marker),
        "file_citation": {"file_id": file_id},
    }


def text_part(value: str, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": list(annotations)}}


def message(*parts: dict[str, Any]) -> ThreadMessage:
    return ThreadMessage.from_dict(
        {
            "id": "msg_1",
            "object": "thread.message",
            "created_at": 1,
            "thread_id": "thread_1",
            "role": "assistant",
            "content": list(parts),
            "attachments": [],
            "metadata": {},
        }
    )


def cited(value: str, *markers: tuple[str, str]) -> ThreadMessage:
    """A message citing each (marker, file_id) at its place in ``value``."""
    return message(text_part(value, *(citation(m, value.index(m), f) for m, f in markers)))


def test_the_recorded_message_renders_its_citation_and_strips_it() -> None:
    record = json.loads(
        (REFERENCE / "responses" / "get_threads_thread_id_messages--1.json").read_text("utf-8")
    )
    answer = ThreadMessage.from_dict(record["body"]["data"][0])
    text, citations = answer.text_with_citations()
    assert text == "Filip's favorite food is cake[1]."
    assert citations == [
        Citation(
            number=1,
            file_id="file-KWAWzm51oenkSYgJcReEu1",
            annotations=(
                answer.content[0].text.annotations[0],  # type: ignore[union-attr]
            ),
        )
    ]
    assert answer.plain_text() == "Filip's favorite food is cake."
    assert answer.text == record["body"]["data"][0]["content"][0]["text"]["value"]


def test_non_ascii_text_before_a_marker_is_counted_in_characters() -> None:
    record = json.loads((CORPUS / "openai" / "message_get_annotated.json").read_text("utf-8"))
    answer = ThreadMessage.from_dict(record["body"])
    value = record["body"]["content"][0]["text"]["value"]
    annotation = record["body"]["content"][0]["text"]["annotations"][0]
    assert value[annotation["start_index"] : annotation["end_index"]] == annotation["text"]
    assert answer.text_with_citations().text == value.replace(annotation["text"], "[1]")
    assert "°C" in answer.plain_text() and "【" not in answer.plain_text()


def test_indices_counted_in_utf16_units_do_not_cut_the_text() -> None:
    value = "Ship it 🚀🚀 today【4:0†plan.md】, then rest."
    marker = "【4:0†plan.md】"
    right = value.index(marker)
    wrong = right + 2  # two astral characters before it: two more UTF-16 units
    answer = message(text_part(value, citation(marker, wrong, "file-plan")))
    assert answer.text_with_citations().text == "Ship it 🚀🚀 today[1], then rest."
    assert answer.plain_text() == "Ship it 🚀🚀 today, then rest."


def test_adjacent_markers_each_become_a_citation() -> None:
    answer = cited(
        "Cake【4:0†a.txt】【4:1†b.txt】.", ("【4:0†a.txt】", "file-a"), ("【4:1†b.txt】", "file-b")
    )
    text, citations = answer.text_with_citations()
    assert text == "Cake[1][2]."
    assert [(c.number, c.file_id) for c in citations] == [(1, "file-a"), (2, "file-b")]
    assert answer.plain_text() == "Cake."


def test_a_file_cited_twice_keeps_its_number() -> None:
    value = "Tacos【4:0†food.txt】 and pizza【4:1†food.txt】, says【5:0†other.txt】 the list."
    answer = cited(
        value,
        ("【4:0†food.txt】", "file-food"),
        ("【4:1†food.txt】", "file-food"),
        ("【5:0†other.txt】", "file-other"),
    )
    text, citations = answer.text_with_citations()
    assert text == "Tacos[1] and pizza[1], says[2] the list."
    assert [(c.number, c.file_id, len(c.annotations)) for c in citations] == [
        (1, "file-food", 2),
        (2, "file-other", 1),
    ]


def test_numbering_goes_on_across_text_parts_and_skips_other_parts() -> None:
    answer = message(
        text_part("First【1:0†a.txt】.", citation("【1:0†a.txt】", 5, "file-a")),
        {"type": "image_file", "image_file": {"file_id": "file-img"}},
        text_part(" Second【2:0†b.txt】.", citation("【2:0†b.txt】", 7, "file-b")),
    )
    assert answer.text_with_citations().text == "First[1]. Second[2]."
    assert answer.plain_text() == "First. Second."


def test_an_annotation_whose_marker_is_not_in_the_text_changes_nothing_there() -> None:
    value = "Nothing to see here."
    answer = message(text_part(value, citation("【9:9†ghost.txt】", 3, "file-ghost")))
    text, citations = answer.text_with_citations()
    assert text == value
    assert [c.file_id for c in citations] == ["file-ghost"]
    assert answer.plain_text() == value


def test_indices_past_the_end_or_upside_down_are_not_trusted() -> None:
    value = "Short【1:0†s.txt】 text."
    marker = "【1:0†s.txt】"
    for start, end in [(400, 420), (10, 2), (-5, 3)]:
        answer = message(text_part(value, citation(marker, start, "file-s", end=end)))
        assert answer.text_with_citations().text == "Short[1] text."


def test_overlapping_annotations_replace_the_marker_once() -> None:
    value = "Cake【4:0†a.txt】."
    marker = "【4:0†a.txt】"
    answer = message(text_part(value, citation(marker, 4, "file-a"), citation(marker, 4, "file-a")))
    assert answer.text_with_citations().text == "Cake[1]."


def test_a_marker_no_annotation_covers_is_removed_but_cites_nothing() -> None:
    answer = cited("Cake 【4:0†a.txt】 and tacos 【7:3†nowhere.txt】.", ("【4:0†a.txt】", "file-a"))
    text, citations = answer.text_with_citations()
    assert text == "Cake [1] and tacos."
    assert [c.file_id for c in citations] == ["file-a"]
    assert answer.plain_text() == "Cake and tacos."


def test_the_format_decides_what_replaces_each_marker() -> None:
    answer = cited("Cake【4:0†a.txt】.", ("【4:0†a.txt】", "file-a"))
    text, _ = answer.text_with_citations(
        lambda n, annotation: f"<sup>{n}:{annotation.file_citation.file_id}</sup>"
    )
    assert text == "Cake<sup>1:file-a</sup>."


def test_a_message_without_text_has_empty_results() -> None:
    answer = message({"type": "image_file", "image_file": {"file_id": "file-img"}})
    assert answer.text_with_citations() == CitedText("", [])
    assert answer.plain_text() == ""


def test_text_that_only_looks_like_brackets_is_kept() -> None:
    value = "Use 【this】 and a † dagger, and [1] stays."
    assert message(text_part(value)).plain_text() == value
