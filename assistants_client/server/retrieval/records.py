"""What retrieval keeps, as records, and the API objects built from them.

Each record carries the ``project`` it belongs to (``""``: the shared namespace). The ``as_api``
functions build the objects exactly as the API sends them (``OpenAIFile``,
``VectorStoreObject``, ``VectorStoreFileObject``, ``VectorStoreFileBatchObject``, the search
results page), with the spec's required fields and key order; a handler returns them as
they are.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "BatchRecord",
    "ChunkHit",
    "FileCounts",
    "FileRecord",
    "SearchHit",
    "StoreFileRecord",
    "VectorStoreRecord",
    "new_file_id",
    "new_id",
    "now",
    "search_page",
]

JSONDict = dict[str, Any]
SECONDS_PER_DAY = 86400


def now() -> int:
    return int(time.time())


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_file_id() -> str:
    """A file id in the API's form (``file-`` and 24 characters)."""
    return f"file-{secrets.token_hex(12)}"


@attrs.frozen(kw_only=True)
class FileRecord:
    """An uploaded file (its bytes are in the store, in pieces)."""

    id: str
    project: str
    filename: str
    bytes: int
    purpose: str
    created_at: int
    expires_at: int | None = None

    def as_api(self) -> JSONDict:
        """The ``OpenAIFile`` object, with every field the live API sends (``expires_at`` and
        ``status_details`` null when unset, as it sends them)."""
        return {
            "object": "file",
            "id": self.id,
            "purpose": self.purpose,
            "filename": self.filename,
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "status": "processed",
            "status_details": None,
        }

    def expired(self, at: int | None = None) -> bool:
        return self.expires_at is not None and (at if at is not None else now()) >= self.expires_at


@attrs.frozen
class FileCounts:
    """How many of a vector store's (or a batch's) files are in each status."""

    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.in_progress + self.completed + self.failed + self.cancelled

    @classmethod
    def of(cls, by_status: Mapping[str, int]) -> FileCounts:
        return cls(
            in_progress=by_status.get("in_progress", 0),
            completed=by_status.get("completed", 0),
            failed=by_status.get("failed", 0),
            cancelled=by_status.get("cancelled", 0),
        )

    def as_api(self) -> JSONDict:
        return {
            "in_progress": self.in_progress,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "total": self.total,
        }


@attrs.frozen(kw_only=True)
class VectorStoreRecord:
    """A vector store. ``embedding_model`` and ``dimensions`` are fixed by the first file
    embedded into it (None until then, and for a store indexed lexically only);
    ``generation`` counts changes to its index."""

    id: str
    project: str
    created_at: int
    name: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    expires_after: Mapping[str, Any] | None = None
    last_active_at: int | None = None
    embedding_model: str | None = None
    dimensions: int | None = None
    generation: int = 0

    @property
    def expires_at(self) -> int | None:
        if not self.expires_after:
            return None
        anchor = self.last_active_at if self.last_active_at is not None else self.created_at
        return anchor + int(self.expires_after.get("days", 0)) * SECONDS_PER_DAY

    def expired(self, at: int | None = None) -> bool:
        expires_at = self.expires_at
        return expires_at is not None and (at if at is not None else now()) >= expires_at

    def status(self, counts: FileCounts, at: int | None = None) -> str:
        if self.expired(at):
            return "expired"
        return "in_progress" if counts.in_progress else "completed"

    def as_api(self, counts: FileCounts, usage_bytes: int, at: int | None = None) -> JSONDict:
        """The ``VectorStoreObject``, with every field the live API sends (``name``,
        ``description`` and ``expires_after`` null when unset, as it sends them)."""
        return {
            "id": self.id,
            "object": "vector_store",
            "created_at": self.created_at,
            "name": self.name,
            "description": self.description,
            "usage_bytes": usage_bytes,
            "file_counts": counts.as_api(),
            "status": self.status(counts, at),
            "expires_after": dict(self.expires_after) if self.expires_after else None,
            "expires_at": self.expires_at,
            "last_active_at": self.last_active_at,
            "metadata": dict(self.metadata),
        }


@attrs.frozen(kw_only=True)
class StoreFileRecord:
    """A file in a vector store: its ingestion's status and outcome."""

    vector_store_id: str
    file_id: str
    project: str
    created_at: int
    status: str = "in_progress"
    last_error: Mapping[str, str] | None = None
    usage_bytes: int = 0
    chunking: Mapping[str, Any] = attrs.field(factory=dict)
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    batch_id: str | None = None

    def as_api(self) -> JSONDict:
        """The ``VectorStoreFileObject``."""
        return {
            "id": self.file_id,
            "object": "vector_store.file",
            "usage_bytes": self.usage_bytes,
            "created_at": self.created_at,
            "vector_store_id": self.vector_store_id,
            "status": self.status,
            "last_error": dict(self.last_error) if self.last_error else None,
            "chunking_strategy": dict(self.chunking),
            "attributes": dict(self.attributes),
        }


@attrs.frozen(kw_only=True)
class BatchRecord:
    """A batch of files added to a vector store at once."""

    id: str
    vector_store_id: str
    project: str
    created_at: int
    cancelled: bool = False

    def status(self, counts: FileCounts) -> str:
        if self.cancelled:
            return "cancelled"
        if counts.in_progress:
            return "in_progress"
        if counts.total and counts.failed == counts.total:
            return "failed"
        return "completed"

    def as_api(self, counts: FileCounts) -> JSONDict:
        """The ``VectorStoreFileBatchObject``."""
        return {
            "id": self.id,
            "object": "vector_store.files_batch",
            "created_at": self.created_at,
            "vector_store_id": self.vector_store_id,
            "status": self.status(counts),
            "file_counts": counts.as_api(),
        }


@attrs.frozen(kw_only=True)
class ChunkHit:
    """A chunk a search found: where it is in its file's parsed text, and its text."""

    key: int
    vector_store_id: str
    file_id: str
    index: int
    start: int
    end: int
    text: str


@attrs.frozen(kw_only=True)
class SearchHit:
    """One search result: a chunk, its file, and its score (0 to 1, higher is better)."""

    file_id: str
    filename: str
    score: float
    attributes: Mapping[str, Any]
    chunk: ChunkHit

    def as_api(self) -> JSONDict:
        """A ``VectorStoreSearchResultItem``."""
        return {
            "file_id": self.file_id,
            "filename": self.filename,
            "score": self.score,
            "attributes": dict(self.attributes),
            "content": [{"type": "text", "text": self.chunk.text}],
        }


def search_page(queries: list[str], hits: list[SearchHit]) -> JSONDict:
    """The ``vector_store.search_results.page`` of a search."""
    return {
        "object": "vector_store.search_results.page",
        "search_query": list(queries),
        "data": [hit.as_api() for hit in hits],
        "has_more": False,
        "next_page": None,
    }
