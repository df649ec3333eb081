"""Embeddings: the port, the server's HTTP embedder, and a deterministic local one.

:class:`Embedder` is what ingestion and search call. Three adapters:

* :class:`HttpEmbedder` calls an OpenAI-compatible ``POST {base}/embeddings`` through the
  client's own HTTP machinery (``Transport``: its ``RetryPolicy``, deadline and error mapping),
  in batches. A 429 or a 5xx is retried as the client retries them, honouring ``Retry-After``;
  when the retries run out, :class:`~assistants_client.server.retrieval.errors.EmbeddingUnavailable`
  tells ingestion to try again later, so a rate limit slows ingestion and fails nothing. An
  endpoint that is not there (404, 405, 501) raises :class:`EmbeddingsNotServed`: retrieval is
  then lexical only.
* :class:`LocalEmbedder`: offline and deterministic, for the emulator and the tests. It hashes
  features of the text into a fixed number of dimensions (the "hashing trick"): stemmed words,
  pairs of neighbouring words, and the character trigrams of each word. So it finds passages
  that share words with the query, in other forms (``configure``, ``configuring``,
  ``configuration``), in fragments (``passwd`` and ``password`` share trigrams) or in another
  order. It knows nothing of meaning: synonyms (``car``, ``automobile``), translations and
  paraphrases with no word in common are beyond it. That is what a model is for.
* No embedder at all (None where an embedder is taken): search is lexical only.

:func:`embedder_from_settings` picks one from the server's settings.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from assistants_client._config import (
    ApiKeyAuth,
    Auth,
    ClientConfig,
    NoAuth,
    Timeout,
)
from assistants_client._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
)
from assistants_client._retry import RetryPolicy
from assistants_client._transport import Transport
from assistants_client.server.retrieval.analysis import STOPWORDS, stem, words
from assistants_client.server.retrieval.errors import EmbeddingUnavailable, RetrievalError

__all__ = [
    "EMBEDDINGS_KEY_ENV",
    "Embedder",
    "EmbeddingsNotServed",
    "EmbeddingsRefused",
    "HttpEmbedder",
    "LocalEmbedder",
    "embedder_from_settings",
]

logger = logging.getLogger("assistants_client.server")

EMBEDDINGS_KEY_ENV = "ASSISTANTS_EMBEDDINGS_API_KEY"
DEFAULT_MODEL = "text-embedding-3-small"
DEFAULT_BATCH = 64
# Inputs of one request, in characters (about 100,000 tokens): under every server's limit.
DEFAULT_BATCH_CHARS = 400_000
DEFAULT_MAX_RETRIES = 6
_NOT_SERVED = frozenset({404, 405, 501})


class EmbeddingsNotServed(RetrievalError):
    """The embeddings URL answers that it serves no ``/embeddings``: search is lexical."""


class EmbeddingsRefused(RetrievalError):
    """The embeddings endpoint refused the request for good (a 4xx other than 429: a bad
    key, an unknown model); the message carries its answer."""


class Embedder(Protocol):
    """Turns texts into vectors of one model.

    ``model`` names the vectors (a vector store records it with their dimension, and is only
    searched with vectors of the same model); ``embed`` returns one vector per text, in order,
    each of the same length.
    """

    @property
    def model(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def normalized(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (a zero vector stays zero)."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if norm == 0.0:
        return [0.0] * len(vector)
    return [x / norm for x in vector]


class LocalEmbedder:
    """A deterministic embedder that needs no model (see the module docstring)."""

    WORD, PAIR, TRIGRAM = 1.0, 0.3, 0.8

    def __init__(self, dimensions: int = 256) -> None:
        if dimensions < 8:
            raise ValueError("a local embedder needs at least 8 dimensions")
        self.dimensions = dimensions
        self.model = f"local-hash-{dimensions}"

    def _features(self, text: str) -> dict[str, float]:
        features: dict[str, float] = {}
        previous = ""
        for word in words(text):
            if word in STOPWORDS:
                previous = ""
                continue
            root = stem(word)
            key = "w:" + root
            features[key] = features.get(key, 0.0) + self.WORD
            if previous:
                pair = f"p:{previous} {root}"
                features[pair] = features.get(pair, 0.0) + self.PAIR
            previous = root
            marked = f"<{word}>"
            for n in range(len(marked) - 2):
                gram = "t:" + marked[n : n + 3]
                features[gram] = features.get(gram, 0.0) + self.TRIGRAM
        return features

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for feature, weight in self._features(text).items():
            hashed = zlib.crc32(feature.encode("utf-8"))
            # Sub-linear in the count: a word said ten times is not ten times as telling.
            value = math.log1p(weight)
            vector[hashed % self.dimensions] += value if hashed & 0x80000000 else -value
        return normalized(vector)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]


class HttpEmbedder:
    """``POST {base_url}/embeddings`` of an OpenAI-compatible server (see the module
    docstring). ``dimensions`` is sent only when given (text-embedding-3 models shorten their
    vectors to it; other servers may refuse the field)."""

    def __init__(
        self,
        base_url: str,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = DEFAULT_BATCH,
        batch_chars: int = DEFAULT_BATCH_CHARS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: Timeout | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        auth: Auth = ApiKeyAuth(api_key) if api_key else NoAuth()
        self.base_url = base_url.rstrip("/")
        self._model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.batch_chars = batch_chars
        config = ClientConfig(
            base_url=self.base_url,
            auth=auth,
            timeout=timeout or Timeout(connect=10.0, read=120.0),
            max_retries=max_retries,
        )
        self._transport = Transport(config, policy=policy or RetryPolicy(max_retry_after=120.0))
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return f"HttpEmbedder(base_url={self.base_url!r}, model={self._model!r})"

    def close(self) -> None:
        self._transport.close()

    def _batches(self, texts: Sequence[str]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        start, chars = 0, 0
        for index, text in enumerate(texts):
            if index > start and (
                index - start >= self.batch_size or chars + len(text) > self.batch_chars
            ):
                spans.append((start, index))
                start, chars = index, 0
            chars += len(text)
        if start < len(texts):
            spans.append((start, len(texts)))
        return spans

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start, end in self._batches(texts):
            vectors.extend(self._call(list(texts[start:end])))
        return vectors

    def _call(self, inputs: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self._model, "input": inputs, "encoding_format": "float"}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        try:
            answer = self._transport.request("POST", "/embeddings", body=body)
        except APIStatusError as problem:
            status = problem.status_code or 0
            if status in _NOT_SERVED:
                raise EmbeddingsNotServed(
                    f"{self.base_url}/embeddings answered {status}: it serves no embeddings"
                ) from None
            if status == 429 or status >= 500 or status in (408, 409):
                raise EmbeddingUnavailable(
                    f"the embeddings endpoint kept failing ({status}): {problem}"
                ) from None
            raise EmbeddingsRefused(
                f"the embeddings endpoint refused the request: {problem}"
            ) from None
        except (APIConnectionError, APITimeoutError) as problem:
            raise EmbeddingUnavailable(
                f"the embeddings endpoint is unreachable: {problem}"
            ) from None
        except APIError as problem:
            raise EmbeddingsRefused(f"the embeddings endpoint answered badly: {problem}") from None
        return _vectors(answer.content or b"", len(inputs))


def _vectors(content: bytes, count: int) -> list[list[float]]:
    try:
        decoded = json.loads(content)
        data = decoded["data"]
        ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
        vectors = [[float(x) for x in item["embedding"]] for item in ordered]
    except (ValueError, KeyError, TypeError, AttributeError) as problem:
        raise EmbeddingsRefused(
            f"the embeddings answer is not a list of embeddings ({type(problem).__name__})"
        ) from None
    if len(vectors) != count or not vectors or len({len(v) for v in vectors}) != 1:
        raise EmbeddingsRefused(
            f"the embeddings answer has {len(vectors)} vectors of unequal or no length for "
            f"{count} inputs"
        )
    return [normalized(vector) for vector in vectors]


def embedder_from_settings(
    embeddings_url: str | None,
    model: str | None,
    *,
    backend_url: str | None,
    backend_api_key: str | None = None,
    dimensions: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Embedder | None:
    """The embedder the server's settings ask for.

    ``embeddings_url``: ``none`` (lexical search only), ``local`` (:class:`LocalEmbedder`),
    a URL (its ``/embeddings``), or None: the chat backend's own ``/embeddings``
    (``backend_url``), as OpenAI, Ollama and LiteLLM serve it. The key is
    ``ASSISTANTS_EMBEDDINGS_API_KEY`` when set, else the backend's.
    """
    environ = os.environ if environ is None else environ
    choice = (embeddings_url or "").strip()
    if choice.lower() == "none":
        return None
    if choice.lower() == "local":
        return LocalEmbedder(dimensions or 256)
    base = choice or backend_url
    if not base:
        return None
    key = environ.get(EMBEDDINGS_KEY_ENV) or backend_api_key
    return HttpEmbedder(base, model or DEFAULT_MODEL, api_key=key, dimensions=dimensions)
