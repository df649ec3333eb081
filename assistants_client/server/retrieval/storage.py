"""Where retrieval's state lives: the port (:class:`IndexStore`) and its memory adapter.

An index store keeps its tables beside the server's store (``server/store.py``) and takes part
in its transactions: ``with index.transaction():`` is the server store's transaction, so an
engine operation that changes objects and files commits or rolls back as one. The SQL adapters
(``retrieval/sql.py``) keep their tables in the same database; the memory adapter keeps dicts
and records how to undo each change in the memory store's transaction.

Every row carries its ``project``; every read that starts from an id takes the project, and a
row of another project is not found. Lists are pages of ``limit`` (+1 read, so ``has_more`` is
exact) in the order rows were inserted.

Ingestion claims: a vector store file that is ``in_progress`` is claimed by the process that
ingests it, for a lease it renews; a claim that lapses (its process died) is taken again by
:meth:`IndexStore.claim_due`. A store that is not ``shared`` (memory, SQLite) belongs to one
process: at start, every claim in it is stale.
"""

from __future__ import annotations

import abc
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs

from assistants_client.server.retrieval.analysis import stem
from assistants_client.server.retrieval.chunking import Chunk
from assistants_client.server.retrieval.errors import InvalidRequest
from assistants_client.server.retrieval.lexical import Bm25Index
from assistants_client.server.retrieval.records import (
    BatchRecord,
    ChunkHit,
    FileCounts,
    FileRecord,
    StoreFileRecord,
    VectorStoreRecord,
)
from assistants_client.server.retrieval.vectors import BinaryIndex, pack, rescore, sign_bits
from assistants_client.server.store import Store
from assistants_client.server.stores.memory import MemoryStore

__all__ = ["IndexStore", "IngestionKey", "MemoryIndexStore", "Page"]

IngestionKey = tuple[str, str, str]
"""A vector store file to ingest: ``(project, vector_store_id, file_id)``."""

T = TypeVar("T")
Page = tuple[list[T], bool]


