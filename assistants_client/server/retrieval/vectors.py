"""Vector search without numpy: binary quantization, then exact re-scoring.

Each vector (of length 1) is kept twice: its floats (``array('f')`` bytes, 4 per dimension) and
its signs packed into one Python ``int`` (one bit per dimension). A search:

1. computes the Hamming distance from the query's sign bits to every candidate's, with
   ``(query ^ code).bit_count()``: for 20,000 vectors of 256 dimensions, one list
   comprehension of C-level integer operations;
2. keeps the ``rescore`` closest (a few hundred);
3. scores those exactly, by the dot product of their floats with the query's (the cosine, as
   both have length 1), and returns the best.

Sign bits preserve the angle between vectors well enough that the true nearest neighbours are
among the few hundred closest codes (the idea of Qdrant's binary quantization and Cohere's
binary embeddings). :class:`BinaryIndex` holds one vector store's codes in memory; the stores
cache one per vector store and rebuild it when the store's generation changes.
"""

from __future__ import annotations

import heapq
import operator
from array import array
from collections.abc import Callable, Sequence

__all__ = ["BinaryIndex", "dot", "pack", "rescore", "sign_bits", "unpack"]

DEFAULT_RESCORE = 128


def pack(vector: Sequence[float]) -> bytes:
    """A vector as 4-byte floats."""
    return array("f", vector).tobytes()


def unpack(data: bytes) -> array[float]:
    """Floats packed by :func:`pack`."""
    values = array("f")
    values.frombytes(data)
    return values


def sign_bits(vector: Sequence[float]) -> int:
    """The vector's signs as the bits of an int (the first dimension is the highest bit)."""
    bits = 0
    for value in vector:
        bits = (bits << 1) | (value > 0.0)
    return bits


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(map(operator.mul, a, b)))


class BinaryIndex:
    """The sign codes of one vector store's chunks, for Hamming pre-selection.

    ``keys`` are the chunks' keys (any hashable the store chooses), ``codes`` their sign bits,
    ``files`` their file ids (for filters).
    """

    __slots__ = ("codes", "files", "generation", "keys")

    def __init__(self, generation: int = 0) -> None:
        self.generation = generation
        self.keys: list[int] = []
        self.codes: list[int] = []
        self.files: list[str] = []

    def add(self, key: int, code: int, file_id: str) -> None:
        self.keys.append(key)
        self.codes.append(code)
        self.files.append(file_id)

    def __len__(self) -> int:
        return len(self.keys)

    def nearest(
        self, query: Sequence[float], count: int = DEFAULT_RESCORE, allowed: set[str] | None = None
    ) -> list[int]:
        """The keys of the ``count`` codes closest to ``query``'s signs (of files in
        ``allowed``, when given), closest first."""
        target = sign_bits(query)
        # One int per chunk, its distance above its position: sorting the ints sorts by
        # distance, then position, in C.
        shift = max(1, len(self.codes)).bit_length()
        if allowed is None:
            ranked = [
                ((target ^ code).bit_count() << shift) | n for n, code in enumerate(self.codes)
            ]
        else:
            files = self.files
            ranked = [
                ((target ^ code).bit_count() << shift) | n
                for n, code in enumerate(self.codes)
                if files[n] in allowed
            ]
        best = heapq.nsmallest(count, ranked) if len(ranked) > count else sorted(ranked)
        mask = (1 << shift) - 1
        keys = self.keys
        return [keys[item & mask] for item in best]


def rescore(
    query: Sequence[float],
    candidates: Sequence[int],
    vectors: Callable[[Sequence[int]], dict[int, bytes]],
    limit: int,
) -> list[tuple[int, float]]:
    """The ``limit`` best of ``candidates`` by exact cosine with ``query``, best first;
    ``vectors(keys)`` gives the packed floats of those keys."""
    found = vectors(candidates)
    query_floats = array("f", query)
    scored = [(key, dot(query_floats, unpack(found[key]))) for key in candidates if key in found]
    scored.sort(key=lambda item: -item[1])
    return scored[:limit]
