"""Retrieval's tables in SQLite and PostgreSQL, beside the server store's own.

The tables are schema version 4 (``stores/retrieval_schema.py``). Statements run in the server
store's transactions, through its connection: an index store is made from the server store and
never opens a connection of its own.

What differs between the two databases:

* keyword search: SQLite's FTS5 table, ranked by ``bm25()``; PostgreSQL's generated
  ``tsvector`` column under a GIN index, matched with ``websearch_to_tsquery`` (the query's
  words joined by ``or``) and ranked by ``ts_rank`` (``ts_rank_cd`` measured 2.6 times slower
  over 20,000 chunks, and cover density tells little within a chunk of 800 tokens);
* vector search: sign-bit pre-selection in Python then exact re-scoring (``vectors.py``),
  except on PostgreSQL with the ``vector`` extension (pgvector): there each chunk's vector is
  also in ``retrieval_embeddings``, each vector store has a partial HNSW index over its rows
  (cosine, at the store's dimension), and PostgreSQL finds the nearest chunks itself. Without
  the extension (or with ``pgvector=False``) PostgreSQL falls back to the Python path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from assistants_client.server.retrieval.analysis import STOPWORDS, words
from assistants_client.server.retrieval.chunking import Chunk
from assistants_client.server.retrieval.errors import InvalidRequest
from assistants_client.server.retrieval.records import (
    BatchRecord,
    ChunkHit,
    FileCounts,
    FileRecord,
    StoreFileRecord,
    VectorStoreRecord,
)
from assistants_client.server.retrieval.storage import IndexStore, IngestionKey, Page, code_bytes
from assistants_client.server.retrieval.vectors import pack
from assistants_client.server.stores.postgres import MIGRATION_LOCK
from assistants_client.server.stores.sql import SqlStore

__all__ = ["PostgresIndexStore", "SqliteIndexStore"]

logger = logging.getLogger("assistants_client.server")

_INSERT_BATCH = 200
_STORE_ID = re.compile(r"vs_[0-9a-f]{24}")


def _query_words(query: str) -> list[str]:
    """The words a keyword search looks for: the query's, without the common ones (unless it
    has nothing else)."""
    found = sorted(set(words(query)))
    return [word for word in found if word not in STOPWORDS] or found


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _file(row: Sequence[Any]) -> FileRecord:
    data = json.loads(row[0])
    return FileRecord(**data)


def _store(row: Sequence[Any]) -> VectorStoreRecord:
    data = json.loads(row[0])
    return VectorStoreRecord(**data, generation=int(row[1]))


def _store_file(row: Sequence[Any]) -> StoreFileRecord:
    data = json.loads(row[0])
    return StoreFileRecord(**data)


def _store_data(record: VectorStoreRecord) -> str:
    return _dump(
        {
            "id": record.id,
            "project": record.project,
            "created_at": record.created_at,
            "name": record.name,
            "description": record.description,
            "metadata": dict(record.metadata),
            "expires_after": dict(record.expires_after) if record.expires_after else None,
            "last_active_at": record.last_active_at,
            "embedding_model": record.embedding_model,
            "dimensions": record.dimensions,
        }
    )


def _store_file_data(record: StoreFileRecord) -> str:
    return _dump(
        {
            "vector_store_id": record.vector_store_id,
            "file_id": record.file_id,
            "project": record.project,
            "created_at": record.created_at,
            "status": record.status,
            "last_error": dict(record.last_error) if record.last_error else None,
            "usage_bytes": record.usage_bytes,
            "chunking": dict(record.chunking),
            "attributes": dict(record.attributes),
            "batch_id": record.batch_id,
        }
    )


class SqlIndexStore(IndexStore):
    """What SQLite and PostgreSQL share (see the module docstring)."""

    main: SqlStore
    _next_seq: str  # SQL of the next list number
    _expires_at: str  # SQL of a file's expires_at, from its data (NULL when it has none)

    def __init__(self, main: SqlStore) -> None:
        super().__init__(main)
        self.main = main
        self._now = main.dialect.now
        self._lock = main.dialect.lock
        self._skip_locked = main.dialect.skip_locked
        self._id_list = main.dialect.id_list
        self._key_list = self._id_list  # chunk keys: integers (PostgreSQL casts them)

    # -- statements (through the server store's connection and transaction) ---------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.main.query(sql, params)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.main.execute(sql, params)

    def _seq(self) -> int:
        return int(self._rows(f"SELECT {self._next_seq}")[0][0])

    def clock(self) -> float:
        return float(self._rows(f"SELECT {self._now}")[0][0])

    def _page(
        self,
        table: str,
        columns: str,
        where: str,
        params: Sequence[Any],
        cursor_where: str,
        cursor_params: Sequence[Any],
        *,
        limit: int,
        ascending: bool,
        after: str | None,
        before: str | None,
    ) -> tuple[list[Any], bool]:
        """A page of rows of ``table`` (numbered by ``seq``); cursors are found by
        ``cursor_where`` (with ``%s`` for the cursor's id) and may name rows outside the list."""
        with self.transaction():
            bounds: list[str] = []
            values: list[Any] = []
            for name, cursor, sign in (("after", after, ">"), ("before", before, "<")):
                if cursor is None:
                    continue
                found = self._rows(
                    f"SELECT seq FROM {table} WHERE {cursor_where}", (*cursor_params, cursor)
                )
                if not found:
                    raise InvalidRequest(f"{name}: no object with id '{cursor}' in this list", name)
                if not ascending:
                    sign = "<" if sign == ">" else ">"
                bounds.append(f"seq {sign} %s")
                values.append(int(found[0][0]))
            backwards = before is not None and after is None
            descending = ascending == backwards
            rows = self._rows(
                f"SELECT {columns} FROM {table} WHERE {' AND '.join([where, *bounds])} "
                f"ORDER BY seq {'DESC' if descending else 'ASC'} LIMIT %s",
                (*params, *values, limit + 1),
            )
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        return rows, more

    _TABLES = (
        "retrieval_files",
        "retrieval_pieces",
        "retrieval_stores",
        "retrieval_store_files",
        "retrieval_batches",
        "retrieval_chunks",
    )

    def clear(self) -> None:
        with self.transaction():
            for store_id in [row[0] for row in self._rows("SELECT id FROM retrieval_stores")]:
                self._store_deleted(store_id)
            for table in self._extra_tables() + self._TABLES:
                self._run(f"DELETE FROM {table}")
        with self._binary_lock:
            self._binary.clear()

    def _extra_tables(self) -> tuple[str, ...]:
        return ()

    # -- files ----------------------------------------------------------------------------

    def insert_file(self, record: FileRecord) -> None:
        with self.transaction():
            self._run(
                "INSERT INTO retrieval_files (id, project, seq, purpose, data) "
                "VALUES (%s, %s, %s, %s, %s)",
                (
                    record.id,
                    record.project,
                    self._seq(),
                    record.purpose,
                    _dump(
                        {
                            "id": record.id,
                            "project": record.project,
                            "filename": record.filename,
                            "bytes": record.bytes,
                            "purpose": record.purpose,
                            "created_at": record.created_at,
                            "expires_at": record.expires_at,
                        }
                    ),
                ),
            )

    def get_file(self, project: str, file_id: str) -> FileRecord | None:
        rows = self._rows(
            "SELECT data FROM retrieval_files WHERE id = %s AND project = %s", (file_id, project)
        )
        return _file(rows[0]) if rows else None

    def get_files(self, project: str, file_ids: Sequence[str]) -> dict[str, FileRecord]:
        if not file_ids:
            return {}
        rows = self._rows(
            f"SELECT data FROM retrieval_files WHERE project = %s AND id IN ({self._id_list})",
            (project, _dump(sorted(set(file_ids)))),
        )
        return {record.id: record for record in map(_file, rows)}

    def get_store_files(
        self, project: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoreFileRecord]:
        found: dict[tuple[str, str], StoreFileRecord] = {}
        by_store: dict[str, list[str]] = {}
        for store_id, file_id in keys:
            by_store.setdefault(store_id, []).append(file_id)
        for store_id, file_ids in by_store.items():
            rows = self._rows(
                "SELECT data FROM retrieval_store_files WHERE project = %s AND store_id = %s "
                f"AND file_id IN ({self._id_list})",
                (project, store_id, _dump(sorted(set(file_ids)))),
            )
            for record in map(_store_file, rows):
                found[(record.vector_store_id, record.file_id)] = record
        return found

    def list_files(
        self, project: str, *, purpose: str | None, limit: int, ascending: bool, after: str | None
    ) -> Page[FileRecord]:
        where, params = "project = %s", [project]
        if purpose is not None:
            where += " AND purpose = %s"
            params.append(purpose)
        rows, more = self._page(
            "retrieval_files",
            "data",
            where,
            params,
            "project = %s AND id = %s",
            (project,),
            limit=limit,
            ascending=ascending,
            after=after,
            before=None,
        )
        return [_file(row) for row in rows], more

    def delete_file(self, project: str, file_id: str) -> bool:
        with self.transaction():
            gone = self._run(
                "DELETE FROM retrieval_files WHERE id = %s AND project = %s", (file_id, project)
            )
            if gone:
                self.drop_pieces(file_id)
            return gone > 0

    def put_piece(self, file_id: str, number: int, data: bytes) -> None:
        self._run(
            f"INSERT INTO retrieval_pieces (file_id, n, written, data) VALUES (%s, %s, {self._now}, %s)",
            (file_id, number, data),
        )

    def piece(self, file_id: str, number: int) -> bytes | None:
        rows = self._rows(
            "SELECT data FROM retrieval_pieces WHERE file_id = %s AND n = %s", (file_id, number)
        )
        return bytes(rows[0][0]) if rows else None

    def drop_pieces(self, file_id: str) -> None:
        self._run("DELETE FROM retrieval_pieces WHERE file_id = %s", (file_id,))

    def drop_orphan_pieces(self, older_than: float) -> int:
        return self._run(
            "DELETE FROM retrieval_pieces WHERE written < %s AND file_id NOT IN "
            "(SELECT id FROM retrieval_files)",
            (older_than,),
        )

    def expired_files(self, at: int, limit: int) -> list[tuple[str, str]]:
        rows = self._rows(
            f"SELECT project, id FROM retrieval_files WHERE {self._expires_at} <= %s LIMIT %s",
            (at, limit),
        )
        return [(row[0], row[1]) for row in rows]

    # -- vector stores --------------------------------------------------------------------

    def insert_store(self, record: VectorStoreRecord) -> None:
        with self.transaction():
            self._run(
                "INSERT INTO retrieval_stores (id, project, seq, generation, data) "
                "VALUES (%s, %s, %s, %s, %s)",
                (record.id, record.project, self._seq(), record.generation, _store_data(record)),
            )

    def get_store(
        self, project: str, store_id: str, *, lock: bool = False
    ) -> VectorStoreRecord | None:
        rows = self._rows(
            "SELECT data, generation FROM retrieval_stores WHERE id = %s AND project = %s"
            + (self._lock if lock else ""),
            (store_id, project),
        )
        return _store(rows[0]) if rows else None

    def update_store(self, record: VectorStoreRecord) -> None:
        self._run(
            "UPDATE retrieval_stores SET data = %s, generation = %s WHERE id = %s",
            (_store_data(record), record.generation, record.id),
        )

    def delete_store(self, project: str, store_id: str) -> bool:
        with self.transaction():
            if self.get_store(project, store_id, lock=True) is None:
                return False
            self._delete_chunks("store_id = %s", (store_id,))
            self._run("DELETE FROM retrieval_store_files WHERE store_id = %s", (store_id,))
            self._run("DELETE FROM retrieval_batches WHERE store_id = %s", (store_id,))
            self._run("DELETE FROM retrieval_stores WHERE id = %s", (store_id,))
            self._store_deleted(store_id)
        self.forget_index(store_id)
        return True

    def _store_deleted(self, store_id: str) -> None:
        """What else goes with a store (PostgreSQL: its HNSW index)."""

    def list_stores(
        self,
        project: str,
        *,
        limit: int,
        ascending: bool,
        after: str | None,
        before: str | None,
    ) -> Page[VectorStoreRecord]:
        rows, more = self._page(
            "retrieval_stores",
            "data, generation",
            "project = %s",
            (project,),
            "project = %s AND id = %s",
            (project,),
            limit=limit,
            ascending=ascending,
            after=after,
            before=before,
        )
        return [_store(row) for row in rows], more

    def _counts(self, where: str, value: str) -> tuple[FileCounts, int]:
        rows = self._rows(
            f"SELECT status, COUNT(*), SUM(usage_bytes) FROM retrieval_store_files WHERE {where} "
            "GROUP BY status",
            (value,),
        )
        by_status = {row[0]: int(row[1]) for row in rows}
        usage = sum(int(row[2] or 0) for row in rows if row[0] == "completed")
        return FileCounts.of(by_status), usage

    def store_counts(self, store_id: str) -> tuple[FileCounts, int]:
        return self._counts("store_id = %s", store_id)

    def batch_counts(self, batch_id: str) -> FileCounts:
        return self._counts("batch_id = %s", batch_id)[0]

    # -- vector store files ---------------------------------------------------------------

    def insert_store_file(self, record: StoreFileRecord) -> None:
        with self.transaction():
            self._run(
                "INSERT INTO retrieval_store_files (store_id, file_id, project, seq, batch_id, "
                "status, usage_bytes, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    record.vector_store_id,
                    record.file_id,
                    record.project,
                    self._seq(),
                    record.batch_id,
                    record.status,
                    record.usage_bytes,
                    _store_file_data(record),
                ),
            )

    def get_store_file(
        self, project: str, store_id: str, file_id: str, *, lock: bool = False
    ) -> StoreFileRecord | None:
        rows = self._rows(
            "SELECT data FROM retrieval_store_files WHERE store_id = %s AND file_id = %s "
            "AND project = %s" + (self._lock if lock else ""),
            (store_id, file_id, project),
        )
        return _store_file(rows[0]) if rows else None

    def update_store_file(self, record: StoreFileRecord) -> None:
        release = ""
        if record.status != "in_progress":
            release = ", claimed_by = NULL, lease_until = NULL"
        self._run(
            f"UPDATE retrieval_store_files SET status = %s, usage_bytes = %s, data = %s{release} "
            "WHERE store_id = %s AND file_id = %s",
            (
                record.status,
                record.usage_bytes,
                _store_file_data(record),
                record.vector_store_id,
                record.file_id,
            ),
        )

    def delete_store_file(self, store_id: str, file_id: str) -> bool:
        with self.transaction():
            self._delete_chunks("store_id = %s AND file_id = %s", (store_id, file_id))
            return (
                self._run(
                    "DELETE FROM retrieval_store_files WHERE store_id = %s AND file_id = %s",
                    (store_id, file_id),
                )
                > 0
            )

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
        where, params = "store_id = %s AND project = %s", [store_id, project]
        if status is not None:
            where += " AND status = %s"
            params.append(status)
        if batch_id is not None:
            where += " AND batch_id = %s"
            params.append(batch_id)
        rows, more = self._page(
            "retrieval_store_files",
            "data",
            where,
            params,
            "store_id = %s AND file_id = %s",
            (store_id,),
            limit=limit,
            ascending=ascending,
            after=after,
            before=before,
        )
        return [_store_file(row) for row in rows], more

    def stores_with_file(self, project: str, file_id: str) -> list[str]:
        rows = self._rows(
            "SELECT store_id FROM retrieval_store_files WHERE file_id = %s AND project = %s "
            "ORDER BY seq",
            (file_id, project),
        )
        return [row[0] for row in rows]

    def set_text(self, store_id: str, file_id: str, text: str) -> None:
        self._run(
            "UPDATE retrieval_store_files SET body = %s WHERE store_id = %s AND file_id = %s",
            (text, store_id, file_id),
        )

    def get_text(self, store_id: str, file_id: str) -> str | None:
        rows = self._rows(
            "SELECT body FROM retrieval_store_files WHERE store_id = %s AND file_id = %s",
            (store_id, file_id),
        )
        return rows[0][0] if rows else None

    # -- batches --------------------------------------------------------------------------

    def _batch_data(self, record: BatchRecord) -> str:
        return _dump(
            {
                "id": record.id,
                "vector_store_id": record.vector_store_id,
                "project": record.project,
                "created_at": record.created_at,
                "cancelled": record.cancelled,
            }
        )

    def insert_batch(self, record: BatchRecord) -> None:
        self._run(
            "INSERT INTO retrieval_batches (id, store_id, project, data) VALUES (%s, %s, %s, %s)",
            (record.id, record.vector_store_id, record.project, self._batch_data(record)),
        )

    def get_batch(self, project: str, store_id: str, batch_id: str) -> BatchRecord | None:
        rows = self._rows(
            "SELECT data FROM retrieval_batches WHERE id = %s AND store_id = %s AND project = %s",
            (batch_id, store_id, project),
        )
        return BatchRecord(**json.loads(rows[0][0])) if rows else None

    def update_batch(self, record: BatchRecord) -> None:
        self._run(
            "UPDATE retrieval_batches SET data = %s WHERE id = %s",
            (self._batch_data(record), record.id),
        )

    # -- ingestion claims -----------------------------------------------------------------

    def claim(self, store_id: str, file_id: str, owner: str, lease: float) -> bool:
        now = self._now
        return (
            self._run(
                f"UPDATE retrieval_store_files SET claimed_by = %s, lease_until = {now} + %s "
                "WHERE store_id = %s AND file_id = %s AND status = 'in_progress' "
                f"AND not_before <= {now} AND (claimed_by IS NULL OR claimed_by = %s "
                f"OR lease_until <= {now})",
                (owner, lease, store_id, file_id, owner),
            )
            > 0
        )

    def claim_due(
        self, owner: str, limit: int, lease: float, *, everyone: bool = False
    ) -> list[IngestionKey]:
        now = self._now
        which = "" if everyone else f" AND (claimed_by IS NULL OR lease_until <= {now})"
        with self.transaction():
            rows = self._rows(
                "SELECT project, store_id, file_id FROM retrieval_store_files "
                f"WHERE status = 'in_progress' AND not_before <= {now}{which} "
                f"ORDER BY seq LIMIT %s{self._skip_locked}",
                (limit,),
            )
            for _, store_id, file_id in rows:
                self._run(
                    f"UPDATE retrieval_store_files SET claimed_by = %s, lease_until = {now} + %s "
                    "WHERE store_id = %s AND file_id = %s",
                    (owner, lease, store_id, file_id),
                )
        return [(row[0], row[1], row[2]) for row in rows]

    def renew(
        self, owner: str, keys: Sequence[tuple[str, str]], lease: float
    ) -> set[tuple[str, str]]:
        if not keys:
            return set()
        held: set[tuple[str, str]] = set()
        with self.transaction():
            for store_id, file_id in keys:
                if self._run(
                    f"UPDATE retrieval_store_files SET lease_until = {self._now} + %s "
                    "WHERE store_id = %s AND file_id = %s AND claimed_by = %s "
                    "AND status = 'in_progress'",
                    (lease, store_id, file_id, owner),
                ):
                    held.add((store_id, file_id))
        return held

    def release(self, store_id: str, file_id: str, owner: str, not_before: float) -> None:
        self._run(
            "UPDATE retrieval_store_files SET claimed_by = NULL, lease_until = NULL, "
            "not_before = %s WHERE store_id = %s AND file_id = %s AND claimed_by = %s",
            (not_before, store_id, file_id, owner),
        )

    # -- the index ------------------------------------------------------------------------

    def _delete_chunks(self, where: str, params: Sequence[Any]) -> None:
        self._run(f"DELETE FROM retrieval_chunks WHERE {where}", params)

    def _insert_chunks(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]] | None,
    ) -> list[int]:
        """Insert the chunks; their keys, in order."""
        keys: list[int] = []
        for start in range(0, len(chunks), _INSERT_BATCH):
            part = chunks[start : start + _INSERT_BATCH]
            values: list[Any] = []
            for n, chunk in enumerate(part, start):
                vector = vectors[n] if vectors is not None else None
                values += [
                    store_id,
                    file_id,
                    chunk.index,
                    chunk.start,
                    chunk.end,
                    chunk.tokens,
                    chunk.text,
                    code_bytes(vector) if vector is not None else None,
                    pack(vector) if vector is not None else None,
                ]
            placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(part))
            rows = self._rows(
                "INSERT INTO retrieval_chunks (store_id, file_id, idx, start_at, end_at, tokens, "
                f"text, code, vector) VALUES {placeholders} RETURNING id",
                values,
            )
            keys += sorted(int(row[0]) for row in rows)
        return keys

    def replace_chunks(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]] | None,
    ) -> None:
        with self.transaction():
            self._delete_chunks("store_id = %s AND file_id = %s", (store_id, file_id))
            self._insert_chunks(store_id, file_id, chunks, vectors)

    def chunk_hits(self, keys: Sequence[int]) -> dict[int, ChunkHit]:
        if not keys:
            return {}
        rows = self._rows(
            "SELECT id, store_id, file_id, idx, start_at, end_at, text FROM retrieval_chunks "
            f"WHERE id IN ({self._key_list})",
            (_dump(list(keys)),),
        )
        return {
            int(row[0]): ChunkHit(
                key=int(row[0]),
                vector_store_id=row[1],
                file_id=row[2],
                index=int(row[3]),
                start=int(row[4]),
                end=int(row[5]),
                text=row[6],
            )
            for row in rows
        }

    def chunk_count(self, store_id: str) -> int:
        rows = self._rows("SELECT COUNT(*) FROM retrieval_chunks WHERE store_id = %s", (store_id,))
        return int(rows[0][0])

    def _codes(self, store_id: str) -> list[tuple[int, str, bytes]]:
        rows = self._rows(
            "SELECT id, file_id, code FROM retrieval_chunks WHERE store_id = %s "
            "AND code IS NOT NULL",
            (store_id,),
        )
        return [(int(row[0]), row[1], bytes(row[2])) for row in rows]

    def _vectors(self, keys: Sequence[int]) -> dict[int, bytes]:
        if not keys:
            return {}
        rows = self._rows(
            f"SELECT id, vector FROM retrieval_chunks WHERE id IN ({self._key_list}) "
            "AND vector IS NOT NULL",
            (_dump(list(keys)),),
        )
        return {int(row[0]): bytes(row[1]) for row in rows}

    def _allowed_sql(self, allowed: set[str] | None) -> tuple[str, list[Any]]:
        if allowed is None:
            return "", []
        return f" AND c.file_id IN ({self._id_list})", [_dump(sorted(allowed))]


