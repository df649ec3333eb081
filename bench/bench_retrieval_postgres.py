"""24. Retrieval search over 20,000 chunks on PostgreSQL, with pgvector and without (see
``bench/bench_retrieval.py``, which it shares its corpus and measures with)."""

from __future__ import annotations

from bench.bench_retrieval import search_postgres
from bench.common import Row


def run() -> list[Row]:
    return [search_postgres()]


if __name__ == "__main__":
    for row in run():
        print(row)
