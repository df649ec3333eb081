"""The retrieval port: files, vector stores, ingestion and search, as the engine calls them.

:class:`Retrieval` is the one object a handler needs. Every method takes the ``project`` the
request belongs to (``""``: the shared namespace); an object of another project is not found.
Methods raise the errors of ``retrieval/errors.py`` (each says which HTTP status answers it)
and return records whose ``as_api`` builds the wire object; the ``*_object`` methods return
the wire object itself, with its counts.

Transactions: each method runs in a transaction of its own, or in the caller's when one is
open (``with retrieval.transaction():``). Uploads (:meth:`Retrieval.upload_file`) write their
bytes in pieces, each in a short transaction of its own, and should be called outside one:
only the last step, which makes the file visible, is atomic.

Ingestion runs in the background (:class:`Ingestor`, started by :meth:`Retrieval.start`):
adding a file to a vector store commits it ``in_progress`` and wakes the ingestor, which claims
it under a lease, parses, chunks, embeds and indexes it, and ends it ``completed`` or
``failed``. :meth:`Retrieval.ingest` does one file now (tests, or an engine that schedules on
its own workers); it is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from assistants_client.server.retrieval.analysis import STOPWORDS, identifiers, stem, terms, words
from assistants_client.server.retrieval.chunking import (
    ChunkingStrategy,
    chunk_text,
    resolve_strategy,
)
from assistants_client.server.retrieval.documents import parse_document
from assistants_client.server.retrieval.embeddings import (
    Embedder,
    EmbeddingsNotServed,
    EmbeddingsRefused,
)
from assistants_client.server.retrieval.errors import (
    DocumentError,
    EmbeddingUnavailable,
    FileTooLarge,
    InvalidRequest,
    MalformedUpload,
    NotFound,
)
from assistants_client.server.retrieval.filters import Filter, compile_filter
from assistants_client.server.retrieval.multipart import FilePart, parse_multipart
from assistants_client.server.retrieval.records import (
    BatchRecord,
    ChunkHit,
    FileRecord,
    SearchHit,
    StoreFileRecord,
    VectorStoreRecord,
    new_file_id,
    new_id,
    now,
)
from assistants_client.server.retrieval.sql import PostgresIndexStore, SqliteIndexStore
from assistants_client.server.retrieval.storage import IndexStore, IngestionKey, MemoryIndexStore
from assistants_client.server.retrieval.tokens import APPROXIMATE_CL100K, TokenCounter
from assistants_client.server.store import Store, StoreError
from assistants_client.server.stores.memory import MemoryStore
from assistants_client.server.stores.postgres import PostgresStore
from assistants_client.server.stores.sqlite import SqliteStore

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "FILE_PURPOSES",
    "Ingestor",
    "Retrieval",
    "UNSET",
    "SearchResult",
    "open_index",
]

logger = logging.getLogger("assistants_client.server")

DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
PIECE_BYTES = 1024 * 1024
FILE_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
MIN_FILE_EXPIRY, MAX_FILE_EXPIRY = 3600, 2_592_000
MAX_LIST = 100
MAX_FILE_LIST = 10_000
MAX_STORE_FILE_IDS = 500
MAX_BATCH_FILES = 2000
MAX_RESULTS = 50
MAX_QUERIES = 10
RRF_K = 60
# A word in more than this share of a store's chunks is not matched by keyword search (it
# still weighs in the score).
COMMON_SHARE = 0.1
COMMON_FLOOR = 200
RANKERS = frozenset({"none", "auto", "default-2024-11-15", "default_2024_08_21"})
# How long ingestion keeps retrying an embeddings endpoint that fails, before the file fails.
DEFAULT_EMBEDDING_PATIENCE = 3600.0
DEFAULT_LEASE = 30.0
UNSET: Any = object()


@attrs.frozen
class SearchResult:
    """What a search found: the queries it ran and the hits, best first."""

    queries: list[str]
    hits: list[SearchHit]


def open_index(store: Store, **options: Any) -> IndexStore:
    """The index store beside ``store`` (memory, SQLite or PostgreSQL); ``options`` go to the
    PostgreSQL one (``pgvector``)."""
    if isinstance(store, MemoryStore):
        return MemoryIndexStore(store)
    if isinstance(store, SqliteStore):
        return SqliteIndexStore(store)
    if isinstance(store, PostgresStore):
        return PostgresIndexStore(store, **options)
    raise TypeError(f"no retrieval tables for {type(store).__name__}")


def _check_int(value: Any, param: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(
            f"{param} must be an integer from {low} to {high}, got {value!r}", param
        )
    return value


def _check_order(order: Any) -> bool:
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"order must be 'asc' or 'desc', got {order!r}", "order")
    return bool(order == "asc")


def _check_attributes(value: Any, param: str = "attributes") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{param} must be an object", param)
    if len(value) > 16:
        raise InvalidRequest(f"{param} may have at most 16 keys", param)
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > 64:
            raise InvalidRequest(f"{param}: keys are strings of 1 to 64 characters", param)
        if isinstance(item, str):
            if len(item) > 512:
                raise InvalidRequest(f"{param}.{key}: strings are at most 512 characters", param)
        elif not isinstance(item, (bool, int, float)) or (
            isinstance(item, float) and not math.isfinite(item)
        ):
            raise InvalidRequest(f"{param}.{key} must be a string, a number or a boolean", param)
    return dict(value)


def _check_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > 16:
        raise InvalidRequest("metadata must be an object of at most 16 keys", "metadata")
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > 64:
            raise InvalidRequest("metadata keys are strings of at most 64 characters", "metadata")
        if not isinstance(item, str) or len(item) > 512:
            raise InvalidRequest(
                f"metadata.{key} must be a string of at most 512 characters", "metadata"
            )
    return dict(value)


def _check_store_expiry(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    param = "expires_after"
    if not isinstance(value, Mapping) or set(value) - {"anchor", "days"}:
        raise InvalidRequest(f"{param} must be {{anchor, days}}", param)
    if value.get("anchor") != "last_active_at":
        raise InvalidRequest(f"{param}.anchor must be 'last_active_at'", f"{param}.anchor")
    days = _check_int(value.get("days"), f"{param}.days", 1, 365)
    return {"anchor": "last_active_at", "days": days}


class _Upload:
    """An upload's bytes on their way to the store, a piece at a time (see
    :meth:`Retrieval.begin_upload`)."""

    def __init__(self, retrieval: Retrieval, project: str, limit: int) -> None:
        self._retrieval = retrieval
        self._index = retrieval.index
        self.project = project
        self.file_id = new_file_id()
        self.size = 0
        self._limit = limit
        self._buffer = bytearray()
        self._pieces = 0
        self._done = False

    def write(self, data: bytes) -> int:
        if self._done:
            raise RuntimeError("the upload is finished")
        self.size += len(data)
        if self.size > self._limit:
            raise FileTooLarge(self._limit)
        self._buffer += data
        while len(self._buffer) >= PIECE_BYTES:
            self._flush(PIECE_BYTES)
        return len(data)

    def _flush(self, size: int) -> None:
        piece = bytes(self._buffer[:size])
        del self._buffer[:size]
        with self._index.transaction():
            self._index.put_piece(self.file_id, self._pieces, piece)
        self._pieces += 1

    def commit(self, filename: str, purpose: str, expires_after: int | None = None) -> FileRecord:
        """Make the file visible (one transaction); nothing is kept if this fails."""
        if self._buffer:
            self._flush(len(self._buffer))
        created = now()
        record = FileRecord(
            id=self.file_id,
            project=self.project,
            filename=filename,
            bytes=self.size,
            purpose=purpose,
            created_at=created,
            expires_at=created + expires_after if expires_after is not None else None,
        )
        self._index.insert_file(record)
        self._done = True
        return record

    def abort(self) -> None:
        """Forget what was written (an interrupted upload leaves nothing)."""
        if self._done:
            return
        self._done = True
        self._buffer.clear()
        try:
            with self._index.transaction():
                self._index.drop_pieces(self.file_id)
        except Exception:  # the pieces are swept later (drop_orphan_pieces)
            logger.warning("could not drop the pieces of an interrupted upload", exc_info=True)


class Retrieval:
    """Files, vector stores, ingestion and search over one server store (see the module
    docstring).

    ``embedder``: None for lexical search only. ``max_file_bytes``: the upload cap.
    ``keyword_weight`` and ``vector_weight``: the weights of the two rankings in the fusion.
    ``owner``: this process's name in ingestion claims; ``lease``: seconds a claim lasts
    unless renewed. When the embeddings endpoint keeps failing (429, 5xx, down), a file waits
    ``retry_delay`` seconds (growing to a minute) and is tried again, for up to
    ``embedding_patience`` seconds before it fails with ``server_error``.
    """

    def __init__(
        self,
        index: IndexStore,
        *,
        embedder: Embedder | None = None,
        counter: TokenCounter = APPROXIMATE_CL100K,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        keyword_weight: float = 1.0,
        vector_weight: float = 1.0,
        owner: str | None = None,
        lease: float = DEFAULT_LEASE,
        embedding_patience: float = DEFAULT_EMBEDDING_PATIENCE,
        retry_delay: float = 2.0,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.counter = counter
        self.max_file_bytes = max_file_bytes
        self.keyword_weight = keyword_weight
        self.vector_weight = vector_weight
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease
        self.embedding_patience = embedding_patience
        self.retry_delay = retry_delay
        self.ingestor: Ingestor | None = None
        self._lexical_only = False
        self._frequencies: dict[tuple[str, int], tuple[int, dict[str, int]]] = {}
        self._frequency_lock = threading.Lock()
        self._chunk_terms: dict[int, frozenset[str]] = {}

    @classmethod
    def over(cls, store: Store, **options: Any) -> Retrieval:
        """Retrieval over ``store``'s database (``pgvector`` goes to the index store, the
        rest to :class:`Retrieval`)."""
        index_options = {key: options.pop(key) for key in ("pgvector",) if key in options}
        return cls(open_index(store, **index_options), **options)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.index.transaction()

    def clear(self) -> None:
        """Forget every file and vector store (with the server store's ``clear``, a reset)."""
        self.index.clear()
        with self._frequency_lock:
            self._frequencies.clear()
            self._chunk_terms.clear()

    # -- files ----------------------------------------------------------------------------

    def begin_upload(self, project: str) -> _Upload:
        """An upload to write to (``write``), then ``commit`` or ``abort``; its bytes are
        capped at ``max_file_bytes`` (:class:`FileTooLarge` past it)."""
        return _Upload(self, project, self.max_file_bytes)

    def upload_file(
        self, project: str, content_type: str | None, body: Iterable[bytes]
    ) -> FileRecord:
        """``POST /files``: a ``multipart/form-data`` body (``file``, ``purpose``, optional
        ``expires_after[anchor]`` and ``expires_after[seconds]``), read piece by piece.

        Raises :class:`MalformedUpload` or :class:`InvalidRequest` (400) and
        :class:`FileTooLarge` (413); nothing is kept when it raises, nor when ``body`` does.
        """
        upload = self.begin_upload(project)
        opened: list[FilePart] = []

        def open_file(part: FilePart) -> _Upload:
            if part.name != "file":
                raise MalformedUpload(
                    f"unknown file field {part.name!r} (send it as 'file')", part.name
                )
            if opened:
                raise MalformedUpload("the form has more than one file", "file")
            opened.append(part)
            return upload

        try:
            form = parse_multipart(
                content_type,
                body,
                open_file,
                fields=("purpose", "expires_after[anchor]", "expires_after[seconds]"),
            )
            if not opened:
                raise InvalidRequest("the form has no 'file' part", "file")
            purpose = self._check_purpose(form.fields.get("purpose"))
            expires = self._file_expiry(form.fields)
            filename = _clean_filename(opened[0].filename)
            return upload.commit(filename, purpose, expires)
        except BaseException:
            upload.abort()
            raise

    def create_file(
        self,
        project: str,
        filename: str,
        purpose: str,
        content: Iterable[bytes] | bytes,
        *,
        expires_after_seconds: int | None = None,
    ) -> FileRecord:
        """A file from its bytes (an iterable of pieces, or bytes), without multipart."""
        purpose = self._check_purpose(purpose)
        if expires_after_seconds is not None:
            _check_int(
                expires_after_seconds,
                "expires_after.seconds",
                MIN_FILE_EXPIRY,
                MAX_FILE_EXPIRY,
            )
        upload = self.begin_upload(project)
        try:
            pieces = [content] if isinstance(content, (bytes, bytearray)) else content
            for piece in pieces:
                upload.write(bytes(piece))
            return upload.commit(_clean_filename(filename), purpose, expires_after_seconds)
        except BaseException:
            upload.abort()
            raise

    @staticmethod
    def _check_purpose(purpose: Any) -> str:
        if purpose is None:
            raise InvalidRequest("purpose is required", "purpose")
        if purpose not in FILE_PURPOSES:
            raise InvalidRequest(
                f"purpose must be one of {', '.join(sorted(FILE_PURPOSES))}; got {purpose!r}",
                "purpose",
            )
        return str(purpose)

    @staticmethod
    def _file_expiry(fields: Mapping[str, str]) -> int | None:
        anchor = fields.get("expires_after[anchor]")
        seconds = fields.get("expires_after[seconds]")
        if anchor is None and seconds is None:
            return None
        if anchor != "created_at":
            raise InvalidRequest(
                "expires_after[anchor] must be 'created_at'", "expires_after[anchor]"
            )
        if seconds is None or not seconds.strip().isdigit() or not seconds.isascii():
            raise InvalidRequest(
                "expires_after[seconds] must be a whole number of seconds",
                "expires_after[seconds]",
            )
        return _check_int(int(seconds), "expires_after[seconds]", MIN_FILE_EXPIRY, MAX_FILE_EXPIRY)

    def get_file(self, project: str, file_id: str) -> FileRecord:
        found = self.index.get_file(project, file_id)
        if found is None or found.expired():
            raise NotFound("file", file_id, "file_id")
        return found

    def list_files(
        self,
        project: str,
        *,
        purpose: str | None = None,
        limit: int = MAX_FILE_LIST,
        order: str = "desc",
        after: str | None = None,
    ) -> tuple[list[FileRecord], bool]:
        """A page of the project's files (``GET /files``) and whether more follow."""
        ascending = _check_order(order)
        _check_int(limit, "limit", 1, MAX_FILE_LIST)
        files, more = self.index.list_files(
            project, purpose=purpose, limit=limit, ascending=ascending, after=after
        )
        return [f for f in files if not f.expired()], more

    def file_content(self, project: str, file_id: str) -> Iterator[bytes]:
        """The file's exact bytes, a piece at a time (:class:`NotFound` at once, before the
        iterator is returned)."""
        self.get_file(project, file_id)
        return self._pieces(file_id)

    def _pieces(self, file_id: str) -> Iterator[bytes]:
        number = 0
        while True:
            with self.index.transaction():
                piece = self.index.piece(file_id, number)
            if piece is None:
                return
            yield piece
            number += 1

    def delete_file(self, project: str, file_id: str) -> list[str]:
        """``DELETE /files/{id}``: the file, and the file in every vector store that holds it
        (their ``file_counts`` and ``usage_bytes`` follow); the ids of those stores."""
        with self.index.transaction():
            if self.index.get_file(project, file_id) is None:
                raise NotFound("file", file_id, "file_id")
            stores = self.index.stores_with_file(project, file_id)
            for store_id in stores:
                self._remove_from_store(project, store_id, file_id)
            self.index.delete_file(project, file_id)
        return stores

    def _remove_from_store(self, project: str, store_id: str, file_id: str) -> None:
        store = self.index.get_store(project, store_id, lock=True)
        self.index.delete_store_file(store_id, file_id)
        if store is not None:
            self.index.update_store(attrs.evolve(store, generation=store.generation + 1))

    def sweep(self, older_than: float = 24 * 3600.0) -> int:
        """Forget the pieces of uploads interrupted more than ``older_than`` seconds ago (a
        process that died mid-upload); how many."""
        with self.index.transaction():
            return self.index.drop_orphan_pieces(self.index.clock() - older_than)

    def sweep_expired(self, limit: int = 100) -> int:
        """Delete up to ``limit`` files past their ``expires_at`` (from every vector store
        holding them, as ``delete_file`` does); how many."""
        with self.index.transaction():
            expired = self.index.expired_files(now(), limit)
        for project, file_id in expired:
            try:
                self.delete_file(project, file_id)
            except NotFound:  # deleted meanwhile
                continue
        return len(expired)

    # -- vector stores --------------------------------------------------------------------

    def create_vector_store(
        self,
        project: str,
        *,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires_after: Mapping[str, Any] | None = None,
        chunking_strategy: Mapping[str, Any] | None = None,
        file_ids: Sequence[str] = (),
    ) -> VectorStoreRecord:
        """A vector store, with ``file_ids`` added to it (ingested in the background)."""
        if name is not None and not isinstance(name, str):
            raise InvalidRequest("name must be a string", "name")
        if description is not None and not isinstance(description, str):
            raise InvalidRequest("description must be a string", "description")
        if len(file_ids) > MAX_STORE_FILE_IDS:
            raise InvalidRequest(
                f"file_ids may name at most {MAX_STORE_FILE_IDS} files", "file_ids"
            )
        strategy = resolve_strategy(chunking_strategy)
        created = now()
        record = VectorStoreRecord(
            id=new_id("vs"),
            project=project,
            created_at=created,
            name=name,
            description=description,
            metadata=_check_metadata(metadata),
            expires_after=_check_store_expiry(expires_after),
            last_active_at=created,
        )
        with self.index.transaction():
            self.index.insert_store(record)
            for file_id in file_ids:
                self._add(project, record, file_id, {}, strategy, None, "file_ids")
        self._wake()
        return record

    def _store(self, project: str, store_id: str, *, lock: bool = False) -> VectorStoreRecord:
        found = self.index.get_store(project, store_id, lock=lock)
        if found is None:
            raise NotFound("vector store", store_id, "vector_store_id")
        return found

    def get_vector_store(self, project: str, store_id: str) -> VectorStoreRecord:
        return self._store(project, store_id)

    def vector_store_object(self, project: str, store_id: str) -> dict[str, Any]:
        """The ``VectorStoreObject``, with its current counts and usage."""
        with self.index.transaction():
            record = self._store(project, store_id)
            counts, usage = self.index.store_counts(store_id)
        return record.as_api(counts, usage)

    def vector_store_objects(self, records: Sequence[VectorStoreRecord]) -> list[dict[str, Any]]:
        """The ``VectorStoreObject`` of each record (a page of :meth:`list_vector_stores`)."""
        with self.index.transaction():
            return [record.as_api(*self.index.store_counts(record.id)) for record in records]

    def list_vector_stores(
        self,
        project: str,
        *,
        limit: int = 20,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> tuple[list[VectorStoreRecord], bool]:
        ascending = _check_order(order)
        _check_int(limit, "limit", 1, MAX_LIST)
        return self.index.list_stores(
            project, limit=limit, ascending=ascending, after=after, before=before
        )

    def update_vector_store(
        self,
        project: str,
        store_id: str,
        *,
        name: Any = UNSET,
        metadata: Any = UNSET,
        expires_after: Any = UNSET,
    ) -> VectorStoreRecord:
        """Modify a vector store (only the arguments given change)."""
        with self.index.transaction():
            record = self._store(project, store_id, lock=True)
            changes: dict[str, Any] = {}
            if name is not UNSET:
                if name is not None and not isinstance(name, str):
                    raise InvalidRequest("name must be a string", "name")
                changes["name"] = name
            if metadata is not UNSET:
                changes["metadata"] = _check_metadata(metadata)
            if expires_after is not UNSET:
                changes["expires_after"] = _check_store_expiry(expires_after)
            record = attrs.evolve(record, **changes)
            self.index.update_store(record)
        return record

    def delete_vector_store(self, project: str, store_id: str) -> None:
        """Delete a vector store with its files (the files themselves stay)."""
        if not self.index.delete_store(project, store_id):
            raise NotFound("vector store", store_id, "vector_store_id")

    def touch(self, project: str, store_id: str) -> None:
        """Move the store's ``last_active_at`` to now (a search or a run used it)."""
        if self._store(project, store_id).last_active_at == now():
            return  # searches in the same second change nothing (and lock nothing)
        with self.index.transaction():
            record = self._store(project, store_id, lock=True)
            if record.last_active_at != now():
                self.index.update_store(attrs.evolve(record, last_active_at=now()))

    # -- vector store files ---------------------------------------------------------------

    def _add(
        self,
        project: str,
        store: VectorStoreRecord,
        file_id: str,
        attributes: dict[str, Any],
        strategy: ChunkingStrategy,
        batch_id: str | None,
        param: str,
    ) -> StoreFileRecord:
        if not isinstance(file_id, str) or not file_id:
            raise InvalidRequest(f"{param} must name files by id", param)
        if self.index.get_file(project, file_id) is None:
            raise NotFound("file", file_id, param)
        existing = self.index.get_store_file(project, store.id, file_id, lock=True)
        if existing is not None and batch_id is None:
            return existing
        if existing is not None:
            self.index.delete_store_file(store.id, file_id)
        record = StoreFileRecord(
            vector_store_id=store.id,
            file_id=file_id,
            project=project,
            created_at=now(),
            chunking=strategy.as_api(),
            attributes=attributes,
            batch_id=batch_id,
        )
        self.index.insert_store_file(record)
        return record

    def add_file(
        self,
        project: str,
        store_id: str,
        file_id: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        chunking_strategy: Mapping[str, Any] | None = None,
    ) -> StoreFileRecord:
        """``POST /vector_stores/{id}/files``: the file, ``in_progress`` (or as it is, when
        the store already holds it); ingested in the background."""
        checked = _check_attributes(attributes)
        strategy = resolve_strategy(chunking_strategy)
        with self.index.transaction():
            store = self._store(project, store_id, lock=True)
            record = self._add(project, store, file_id, checked, strategy, None, "file_id")
        self._wake()
        return record

    def get_store_file(self, project: str, store_id: str, file_id: str) -> StoreFileRecord:
        with self.index.transaction():
            self._store(project, store_id)
            found = self.index.get_store_file(project, store_id, file_id)
        if found is None:
            raise NotFound("vector store file", file_id, "file_id")
        return found

    def list_store_files(
        self,
        project: str,
        store_id: str,
        *,
        status: str | None = None,
        batch_id: str | None = None,
        limit: int = 20,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> tuple[list[StoreFileRecord], bool]:
        """A page of the store's files (``filter`` is ``status`` here), or a batch's."""
        ascending = _check_order(order)
        _check_int(limit, "limit", 1, MAX_LIST)
        if status is not None and status not in ("in_progress", "completed", "failed", "cancelled"):
            raise InvalidRequest(
                "filter must be in_progress, completed, failed or cancelled", "filter"
            )
        with self.index.transaction():
            self._store(project, store_id)
            if batch_id is not None and self.index.get_batch(project, store_id, batch_id) is None:
                raise NotFound("vector store file batch", batch_id, "batch_id")
            return self.index.list_store_files(
                project,
                store_id,
                status=status,
                batch_id=batch_id,
                limit=limit,
                ascending=ascending,
                after=after,
                before=before,
            )

    def update_store_file(
        self, project: str, store_id: str, file_id: str, attributes: Mapping[str, Any] | None
    ) -> StoreFileRecord:
        """``POST /vector_stores/{id}/files/{file_id}``: new attributes."""
        checked = _check_attributes(attributes)
        with self.index.transaction():
            found = self.index.get_store_file(project, store_id, file_id, lock=True)
            if found is None:
                self._store(project, store_id)
                raise NotFound("vector store file", file_id, "file_id")
            record = attrs.evolve(found, attributes=checked)
            self.index.update_store_file(record)
        return record

    def remove_file(self, project: str, store_id: str, file_id: str) -> None:
        """``DELETE /vector_stores/{id}/files/{file_id}``: out of the store (the file stays);
        an ingestion under way is abandoned."""
        with self.index.transaction():
            self._store(project, store_id, lock=True)
            if self.index.get_store_file(project, store_id, file_id) is None:
                raise NotFound("vector store file", file_id, "file_id")
            self._remove_from_store(project, store_id, file_id)

    def cancel_file(self, project: str, store_id: str, file_id: str) -> StoreFileRecord:
        """Stop a file's ingestion: ``cancelled`` if it was in progress (an ingestion under way
        is abandoned, nothing of it indexed), else as it was."""
        with self.index.transaction():
            found = self.index.get_store_file(project, store_id, file_id, lock=True)
            if found is None:
                self._store(project, store_id)
                raise NotFound("vector store file", file_id, "file_id")
            if found.status == "in_progress":
                found = attrs.evolve(found, status="cancelled")
                self.index.update_store_file(found)
        return found

    def store_file_content(self, project: str, store_id: str, file_id: str) -> str:
        """The file's parsed text, as chunks and citations point into it ("" until it is
        ingested)."""
        with self.index.transaction():
            self.get_store_file(project, store_id, file_id)
            return self.index.get_text(store_id, file_id) or ""

    # -- batches --------------------------------------------------------------------------

    def create_batch(
        self,
        project: str,
        store_id: str,
        *,
        file_ids: Sequence[str] | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        attributes: Mapping[str, Any] | None = None,
        chunking_strategy: Mapping[str, Any] | None = None,
    ) -> BatchRecord:
        """A batch of files: ``file_ids`` (with the shared ``attributes`` and
        ``chunking_strategy``) or ``files`` (each ``{file_id, attributes?,
        chunking_strategy?}``), not both; at most 2,000."""
        if (file_ids is None) == (files is None):
            raise InvalidRequest("give either file_ids or files, not both nor neither", "file_ids")
        entries: list[tuple[str, dict[str, Any], ChunkingStrategy, str]] = []
        if file_ids is not None:
            shared = _check_attributes(attributes)
            strategy = resolve_strategy(chunking_strategy)
            entries = [(file_id, shared, strategy, "file_ids") for file_id in file_ids]
        else:
            assert files is not None
            for n, entry in enumerate(files):
                if not isinstance(entry, Mapping):
                    raise InvalidRequest(f"files[{n}] must be an object", f"files[{n}]")
                entries.append(
                    (
                        entry.get("file_id"),  # type: ignore[arg-type]
                        _check_attributes(entry.get("attributes"), f"files[{n}].attributes"),
                        resolve_strategy(
                            entry.get("chunking_strategy"), f"files[{n}].chunking_strategy"
                        ),
                        f"files[{n}].file_id",
                    )
                )
        if not entries or len(entries) > MAX_BATCH_FILES:
            raise InvalidRequest(f"a batch holds 1 to {MAX_BATCH_FILES} files", "file_ids")
        record = BatchRecord(
            id=new_id("vsfb"), vector_store_id=store_id, project=project, created_at=now()
        )
        with self.index.transaction():
            store = self._store(project, store_id, lock=True)
            self.index.insert_batch(record)
            for file_id, attributes_of, strategy_of, param in entries:
                self._add(project, store, file_id, attributes_of, strategy_of, record.id, param)
        self._wake()
        return record

    def _batch(self, project: str, store_id: str, batch_id: str) -> BatchRecord:
        found = self.index.get_batch(project, store_id, batch_id)
        if found is None:
            self._store(project, store_id)
            raise NotFound("vector store file batch", batch_id, "batch_id")
        return found

    def batch_object(self, project: str, store_id: str, batch_id: str) -> dict[str, Any]:
        """The ``VectorStoreFileBatchObject`` with its current counts."""
        with self.index.transaction():
            record = self._batch(project, store_id, batch_id)
            return record.as_api(self.index.batch_counts(batch_id))

    def cancel_batch(self, project: str, store_id: str, batch_id: str) -> BatchRecord:
        """Cancel the batch's files still in progress (an ingestion under way is abandoned);
        the batch is then ``cancelled``, for good. A batch with nothing in progress stays as
        it ended."""
        with self.index.transaction():
            record = self._batch(project, store_id, batch_id)
            files, _ = self.index.list_store_files(
                project,
                store_id,
                status="in_progress",
                batch_id=batch_id,
                limit=MAX_BATCH_FILES,
                ascending=True,
                after=None,
                before=None,
            )
            for found in files:
                self.index.update_store_file(attrs.evolve(found, status="cancelled"))
            if files:  # a batch already done stays as it ended
                record = attrs.evolve(record, cancelled=True)
                self.index.update_batch(record)
        return record

    # -- ingestion ------------------------------------------------------------------------

    def start(
        self,
        submit: Callable[[Callable[[], None]], object] | None = None,
        *,
        workers: int = 2,
        poll: float = 1.0,
    ) -> Ingestor:
        """Start ingesting in the background (see :class:`Ingestor`); idempotent."""
        if self.ingestor is None:
            self.ingestor = Ingestor(self, submit, workers=workers, poll=poll)
            self.ingestor.start()
        return self.ingestor

    def close(self) -> None:
        """Stop the background ingestion; claims held lapse so others take them at once."""
        if self.ingestor is not None:
            self.ingestor.close()
            self.ingestor = None

    def _wake(self) -> None:
        if self.ingestor is not None:
            self.ingestor.wake()

    def ingest(self, project: str, store_id: str, file_id: str) -> str:
        """Ingest one vector store file now, if it is in progress and nobody else holds it:
        its status afterwards (``completed``, ``failed``, ``cancelled``, or ``in_progress``
        when another process holds it or the embeddings endpoint asked to wait)."""
        key = (store_id, file_id)
        with self.index.transaction():
            claimed = self.index.claim(store_id, file_id, self.owner, self.lease)
        if not claimed:
            found = self.index.get_store_file(project, store_id, file_id)
            return found.status if found is not None else "deleted"
        try:
            return self._ingest_claimed(project, store_id, file_id)
        except _Abandoned:
            found = self.index.get_store_file(project, store_id, file_id)
            return found.status if found is not None else "deleted"
        except DocumentError as problem:
            return self._fail(project, key, problem.code, problem.message)
        except EmbeddingsRefused as problem:
            return self._fail(project, key, "server_error", str(problem))
        except EmbeddingUnavailable as problem:
            return self._retry_later(project, key, problem)
        except StoreError as problem:
            # Nothing of it was kept; the claim lapses and the file is taken again.
            logger.warning(
                "ingesting %s: the store failed (%s); tried again later", file_id, problem
            )
            return "in_progress"
        except Exception as problem:
            logger.exception("ingesting %s into %s failed", file_id, store_id)
            return self._fail(
                project, key, "server_error", f"the server failed to index the file: {problem}"
            )

    def _ingest_claimed(self, project: str, store_id: str, file_id: str) -> str:
        with self.index.transaction():
            record = self.index.get_store_file(project, store_id, file_id)
            store = self.index.get_store(project, store_id)
            source = self.index.get_file(project, file_id)
        if record is None or store is None or record.status != "in_progress":
            return record.status if record is not None else "deleted"
        if source is None:
            return self._fail(project, (store_id, file_id), "invalid_file", "the file was deleted")
        parsed = parse_document(source.filename, self._pieces(file_id))
        static = dict(record.chunking).get("static") or {}
        strategy = ChunkingStrategy(
            int(static.get("max_chunk_size_tokens", 800)),
            int(static.get("chunk_overlap_tokens", 400)),
        )
        chunks = chunk_text(parsed.text, strategy, self.counter)
        vectors = self._embed_chunks([chunk.text for chunk in chunks], (store_id, file_id))
        with self.index.transaction():
            # Locks in the order every change takes them: the store, then its file.
            locked = self.index.get_store(project, store_id, lock=True)
            current = self.index.get_store_file(project, store_id, file_id, lock=True)
            held = self.index.renew(self.owner, [(store_id, file_id)], self.lease)
            if locked is None or current is None or current.status != "in_progress" or not held:
                return current.status if current is not None else "deleted"
            store = locked
            if vectors is not None and self.embedder is not None:
                model, dims = self.embedder.model, len(vectors[0]) if vectors else None
                if store.embedding_model is None and dims:
                    store = attrs.evolve(store, embedding_model=model, dimensions=dims)
                elif dims and (store.embedding_model, store.dimensions) != (model, dims):
                    raise EmbeddingsRefused(
                        f"the vector store holds vectors of {store.embedding_model} "
                        f"({store.dimensions} dimensions) and this server now embeds with "
                        f"{model} ({dims}); add the file to a new vector store"
                    )
            self.index.replace_chunks(store_id, file_id, chunks, vectors)
            self.index.set_text(store_id, file_id, parsed.text)
            self.index.update_store_file(
                attrs.evolve(
                    current,
                    status="completed",
                    last_error=None,
                    usage_bytes=len(parsed.text.encode("utf-8")),
                )
            )
            self.index.update_store(attrs.evolve(store, generation=store.generation + 1))
        return "completed"

    def _embed_chunks(self, texts: list[str], key: tuple[str, str]) -> list[list[float]] | None:
        """The chunks' vectors, a batch at a time with the claim renewed in between; None
        when retrieval is lexical only."""
        embedder = self.embedder
        if embedder is None or self._lexical_only or not texts:
            return None
        batch = int(getattr(embedder, "batch_size", 64) or 64)
        vectors: list[list[float]] = []
        try:
            for start in range(0, len(texts), batch):
                vectors.extend(embedder.embed(texts[start : start + batch]))
                with self.index.transaction():
                    if not self.index.renew(self.owner, [key], self.lease):
                        raise _Abandoned
        except EmbeddingsNotServed as problem:
            logger.warning("%s: vector stores are searched by keywords only", problem)
            self._lexical_only = True
            return None
        return vectors

    def _fail(self, project: str, key: tuple[str, str], code: str, message: str) -> str:
        with self.index.transaction():
            current = self.index.get_store_file(project, *key, lock=True)
            if current is None or current.status != "in_progress":
                return current.status if current is not None else "deleted"
            self.index.update_store_file(
                attrs.evolve(
                    current, status="failed", last_error={"code": code, "message": message}
                )
            )
        return "failed"

    def _retry_later(
        self, project: str, key: tuple[str, str], problem: EmbeddingUnavailable
    ) -> str:
        with self.index.transaction():
            current = self.index.get_store_file(project, *key)
            if current is None or current.status != "in_progress":
                return current.status if current is not None else "deleted"
            waited = now() - current.created_at
            if waited > self.embedding_patience:
                return self._fail(
                    project,
                    key,
                    "server_error",
                    f"the embeddings endpoint kept failing for {waited} s: {problem}",
                )
            delay = problem.retry_after or min(60.0, max(self.retry_delay, waited / 10.0))
            self.index.release(*key, self.owner, self.index.clock() + delay)
        logger.warning("embedding %s: %s; trying again in %.0f s", key[1], problem, delay)
        if self.ingestor is not None:
            self.ingestor.wake(after=delay)
        return "in_progress"

    # -- search ---------------------------------------------------------------------------

    def search(
        self,
        project: str,
        store_ids: Sequence[str],
        query: str | Sequence[str],
        *,
        max_num_results: int = 10,
        filters: Mapping[str, Any] | None = None,
        score_threshold: float = 0.0,
        ranker: str = "auto",
        rewrite_query: bool = False,
    ) -> SearchResult:
        """Hybrid search over ``store_ids`` (``POST /vector_stores/{id}/search`` with one;
        a run's ``file_search`` with its assistant's and thread's).

        Each query runs a keyword and a vector search per store (files filtered by
        ``filters`` first); the lists are fused by weighted reciprocal rank, each entry's
        share scaled by how relevant it is in its own list (the share of the query's terms
        the chunk holds; its cosine above the median of the candidates), so that a score of 1
        is a chunk first in both lists and fully relevant, and ``score_threshold`` cuts weak
        matches. Chunks that hold the queries' identifiers exactly (``ERR-4202``, see
        :func:`~assistants_client.server.retrieval.analysis.identifiers`) come first
        (:func:`_exact_first`). Results of several queries merge by their best score.
        ``rewrite_query`` is accepted; queries are used as given.
        """
        queries = self._check_queries(query)
        _check_int(max_num_results, "max_num_results", 1, MAX_RESULTS)
        if (
            isinstance(score_threshold, bool)
            or not isinstance(score_threshold, (int, float))
            or not 0.0 <= score_threshold <= 1.0
        ):
            raise InvalidRequest(
                "ranking_options.score_threshold must be a number from 0 to 1",
                "ranking_options.score_threshold",
            )
        if ranker not in RANKERS:
            raise InvalidRequest(
                f"ranking_options.ranker must be one of {', '.join(sorted(RANKERS))}",
                "ranking_options.ranker",
            )
        predicate = compile_filter(filters) if filters is not None else None
        with self.index.transaction():
            stores = [self._store(project, store_id) for store_id in store_ids]
        for store in stores:
            if store.expired():
                raise InvalidRequest(f"the vector store {store.id} has expired", "vector_store_id")
            self.touch(project, store.id)
        candidates = max(50, 3 * max_num_results)
        best: dict[int, float] = {}
        exact: dict[int, tuple[int, float]] = {}
        # The embeddings call first, outside any transaction; then every read in one.
        query_vectors = self._query_vectors(queries, stores)
        with self.index.transaction():
            for store in stores:
                allowed = self._allowed_files(project, store, predicate)
                if allowed is not None and not allowed:
                    continue
                for n, text in enumerate(queries):
                    vector = query_vectors.get((n, store.embedding_model))
                    scored = self._fuse(store, text, vector, allowed, candidates)
                    for key, (score, held) in scored.items():
                        if score > best.get(key, -1.0):
                            best[key] = score
                        if held > exact.get(key, (0, 0.0)):
                            exact[key] = held
            ranked = _exact_first(best, exact)
            # The score as shown (to 6 places): a threshold copied from a result keeps it.
            ranked = [(key, score) for key, score in ranked if round(score, 6) >= score_threshold]
            return SearchResult(queries, self._hits(project, ranked[:max_num_results]))

    @staticmethod
    def _check_queries(query: Any) -> list[str]:
        if isinstance(query, str):
            queries = [query]
        elif isinstance(query, Sequence) and all(isinstance(q, str) for q in query):
            queries = list(query)
        else:
            raise InvalidRequest("query must be a string or an array of strings", "query")
        if not queries or len(queries) > MAX_QUERIES or any(not q.strip() for q in queries):
            raise InvalidRequest(
                f"query must be 1 to {MAX_QUERIES} strings that are not blank", "query"
            )
        return queries

    def _query_vectors(
        self, queries: list[str], stores: list[VectorStoreRecord]
    ) -> dict[tuple[int, str | None], list[float]]:
        embedder = self.embedder
        if embedder is None or not any(store.embedding_model == embedder.model for store in stores):
            return {}
        try:
            vectors = embedder.embed(queries)
        except (EmbeddingUnavailable, EmbeddingsNotServed, EmbeddingsRefused) as problem:
            logger.warning("the query could not be embedded, searching by keywords: %s", problem)
            return {}
        return {(n, embedder.model): vector for n, vector in enumerate(vectors)}

    def _allowed_files(
        self, project: str, store: VectorStoreRecord, predicate: Filter | None
    ) -> set[str] | None:
        if predicate is None:
            return None
        allowed: set[str] = set()
        after: str | None = None
        while True:
            page, more = self.index.list_store_files(
                project,
                store.id,
                status="completed",
                batch_id=None,
                limit=1000,
                ascending=True,
                after=after,
                before=None,
            )
            allowed.update(f.file_id for f in page if predicate(f.attributes))
            if not more or not page:
                return allowed
            after = page[-1].file_id

    def _fuse(
        self,
        store: VectorStoreRecord,
        query: str,
        vector: list[float] | None,
        allowed: set[str] | None,
        candidates: int,
    ) -> dict[int, tuple[float, tuple[int, float]]]:
        """Each chunk found for ``query`` in ``store``: its fused score, and how it holds the
        query's identifiers (:func:`_exact_first`): how many of them, and its keyword share
        (0 when it holds none, or when the keyword side has no weight)."""
        rarity, matched = self._rarity(store, query, vectors=vector is not None)
        keyword: list[tuple[int, float]] = []
        if matched:
            keyword = self.index.keyword_search(store.id, matched, candidates, allowed)
        nearest: list[tuple[int, float]] = []
        if vector is not None:
            nearest = self.index.vector_search(store, vector, candidates, allowed)
        if not keyword and not nearest:
            return {}
        weights = self.keyword_weight + (self.vector_weight if vector is not None else 0.0)
        scores: dict[int, float] = {}
        keyword_shares: dict[int, float] = {}
        total = sum(rarity.values())
        wanted = identifiers(query) if self.keyword_weight > 0 else []
        keys = [key for key, _ in keyword]
        if wanted:  # the texts of every chunk found, to look for the identifiers in
            keys += [key for key, _ in nearest]
        texts = self.index.chunk_hits(keys)
        for rank, (key, _) in enumerate(keyword, 1):
            hit = texts.get(key)
            if hit is None or not total:
                coverage = 1.0 if hit is not None else 0.0
            else:
                held = self._terms_of(hit)
                coverage = sum(weight for term, weight in rarity.items() if term in held) / total
            share = self.keyword_weight * coverage * (RRF_K + 1) / (RRF_K + rank)
            keyword_shares[key] = share
            scores[key] = scores.get(key, 0.0) + share
        if nearest:
            similarities = [similarity for _, similarity in nearest]
            floor = statistics.median(similarities) if len(similarities) >= 5 else 0.0
            floor = max(0.0, floor)
            for rank, (key, similarity) in enumerate(nearest, 1):
                relevance = max(0.0, similarity - floor) / (1.0 - floor) if floor < 1.0 else 0.0
                share = self.vector_weight * min(1.0, relevance) * (RRF_K + 1) / (RRF_K + rank)
                scores[key] = scores.get(key, 0.0) + share
        fused: dict[int, tuple[float, tuple[int, float]]] = {}
        for key, score in scores.items():
            hit = texts.get(key)
            holds = sum(1 for name in wanted if name.held_by(hit.text)) if hit is not None else 0
            share = keyword_shares.get(key, 0.0) / self.keyword_weight if holds else 0.0
            fused[key] = (min(1.0, score / weights), (holds, share))
        return fused

    def _terms_of(self, hit: ChunkHit) -> frozenset[str]:
        """A chunk's search terms (a chunk's text never changes under its key)."""
        found = self._chunk_terms.get(hit.key)
        if found is None:
            found = frozenset(terms(hit.text))
            with self._frequency_lock:
                if len(self._chunk_terms) >= 50_000:
                    self._chunk_terms.clear()
                self._chunk_terms[hit.key] = found
        return found

    def _rarity(
        self, store: VectorStoreRecord, query: str, *, vectors: bool = False
    ) -> tuple[dict[str, float], str]:
        """The weight of each of the query's terms, its inverse document frequency in the
        store (BM25's), so that a passage holding the query's rare words scores high and one
        holding only words found everywhere scores low; and the words to match: the rarer
        ones. A word in more than a tenth of a large store's chunks (``COMMON_SHARE``, past
        ``COMMON_FLOOR`` chunks) ranks nothing, yet would make the full-text search rank much
        of the store (on PostgreSQL, ``ts_rank`` of every row it is in: the bulk of a search's
        time); it is matched only when nothing else is, and no vector search (``vectors``)
        ranks the store instead: then the two rarest words are."""
        wanted: dict[str, str] = {}
        for word in words(query):
            if word not in STOPWORDS:
                wanted.setdefault(stem(word), word)
        if not wanted:
            return {}, query
        cache_key = (store.id, store.generation)
        with self._frequency_lock:
            cached = self._frequencies.get(cache_key)
            missing = [w for w in wanted.values() if cached is None or w not in cached[1]]
        if cached is None or missing:
            count = cached[0] if cached is not None else self.index.chunk_count(store.id)
            found = self.index.frequencies(store.id, missing)
            with self._frequency_lock:
                known = dict(cached[1]) if cached is not None else {}
                if len(known) > 10_000:
                    known = {}
                known.update(found)
                cached = (count, known)
                self._frequencies[cache_key] = cached
                while len(self._frequencies) > 64:
                    self._frequencies.pop(next(iter(self._frequencies)))
        count, frequencies = cached
        rarity = {
            term: math.log(
                1.0 + (count - frequencies.get(word, 0) + 0.5) / (frequencies.get(word, 0) + 0.5)
            )
            for term, word in wanted.items()
        }
        common = max(COMMON_SHARE * count, COMMON_FLOOR)
        by_frequency = sorted(wanted.values(), key=lambda word: frequencies.get(word, 0))
        matched = [word for word in by_frequency if frequencies.get(word, 0) <= common]
        if not matched and not vectors:
            matched = by_frequency[:2]
        return rarity, " ".join(matched)

    def _hits(self, project: str, ranked: list[tuple[int, float]]) -> list[SearchHit]:
        if not ranked:
            return []
        chunks: dict[int, ChunkHit] = self.index.chunk_hits([key for key, _ in ranked])
        found = [chunks[key] for key, _ in ranked if key in chunks]
        files = self.index.get_files(project, [chunk.file_id for chunk in found])
        entries = self.index.get_store_files(
            project, [(chunk.vector_store_id, chunk.file_id) for chunk in found]
        )
        hits: list[SearchHit] = []
        for key, score in ranked:
            chunk = chunks.get(key)
            if chunk is None:
                continue
            source = files.get(chunk.file_id)
            entry = entries.get((chunk.vector_store_id, chunk.file_id))
            hits.append(
                SearchHit(
                    file_id=chunk.file_id,
                    filename=source.filename if source is not None else "",
                    score=round(score, 6),
                    attributes=entry.attributes if entry is not None else {},
                    chunk=chunk,
                )
            )
        return hits


def _exact_first(
    scores: Mapping[int, float], exact: Mapping[int, tuple[int, float]]
) -> list[tuple[int, float]]:
    """The chunks best first: those holding more of a query's identifiers exactly first, and
    among those holding the same number, the better keyword match first (by the keyword
    share of the fusion: the vector side cannot tell ERR-4201 from ERR-4202, the keyword
    index can tell the runbook of ERR-4202 from a page that names it in passing); then the
    fused score. A chunk put above others of a higher score takes the best of their scores,
    so that scores still fall down the list, and stay within 0 to 1."""
    ordered = sorted(
        scores.items(),
        key=lambda item: (
            -exact.get(item[0], (0, 0.0))[0],
            -exact.get(item[0], (0, 0.0))[1],
            -item[1],
            item[0],
        ),
    )
    ranked: list[tuple[int, float]] = []
    floor = 0.0
    for key, score in reversed(ordered):
        floor = max(floor, score)
        ranked.append((key, floor))
    ranked.reverse()
    return ranked


class _Abandoned(Exception):
    """The claim was lost mid-ingestion (cancelled, removed, or taken after a lapse)."""


def _clean_filename(name: str) -> str:
    """A file name as the API shows it: its last path component, without control
    characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch >= " " and ch != "\x7f").strip()
    if not base:
        raise InvalidRequest("the file part's filename is empty", "file")
    return base[:255]


class Ingestor:
    """Ingests vector store files in the background, under leases.

    It claims what is due (:meth:`IndexStore.claim_due`: new files, lapsed claims, retries
    whose wait is over; at start, for a store of one process, every claim), runs each claim
    through ``submit`` (the engine's workers) or a pool of ``workers`` threads of its own, and
    renews the leases of the files it is ingesting from a heartbeat thread. A process killed
    mid-ingestion stops renewing: its claims lapse after ``lease`` seconds and another process
    (or this one after a restart) ingests those files from the start.
    """

    def __init__(
        self,
        retrieval: Retrieval,
        submit: Callable[[Callable[[], None]], object] | None = None,
        *,
        workers: int = 2,
        poll: float = 1.0,
    ) -> None:
        self.retrieval = retrieval
        self._pool = ThreadPoolExecutor(workers, "assistants-ingest") if submit is None else None
        self._submit = submit
        self._capacity = workers
        self._poll = poll
        self._running: dict[tuple[str, str], str] = {}
        self._again: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._first = True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="assistants-ingestion", daemon=True)
        self._thread.start()

    def wake(self, after: float = 0.0) -> None:
        """Look for work now (or in ``after`` seconds)."""
        if after <= 0:
            self._wake.set()
            return
        timer = threading.Timer(after, self._wake.set)
        timer.daemon = True
        timer.start()

    def idle(self) -> bool:
        with self._lock:
            return not self._running

    def _loop(self) -> None:
        retrieval = self.retrieval
        last_renewal = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() - last_renewal >= retrieval.lease / 3:
                    self._renew()
                    last_renewal = time.monotonic()
                self._claim()
            except Exception:
                logger.exception("the ingestion loop failed; it goes on")
            self._wake.wait(min(self._poll, retrieval.lease / 3))
            self._wake.clear()

    def _claim(self) -> None:
        retrieval = self.retrieval
        with self._lock:
            free = self._capacity - len(self._running)
        if free <= 0:
            return
        everyone = self._first and not retrieval.index.shared
        self._first = False
        with retrieval.index.transaction():
            taken = retrieval.index.claim_due(
                retrieval.owner, free, retrieval.lease, everyone=everyone
            )
        for key in taken:
            self._launch(key)

    def _launch(self, key: IngestionKey) -> None:
        project, store_id, file_id = key
        with self._lock:
            if (store_id, file_id) in self._running:
                # Claimed again while its last ingestion still runs (the file was added to
                # its store anew, by a batch): that one runs it again when it ends, under the
                # claim just taken, rather than leave it held until its lease lapses.
                self._again.add((store_id, file_id))
                return
            self._running[(store_id, file_id)] = project

        def work() -> None:
            try:
                while True:
                    try:
                        self.retrieval.ingest(project, store_id, file_id)
                    except Exception:
                        logger.exception("ingesting %s failed", file_id)
                    with self._lock:
                        if (store_id, file_id) not in self._again:
                            break
                        self._again.discard((store_id, file_id))
            finally:
                with self._lock:
                    self._running.pop((store_id, file_id), None)
                self._wake.set()

        if self._pool is not None:
            self._pool.submit(work)
        else:
            assert self._submit is not None
            self._submit(work)

    def _renew(self) -> None:
        with self._lock:
            keys = list(self._running)
        if keys:
            retrieval = self.retrieval
            with retrieval.index.transaction():
                retrieval.index.renew(retrieval.owner, keys, retrieval.lease)

    def close(self) -> None:
        """Stop: no new claims; the claims held are released, so that another process (or
        this one, started again) takes those files at once. An ingestion still running finds
        its claim gone at its next step and keeps nothing."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)
        retrieval = self.retrieval
        with self._lock:
            keys = list(self._running)
        try:
            with retrieval.index.transaction():
                for store_id, file_id in keys:
                    retrieval.index.release(store_id, file_id, retrieval.owner, 0.0)
        except Exception:  # the claims then lapse with their lease
            logger.warning("could not release the ingestion claims", exc_info=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
