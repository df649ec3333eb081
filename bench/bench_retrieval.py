"""20-23. Retrieval: ingestion throughput, through HTTP too, token counting, search latency.

(24, search on PostgreSQL, runs as a benchmark of its own: ``bench/bench_retrieval_postgres.py``.)

20. Ingestion, SQLite: chunks per second through ``Retrieval.ingest`` (read the file's pieces,
    parse, chunk, embed, index, commit), the embedder faked at zero cost (a fixed vector).
    Floor: parsing and chunking alone, in memory (what is left is the store's share).
21. Upload and ingest through HTTP: ``upload_files_and_poll`` against ``assistants-server``
    (SQLite, ``--embeddings none``), files sent 4 at a time, the batch polled as the server
    asks. Floor: the same files through the port, in this process (create, ingest).
22. Token counting: the offline counter's error against the real ``cl100k_base`` over the
    corpus of ``tests/retrieval/token_corpus.py`` (all kinds together; the note has each kind),
    and its speed against tiktoken's (Rust) in the note.
23. Search over 20,000 chunks of 256 dimensions on SQLite, p50 (p95 in the note): a hybrid
    search (FTS5 BM25 + sign-bit pre-selection and exact re-scoring in pure Python, no numpy).
    Floor: an exact scan of all 20,000 vectors in pure Python (what the quantization saves).
    Target: p50 under 20 ms.
24. The same on PostgreSQL with pgvector (HNSW, the ``pgserver`` wheel's PostgreSQL 16);
    the note has the fallback (the same database, vectors searched in Python) and keyword-only.

The chunks are synthetic: sentences of words drawn from a Zipf distribution over 5,000 made-up
words, vectors random directions; the queries are 2-5 such words drawn the same way (so many
are made of the commonest words, as real queries are of stop words) and a random vector.
Each search's first use of a word counts it in the store (cached per store generation): the
note gives p50 and p95 over the 200 queries again, with every count cached, as a server
settles into.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack

import attrs

from assistants_client import AssistantsClient, FileUpload
from assistants_client.server import build_app, parse_config
from assistants_client.server.httpd import WSGIServer
from assistants_client.server.retrieval import Chunk, Retrieval
from assistants_client.server.retrieval.chunking import chunk_text
from assistants_client.server.retrieval.documents import parse_bytes
from assistants_client.server.retrieval.embeddings import normalized
from assistants_client.server.retrieval.tokens import APPROXIMATE_CL100K
from assistants_client.server.retrieval.vectors import dot, unpack
from assistants_client.server.stores import PostgresStore, SqliteStore
from bench.common import Row
from tests.retrieval.token_corpus import cl100k, corpus
from tests.support.pgvector import PgvectorServer, ensure_pgvector_available

CHUNKS = 20_000
FILES = 200
DIMENSIONS = 256
QUERIES = 200
WORDS = 5000
INGEST_DOCUMENTS = 120
STOP_WORDS = 50


class Fixed:
    """An embedder at zero cost: the same vector for every text."""

    model = "bench-fixed-256"

    def __init__(self) -> None:
        self.vector = normalized([1.0] * DIMENSIONS)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector] * len(texts)


class Random:
    """Query vectors: random directions (seeded)."""

    model = "bench-256"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [vector(self.rng) for _ in texts]


def vector(rng: random.Random) -> list[float]:
    return normalized([rng.gauss(0.0, 1.0) for _ in range(DIMENSIONS)])


def vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    syllables = ["ka", "lo", "vin", "tre", "mos", "dar", "pel", "qui", "zan", "rho", "bex", "sul"]
    words = sorted(
        {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(WORDS * 2)}
    )
    rng.shuffle(words)
    words = words[:WORDS]
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    return words, weights


def sentence_text(rng: random.Random, words: list[str], weights: list[float], count: int) -> str:
    picked = rng.choices(words, weights, k=count)
    return " ".join(picked).capitalize() + "."


# -- 20-21. ingestion ----------------------------------------------------------------------------


def ingestion() -> Row:
    rng = random.Random(15)
    words, weights = vocabulary(rng)
    documents = [
        "\n\n".join(sentence_text(rng, words, weights, 40) for _ in range(100)).encode()
        for _ in range(INGEST_DOCUMENTS)
    ]
    started = time.perf_counter()
    floor_chunks = sum(len(chunk_text(parse_bytes("d.txt", d).text)) for d in documents)
    floor = floor_chunks / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as folder:
        main = SqliteStore(os.path.join(folder, "bench.db"))
        retrieval = Retrieval.over(main, embedder=Fixed())
        ids = [
            retrieval.create_file("", f"d{n}.txt", "assistants", d).id
            for n, d in enumerate(documents)
        ]
        store = retrieval.create_vector_store("", file_ids=ids)
        started = time.perf_counter()
        for file_id in ids:
            assert retrieval.ingest("", store.id, file_id) == "completed"
        elapsed = time.perf_counter() - started
        with retrieval.transaction():
            chunks = retrieval.index.chunk_count(store.id)
        main.close()
    ours = chunks / elapsed
    return {
        "benchmark": "20. retrieval ingestion on SQLite, chunks/s (embeddings at zero cost)",
        "unit": "items/s",
        "ours": ours,
        "peers": {},
        "floor": floor,
        "ratio": f"ours/floor {ours / floor:.2f}x",
        "ratio_value": ours / floor,
        "target": "-",
        "met": None,
        "note": f"{chunks} chunks of 800 tokens (400 overlap) from {INGEST_DOCUMENTS} files of "
        f"~{len(documents[0]) // 1024} KiB; floor: parsing and chunking alone, in memory",
    }


HTTP_FILES = 40
HTTP_SENTENCES = 160


def http_ingestion() -> Row:
    """21: upload and ingest through HTTP, against the same files through the port."""
    rng = random.Random(19)
    words, weights = vocabulary(rng)
    documents = [
        "\n\n".join(sentence_text(rng, words, weights, 40) for _ in range(HTTP_SENTENCES)).encode()
        for _ in range(HTTP_FILES)
    ]
    size = sum(len(d) for d in documents)
    with tempfile.TemporaryDirectory() as folder:
        main = SqliteStore(os.path.join(folder, "floor.db"))
        retrieval = Retrieval.over(main)
        started = time.perf_counter()
        ids = [
            retrieval.create_file("", f"d{n}.txt", "assistants", d).id
            for n, d in enumerate(documents)
        ]
        store = retrieval.create_vector_store("")
        retrieval.create_batch("", store.id, file_ids=ids)
        for file_id in ids:
            assert retrieval.ingest("", store.id, file_id) == "completed"
        floor = time.perf_counter() - started
        main.close()

        config = parse_config(
            [
                "--backend-url",
                "http://127.0.0.1:9/v1",
                "--port",
                "0",
                "--db",
                os.path.join(folder, "server.db"),
                "--embeddings",
                "none",
            ],
            {},
        )
        app = build_app(config)
        http = WSGIServer(app, config.host, 0, threads=config.threads).start()
        try:
            client = AssistantsClient(base_url=f"{http.url}/v1", timeout=60.0)
            target = client.create_vector_store()
            uploads = [FileUpload.of(d, filename=f"d{n}.txt") for n, d in enumerate(documents)]
            started = time.perf_counter()
            batch = client.upload_files_and_poll(
                target.id, uploads, max_concurrency=4, timeout=120.0
            )
            ours = time.perf_counter() - started
            assert batch.file_counts.completed == HTTP_FILES, batch
            client.close()
        finally:
            http.stop()
            app.engine.close()
            app.engine.store.close()
    return {
        "benchmark": f"21. upload + ingest {HTTP_FILES} files ({size // 1024:,} KiB) through HTTP, s",
        "unit": "s",
        "ours": ours,
        "peers": {},
        "floor": floor,
        "ratio": f"ours/floor {ours / floor:.2f}x",
        "ratio_value": ours / floor,
        "target": "-",
        "met": None,
        "note": f"upload_files_and_poll against assistants-server (SQLite, --embeddings none, "
        f"2 ingestion workers), 4 uploads at once, the batch polled as the server asks "
        f"(openai-poll-after-ms 500); floor: the same files through the port in one thread "
        f"({size / floor / 1e6:.1f} MB/s)",
    }


# -- 23-24. search ----------------------------------------------------------------------------


def seed(retrieval: Retrieval) -> tuple[str, list[str], list[float]]:
    """A vector store of CHUNKS chunks in FILES files; the store id and the vocabulary."""
    rng = random.Random(16)
    words, weights = vocabulary(rng)
    ids = [retrieval.create_file("", f"f{n}.txt", "assistants", b"x").id for n in range(FILES)]
    store = retrieval.create_vector_store("", file_ids=ids)
    per_file = CHUNKS // FILES
    index = retrieval.index
    for file_id in ids:
        chunks, vectors = [], []
        offset = 0
        for number in range(per_file):
            text = sentence_text(rng, words, weights, 60)
            chunks.append(Chunk(number, offset, offset + len(text), 80, text))
            offset += len(text) + 2
            vectors.append(vector(rng))
        with retrieval.transaction():
            index.replace_chunks(store.id, file_id, chunks, vectors)
            record = index.get_store_file("", store.id, file_id)
            assert record is not None
            index.update_store_file(attrs.evolve(record, status="completed"))
    with retrieval.transaction():
        record = index.get_store("", store.id)
        assert record is not None
        index.update_store(
            attrs.evolve(
                record,
                embedding_model="bench-256",
                dimensions=DIMENSIONS,
                generation=record.generation + 1,
            )
        )
    return store.id, words, weights


def latencies(
    retrieval: Retrieval, store_id: str, words: list[str], weights: list[float]
) -> list[float]:
    rng = random.Random(17)
    queries = [" ".join(rng.choices(words, weights, k=rng.randint(2, 5))) for _ in range(QUERIES)]
    retrieval.search("", [store_id], queries[0])  # warm: caches, the code index
    found = []
    for text in queries:
        started = time.perf_counter()
        hits = retrieval.search("", [store_id], text, max_num_results=10).hits
        found.append(time.perf_counter() - started)
        assert hits
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def exact_scan_floor(retrieval: Retrieval, store_id: str) -> float:
    """Seconds per query of an exact scan of every vector in pure Python."""
    with retrieval.transaction():
        keys = [key for key, _, _ in retrieval.index._codes(store_id)]
        floats = [unpack(data) for data in retrieval.index._vectors(keys).values()]
    rng = random.Random(18)
    times = []
    for _ in range(10):
        query = vector(rng)
        started = time.perf_counter()
        best = sorted((dot(query, v) for v in floats), reverse=True)[:10]
        times.append(time.perf_counter() - started)
        assert best
    return statistics.median(times)


def search_sqlite() -> Row:
    with tempfile.TemporaryDirectory() as folder:
        main = SqliteStore(os.path.join(folder, "bench.db"))
        retrieval = Retrieval.over(main, embedder=Random(1))
        store_id, words, weights = seed(retrieval)
        started = time.perf_counter()
        retrieval.search("", [store_id], words[0])
        cold = time.perf_counter() - started
        hybrid = latencies(retrieval, store_id, words, weights)
        warm = latencies(retrieval, store_id, words, weights)
        keyword = latencies(Retrieval(retrieval.index, embedder=None), store_id, words, weights)
        floor = exact_scan_floor(retrieval, store_id)
        main.close()
    p50, p95 = percentile(hybrid, 0.5), percentile(hybrid, 0.95)
    return {
        "benchmark": f"23. retrieval search, {CHUNKS:,} chunks x {DIMENSIONS} dims, SQLite, p50 ms",
        "unit": "ms",
        "ours": p50 * 1000,
        "peers": {},
        "floor": floor * 1000,
        "ratio": f"ours/floor {p50 / floor:.2f}x",
        "ratio_value": p50 / floor,
        "target": "p50 < 20 ms",
        "met": p50 < 0.020,
        "note": f"hybrid p95 {p95 * 1000:.1f} ms; counts cached: p50 "
        f"{percentile(warm, 0.5) * 1000:.1f} ms, p95 {percentile(warm, 0.95) * 1000:.1f} ms; "
        f"keyword only p50 {percentile(keyword, 0.5) * 1000:.1f} ms; first search (loads the "
        f"sign bits) {cold * 1000:.0f} ms; floor: exact pure-Python scan of all vectors",
    }


def search_postgres() -> Row:
    with ExitStack() as stack:
        server = stack.enter_context(PgvectorServer(ensure_pgvector_available()))
        url = server.dsn(server.create_database("bench"))
        main = PostgresStore(url, pool_size=4)
        stack.callback(main.close)
        with_pgvector = Retrieval.over(main, embedder=Random(2), pgvector=True)
        started = time.perf_counter()
        store_id, words, weights = seed(with_pgvector)
        seeding = time.perf_counter() - started
        hnsw = latencies(with_pgvector, store_id, words, weights)
        warm = latencies(with_pgvector, store_id, words, weights)
        fallback_retrieval = Retrieval.over(main, embedder=Random(3), pgvector=False)
        fallback = latencies(fallback_retrieval, store_id, words, weights)
        keyword = latencies(Retrieval(with_pgvector.index, embedder=None), store_id, words, weights)
    p50, p95 = percentile(hnsw, 0.5), percentile(hnsw, 0.95)
    fallback_p50 = percentile(fallback, 0.5)
    return {
        "benchmark": f"24. retrieval search, {CHUNKS:,} chunks x {DIMENSIONS} dims, PostgreSQL + "
        "pgvector, p50 ms",
        "unit": "ms",
        "ours": p50 * 1000,
        "peers": {},
        "floor": None,
        "ratio": f"fallback/pgvector {fallback_p50 / p50:.2f}x",
        "ratio_value": fallback_p50 / p50,
        "target": "p50 < 20 ms",
        "met": p50 < 0.020 and fallback_p50 < 0.020,
        "note": f"HNSW p95 {p95 * 1000:.1f} ms; counts cached: p50 "
        f"{percentile(warm, 0.5) * 1000:.1f} ms, p95 {percentile(warm, 0.95) * 1000:.1f} ms; "
        f"without pgvector (vectors searched in Python) "
        f"p50 {fallback_p50 * 1000:.1f} ms, p95 {percentile(fallback, 0.95) * 1000:.1f} ms; "
        f"keyword only p50 {percentile(keyword, 0.5) * 1000:.1f} ms; seeding 20,000 chunks "
        f"(tsvector + HNSW) {seeding:.0f} s; PostgreSQL 16.2 and pgvector 0.6.2 of pgserver",
    }


# -- 22. tokens -------------------------------------------------------------------------------


def tokens() -> Row:
    samples = corpus()
    count = cl100k()
    exact = {kind: count(text) for kind, text in samples.items()}
    estimated = {kind: APPROXIMATE_CL100K.count(text) for kind, text in samples.items()}
    total = (sum(estimated.values()) - sum(exact.values())) / sum(exact.values())
    per_kind = ", ".join(
        f"{kind} {(estimated[kind] - exact[kind]) / exact[kind]:+.1%}" for kind in samples
    )
    text = "".join(samples.values())
    started = time.perf_counter()
    APPROXIMATE_CL100K.count(text)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    count(text)
    theirs = time.perf_counter() - started
    return {
        "benchmark": "22. token counter vs cl100k_base, error over the corpus, %",
        "unit": "%",
        "ours": abs(total) * 100,
        "peers": {},
        "floor": None,
        "ratio": "-",
        "ratio_value": None,
        "target": "within 5%",
        "met": abs(total) <= 0.05,
        "note": f"signed {total:+.1%}; by kind: {per_kind}; {len(text) / 1e6:.1f} M characters "
        f"counted in {ours:.2f} s (tiktoken, Rust: {theirs:.2f} s)",
    }


def run() -> list[Row]:
    return [ingestion(), http_ingestion(), tokens(), search_sqlite()]


if __name__ == "__main__":
    for row in run():
        print(row)
