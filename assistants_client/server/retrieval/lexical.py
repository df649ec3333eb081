"""Keyword search in memory: an inverted index scored with BM25 (the memory store's; SQLite
and PostgreSQL search with their own full-text indexes).

BM25 with the usual constants (``k1`` 1.2, ``b`` 0.75): a term counts more the rarer it is in
the vector store (its inverse document frequency) and the more often it appears in a chunk,
with diminishing returns, relative to the chunk's length. Terms come from
:func:`~assistants_client.server.retrieval.analysis.terms`.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter

from assistants_client.server.retrieval.analysis import terms

__all__ = ["Bm25Index"]

K1 = 1.2
B = 0.75


class Bm25Index:
    """One vector store's chunks, by term."""

    def __init__(self) -> None:
        self.postings: dict[str, dict[int, int]] = {}
        self.lengths: dict[int, int] = {}
        self.files: dict[int, str] = {}
        self.total = 0

    def add(self, key: int, file_id: str, text: str) -> None:
        counted = Counter(terms(text))
        for term, count in counted.items():
            self.postings.setdefault(term, {})[key] = count
        length = sum(counted.values())
        self.lengths[key] = length
        self.files[key] = file_id
        self.total += length

    def remove(self, key: int, text: str) -> None:
        if key not in self.lengths:
            return
        for term in set(terms(text)):
            found = self.postings.get(term)
            if found is not None:
                found.pop(key, None)
                if not found:
                    del self.postings[term]
        self.total -= self.lengths.pop(key)
        del self.files[key]

    def search(
        self, query: str, limit: int, allowed: set[str] | None = None
    ) -> list[tuple[int, float]]:
        """The ``limit`` best chunks for ``query`` with their BM25 scores, best first."""
        count = len(self.lengths)
        if not count:
            return []
        average = self.total / count or 1.0
        scores: dict[int, float] = {}
        for term in set(terms(query)):
            found = self.postings.get(term)
            if not found:
                continue
            idf = math.log(1.0 + (count - len(found) + 0.5) / (len(found) + 0.5))
            for key, frequency in found.items():
                if allowed is not None and self.files[key] not in allowed:
                    continue
                norm = K1 * (1.0 - B + B * self.lengths[key] / average)
                scores[key] = scores.get(key, 0.0) + idf * frequency * (K1 + 1.0) / (
                    frequency + norm
                )
        return heapq.nlargest(limit, scores.items(), key=lambda item: item[1])
