"""The SQLite store: the server's state in one file, for one server process.

Transactions run one at a time: a lock in this process, and ``BEGIN IMMEDIATE``, which takes
the file's write lock at once, so a second process on the same file would wait rather than
interleave (it is not a way to run several processes: that is what PostgreSQL is for). A
lock in the process, rather than a connection per thread, because SQLite writes one
transaction at a time anyway, and its busy handler would make waiting threads sleep in steps.

Layouts: version 1 is the file of servers before versions were kept (no version table):
``objects`` and a ``sequence`` of numbers; version 2 adds the run columns and the keys table,
and moves the keys kept as objects there; version 3 adds projects: a ``project`` column to
objects (in the index of lists) and to keys (in their primary key), ``""`` (the shared
namespace) for everything stored before; version 4 adds the tables of files and vector
stores (``stores/retrieval_schema.py``).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from assistants_client.server.store import JSONDict, StoreUnavailable
from assistants_client.server.stores.retrieval_schema import SQLITE_V4
from assistants_client.server.stores.sql import Dialect, SqlStore

__all__ = ["SqliteStore"]

BUSY_TIMEOUT = 10.0

_V1 = (
    """CREATE TABLE IF NOT EXISTS objects (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        parent TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    )""",
    "CREATE TABLE IF NOT EXISTS sequence (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
_V2 = (
    "ALTER TABLE objects ADD COLUMN status TEXT",
    "ALTER TABLE objects ADD COLUMN expires_at INTEGER",
    "ALTER TABLE objects ADD COLUMN claimed_by TEXT",
    "ALTER TABLE objects ADD COLUMN lease_until REAL",
    """UPDATE objects SET status = json_extract(data, '$.run.status'),
        expires_at = CASE WHEN json_extract(data, '$.run.status') = 'requires_action'
            THEN json_extract(data, '$.run.expires_at') END
        WHERE kind = 'run'""",
    "INSERT OR IGNORE INTO sequence (name, value) VALUES ('seq', 0)",
    "CREATE INDEX objects_children ON objects (kind, parent, seq)",
    "CREATE INDEX objects_queued ON objects (seq) WHERE status = 'queued' AND claimed_by IS NULL",
    "CREATE INDEX objects_claimed ON objects (lease_until) WHERE claimed_by IS NOT NULL",
    "CREATE INDEX objects_waiting ON objects (expires_at) WHERE status = 'requires_action'",
    """CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        owner TEXT,
        lease_until REAL,
        status INTEGER,
        headers TEXT,
        body TEXT
    )""",
    """INSERT INTO idempotency_keys (key, status, headers, body)
        SELECT id, json_extract(data, '$.status'), json_extract(data, '$.headers'),
            json_extract(data, '$.body')
        FROM objects WHERE kind = 'idempotency'""",
    "DELETE FROM objects WHERE kind = 'idempotency'",
)
_V3 = (
    "ALTER TABLE objects ADD COLUMN project TEXT NOT NULL DEFAULT ''",
    "DROP INDEX objects_children",
    "CREATE INDEX objects_children ON objects (kind, project, parent, seq)",
    # A table's primary key cannot change in SQLite: the keys move to a new table.
    """CREATE TABLE idempotency_keys_v3 (
        project TEXT NOT NULL,
        key TEXT NOT NULL,
        owner TEXT,
        lease_until REAL,
        status INTEGER,
        headers TEXT,
        body TEXT,
        PRIMARY KEY (project, key)
    )""",
    """INSERT INTO idempotency_keys_v3 (project, key, owner, lease_until, status, headers, body)
        SELECT '', key, owner, lease_until, status, headers, body FROM idempotency_keys""",
    "DROP TABLE idempotency_keys",
    "ALTER TABLE idempotency_keys_v3 RENAME TO idempotency_keys",
)

DIALECT = Dialect(
    objects="objects",
    keys="idempotency_keys",
    versions="schema_version",
    now="((julianday('now') - 2440587.5) * 86400.0)",
    lock="",
    skip_locked="",
    run_id="json_extract(data, '$.run_id')",
    id_list="SELECT value FROM json_each(%s)",
    migrations={1: _V1, 2: _V2, 3: _V3, 4: SQLITE_V4},
)

_PARAMETER = re.compile(r"%s")
# What SQLite says when the file, not the statement, is the problem: a retry may succeed.
_TRANSIENT = ("locked", "busy", "disk", "unable to open", "readonly")


def _transient(problem: sqlite3.OperationalError) -> bool:
    text = str(problem).lower()
    return any(marker in text for marker in _TRANSIENT)


class SqliteStore(SqlStore):
    """The store in a SQLite file (see the module docstring)."""

    dialect = DIALECT

    def __init__(
        self, location: str | None = None, *, synchronous: str = "FULL", **options: Any
    ) -> None:
        if location is None:
            raise ValueError("a SQLite store needs a file path")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous is FULL or NORMAL")
        super().__init__(location)
        self.lock = threading.RLock()
        self._statements: dict[str, str] = {}
        try:
            db = sqlite3.connect(
                location, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT
            )
        except sqlite3.Error as problem:
            raise StoreUnavailable(f"cannot open the SQLite file {location}: {problem}") from None
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a transaction the server answered for is on disk before the answer leaves, and
        # survives a power loss (NORMAL may lose the last ones; the cost is measured in make
        # bench, and is small next to a request's). NORMAL is there for that measurement.
        db.execute(f"PRAGMA synchronous={synchronous}")
        self._db: sqlite3.Connection | None = db
        self._migrate()

    def _before_migrating(self, handle: Any) -> None:
        known = {
            row[0]
            for row in self._execute(
                handle, "SELECT name FROM sqlite_master WHERE type = 'table'"
            ).fetchall()
        }
        super()._before_migrating(handle)
        if "schema_version" not in known and "objects" in known:
            # A file of the servers that kept no version: the first layout.
            self._execute(handle, "INSERT INTO schema_version (version) VALUES (1)")

    def close(self) -> None:
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def notify_cancel(self, run_id: str) -> None:
        """One process per file: nobody else to tell."""

    # -- transactions ---------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailable("the store is closed")
        return self._db

    def _begin(self) -> Any:
        self.lock.acquire()
        try:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
        except BaseException as problem:
            self.lock.release()
            if isinstance(problem, sqlite3.OperationalError) and _transient(problem):
                raise StoreUnavailable(f"the SQLite file is busy: {problem}") from None
            raise
        return db

    def _commit(self, handle: Any) -> None:
        try:
            handle.execute("COMMIT")
        except sqlite3.OperationalError as problem:
            self._rollback(handle)
            if not _transient(problem):
                raise
            raise StoreUnavailable(f"SQLite could not commit: {problem}") from None
        self.lock.release()

    def _rollback(self, handle: Any) -> None:
        try:
            if handle.in_transaction:
                handle.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        finally:
            self.lock.release()

    # -- statements -----------------------------------------------------------------------

    def _execute(self, handle: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        statement = self._statements.get(sql)
        if statement is None:
            statement = self._statements[sql] = _PARAMETER.sub("?", sql)
        try:
            return handle.execute(statement, tuple(params))
        except sqlite3.OperationalError as problem:
            if not _transient(problem):
                raise
            raise StoreUnavailable(f"SQLite failed: {problem}") from None

    def _seq_value(self, handle: Any) -> tuple[str, tuple[Any, ...]]:
        (value,) = self._execute(
            handle, "UPDATE sequence SET value = value + 1 WHERE name = 'seq' RETURNING value"
        ).fetchone()
        return "%s", (int(value),)

    def _load(self, value: Any) -> Any:
        # Earlier servers stored a request's NaN or Infinity as it came: read as null, which
        # JSON can carry, so that such a file still answers standard JSON.
        loaded: JSONDict = json.loads(value, parse_constant=_null)
        return loaded


def _null(constant: str) -> None:
    return None