class IndexStore(abc.ABC):
    """Retrieval's tables in one store (see the module docstring)."""

    def __init__(self, main: Store) -> None:
        self.main = main
        self.shared = main.shared
        self._binary: dict[str, BinaryIndex] = {}
        self._binary_lock = threading.Lock()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.main.transaction()

    @abc.abstractmethod
    def clear(self) -> None:
        """Forget every file, vector store and chunk (a reset of the emulator)."""

    def clock(self) -> float:
        """Seconds since the epoch, by the clock claims are compared with."""
        return time.time()

    # -- files ----------------------------------------------------------------------------

    @abc.abstractmethod
    def insert_file(self, record: FileRecord) -> None: ...

    @abc.abstractmethod
    def get_file(self, project: str, file_id: str) -> FileRecord | None: ...

    def get_files(self, project: str, file_ids: Sequence[str]) -> dict[str, FileRecord]:
        """The files among ``file_ids`` that exist in the project, by id."""
        found = {file_id: self.get_file(project, file_id) for file_id in set(file_ids)}
        return {file_id: record for file_id, record in found.items() if record is not None}

    @abc.abstractmethod
    def list_files(
        self, project: str, *, purpose: str | None, limit: int, ascending: bool, after: str | None
    ) -> Page[FileRecord]: ...

    @abc.abstractmethod
    def delete_file(self, project: str, file_id: str) -> bool:
        """Forget the file's row and bytes (its vector store files are the caller's)."""

    @abc.abstractmethod
    def put_piece(self, file_id: str, number: int, data: bytes) -> None:
        """Keep piece ``number`` of a file's bytes (pieces of an upload not yet committed are
        invisible: no file row names them)."""

    @abc.abstractmethod
    def piece(self, file_id: str, number: int) -> bytes | None: ...

    @abc.abstractmethod
    def drop_pieces(self, file_id: str) -> None: ...

    @abc.abstractmethod
    def drop_orphan_pieces(self, older_than: float) -> int:
        """Forget pieces of uploads that never became files, written before ``older_than``
        (seconds since the epoch); how many."""

    @abc.abstractmethod
    def expired_files(self, at: int, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` files (``(project, file_id)``) whose ``expires_at`` is past ``at``."""

    # -- vector stores --------------------------------------------------------------------

    @abc.abstractmethod
    def insert_store(self, record: VectorStoreRecord) -> None: ...

    @abc.abstractmethod
    def get_store(
        self, project: str, store_id: str, *, lock: bool = False
    ) -> VectorStoreRecord | None: ...

    @abc.abstractmethod
    def update_store(self, record: VectorStoreRecord) -> None: ...

    @abc.abstractmethod
    def delete_store(self, project: str, store_id: str) -> bool:
        """Forget the store, its files, batches and chunks."""

    @abc.abstractmethod
    def list_stores(
        self,
        project: str,
        *,
        limit: int,
        ascending: bool,
        after: str | None,
        before: str | None,
    ) -> Page[VectorStoreRecord]: ...

    @abc.abstractmethod
    def store_counts(self, store_id: str) -> tuple[FileCounts, int]:
        """The store's file counts by status and the usage bytes of its completed files."""

    @abc.abstractmethod
    def batch_counts(self, batch_id: str) -> FileCounts: ...

    # -- vector store files ---------------------------------------------------------------

    @abc.abstractmethod
    def insert_store_file(self, record: StoreFileRecord) -> None: ...

    @abc.abstractmethod
    def get_store_file(
        self, project: str, store_id: str, file_id: str, *, lock: bool = False
    ) -> StoreFileRecord | None: ...

    def get_store_files(
        self, project: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoreFileRecord]:
        """The vector store files among ``(store_id, file_id)`` keys, by key."""
        found = {key: self.get_store_file(project, *key) for key in set(keys)}
        return {key: record for key, record in found.items() if record is not None}

    @abc.abstractmethod
    def update_store_file(self, record: StoreFileRecord) -> None:
        """Write the record's status, error, usage, attributes (the claim is left as it is,
        but a status other than ``in_progress`` ends it)."""

    @abc.abstractmethod
    def delete_store_file(self, store_id: str, file_id: str) -> bool:
        """Forget the vector store file and its chunks."""

    @abc.abstractmethod
    def list_store_files(
        self,
        project: str,
        store_id: str,
        *,
        status: str | None,
        batch_id: str | None,
        limit: int,
        ascending: bool,
        after: str | None,
        before: str | None,
    ) -> Page[StoreFileRecord]: ...

    @abc.abstractmethod
    def stores_with_file(self, project: str, file_id: str) -> list[str]:
        """The ids of the vector stores that hold the file."""

    @abc.abstractmethod
    def set_text(self, store_id: str, file_id: str, text: str) -> None: ...

    @abc.abstractmethod
    def get_text(self, store_id: str, file_id: str) -> str | None: ...

    # -- batches --------------------------------------------------------------------------

    @abc.abstractmethod
    def insert_batch(self, record: BatchRecord) -> None: ...

    @abc.abstractmethod
    def get_batch(self, project: str, store_id: str, batch_id: str) -> BatchRecord | None: ...

    @abc.abstractmethod
    def update_batch(self, record: BatchRecord) -> None: ...

    # -- ingestion claims -----------------------------------------------------------------

    @abc.abstractmethod
    def claim(self, store_id: str, file_id: str, owner: str, lease: float) -> bool:
        """Claim the file's ingestion for ``owner``: True when it is in progress, due, and
        unclaimed, lapsed or already ``owner``'s."""

    @abc.abstractmethod
    def claim_due(
        self, owner: str, limit: int, lease: float, *, everyone: bool = False
    ) -> list[IngestionKey]:
        """Claim up to ``limit`` ingestions nobody holds (or whose claim lapsed; with
        ``everyone``, any claim), that are due, oldest first."""

    @abc.abstractmethod
    def renew(
        self, owner: str, keys: Sequence[tuple[str, str]], lease: float
    ) -> set[tuple[str, str]]:
        """Extend ``owner``'s claims on ``(store_id, file_id)`` keys; the keys still held."""

    @abc.abstractmethod
    def release(self, store_id: str, file_id: str, owner: str, not_before: float) -> None:
        """Give up ``owner``'s claim; the ingestion is due again at ``not_before``."""

    # -- the index ------------------------------------------------------------------------

    @abc.abstractmethod
    def replace_chunks(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]] | None,
    ) -> None:
        """Make ``chunks`` (with their vectors, when embedded) the file's in the store."""

    @abc.abstractmethod
    def keyword_search(
        self, store_id: str, query: str, limit: int, allowed: set[str] | None
    ) -> list[tuple[int, float]]:
        """The best chunks for ``query`` by the store's full-text ranking, best first."""

    @abc.abstractmethod
    def chunk_hits(self, keys: Sequence[int]) -> dict[int, ChunkHit]: ...

    @abc.abstractmethod
    def chunk_count(self, store_id: str) -> int:
        """How many chunks the store has."""

    @abc.abstractmethod
    def frequencies(self, store_id: str, words: Sequence[str]) -> dict[str, int]:
        """In how many of the store's chunks each word is found (by the store's full-text
        matching)."""

    @abc.abstractmethod
    def _codes(self, store_id: str) -> list[tuple[int, str, bytes]]:
        """Every chunk of the store that has a vector: key, file id, sign bits."""

    @abc.abstractmethod
    def _vectors(self, keys: Sequence[int]) -> dict[int, bytes]:
        """The packed floats of chunks."""

    def vector_search(
        self,
        store: VectorStoreRecord,
        query: Sequence[float],
        limit: int,
        allowed: set[str] | None,
        rescore_count: int = 128,
    ) -> list[tuple[int, float]]:
        """The ``limit`` chunks nearest ``query`` by cosine, best first: sign-bit Hamming
        pre-selection over an index kept in memory per store generation, then exact
        re-scoring (see ``vectors.py``)."""
        index = self._binary_index(store)
        if not len(index):
            return []
        candidates = index.nearest(query, max(rescore_count, 2 * limit), allowed)
        return rescore(query, candidates, self._vectors, limit)

    def _binary_index(self, store: VectorStoreRecord) -> BinaryIndex:
        with self._binary_lock:
            cached = self._binary.get(store.id)
            if cached is not None and cached.generation == store.generation:
                return cached
        built = BinaryIndex(store.generation)
        for key, file_id, bits in self._codes(store.id):
            built.add(key, int.from_bytes(bits, "big"), file_id)
        with self._binary_lock:
            self._binary[store.id] = built
        return built

    def forget_index(self, store_id: str) -> None:
        with self._binary_lock:
            self._binary.pop(store_id, None)


def code_bytes(vector: Sequence[float]) -> bytes:
    """A vector's sign bits, as bytes (big-endian)."""
    return sign_bits(vector).to_bytes((len(vector) + 7) // 8, "big")


def _unknown_cursor(name: str, cursor: str) -> InvalidRequest:
    return InvalidRequest(f"{name}: no object with id '{cursor}' in this list", name)


@attrs.define
class _Claim:
    owner: str | None = None
    lease_until: float = 0.0
    not_before: float = 0.0


@attrs.frozen
class _ChunkRow:
    store_id: str
    file_id: str
    chunk: Chunk
    vector: bytes | None
    code: bytes | None


class MemoryIndexStore(IndexStore):
    """Retrieval's tables in memory, undone with the memory store's transaction."""

    def __init__(self, main: MemoryStore) -> None:
        super().__init__(main)
        self._memory = main
        self._seq = 0
        self._order: dict[tuple[str, ...], int] = {}
        self.files: dict[str, FileRecord] = {}
        self.pieces: dict[tuple[str, int], tuple[float, bytes]] = {}
        self.stores: dict[str, VectorStoreRecord] = {}
        self.store_files: dict[tuple[str, str], StoreFileRecord] = {}
        self.texts: dict[tuple[str, str], str] = {}
        self.batches: dict[str, BatchRecord] = {}
        self.claims: dict[tuple[str, str], _Claim] = {}
        self.chunks: dict[int, _ChunkRow] = {}
        self._next_chunk = 0
        self._lexical: dict[str, tuple[int, Bm25Index]] = {}

    _TABLES = (
        "_order", "files", "pieces", "stores", "store_files", "texts", "batches", "claims",
        "chunks", "_lexical",
    )  # fmt: skip

    def clear(self) -> None:
        with self._changing():
            state = {name: getattr(self, name) for name in self._TABLES}
            for name in self._TABLES:
                setattr(self, name, {})

            def undo() -> None:
                for name, value in state.items():
                    setattr(self, name, value)

            self._memory.on_rollback(undo)
        with self._binary_lock:
            self._binary.clear()

    # -- undo -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        with self._memory.joined():
            yield

    def _put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        with self._changing():
            missing = object()
            before = table.get(key, missing)
            table[key] = value

            def undo() -> None:
                if before is missing:
                    table.pop(key, None)
                else:
                    table[key] = before

            self._memory.on_rollback(undo)

    def _drop(self, table: dict[Any, Any], key: Any) -> bool:
        with self._changing():
            if key not in table:
                return False
            before = table.pop(key)
            self._memory.on_rollback(lambda: table.__setitem__(key, before))
            return True

    def _number(self, *key: str) -> None:
        with self._changing():
            self._seq += 1
            self._put(self._order, key, self._seq)

    def _paged(
        self,
        name: tuple[str, ...],
        rows: list[tuple[str, T]],
        *,
        limit: int,
        ascending: bool,
        after: str | None,
        before: str | None = None,
        cursors: Callable[[str], bool],
    ) -> Page[T]:
        """A page of ``rows`` (id, record) in insertion order; ``name`` + an id is the key of
        its number. A cursor may name a row the list leaves out, if ``cursors(id)`` says it
        may (one of the project's, as the SQL tables find it): any other is unknown."""

        def number(obj_id: str, param: str | None = None) -> int:
            found = self._order.get((*name, obj_id))
            if found is None or (param is not None and not cursors(obj_id)):
                raise _unknown_cursor(param or "after", obj_id)
            return found

        lower = number(after, "after") if after is not None else None
        upper = number(before, "before") if before is not None else None
        if not ascending:
            lower, upper = upper, lower
        numbered = sorted((number(obj_id), record) for obj_id, record in rows)
        window = [
            record
            for seq, record in numbered
            if (lower is None or seq > lower) and (upper is None or seq < upper)
        ]
        if not ascending:
            window.reverse()
        if before is not None and after is None:
            return window[-limit:], len(window) > limit
        return window[:limit], len(window) > limit

    # -- files ----------------------------------------------------------------------------

    def insert_file(self, record: FileRecord) -> None:
        with self._changing():
            self._put(self.files, record.id, record)
            self._number("file", record.id)

    def get_file(self, project: str, file_id: str) -> FileRecord | None:
        with self._changing():
            found = self.files.get(file_id)
            return found if found is not None and found.project == project else None

    def list_files(
        self, project: str, *, purpose: str | None, limit: int, ascending: bool, after: str | None
    ) -> Page[FileRecord]:
        with self._changing():
            rows = [
                (f.id, f)
                for f in self.files.values()
                if f.project == project and (purpose is None or f.purpose == purpose)
            ]
            return self._paged(
                ("file",),
                rows,
                limit=limit,
                ascending=ascending,
                after=after,
                cursors=lambda file_id: self.get_file(project, file_id) is not None,
            )

    def delete_file(self, project: str, file_id: str) -> bool:
        with self._changing():
            if self.get_file(project, file_id) is None:
                return False
            self._drop(self.files, file_id)
            self.drop_pieces(file_id)
            return True

    def put_piece(self, file_id: str, number: int, data: bytes) -> None:
        self._put(self.pieces, (file_id, number), (time.time(), bytes(data)))

    def piece(self, file_id: str, number: int) -> bytes | None:
        with self._changing():
            found = self.pieces.get((file_id, number))
            return None if found is None else found[1]

    def drop_pieces(self, file_id: str) -> None:
        with self._changing():
            for key in [key for key in self.pieces if key[0] == file_id]:
                self._drop(self.pieces, key)

    def drop_orphan_pieces(self, older_than: float) -> int:
        with self._changing():
            stale = [
                key
                for key, (written, _) in self.pieces.items()
                if key[0] not in self.files and written < older_than
            ]
            for key in stale:
                self._drop(self.pieces, key)
            return len(stale)

    def expired_files(self, at: int, limit: int) -> list[tuple[str, str]]:
        with self._changing():
            return [(f.project, f.id) for f in self.files.values() if f.expired(at)][:limit]

    # -- vector stores --------------------------------------------------------------------

    def insert_store(self, record: VectorStoreRecord) -> None:
        with self._changing():
            self._put(self.stores, record.id, record)
            self._number("store", record.id)

    def get_store(
        self, project: str, store_id: str, *, lock: bool = False
    ) -> VectorStoreRecord | None:
        with self._changing():
            found = self.stores.get(store_id)
            return found if found is not None and found.project == project else None

    def update_store(self, record: VectorStoreRecord) -> None:
        self._put(self.stores, record.id, record)

    def delete_store(self, project: str, store_id: str) -> bool:
        with self._changing():
            if self.get_store(project, store_id) is None:
                return False
            for key in [key for key in self.store_files if key[0] == store_id]:
                self.delete_store_file(*key)
            for batch_id in [b.id for b in self.batches.values() if b.vector_store_id == store_id]:
                self._drop(self.batches, batch_id)
            self._drop(self.stores, store_id)
            self.forget_index(store_id)
            return True

    def list_stores(
        self,
        project: str,
        *,
        limit: int,
        ascending: bool,
        after: str | None,
        before: str | None,
    ) -> Page[VectorStoreRecord]:
        with self._changing():
            rows = [(s.id, s) for s in self.stores.values() if s.project == project]
            return self._paged(
                ("store",),
                rows,
                limit=limit,
                ascending=ascending,
                after=after,
                before=before,
                cursors=lambda store_id: self.get_store(project, store_id) is not None,
            )

    def _counts(self, keep: Callable[[StoreFileRecord], bool]) -> tuple[FileCounts, int]:
        by_status: dict[str, int] = {}
        usage = 0
        for record in self.store_files.values():
            if keep(record):
                by_status[record.status] = by_status.get(record.status, 0) + 1
                if record.status == "completed":
                    usage += record.usage_bytes
        return FileCounts.of(by_status), usage

    def store_counts(self, store_id: str) -> tuple[FileCounts, int]:
        with self._changing():
            return self._counts(lambda record: record.vector_store_id == store_id)

    def batch_counts(self, batch_id: str) -> FileCounts:
        with self._changing():
            return self._counts(lambda record: record.batch_id == batch_id)[0]

    # -- vector store files ---------------------------------------------------------------

    def insert_store_file(self, record: StoreFileRecord) -> None:
        with self._changing():
            key = (record.vector_store_id, record.file_id)
            self._put(self.store_files, key, record)
            self._put(self.claims, key, _Claim())
            self._number("store_file", *key)

    def get_store_file(
        self, project: str, store_id: str, file_id: str, *, lock: bool = False
    ) -> StoreFileRecord | None:
        with self._changing():
            found = self.store_files.get((store_id, file_id))
            return found if found is not None and found.project == project else None

    def update_store_file(self, record: StoreFileRecord) -> None:
        with self._changing():
            key = (record.vector_store_id, record.file_id)
            self._put(self.store_files, key, record)
            if record.status != "in_progress":
                self._put(self.claims, key, _Claim())

    def delete_store_file(self, store_id: str, file_id: str) -> bool:
        with self._changing():
            key = (store_id, file_id)
            if not self._drop(self.store_files, key):
                return False
            self._drop(self.claims, key)
            self._drop(self.texts, key)
            self._replace(store_id, file_id, [])
            return True

    def list_store_files(
        self,
        project: str,
        store_id: str,
        *,
        status: str | None,
        batch_id: str | None,
        limit: int,
        ascending: bool,
        after: str | None,
        before: str | None,
    ) -> Page[StoreFileRecord]:
        with self._changing():
            rows = [
                (record.file_id, record)
                for record in self.store_files.values()
                if record.vector_store_id == store_id
                and record.project == project
                and (status is None or record.status == status)
                and (batch_id is None or record.batch_id == batch_id)
            ]
            return self._paged(
                ("store_file", store_id),
                rows,
                limit=limit,
                ascending=ascending,
                after=after,
                before=before,
                cursors=lambda file_id: (store_id, file_id) in self.store_files,
            )

    def stores_with_file(self, project: str, file_id: str) -> list[str]:
        with self._changing():
            return [
                record.vector_store_id
                for record in self.store_files.values()
                if record.file_id == file_id and record.project == project
            ]

    def set_text(self, store_id: str, file_id: str, text: str) -> None:
        self._put(self.texts, (store_id, file_id), text)

    def get_text(self, store_id: str, file_id: str) -> str | None:
        with self._changing():
            return self.texts.get((store_id, file_id))

    # -- batches --------------------------------------------------------------------------

    def insert_batch(self, record: BatchRecord) -> None:
        self._put(self.batches, record.id, record)

    def get_batch(self, project: str, store_id: str, batch_id: str) -> BatchRecord | None:
        with self._changing():
            found = self.batches.get(batch_id)
            if found is None or found.project != project or found.vector_store_id != store_id:
                return None
            return found

    def update_batch(self, record: BatchRecord) -> None:
        self._put(self.batches, record.id, record)

    # -- claims ---------------------------------------------------------------------------

    def claim(self, store_id: str, file_id: str, owner: str, lease: float) -> bool:
        with self._changing():
            key = (store_id, file_id)
            record, held = self.store_files.get(key), self.claims.get(key)
            now = self.clock()
            if record is None or held is None or record.status != "in_progress":
                return False
            if held.not_before > now:
                return False
            if held.owner not in (None, owner) and held.lease_until > now:
                return False
            self._put(self.claims, key, _Claim(owner, now + lease, held.not_before))
            return True

    def claim_due(
        self, owner: str, limit: int, lease: float, *, everyone: bool = False
    ) -> list[IngestionKey]:
        with self._changing():
            now = self.clock()
            taken: list[IngestionKey] = []
            ordered = sorted(
                self.store_files.items(),
                key=lambda item: self._order.get(("store_file", *item[0]), 0),
            )
            for key, record in ordered:
                if len(taken) >= limit:
                    break
                held = self.claims.get(key) or _Claim()
                if record.status != "in_progress" or held.not_before > now:
                    continue
                if held.owner is not None and held.lease_until > now and not everyone:
                    continue
                self._put(self.claims, key, _Claim(owner, now + lease, held.not_before))
                taken.append((record.project, *key))
            return taken

    def renew(
        self, owner: str, keys: Sequence[tuple[str, str]], lease: float
    ) -> set[tuple[str, str]]:
        with self._changing():
            held: set[tuple[str, str]] = set()
            now = self.clock()
            for key in keys:
                claim = self.claims.get(key)
                record = self.store_files.get(key)
                if claim is None or claim.owner != owner or record is None:
                    continue
                if record.status != "in_progress":
                    continue
                self._put(self.claims, key, _Claim(owner, now + lease, claim.not_before))
                held.add(key)
            return held

    def release(self, store_id: str, file_id: str, owner: str, not_before: float) -> None:
        with self._changing():
            key = (store_id, file_id)
            claim = self.claims.get(key)
            if claim is not None and claim.owner == owner:
                self._put(self.claims, key, _Claim(None, 0.0, not_before))

    # -- the index ------------------------------------------------------------------------

    def _replace(
        self,
        store_id: str,
        file_id: str,
        rows: list[_ChunkRow],
    ) -> None:
        for key in [
            k
            for k, row in self.chunks.items()
            if row.store_id == store_id and row.file_id == file_id
        ]:
            self._drop(self.chunks, key)
        for row in rows:
            self._next_chunk += 1
            self._put(self.chunks, self._next_chunk, row)

    def replace_chunks(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]] | None,
    ) -> None:
        with self._changing():
            rows = [
                _ChunkRow(
                    store_id,
                    file_id,
                    chunk,
                    pack(vectors[n]) if vectors is not None else None,
                    code_bytes(vectors[n]) if vectors is not None else None,
                )
                for n, chunk in enumerate(chunks)
            ]
            self._replace(store_id, file_id, rows)

    def _lexical_index(self, store_id: str) -> Bm25Index:
        store = self.stores.get(store_id)
        generation = store.generation if store is not None else -1
        cached = self._lexical.get(store_id)
        if cached is not None and cached[0] == generation:
            return cached[1]
        index = Bm25Index()
        for key, row in self.chunks.items():
            if row.store_id == store_id:
                index.add(key, row.file_id, row.chunk.text)
        self._lexical[store_id] = (generation, index)
        return index

    def keyword_search(
        self, store_id: str, query: str, limit: int, allowed: set[str] | None
    ) -> list[tuple[int, float]]:
        with self._changing():
            return self._lexical_index(store_id).search(query, limit, allowed)

    def chunk_count(self, store_id: str) -> int:
        with self._changing():
            return len(self._lexical_index(store_id).lengths)

    def frequencies(self, store_id: str, words: Sequence[str]) -> dict[str, int]:
        with self._changing():
            index = self._lexical_index(store_id)
            return {word: len(index.postings.get(stem(word), ())) for word in words}

    def chunk_hits(self, keys: Sequence[int]) -> dict[int, ChunkHit]:
        with self._changing():
            found: dict[int, ChunkHit] = {}
            for key in keys:
                row = self.chunks.get(key)
                if row is not None:
                    chunk = row.chunk
                    found[key] = ChunkHit(
                        key=key,
                        vector_store_id=row.store_id,
                        file_id=row.file_id,
                        index=chunk.index,
                        start=chunk.start,
                        end=chunk.end,
                        text=chunk.text,
                    )
            return found

    def _codes(self, store_id: str) -> list[tuple[int, str, bytes]]:
        with self._changing():
            return [
                (key, row.file_id, row.code)
                for key, row in self.chunks.items()
                if row.store_id == store_id and row.code is not None
            ]

    def _vectors(self, keys: Sequence[int]) -> dict[int, bytes]:
        with self._changing():
            found: dict[int, bytes] = {}
            for key in keys:
                row = self.chunks.get(key)
                if row is not None and row.vector is not None:
                    found[key] = row.vector
            return found
