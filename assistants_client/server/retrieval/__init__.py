"""Files, vector stores and hybrid search for the server: the retrieval port and its parts.

The engine calls :class:`Retrieval` (``service.py``); the rest is what it is made of:

* ``multipart.py``: a strict streaming ``multipart/form-data`` parser for uploads;
* ``documents.py``: files to text (text formats, HTML; PDF and Word with the ``documents``
  extra), with clear ``unsupported_file`` / ``invalid_file`` reasons;
* ``tokens.py``: an offline token counter close to ``cl100k_base``;
* ``chunking.py``: the API's static chunking, cut at paragraph and sentence edges, offsets kept;
* ``embeddings.py``: the embedder port, the HTTP embedder (``POST /embeddings``, retried with
  the client's machinery) and a deterministic local one;
* ``vectors.py``, ``lexical.py``, ``analysis.py``: vector search by sign bits and exact
  re-scoring, BM25 in memory, the search terms of a text;
* ``filters.py``: attribute filters;
* ``records.py``: the records kept and the API objects built from them;
* ``storage.py`` and ``sql.py``: the tables, in memory, SQLite (FTS5) and PostgreSQL
  (tsvector, and pgvector when the server has it);
* ``errors.py``: what is raised, and the HTTP status of each.

``docs/retrieval.md`` tells how the server chunks, counts tokens, embeds, indexes and ranks.
"""

from __future__ import annotations

from assistants_client.server.retrieval.chunking import Chunk, ChunkingStrategy, resolve_strategy
from assistants_client.server.retrieval.embeddings import (
    Embedder,
    EmbeddingsNotServed,
    EmbeddingsRefused,
    HttpEmbedder,
    LocalEmbedder,
    embedder_from_settings,
)
from assistants_client.server.retrieval.errors import (
    DocumentError,
    EmbeddingUnavailable,
    FileTooLarge,
    InvalidFile,
    InvalidRequest,
    MalformedUpload,
    NotFound,
    RetrievalError,
    UnsupportedFile,
)
from assistants_client.server.retrieval.records import (
    BatchRecord,
    ChunkHit,
    FileCounts,
    FileRecord,
    SearchHit,
    StoreFileRecord,
    VectorStoreRecord,
    search_page,
)
from assistants_client.server.retrieval.service import (
    DEFAULT_MAX_FILE_BYTES,
    Ingestor,
    Retrieval,
    SearchResult,
    open_index,
)
from assistants_client.server.retrieval.tokens import APPROXIMATE_CL100K, TokenCounter

__all__ = [
    "APPROXIMATE_CL100K",
    "DEFAULT_MAX_FILE_BYTES",
    "BatchRecord",
    "Chunk",
    "ChunkHit",
    "ChunkingStrategy",
    "DocumentError",
    "Embedder",
    "EmbeddingUnavailable",
    "EmbeddingsNotServed",
    "EmbeddingsRefused",
    "FileCounts",
    "FileRecord",
    "FileTooLarge",
    "HttpEmbedder",
    "Ingestor",
    "InvalidFile",
    "InvalidRequest",
    "LocalEmbedder",
    "MalformedUpload",
    "NotFound",
    "Retrieval",
    "RetrievalError",
    "SearchHit",
    "SearchResult",
    "StoreFileRecord",
    "TokenCounter",
    "UnsupportedFile",
    "VectorStoreRecord",
    "embedder_from_settings",
    "open_index",
    "resolve_strategy",
    "search_page",
]
