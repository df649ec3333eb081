"""Citations in a message's text: the markers a file_search answer carries, rendered or removed.

An assistant that searched files writes markers such as ``【4:0†notes.txt】`` into its text, and
the server annotates each with a ``file_citation`` whose ``start_index``/``end_index`` give the
marker's place in the text (in characters) and whose ``file_citation.file_id`` names the file.
:func:`render` replaces each annotated marker by what ``format(n, annotation)`` returns, ``n``
numbering the cited files in order of first citation (a file cited twice keeps its number);
:func:`strip` removes them. A marker-shaped string that no annotation covers (a model that cited
a result the server did not know) names no file: it is removed by both.

The indices are trusted only when ``text[start_index:end_index]`` is the annotation's own
``text``. Otherwise (a server that counted in UTF-16 units or bytes, or indices into an older
text) the marker is looked for in the text, nearest to where the indices point; an annotation
whose marker is not in the text at all changes nothing there, but still counts as a citation.
So a wrong index never cuts the text in the wrong place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

if TYPE_CHECKING:
    from assistants_client.models import FileCitationAnnotation

__all__ = ["Citation", "CitationFormat", "CitedText", "render", "strip"]

CitationFormat = Callable[[int, "FileCitationAnnotation"], str]
"""``format(n, annotation)``: what replaces a marker citing the ``n``-th cited file."""

# 【4:0†notes.txt】 (OpenAI), 【4†source】 (older): a lenticular bracket, a dagger, a name.
MARKER = re.compile(r"【[^【】\n]{0,16}†[^【】\n]{0,256}】")
# Punctuation a removed marker leaves no space in front of (with the closing quotation marks).
_TIGHT_AFTER = frozenset(".,;:!?)]}\u00bb\u201d\u2019")


@attrs.frozen
class Citation:
    """A cited file: its ``number`` in the rendered text, its id, the annotations citing it."""

    number: int
    file_id: str
    annotations: tuple[FileCitationAnnotation, ...]


class CitedText(NamedTuple):
    """A message's text with its citations rendered, and the files it cites, numbered."""

    text: str
    citations: list[Citation]


def _default_format(number: int, annotation: FileCitationAnnotation) -> str:
    return f"[{number}]"


def _spans(text: str, annotations: Sequence[Any]) -> list[tuple[int, int, Any]]:
    """(start, end, annotation) of each citation whose marker is in ``text``, in text order,
    never overlapping."""
    found: list[tuple[int, int, Any]] = []
    taken: list[tuple[int, int]] = []
    for annotation in annotations:
        marker = getattr(annotation, "text", None)
        if not isinstance(marker, str) or not marker:
            continue
        start, end = (
            getattr(annotation, "start_index", None),
            getattr(annotation, "end_index", None),
        )
        if not (isinstance(start, int) and isinstance(end, int) and text[start:end] == marker):
            start = _nearest(text, marker, start if isinstance(start, int) else 0, taken)
            if start is None:
                continue
            end = start + len(marker)
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        taken.append((start, end))
        found.append((start, end, annotation))
    return sorted(found, key=lambda span: span[0])


def _nearest(text: str, marker: str, near: int, taken: list[tuple[int, int]]) -> int | None:
    best: int | None = None
    at = text.find(marker)
    while at != -1:
        free = all(at + len(marker) <= s or e <= at for s, e in taken)
        if free and (best is None or abs(at - near) < abs(best - near)):
            best = at
        at = text.find(marker, at + 1)
    return best


def _is_citation(annotation: Any) -> bool:
    return getattr(annotation, "type", None) == "file_citation"


def _file_id(annotation: Any) -> str | None:
    file_id = getattr(getattr(annotation, "file_citation", None), "file_id", None)
    return file_id if isinstance(file_id, str) and file_id else None


def _stray(text: str, spans: list[tuple[int, int, Any]]) -> list[tuple[int, int, Any]]:
    """The marker-shaped strings no annotation covers, as spans without an annotation."""
    return [
        (m.start(), m.end(), None)
        for m in MARKER.finditer(text)
        if not any(m.start() < end and start < m.end() for start, end, _ in spans)
    ]


def _edit(text: str, spans: list[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end) replaced; where a marker is removed, no space is left
    doubled or in front of punctuation (``cake 【4:0†a】.`` -> ``cake.``)."""
    out: list[str] = []
    cursor = 0
    for start, end, replacement in spans:
        out.append(text[cursor:start])
        following = text[end : end + 1]
        if not replacement:
            last = next((i for i in range(len(out) - 1, -1, -1) if out[i]), None)
            spaced = last is not None and out[last].endswith(" ")
            if last is not None and (not following or following in _TIGHT_AFTER):
                out[last] = out[last].rstrip(" ")
            elif spaced and following == " ":
                end += 1
        out.append(replacement)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def render(parts: Sequence[Any], format: CitationFormat | None = None) -> CitedText:
    """The text of ``parts`` (a message's content) with its citations rendered."""
    fmt = format or _default_format
    numbers: dict[str, int] = {}
    cited: dict[str, list[Any]] = {}
    texts: list[str] = []
    for part in parts:
        if getattr(part, "type", None) != "text":
            continue
        text = part.text.value
        annotations = [a for a in part.text.annotations or () if _is_citation(a)]
        for annotation in annotations:  # a citation counts even when its marker is missing
            file_id = _file_id(annotation)
            if file_id is not None:
                numbers.setdefault(file_id, len(numbers) + 1)
                cited.setdefault(file_id, []).append(annotation)
        found = _spans(text, annotations)
        spans = []
        for start, end, annotation in sorted(found + _stray(text, found), key=lambda s: s[0]):
            file_id = _file_id(annotation) if annotation is not None else None
            replacement = fmt(numbers[file_id], annotation) if file_id is not None else ""
            spans.append((start, end, replacement))
        texts.append(_edit(text, spans))
    citations = [
        Citation(number=numbers[file_id], file_id=file_id, annotations=tuple(found))
        for file_id, found in cited.items()
    ]
    return CitedText("".join(texts), citations)


def strip(parts: Sequence[Any]) -> str:
    """The text of ``parts`` with every citation marker removed."""
    return render(parts, lambda number, annotation: "").text
