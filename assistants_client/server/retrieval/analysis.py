"""Words of a text as search terms: lower case, common words dropped, suffixes stripped.

One analyzer for what is written in Python: the memory store's BM25 index, the local embedder's
word features, and the share of a query's terms a passage holds (part of its score). SQLite's
FTS5 and PostgreSQL's full-text search bring their own (Porter's stemmer and the ``english``
configuration), which agree with this one on what matters: ``Connections`` and ``connecting``
meet at ``connect``; ``ERR-4411`` is the terms ``err`` and ``4411``.

Identifiers (:func:`identifiers`): the tokens of a query that mix letters and digits
(``ERR-4202``, ``INC0012345``, ``v2.3.1``), which search ranks by exact match.

The stemmer is a small suffix stripper in the spirit of Porter's first steps, not a full one:
it is deterministic and fast, and it errs on the side of leaving a word alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["STOPWORDS", "Identifier", "identifiers", "stem", "terms", "words"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# A token: runs of letters and digits, joined by single hyphens, underscores or dots
# ("ERR-4202", "v2.3.1", "x86_64"; a dot or hyphen at its end is punctuation, not part of it).
_TOKEN = re.compile(r"[^\W_]+(?:[-_.][^\W_]+)*")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)", re.IGNORECASE)
_JOINERS = "-_."

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()  # noqa: SIM905 - a word list reads better as text
)

# (suffix, replacement, shortest stem left), tried in order; the first that applies wins.
_SUFFIXES = (
    ("ational", "ate", 2),
    ("ization", "ize", 2),
    ("fulness", "ful", 2),
    ("iveness", "ive", 2),
    ("ousness", "ous", 2),
    ("ations", "ate", 2),
    ("ation", "ate", 2),
    ("ions", "", 4),
    ("ion", "", 4),
    ("ingly", "", 3),
    ("edly", "", 3),
    ("ments", "", 3),
    ("ment", "", 3),
    ("ness", "", 3),
    ("ities", "ity", 2),
    ("ings", "", 3),
    ("ing", "", 3),
    ("ies", "y", 2),
    ("ied", "y", 2),
    ("ers", "", 3),
    ("er", "", 3),
    ("ed", "", 3),
    ("ly", "", 3),
    ("es", "", 3),
    ("s", "", 3),
)
_VOWEL = re.compile(r"[aeiouy]")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A lower-case word with its common English suffix stripped (``connections`` ->
    ``connect``); words that are not ASCII letters are left as they are."""
    if not word.isascii() or not word.isalpha() or len(word) <= 3:
        return word
    for suffix, replacement, shortest in _SUFFIXES:
        if word.endswith(suffix):
            base = word[: len(word) - len(suffix)]
            if len(base) < shortest or not _VOWEL.search(base):
                continue
            if suffix == "es" and not base.endswith(("s", "x", "z", "ch", "sh")):
                base = word[:-1]  # "caches" -> "cache", but "boxes" -> "box"
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            base += replacement
            doubled = len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz"
            if replacement == "" and doubled:
                base = base[:-1]  # "stopped" -> "stop"
            if suffix in ("ing", "ed", "er", "ings", "ers") and base.endswith(
                ("at", "bl", "iz", "ur", "ag", "iv", "ov", "ak", "ok", "ar")
            ):
                base += "e"  # "created" -> "create", "configured" -> "configure"
            return base
    return word


def words(text: str) -> list[str]:
    """The words of ``text``, lower case, in order (letters and digits; ``ERR-4411`` is
    ``err``, ``4411``)."""
    return _WORD.findall(text.lower())


def terms(text: str) -> list[str]:
    """The search terms of ``text``: its words without the common ones, stemmed."""
    return [stem(word) for word in words(text) if word not in STOPWORDS]


class Identifier:
    """An identifier-like token of a query (see :func:`identifiers`), and where a text holds
    it exactly."""

    __slots__ = ("_lowered", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lowered = text.lower()

    def held_by(self, text: str) -> bool:
        """Whether ``text`` holds the identifier exactly: the same characters (in any case),
        not inside a longer token; so ``ERR-4202`` is not held by ``ERR-42021``,
        ``XERR-4202``, ``ERR-4202-B`` or ``ERR 4202``."""
        lowered = text.lower()
        wanted = self._lowered
        at = lowered.find(wanted)
        while at >= 0:
            end = at + len(wanted)
            if not _joined(lowered, at - 1, -1) and not _joined(lowered, end, 1):
                return True
            at = lowered.find(wanted, at + 1)
        return False

    def __repr__(self) -> str:
        return f"Identifier({self.text!r})"


def _joined(text: str, at: int, step: int) -> bool:
    """Whether the character at ``at`` (just outside a match, ``step`` pointing away from it)
    continues the token: a letter or a digit, or a joiner followed by one."""
    if not 0 <= at < len(text):
        return False
    if text[at].isalnum():
        return True
    beyond = at + step
    return text[at] in _JOINERS and 0 <= beyond < len(text) and text[beyond].isalnum()


def identifiers(text: str) -> list[Identifier]:
    """The identifier-like tokens of ``text``, each once: tokens (letters and digits, joined by
    single hyphens, underscores or dots) that mix letters and digits, such as ``ERR-4202``,
    ``INC0012345``, ``v2.3.1`` or ``SKU-B12-RED``; ordinals (``2nd``) are not identifiers,
    nor are words or numbers alone (``4202``, ``3.14``)."""
    found: dict[str, Identifier] = {}
    for token in _TOKEN.findall(text):
        if _LETTER.search(token) and _DIGIT.search(token) and not _ORDINAL.fullmatch(token):
            key = token.casefold()
            if key not in found:
                found[key] = Identifier(token)
    return list(found.values())
