"""Embedders: the HTTP one against a real loopback server (batches, order, keys, a 429 storm,
a backend without ``/embeddings``), the local one, and the choice from the settings."""

from __future__ import annotations

import math
import time

import pytest

from assistants_client.server.retrieval import (
    EmbeddingsNotServed,
    EmbeddingUnavailable,
    HttpEmbedder,
    LocalEmbedder,
    embedder_from_settings,
)
from assistants_client.server.retrieval.embeddings import EMBEDDINGS_KEY_ENV, EmbeddingsRefused
from assistants_client.server.retrieval.vectors import dot
from tests.retrieval.conftest import MakeRetrieval
from tests.retrieval.embeddings_server import EmbeddingsServer
from tests.server.support import wait_until


def test_the_http_embedder_batches_and_keeps_the_order_of_its_inputs() -> None:
    with EmbeddingsServer() as server:
        embedder = HttpEmbedder(server.base_url, "text-embedding-3-small", batch_size=2)
        texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
        vectors = embedder.embed(texts)
        assert len(server.requests) == 3
        assert [r["input"] for r in server.requests] == [texts[:2], texts[2:4], texts[4:]]
        assert server.requests[0]["model"] == "text-embedding-3-small"
        assert "dimensions" not in server.requests[0]
        expected = LocalEmbedder(32).embed(texts)
        for got, want in zip(vectors, expected, strict=True):
            assert dot(got, want) == pytest.approx(1.0, abs=1e-6)


def test_the_embeddings_key_comes_from_its_variable_else_the_backend_key() -> None:
    with EmbeddingsServer() as server:
        own = embedder_from_settings(
            server.base_url,
            "m",
            backend_url="http://127.0.0.1:9/v1",
            backend_api_key="sk-backend",
            environ={EMBEDDINGS_KEY_ENV: "sk-embeddings"},
        )
        borrowed = embedder_from_settings(
            None, None, backend_url=server.base_url, backend_api_key="sk-backend", environ={}
        )
        assert own is not None and borrowed is not None
        own.embed(["x"])
        borrowed.embed(["x"])
        assert server.authorizations == ["Bearer sk-embeddings", "Bearer sk-backend"]
        assert "sk-" not in repr(own)


def test_none_and_local_are_settings_too() -> None:
    assert embedder_from_settings("none", None, backend_url="http://x/v1") is None
    local = embedder_from_settings("local", None, backend_url=None, dimensions=64)
    assert isinstance(local, LocalEmbedder) and local.model == "local-hash-64"


def test_a_rate_limit_that_outlasts_the_retries_is_unavailable_not_fatal() -> None:
    with EmbeddingsServer(rate_limited=100, retry_after="0") as server:
        embedder = HttpEmbedder(server.base_url, max_retries=2)
        with pytest.raises(EmbeddingUnavailable):
            embedder.embed(["x"])
        assert server.refused == 3  # the first attempt and two retries


def test_a_backend_without_embeddings_is_told_apart() -> None:
    with EmbeddingsServer(missing=True) as server, pytest.raises(EmbeddingsNotServed):
        HttpEmbedder(server.base_url).embed(["x"])


def test_an_answer_that_is_not_embeddings_is_refused() -> None:
    with EmbeddingsServer() as server:
        embedder = HttpEmbedder(server.base_url)
        server.embedder = LocalEmbedder(32)
        original = server.answer

        def broken(path, body, headers):  # type: ignore[no-untyped-def]
            status, payload, extra = original(path, body, headers)
            payload["data"] = payload["data"][:-1] if len(payload["data"]) > 1 else []
            return status, payload, extra

        server.answer = broken  # type: ignore[method-assign]
        with pytest.raises(EmbeddingsRefused):
            embedder.embed(["a", "b"])


def test_the_local_embedder_is_deterministic_normalised_and_sees_word_forms() -> None:
    embedder = LocalEmbedder(256)
    first = embedder.embed_one("Configuring the firewall")
    assert first == LocalEmbedder(256).embed_one("Configuring the firewall")
    assert math.fsum(x * x for x in first) == pytest.approx(1.0)
    related = dot(first, embedder.embed_one("how to configure firewalls"))
    unrelated = dot(first, embedder.embed_one("boiling pasta in salted water"))
    assert related > 0.3 > unrelated
    assert embedder.embed_one("") == [0.0] * 256


def test_an_embeddings_429_storm_delays_ingestion_and_it_completes(
    make_retrieval: MakeRetrieval,
) -> None:
    with EmbeddingsServer(rate_limited=7, retry_after="0.05") as server:
        embedder = HttpEmbedder(server.base_url, "storm-model", max_retries=2)
        retrieval = make_retrieval(embedder, retry_delay=0.1)
        made = retrieval.create_file("", "a.txt", "assistants", b"storm-proof words")
        retrieval.start(poll=0.05)
        store = retrieval.create_vector_store("", file_ids=[made.id])
        seen: set[str] = set()

        def done() -> bool:
            status = retrieval.get_store_file("", store.id, made.id).status
            seen.add(status)
            return status != "in_progress"

        wait_until(done, what="the file to leave in_progress")
        assert retrieval.get_store_file("", store.id, made.id).status == "completed"
        assert seen == {"in_progress", "completed"}
        assert server.refused == 7
        assert retrieval.get_vector_store("", store.id).embedding_model == "storm-model"
        assert retrieval.search("", [store.id], "storm").hits[0].file_id == made.id


def test_a_backend_without_embeddings_leaves_retrieval_lexical(
    make_retrieval: MakeRetrieval,
) -> None:
    with EmbeddingsServer(missing=True) as server:
        retrieval = make_retrieval(HttpEmbedder(server.base_url))
        made = retrieval.create_file("", "a.txt", "assistants", b"lexical words only")
        store = retrieval.create_vector_store("", file_ids=[made.id])
        assert retrieval.ingest("", store.id, made.id) == "completed"
        assert retrieval.get_vector_store("", store.id).embedding_model is None
        started = time.monotonic()
        assert retrieval.search("", [store.id], "lexical").hits[0].file_id == made.id
        assert time.monotonic() - started < 5
