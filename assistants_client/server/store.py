"""The emulator's state: API objects in insertion order, optionally persisted to SQLite.

Everything lives in memory; with a database path every change is also written through to a
SQLite file (one row per object), so a restarted emulator finds the same state. Callers hold
``Store.lock`` around every read and write.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["KINDS", "Store"]

logger = logging.getLogger("assistants_client.server")

JSONDict = dict[str, Any]

# Object kinds and the kind of their parent collection key.
KINDS = ("assistant", "thread", "message", "run", "step", "idempotency")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS sequence (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class Store:
    """Objects by kind, each collection an insertion-ordered dict keyed by parent then id.

    ``seq`` keeps a global insertion counter: list order and cursors use it, so objects made in
    the same second keep a stable order, and the cursor of a deleted object still works.
    """

    def __init__(self, db_path: str | None = None) -> None:
        self.lock = threading.RLock()
        self.db_path = db_path
        self._db: sqlite3.Connection | None = None
        self._seq = 0
        self.seqs: dict[str, int] = {}
        # kind -> parent -> id -> object ("" is the parent of top-level objects)
        self._data: dict[str, dict[str, dict[str, JSONDict]]] = {kind: {} for kind in KINDS}
        self._parent: dict[tuple[str, str], str] = {}
        if db_path is not None:
            self._open(db_path)

    # -- persistence ----------------------------------------------------------------------

    def _open(self, path: str) -> None:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        self._db = db
        row = db.execute("SELECT value FROM sequence WHERE name = 'seq'").fetchone()
        self._seq = int(row[0]) if row else 0
        count = 0
        for kind, obj_id, parent, seq, data in db.execute(
            "SELECT kind, id, parent, seq, data FROM objects ORDER BY seq"
        ):
            if kind not in self._data:
                continue
            self._data[kind].setdefault(parent, {})[obj_id] = json.loads(data)
            self._parent[(kind, obj_id)] = parent
            self.seqs[obj_id] = int(seq)
            count += 1
        for obj_id, seq in db.execute("SELECT id, seq FROM objects WHERE kind = 'tombstone'"):
            self.seqs[obj_id] = int(seq)
        logger.info("loaded %d objects from %s", count, path)

    def close(self) -> None:
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _write(self, kind: str, obj_id: str, parent: str, data: JSONDict) -> None:
        if self._db is None:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO objects (kind, id, parent, seq, data) VALUES (?, ?, ?, ?, ?)",
            (kind, obj_id, parent, self.seqs[obj_id], json.dumps(data, separators=(",", ":"))),
        )

    # -- access ---------------------------------------------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO sequence (name, value) VALUES ('seq', ?)", (self._seq,)
            )
        return self._seq

    def put(self, kind: str, obj_id: str, data: JSONDict, parent: str = "") -> None:
        """Insert or replace an object (a new object gets the next sequence number)."""
        if obj_id not in self.seqs:
            self.seqs[obj_id] = self.next_seq()
        self._data[kind].setdefault(parent, {})[obj_id] = data
        self._parent[(kind, obj_id)] = parent
        self._write(kind, obj_id, parent, data)

    def save(self, kind: str, obj_id: str) -> None:
        """Persist an object changed in place."""
        parent = self._parent.get((kind, obj_id))
        if parent is None:
            return
        self._write(kind, obj_id, parent, self._data[kind][parent][obj_id])

    def get(self, kind: str, obj_id: str, parent: str | None = None) -> JSONDict | None:
        owner = self._parent.get((kind, obj_id))
        if owner is None or (parent is not None and owner != parent):
            return None
        return self._data[kind][owner].get(obj_id)

    def parent_of(self, kind: str, obj_id: str) -> str | None:
        return self._parent.get((kind, obj_id))

    def children(self, kind: str, parent: str = "") -> list[JSONDict]:
        """A collection's objects in insertion order."""
        return list(self._data[kind].get(parent, {}).values())

    def iter_kind(self, kind: str) -> Iterator[tuple[str, JSONDict]]:
        for parent, items in self._data[kind].items():
            for obj in items.values():
                yield parent, obj

    def delete(self, kind: str, obj_id: str) -> bool:
        parent = self._parent.pop((kind, obj_id), None)
        if parent is None:
            return False
        self._data[kind][parent].pop(obj_id, None)
        if not self._data[kind][parent]:
            del self._data[kind][parent]
        if self._db is not None:
            self._db.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, obj_id))
            # Keep the sequence number so a cursor naming the deleted object still works.
            self._db.execute(
                "INSERT OR REPLACE INTO objects (kind, id, parent, seq, data)"
                " VALUES ('tombstone', ?, '', ?, '{}')",
                (obj_id, self.seqs.get(obj_id, 0)),
            )
        return True

    def clear(self) -> None:
        """Forget every object."""
        self._data = {kind: {} for kind in KINDS}
        self._parent.clear()
        self.seqs.clear()
        if self._db is not None:
            self._db.execute("DELETE FROM objects")
