"""Citations arrive in ``thread.message.delta`` events; the accumulated message must be the stored one.

The stream follows what api.openai.com sends (tests/fixtures/reference/
assistants-file-search-run.sse): the marker arrives as a delta's ``value`` together with its
annotation (``index`` numbering the annotations of the part, ``quote: ""`` in
``file_citation``); here with non-ASCII text before the markers, two citations in one part,
and a second text part.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistants_client._streaming import parse_event_stream
from tests.streaming.recorded import MESSAGE_ID, chunked, encode, message, run

FIRST = [
    "Le gâteau préféré de Filip 🎂 est",
    " le fraisier",
    "【4:0†gâteaux.txt】",
    ", pas",
    " la tarte",
    "【4:1†tartes.md】",
    ".",
]
SECOND = ["Voir aussi", "【5:0†gâteaux.txt】"]


def _marker_annotation(pieces: list[str], at: int, index: int, file_id: str) -> dict[str, Any]:
    start = len("".join(pieces[:at]))
    return {
        "type": "file_citation",
        "text": pieces[at],
        "start_index": start,
        "end_index": start + len(pieces[at]),
        "file_citation": {"file_id": file_id},
    }


CITED = [
    (0, 2, 0, "file-cakes"),
    (0, 5, 1, "file-tarts"),
    (1, 1, 0, "file-cakes"),
]


def delta(part: int, piece: str, annotation: dict[str, Any] | None) -> tuple[str, Any]:
    text: dict[str, Any] = {"value": piece}
    if annotation is not None:
        text["annotations"] = [annotation]
    return (
        "thread.message.delta",
        {
            "id": MESSAGE_ID,
            "object": "thread.message.delta",
            "delta": {"content": [{"index": part, "type": "text", "text": text}]},
        },
    )


def citation_events() -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    parts = [FIRST, SECOND]
    stored_parts = [
        {"type": "text", "text": {"value": "".join(pieces), "annotations": []}} for pieces in parts
    ]
    events: list[tuple[str, Any]] = [
        ("thread.run.created", run("queued")),
        ("thread.run.in_progress", run("in_progress")),
        ("thread.message.created", message("in_progress", [])),
    ]
    for part, pieces in enumerate(parts):
        for at, piece in enumerate(pieces):
            found = next(((i, f) for p, a, i, f in CITED if (p, a) == (part, at)), None)
            annotation = None
            if found is not None:
                stored = _marker_annotation(pieces, at, found[0], found[1])
                stored_parts[part]["text"]["annotations"].append(stored)
                streamed = {"index": found[0], **stored}
                streamed["file_citation"] = {"file_id": found[1], "quote": ""}
                annotation = streamed
            events.append(delta(part, piece, annotation))
    completed = message("completed", stored_parts)
    events += [("thread.message.completed", completed), ("thread.run.completed", run("completed"))]
    return events, completed


@pytest.mark.parametrize("size", [1, 2, 5, 31, 4096])
def test_the_message_accumulated_from_annotated_deltas_is_the_stored_message(size: int) -> None:
    events, completed = citation_events()
    stream = parse_event_stream(iter(chunked(encode(events), size))).until_done()
    accumulated = stream.snapshot.accumulated_message(MESSAGE_ID)
    assert accumulated is not None
    assert accumulated["content"] == completed["content"]
    for part in accumulated["content"]:
        value = part["text"]["value"]
        for annotation in part["text"]["annotations"]:
            assert value[annotation["start_index"] : annotation["end_index"]] == annotation["text"]


def test_the_snapshot_mid_stream_already_carries_the_citations_so_far() -> None:
    events, _ = citation_events()
    stream = parse_event_stream(iter([encode(events)]))
    seen: list[str] = []
    for event in stream:
        if event.event != "thread.message.delta":
            continue
        seen.append(event.data.delta.content[0].text.value)
        if seen[-1] == ", pas":
            rendered = stream.snapshot.message(MESSAGE_ID).text_with_citations()
            assert rendered.text == "Le gâteau préféré de Filip 🎂 est le fraisier[1], pas"
            assert [c.file_id for c in rendered.citations] == ["file-cakes"]
    assert ", pas" in seen


def test_the_rendered_streamed_message_numbers_files_across_parts() -> None:
    events, _ = citation_events()
    stream = parse_event_stream(iter([encode(events)])).until_done()
    final = stream.final_messages[-1]
    text, citations = final.text_with_citations()
    assert text == "Le gâteau préféré de Filip 🎂 est le fraisier[1], pas la tarte[2].Voir aussi[1]"
    assert [(c.number, c.file_id, len(c.annotations)) for c in citations] == [
        (1, "file-cakes", 2),
        (2, "file-tarts", 1),
    ]
    assert (
        final.plain_text()
        == "Le gâteau préféré de Filip 🎂 est le fraisier, pas la tarte.Voir aussi"
    )
