"""Schema version 4: the tables of files, vector stores and their index (``server/retrieval``).

Each statement list brings a database from version 3 to 4; the stores apply it as their
migration to 4 (``stores/sqlite.py``, ``stores/postgres.py``). Every table has a ``project``
column (``""``: the shared namespace) where rows are found by id.

* ``retrieval_files``: uploaded files (``data``: the record as JSON); their bytes are in
  ``retrieval_pieces``, in numbered pieces of at most a MiB.
* ``retrieval_stores``: vector stores; ``generation`` counts changes to the index, so that a
  process knows when its cached vector codes are stale.
* ``retrieval_store_files``: files in vector stores, with their ingestion's status and claim
  (``claimed_by``, ``lease_until``, ``not_before``), and the parsed text (``body``).
* ``retrieval_batches``: file batches.
* ``retrieval_chunks``: the chunks, with offsets, text, sign bits (``code``) and floats
  (``vector``); SQLite keeps their words in the FTS5 table ``retrieval_chunks_fts``
  (BM25, Porter stemming; its ``store`` column is matched to keep to one store), PostgreSQL in a generated ``tsvector`` column with a GIN index
  (hyphens read as spaces: PostgreSQL's parser would take ``ERR-4411`` for ``err`` and the
  number ``-4411``, which a search for ``4411`` does not find).

The pgvector table (``retrieval_embeddings``) is not part of a version: it exists only where
the ``vector`` extension does, and is created when the store opens (``retrieval/sql.py``).
"""

from __future__ import annotations

__all__ = ["POSTGRES_V4", "SQLITE_V4"]

SQLITE_V4 = (
    """CREATE TABLE retrieval_files (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        seq INTEGER NOT NULL,
        purpose TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX retrieval_files_list ON retrieval_files (project, seq)",
    """CREATE TABLE retrieval_pieces (
        file_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        written REAL NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (file_id, n)
    )""",
    """CREATE TABLE retrieval_stores (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        seq INTEGER NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX retrieval_stores_list ON retrieval_stores (project, seq)",
    """CREATE TABLE retrieval_store_files (
        store_id TEXT NOT NULL,
        file_id TEXT NOT NULL,
        project TEXT NOT NULL,
        seq INTEGER NOT NULL,
        batch_id TEXT,
        status TEXT NOT NULL,
        usage_bytes INTEGER NOT NULL DEFAULT 0,
        claimed_by TEXT,
        lease_until REAL,
        not_before REAL NOT NULL DEFAULT 0,
        data TEXT NOT NULL,
        body TEXT,
        PRIMARY KEY (store_id, file_id)
    )""",
    "CREATE INDEX retrieval_store_files_list ON retrieval_store_files (store_id, seq)",
    "CREATE INDEX retrieval_store_files_file ON retrieval_store_files (file_id)",
    "CREATE INDEX retrieval_store_files_batch ON retrieval_store_files (batch_id) "
    "WHERE batch_id IS NOT NULL",
    "CREATE INDEX retrieval_store_files_due ON retrieval_store_files (seq) "
    "WHERE status = 'in_progress'",
    """CREATE TABLE retrieval_batches (
        id TEXT PRIMARY KEY,
        store_id TEXT NOT NULL,
        project TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
    """CREATE TABLE retrieval_chunks (
        id INTEGER PRIMARY KEY,
        store_id TEXT NOT NULL,
        file_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        start_at INTEGER NOT NULL,
        end_at INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        text TEXT NOT NULL,
        code BLOB,
        vector BLOB
    )""",
    "CREATE INDEX retrieval_chunks_file ON retrieval_chunks (store_id, file_id)",
    # `store` holds the chunk's vector store id, so that one MATCH finds a store's chunks
    # (the id's unique part is a word of its own) without a join.
    "CREATE VIRTUAL TABLE retrieval_chunks_fts USING fts5(store, text, "
    "tokenize='porter unicode61')",
)

POSTGRES_V4 = (
    "CREATE SEQUENCE retrieval_seq",
    """CREATE TABLE retrieval_files (
        id text PRIMARY KEY,
        project text NOT NULL,
        seq bigint NOT NULL,
        purpose text NOT NULL,
        data text NOT NULL
    )""",
    "CREATE INDEX retrieval_files_list ON retrieval_files (project, seq)",
    """CREATE TABLE retrieval_pieces (
        file_id text NOT NULL,
        n integer NOT NULL,
        written double precision NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (file_id, n)
    )""",
    """CREATE TABLE retrieval_stores (
        id text PRIMARY KEY,
        project text NOT NULL,
        seq bigint NOT NULL,
        generation bigint NOT NULL DEFAULT 0,
        data text NOT NULL
    )""",
    "CREATE INDEX retrieval_stores_list ON retrieval_stores (project, seq)",
    """CREATE TABLE retrieval_store_files (
        store_id text NOT NULL,
        file_id text NOT NULL,
        project text NOT NULL,
        seq bigint NOT NULL,
        batch_id text,
        status text NOT NULL,
        usage_bytes bigint NOT NULL DEFAULT 0,
        claimed_by text,
        lease_until double precision,
        not_before double precision NOT NULL DEFAULT 0,
        data text NOT NULL,
        body text,
        PRIMARY KEY (store_id, file_id)
    )""",
    "CREATE INDEX retrieval_store_files_list ON retrieval_store_files (store_id, seq)",
    "CREATE INDEX retrieval_store_files_file ON retrieval_store_files (file_id)",
    "CREATE INDEX retrieval_store_files_batch ON retrieval_store_files (batch_id) "
    "WHERE batch_id IS NOT NULL",
    "CREATE INDEX retrieval_store_files_due ON retrieval_store_files (seq) "
    "WHERE status = 'in_progress'",
    """CREATE TABLE retrieval_batches (
        id text PRIMARY KEY,
        store_id text NOT NULL,
        project text NOT NULL,
        data text NOT NULL
    )""",
    """CREATE TABLE retrieval_chunks (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        store_id text NOT NULL,
        file_id text NOT NULL,
        idx integer NOT NULL,
        start_at integer NOT NULL,
        end_at integer NOT NULL,
        tokens integer NOT NULL,
        text text NOT NULL,
        code bytea,
        vector bytea,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', translate(text, '-', ' ')))
            STORED
    )""",
    "CREATE INDEX retrieval_chunks_file ON retrieval_chunks (store_id, file_id)",
    "CREATE INDEX retrieval_chunks_tsv ON retrieval_chunks USING gin (tsv)",
)
