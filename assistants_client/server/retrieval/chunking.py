"""Chunking: a parsed text cut into overlapping windows of tokens, at natural edges.

The API's rules (``chunking_strategy``):

* ``auto`` is ``static`` with ``max_chunk_size_tokens`` 800 and ``chunk_overlap_tokens`` 400;
* ``static``: ``max_chunk_size_tokens`` from 100 to 4096, ``chunk_overlap_tokens`` from 0 to
  half of it;
* the file reports the strategy it was chunked with (:func:`resolve_strategy` gives the
  ``static`` form the file object carries).

How a text is cut (:func:`chunk_text`): a chunk takes the pieces of the text (see
``tokens.py``) while they fit in ``max_chunk_size_tokens``, then ends at the best edge in the
second half of that window: a paragraph break if there is one, else a line break or the end of
a sentence, else a space between two words. The next chunk starts ``chunk_overlap_tokens``
before that end, moved forward to the start of a sentence or a line when one is near. Every
chunk keeps its character offsets into the text (``text[start:end]`` is the chunk's text, with
no whitespace at either edge), which is what citations point at.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from typing import Any

import attrs

from assistants_client.server.retrieval.errors import InvalidRequest
from assistants_client.server.retrieval.tokens import APPROXIMATE_CL100K, Piece, TokenCounter

__all__ = [
    "AUTO_MAX_TOKENS",
    "AUTO_OVERLAP_TOKENS",
    "Chunk",
    "ChunkingStrategy",
    "MAX_CHUNK_TOKENS",
    "MIN_CHUNK_TOKENS",
    "chunk_text",
    "resolve_strategy",
]

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096
# A piece larger than this many tokens (a run of 5,000 dashes) is cut into smaller ones, so
# that a chunk can always end inside it.
_LARGEST_PIECE = 16.0
# An edge is looked for in the last part of the window (this share of it), and the next
# chunk's start may move forward to a sentence start by at most this share of the overlap.
_EDGE_WINDOW = 0.5
_START_SNAP = 0.25

_PARAGRAPH, _SENTENCE, _LINE, _WORD = 4, 3, 2, 1
_SENTENCE_END = ".!?\u3002\uff01\uff1f"  # and the full-width marks
_CLOSERS = "\"')]}\u00bb\u201d\u2019"  # and closing guillemets and curly quotes


@attrs.frozen
class ChunkingStrategy:
    """A static chunking strategy, checked."""

    max_tokens: int = AUTO_MAX_TOKENS
    overlap_tokens: int = AUTO_OVERLAP_TOKENS

    def as_api(self) -> dict[str, Any]:
        """The strategy as a vector store file reports it."""
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_tokens,
                "chunk_overlap_tokens": self.overlap_tokens,
            },
        }


def resolve_strategy(
    value: Mapping[str, Any] | None, param: str = "chunking_strategy"
) -> ChunkingStrategy:
    """The strategy a request's ``chunking_strategy`` asks for (None or ``auto``: 800/400).

    Raises :class:`~assistants_client.server.retrieval.errors.InvalidRequest` naming the
    parameter for anything the API refuses.
    """
    if value is None:
        return ChunkingStrategy()
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{param} must be an object", param)
    kind = value.get("type")
    if kind == "auto":
        extra = sorted(set(value) - {"type"})
        if extra:
            raise InvalidRequest(f"{param}: unknown field {extra[0]!r} for type 'auto'", param)
        return ChunkingStrategy()
    if kind != "static":
        raise InvalidRequest(f"{param}.type must be 'auto' or 'static', got {kind!r}", param)
    static = value.get("static")
    if not isinstance(static, Mapping):
        raise InvalidRequest(f"{param}.static must be an object", f"{param}.static")
    size = static.get("max_chunk_size_tokens")
    overlap = static.get("chunk_overlap_tokens")
    size_param = f"{param}.static.max_chunk_size_tokens"
    overlap_param = f"{param}.static.chunk_overlap_tokens"
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidRequest(f"{size_param} must be an integer", size_param)
    if not MIN_CHUNK_TOKENS <= size <= MAX_CHUNK_TOKENS:
        raise InvalidRequest(
            f"{size_param} must be between {MIN_CHUNK_TOKENS} and {MAX_CHUNK_TOKENS}, got {size}",
            size_param,
        )
    if isinstance(overlap, bool) or not isinstance(overlap, int):
        raise InvalidRequest(f"{overlap_param} must be an integer", overlap_param)
    if overlap < 0 or overlap > size // 2:
        raise InvalidRequest(
            f"{overlap_param} must be between 0 and half of max_chunk_size_tokens "
            f"({size // 2}), got {overlap}",
            overlap_param,
        )
    return ChunkingStrategy(size, overlap)


@attrs.frozen
class Chunk:
    """One chunk: its place in the file (``index``), its offsets into the parsed text
    (``text[start:end]``), its tokens and its text."""

    index: int
    start: int
    end: int
    tokens: int
    text: str


def _split_large(pieces: list[Piece], text: str) -> list[Piece]:
    """``pieces`` with every piece over ``_LARGEST_PIECE`` tokens cut into equal parts."""
    result: list[Piece] = []
    for start, end, tokens in pieces:
        if tokens <= _LARGEST_PIECE or end - start < 2:
            result.append((start, end, tokens))
            continue
        parts = min(end - start, math.ceil(tokens / (_LARGEST_PIECE / 2)))
        step = (end - start) / parts
        cuts = [start + round(step * n) for n in range(parts)] + [end]
        for left, right in itertools.pairwise(cuts):
            if right > left:
                result.append((left, right, tokens * (right - left) / (end - start)))
    return result


def _strength(text: str, pieces: list[Piece], k: int) -> int:
    """How good an edge lies before piece ``k`` (after piece ``k - 1``)."""
    start, end, _ = pieces[k - 1]
    before = text[start:end]
    if before.isspace():
        newlines = before.count("\n")
        if newlines >= 2:
            return _PARAGRAPH
        previous = text[pieces[k - 2][0] : pieces[k - 2][1]].rstrip(_CLOSERS) if k >= 2 else ""
        if previous and previous[-1] in _SENTENCE_END:
            return _SENTENCE
        return _LINE if newlines else _WORD
    stripped = before.rstrip(_CLOSERS + "\r\n")
    if (
        stripped
        and stripped[-1] in _SENTENCE_END
        and (before.endswith("\n") or text[pieces[k][0] : pieces[k][0] + 1].isspace())
    ):
        return _SENTENCE
    if before.endswith("\n"):
        return _LINE
    return _WORD if text[pieces[k][0] : pieces[k][0] + 1].isspace() else 0


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_text(
    text: str,
    strategy: ChunkingStrategy | None = None,
    counter: TokenCounter = APPROXIMATE_CL100K,
) -> list[Chunk]:
    """``text`` cut into chunks by ``strategy`` (see the module docstring); no chunk for a
    text of nothing but whitespace."""
    strategy = strategy or ChunkingStrategy()
    pieces = _split_large(list(counter.pieces(text)), text)
    count = len(pieces)
    if count == 0:
        return []
    # positions[k]: the tokens before piece k.
    positions = [0.0] * (count + 1)
    running = 0.0
    for k, (_, _, tokens) in enumerate(pieces):
        running += tokens
        positions[k + 1] = running
    size = float(strategy.max_tokens)
    overlap = float(strategy.overlap_tokens)
    chunks: list[Chunk] = []
    first = 0
    while first < count:
        # Skip whitespace at the start.
        while first < count and text[pieces[first][0] : pieces[first][1]].isspace():
            first += 1
        if first >= count:
            break
        # The last piece that still fits (at least one piece, however large).
        limit = bisect.bisect_right(positions, positions[first] + size) - 1
        limit = max(limit, first + 1)
        if limit >= count:
            stop = count
        else:
            lowest = bisect.bisect_left(positions, positions[first] + size * _EDGE_WINDOW)
            lowest = max(lowest, first + 1)
            stop, best = limit, -1
            for k in range(limit, lowest - 1, -1):
                strength = _strength(text, pieces, k)
                if strength > best:
                    stop, best = k, strength
                    if strength == _PARAGRAPH:
                        break
        start, end = _trimmed(text, pieces[first][0], pieces[stop - 1][1])
        if end > start:
            chunks.append(
                Chunk(
                    index=len(chunks),
                    start=start,
                    end=end,
                    tokens=max(1, round(positions[stop] - positions[first])),
                    text=text[start:end],
                )
            )
        if stop >= count:
            break
        # The next chunk starts `overlap` tokens before this one's end, at a sentence start
        # if one is near, and always after this chunk's start.
        target = bisect.bisect_left(positions, positions[stop] - overlap)
        target = min(max(target, first + 1), stop)
        snap_to = bisect.bisect_right(positions, positions[target] + overlap * _START_SNAP)
        following = target
        for k in range(target, min(snap_to, stop) + 1):
            if k > first and _strength(text, pieces, k) >= _SENTENCE:
                following = k
                break
        first = following
    return chunks