class SqliteIndexStore(SqlIndexStore):
    """Retrieval in the SQLite store's file."""

    _next_seq = ""  # SQLite numbers rows from the store's `sequence` table (see _seq)
    _expires_at = "json_extract(data, '$.expires_at')"

    def _extra_tables(self) -> tuple[str, ...]:
        return ("retrieval_chunks_fts",)

    def _seq(self) -> int:
        rows = self._rows(
            "INSERT INTO sequence (name, value) VALUES ('retrieval', 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
        )
        return int(rows[0][0])

    def _delete_chunks(self, where: str, params: Sequence[Any]) -> None:
        self._run(
            f"DELETE FROM retrieval_chunks_fts WHERE rowid IN (SELECT id FROM retrieval_chunks "
            f"WHERE {where})",
            params,
        )
        super()._delete_chunks(where, params)

    def _insert_chunks(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]] | None,
    ) -> list[int]:
        keys = super()._insert_chunks(store_id, file_id, chunks, vectors)
        self._run(
            "INSERT INTO retrieval_chunks_fts (rowid, store, text) SELECT id, store_id, text "
            "FROM retrieval_chunks WHERE store_id = %s AND file_id = %s",
            (store_id, file_id),
        )
        return keys

    @staticmethod
    def _match(store_id: str, words: Sequence[str]) -> str:
        """An FTS5 query for chunks of the store holding any of ``words``."""
        alternatives = " OR ".join(f'"{word}"' for word in words)
        return f'store : "{store_id}" AND text : ({alternatives})'

    def keyword_search(
        self, store_id: str, query: str, limit: int, allowed: set[str] | None
    ) -> list[tuple[int, float]]:
        terms = _query_words(query)
        if not terms:
            return []
        extra, params = "", []
        if allowed is not None:
            extra = (
                " AND rowid IN (SELECT id FROM retrieval_chunks WHERE store_id = %s "
                f"AND file_id IN ({self._id_list}))"
            )
            params = [store_id, _dump(sorted(allowed))]
        # Column weights: the store column counts for nothing in the ranking.
        rows = self._rows(
            "SELECT rowid, bm25(retrieval_chunks_fts, 0.0, 1.0) AS score FROM "
            f"retrieval_chunks_fts WHERE retrieval_chunks_fts MATCH %s{extra} "
            "ORDER BY score LIMIT %s",
            (self._match(store_id, terms), *params, limit),
        )
        return [(int(row[0]), -float(row[1])) for row in rows]

    def frequencies(self, store_id: str, words: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for word in words:
            rows = self._rows(
                "SELECT COUNT(*) FROM retrieval_chunks_fts WHERE retrieval_chunks_fts MATCH %s",
                (self._match(store_id, [word]),),
            )
            found[word] = int(rows[0][0])
        return found


class PostgresIndexStore(SqlIndexStore):
    """Retrieval in the PostgreSQL store's database; ``pgvector``: use the ``vector``
    extension when the server has it (None), never (False), or require it (True)."""

    _next_seq = "nextval('retrieval_seq')"
    _expires_at = "(data::json->>'expires_at')::bigint"

    def __init__(self, main: SqlStore, *, pgvector: bool | None = None) -> None:
        super().__init__(main)
        self._key_list = "SELECT json_array_elements_text(%s::json)::bigint"
        self.pgvector = False if pgvector is False else self._enable_pgvector()
        if pgvector and not self.pgvector:
            raise RuntimeError("the PostgreSQL server has no pgvector (the vector extension)")
        self._indexed: set[str] = set()

    def _enable_pgvector(self) -> bool:
        try:
            with self.transaction():
                # Processes starting at once: one creates the table, the others then see it.
                self._rows("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                available = self._rows(
                    "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
                )
                if not available:
                    return False
                installed = self._rows("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
                if not installed:
                    self._run("CREATE EXTENSION IF NOT EXISTS vector")
                self._run(
                    "CREATE TABLE IF NOT EXISTS retrieval_embeddings (chunk_id bigint PRIMARY "
                    "KEY REFERENCES retrieval_chunks (id) ON DELETE CASCADE, store_id text NOT "
                    "NULL, file_id text NOT NULL, embedding vector NOT NULL)"
                )
        except Exception as problem:  # no privilege to create it, a race with another process
            logger.warning("pgvector is not usable, vectors are searched in Python: %s", problem)
            return False
        return True

    def keyword_search(
        self, store_id: str, query: str, limit: int, allowed: set[str] | None
    ) -> list[tuple[int, float]]:
        terms = [word for word in _query_words(query) if word not in ("or", "and")]
        if not terms:
            return []
        extra, params = self._allowed_sql(allowed)
        rows = self._rows(
            "SELECT c.id, ts_rank(c.tsv, q) AS rank FROM retrieval_chunks AS c, "
            "websearch_to_tsquery('english', %s) AS q "
            f"WHERE c.store_id = %s AND c.tsv @@ q{extra} ORDER BY rank DESC LIMIT %s",
            (" or ".join(terms), store_id, *params, limit),
        )
        return [(int(row[0]), float(row[1])) for row in rows]

    def frequencies(self, store_id: str, words: Sequence[str]) -> dict[str, int]:
        if not words:
            return {}
        # One pass over the rows holding any of the words, a count per word.
        counts = ", ".join(
            "COUNT(*) FILTER (WHERE tsv @@ plainto_tsquery('english', %s))" for _ in words
        )
        rows = self._rows(
            f"SELECT {counts} FROM retrieval_chunks WHERE store_id = %s "
            "AND tsv @@ to_tsquery('english', %s)",
            (*words, store_id, " | ".join(f"'{word}'" for word in words)),
        )
        return {word: int(rows[0][n] or 0) for n, word in enumerate(words)}

    @staticmethod
    def _literal(vector: Sequence[float]) -> str:
        return "[" + ",".join(repr(float(x)) for x in vector) + "]"

    def _insert_chunks(
        self,
        store_id: str,
        file_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]] | None,
    ) -> list[int]:
        keys = super()._insert_chunks(store_id, file_id, chunks, vectors)
        if self.pgvector and vectors is not None and vectors:
            self._ensure_hnsw(store_id, len(vectors[0]))
            for start in range(0, len(keys), _INSERT_BATCH):
                part = list(zip(keys[start : start + _INSERT_BATCH], vectors[start:], strict=False))
                values: list[Any] = []
                for key, vector in part:
                    values += [key, store_id, file_id, self._literal(vector)]
                placeholders = ", ".join(["(%s, %s, %s, %s::vector)"] * len(part))
                self._run(
                    "INSERT INTO retrieval_embeddings (chunk_id, store_id, file_id, embedding) "
                    f"VALUES {placeholders}",
                    values,
                )
        return keys

    def _ensure_hnsw(self, store_id: str, dimensions: int) -> None:
        if store_id in self._indexed or not _STORE_ID.fullmatch(store_id):
            return
        self._run(
            f"CREATE INDEX IF NOT EXISTS retrieval_hnsw_{store_id} ON retrieval_embeddings "
            f"USING hnsw ((embedding::vector({int(dimensions)})) vector_cosine_ops) "
            f"WHERE store_id = '{store_id}'"
        )
        self._indexed.add(store_id)

    def _store_deleted(self, store_id: str) -> None:
        if self.pgvector and _STORE_ID.fullmatch(store_id):
            self._run(f"DROP INDEX IF EXISTS retrieval_hnsw_{store_id}")
            self._indexed.discard(store_id)

    def vector_search(
        self,
        store: VectorStoreRecord,
        query: Sequence[float],
        limit: int,
        allowed: set[str] | None,
        rescore_count: int = 128,
    ) -> list[tuple[int, float]]:
        if not self.pgvector or not store.dimensions or not _STORE_ID.fullmatch(store.id):
            return super().vector_search(store, query, limit, allowed, rescore_count)
        literal = self._literal(query)
        # SET LOCAL lasts to the end of the transaction: the caller's, else one of its own.
        within = self.main.in_transaction()
        with contextlib.nullcontext() if within else self.transaction():
            if allowed is None:
                dims = int(store.dimensions)
                self._run(f"SET LOCAL hnsw.ef_search = {max(40, min(1000, limit * 2))}")
                distance = f"embedding::vector({dims}) <=> %s::vector({dims})"
                rows = self._rows(
                    f"SELECT chunk_id, 1 - ({distance}) FROM retrieval_embeddings "
                    f"WHERE store_id = '{store.id}' ORDER BY {distance} LIMIT %s",
                    (literal, literal, limit),
                )
            else:
                rows = self._rows(
                    "SELECT chunk_id, 1 - (embedding <=> %s::vector) FROM retrieval_embeddings "
                    f"WHERE store_id = %s AND file_id IN ({self._id_list}) "
                    "ORDER BY embedding <=> %s::vector LIMIT %s",
                    (literal, store.id, _dump(sorted(allowed)), literal, limit),
                )
        return [(int(row[0]), float(row[1])) for row in rows]
