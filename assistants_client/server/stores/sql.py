"""What the SQLite and PostgreSQL stores share: one table of objects, one of idempotency keys,
and the statements over them, written once with ``%s`` parameters.

The objects table (``kind, id, project, parent, seq, data`` and, for runs, ``status,
expires_at, claimed_by, lease_until``) has the index ``(kind, project, parent, seq)``: a list
page is one indexed range read of ``limit + 1`` rows, however long the list. A deleted object's
row becomes a tombstone (kind ``tombstone``, same id, project and number). Every statement an
operation of the API makes names its project; the idempotency keys are unique per project and
key. Each adapter says how its database spells
the few things that differ (:class:`Dialect`) and how it connects.

Schema versions: a table holds the layout's version; :meth:`SqlStore._migrate` applies each
migration above it in order, in one transaction, and refuses a version above
:data:`~assistants_client.server.store.SCHEMA_VERSION`.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistants_client.server.store import (
    DRIVEN_STATUSES,
    SCHEMA_VERSION,
    JSONDict,
    KeptAnswer,
    RunRow,
    SchemaError,
    Store,
    UnknownCursor,
    redact,
    run_columns,
)

__all__ = ["Dialect", "SqlStore"]

_DRIVEN = "('queued', 'in_progress', 'cancelling')"
_ACTIVE = "('queued', 'in_progress', 'requires_action', 'cancelling')"


@dataclass(frozen=True)
class Dialect:
    """How one database spells what differs."""

    objects: str  # the objects table
    keys: str  # the idempotency keys table
    versions: str  # the schema version table
    now: str  # the database's clock, in seconds since the epoch
    lock: str  # appended to a read that locks its rows
    skip_locked: str  # appended to a read that locks its rows and skips those locked
    run_id: str  # a message's run_id, from its JSON data
    id_list: str  # a subquery of the ids in one JSON array parameter
    # Migrations: version -> statements that bring the layout from the version before it.
    migrations: Mapping[int, Sequence[str]]


def _dump(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


class SqlStore(Store):
    """A store in a SQL database (see the module docstring); adapters connect and execute."""

    dialect: Dialect

    def __init__(self, location: str | None = None, **options: Any) -> None:
        super().__init__(location)
        self.location = location

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self.location)!r})"

    # -- what adapters provide ------------------------------------------------------------

    @abc.abstractmethod
    def _execute(self, handle: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (``%s`` parameters) in the transaction; a cursor of its rows."""

    @abc.abstractmethod
    def _seq_value(self, handle: Any) -> tuple[str, tuple[Any, ...]]:
        """The SQL (and parameters) of the next number of the sequence."""

    @abc.abstractmethod
    def _load(self, value: Any) -> Any:
        """A JSON column's value as Python data."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one statement (``%s`` parameters), in the current transaction (one of
        its own outside of one): for the store's extensions (see ``store.py``)."""
        return self._rows(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (``%s`` parameters) in the current transaction (one of its own
        outside of one); the number of rows it changed. For the store's extensions."""
        return self._count(sql, params)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._using() as handle:
            return list(self._execute(handle, sql, params).fetchall())

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._using() as handle:
            return int(self._execute(handle, sql, params).rowcount)

    # -- savepoints (the same statements in SQLite and PostgreSQL) --------------------------

    def _savepoint(self, handle: Any, mark: int) -> None:
        self._execute(handle, f"SAVEPOINT sp{mark}")

    def _rollback_to(self, handle: Any, mark: int) -> None:
        self._execute(handle, f"ROLLBACK TO SAVEPOINT sp{mark}")
        self._execute(handle, f"RELEASE SAVEPOINT sp{mark}")

    def _release(self, handle: Any, mark: int) -> None:
        self._execute(handle, f"RELEASE SAVEPOINT sp{mark}")

    # -- schema ---------------------------------------------------------------------------

    def _version(self, handle: Any) -> int:
        """The layout's version: 0 for an empty database."""
        found = self._execute(handle, f"SELECT version FROM {self.dialect.versions}").fetchone()
        return int(found[0]) if found is not None else 0

    def _migrate(self) -> None:
        """Bring the layout to :data:`SCHEMA_VERSION`, or refuse a newer one."""
        with self._using() as handle:
            self._before_migrating(handle)
            version = self._version(handle)
            if version > SCHEMA_VERSION:
                raise SchemaError(
                    f"the database {redact(self.location)} has schema version {version}, made by "
                    f"a newer server; this server knows versions up to {SCHEMA_VERSION}. "
                    "Upgrade this server (pip install -U 'assistants-client[postgres]'), or "
                    "give it another database."
                )
            for target in sorted(self.dialect.migrations):
                if target <= version:
                    continue
                for statement in self.dialect.migrations[target]:
                    self._execute(handle, statement)
                self._execute(handle, f"DELETE FROM {self.dialect.versions}")
                self._execute(
                    handle, f"INSERT INTO {self.dialect.versions} (version) VALUES (%s)", (target,)
                )
                version = target

    def _before_migrating(self, handle: Any) -> None:
        """Make the version table exist (and exclude other processes migrating at once)."""
        self._execute(
            handle, f"CREATE TABLE IF NOT EXISTS {self.dialect.versions} (version INTEGER NOT NULL)"
        )

    # -- objects --------------------------------------------------------------------------

    def get(
        self,
        kind: str,
        obj_id: str,
        parent: str | None = None,
        *,
        project: str,
        lock: bool = False,
    ) -> JSONDict | None:
        d = self.dialect
        rows = self._rows(
            f"SELECT parent, data FROM {d.objects} WHERE kind = %s AND id = %s AND project = %s"
            + (d.lock if lock else ""),
            (kind, obj_id, project),
        )
        if not rows or (parent is not None and rows[0][0] != parent):
            return None
        found: JSONDict = self._load(rows[0][1])
        return found

    def insert(
        self, kind: str, obj_id: str, data: JSONDict, parent: str = "", *, project: str
    ) -> None:
        status, expires_at = run_columns(kind, data)
        with self._using() as handle:
            seq_sql, seq_params = self._seq_value(handle)
            self._execute(
                handle,
                f"INSERT INTO {self.dialect.objects} (kind, id, project, parent, seq, data, "
                f"status, expires_at) VALUES (%s, %s, %s, %s, {seq_sql}, %s, %s, %s)",
                (kind, obj_id, project, parent, *seq_params, _dump(data), status, expires_at),
            )

    def update(self, kind: str, obj_id: str, data: JSONDict, *, project: str) -> bool:
        status, expires_at = run_columns(kind, data)
        release = ""
        if kind == "run" and status not in DRIVEN_STATUSES:
            release = ", claimed_by = NULL, lease_until = NULL"
        return (
            self._count(
                f"UPDATE {self.dialect.objects} SET data = %s, status = %s, expires_at = %s"
                f"{release} WHERE kind = %s AND id = %s AND project = %s",
                (_dump(data), status, expires_at, kind, obj_id, project),
            )
            > 0
        )

    def _bury(self, where: str, params: Sequence[Any]) -> int:
        objects = self.dialect.objects
        with self._using() as handle:
            self._execute(
                handle,
                f"INSERT INTO {objects} (kind, id, project, parent, seq, data) "
                f"SELECT 'tombstone', id, project, '', seq, '{{}}' FROM {objects} WHERE {where} "
                "ON CONFLICT (kind, id) DO NOTHING",
                params,
            )
            return int(
                self._execute(handle, f"DELETE FROM {objects} WHERE {where}", params).rowcount
            )

    def delete(self, kind: str, obj_id: str, *, project: str) -> bool:
        return self._bury("kind = %s AND id = %s AND project = %s", (kind, obj_id, project)) > 0

    def delete_children(self, kind: str, parent: str, *, project: str) -> int:
        return self._bury("kind = %s AND project = %s AND parent = %s", (kind, project, parent))

    def children(self, kind: str, parent: str = "", *, project: str) -> list[JSONDict]:
        rows = self._rows(
            f"SELECT data FROM {self.dialect.objects} WHERE kind = %s AND project = %s "
            "AND parent = %s ORDER BY seq",
            (kind, project, parent),
        )
        return [self._load(row[0]) for row in rows]

    def iter_kind(self, kind: str, *, project: str) -> list[tuple[str, JSONDict]]:
        rows = self._rows(
            f"SELECT parent, data FROM {self.dialect.objects} WHERE kind = %s AND project = %s "
            "ORDER BY seq",
            (kind, project),
        )
        return [(row[0], self._load(row[1])) for row in rows]

    def _cursor(self, kind: str, name: str, cursor: str, project: str) -> int:
        rows = self._rows(
            f"SELECT seq FROM {self.dialect.objects} WHERE kind IN (%s, 'tombstone') AND id = %s "
            "AND project = %s",
            (kind, cursor, project),
        )
        if not rows:
            raise UnknownCursor(name, cursor)
        return int(rows[0][0])

    def _range(
        self,
        kind: str,
        project: str,
        parent: str,
        lower: int | None,
        upper: int | None,
        *,
        ascending: bool,
        count: int,
        run_id: str | None,
    ) -> list[JSONDict]:
        where = ["kind = %s", "project = %s", "parent = %s"]
        params: list[Any] = [kind, project, parent]
        if lower is not None:
            where.append("seq > %s")
            params.append(lower)
        if upper is not None:
            where.append("seq < %s")
            params.append(upper)
        if run_id is not None:
            where.append(f"{self.dialect.run_id} = %s")
            params.append(run_id)
        rows = self._rows(
            f"SELECT data FROM {self.dialect.objects} WHERE {' AND '.join(where)} "
            f"ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT %s",
            (*params, count),
        )
        return [self._load(row[0]) for row in rows]

    def clear(self) -> None:
        with self._using() as handle:
            self._execute(handle, f"DELETE FROM {self.dialect.objects}")
            self._execute(handle, f"DELETE FROM {self.dialect.keys}")

    # -- runs -----------------------------------------------------------------------------

    def _run_rows(self, sql: str, params: Sequence[Any]) -> list[RunRow]:
        """The runs a ``SELECT project, parent, data, claimed_by`` reads."""
        return [
            RunRow(row[0], row[1], self._load(row[2]), row[3]) for row in self._rows(sql, params)
        ]

    def get_run(self, run_id: str, *, project: str, lock: bool = False) -> RunRow | None:
        d = self.dialect
        found = self._run_rows(
            f"SELECT project, parent, data, claimed_by FROM {d.objects} WHERE kind = 'run' "
            "AND id = %s AND project = %s" + (d.lock if lock else ""),
            (run_id, project),
        )
        return found[0] if found else None

    def active_run(self, thread_id: str, *, project: str) -> JSONDict | None:
        rows = self._rows(
            f"SELECT data FROM {self.dialect.objects} WHERE kind = 'run' AND project = %s "
            f"AND parent = %s AND status IN {_ACTIVE} ORDER BY seq LIMIT 1",
            (project, thread_id),
        )
        if not rows:
            return None
        found: JSONDict = self._load(rows[0][0])
        return found

    def claim(self, run_id: str, owner: str | None, lease: float = 0.0, *, project: str) -> None:
        if owner is None:
            self._count(
                f"UPDATE {self.dialect.objects} SET claimed_by = NULL, lease_until = NULL "
                "WHERE kind = 'run' AND id = %s AND project = %s",
                (run_id, project),
            )
            return
        self._count(
            f"UPDATE {self.dialect.objects} SET claimed_by = %s, lease_until = "
            f"{self.dialect.now} + %s WHERE kind = 'run' AND id = %s AND project = %s",
            (owner, lease, run_id, project),
        )

    def claim_queued(self, owner: str, limit: int, lease: float) -> list[RunRow]:
        d = self.dialect
        # The runs are picked once, in a WITH query (which PostgreSQL computes once when it
        # locks rows): as a subquery of the UPDATE, a plan may scan it again for each row,
        # and each scan, skipping the rows this statement just locked, picks more runs.
        rows = self._rows(
            f"WITH picked AS (SELECT id FROM {d.objects} WHERE kind = 'run' "
            f"AND status = 'queued' AND claimed_by IS NULL ORDER BY seq LIMIT %s"
            f"{d.skip_locked}) UPDATE {d.objects} SET claimed_by = %s, lease_until = "
            f"{d.now} + %s WHERE kind = 'run' AND id IN (SELECT id FROM picked) "
            "RETURNING project, parent, data, claimed_by, seq",
            (limit, owner, lease),
        )
        rows.sort(key=lambda row: row[4])
        return [RunRow(row[0], row[1], self._load(row[2]), row[3]) for row in rows]

    def renew(self, owner: str, run_ids: list[str], lease: float) -> dict[str, str]:
        d = self.dialect
        rows = self._rows(
            f"UPDATE {d.objects} SET lease_until = {d.now} + %s WHERE kind = 'run' "
            f"AND claimed_by = %s AND id IN ({d.id_list}) RETURNING id, status",
            (lease, owner, _dump(run_ids)),
        )
        return {row[0]: row[1] for row in rows}

    def lapse(self, owner: str) -> None:
        self._count(
            f"UPDATE {self.dialect.objects} SET lease_until = 0 WHERE kind = 'run' "
            "AND claimed_by = %s",
            (owner,),
        )

    def lapsed(self, *, everyone: bool = False, limit: int = 100) -> list[RunRow]:
        d = self.dialect
        if everyone:
            which = "(claimed_by IS NOT NULL OR status <> 'queued')"
        else:
            which = f"claimed_by IS NOT NULL AND lease_until <= {d.now}"
        return self._run_rows(
            f"SELECT project, parent, data, claimed_by FROM {d.objects} WHERE kind = 'run' "
            f"AND status IN {_DRIVEN} AND {which} ORDER BY seq LIMIT %s{d.skip_locked}",
            (limit,),
        )

    def due(self, now: int, limit: int = 100) -> list[RunRow]:
        d = self.dialect
        return self._run_rows(
            f"SELECT project, parent, data, claimed_by FROM {d.objects} WHERE kind = 'run' "
            f"AND status = 'requires_action' AND expires_at <= %s ORDER BY seq LIMIT %s"
            f"{d.skip_locked}",
            (now, limit),
        )

    # -- idempotency keys -----------------------------------------------------------------

    def claim_key(self, key: str, owner: str, lease: float, *, project: str) -> KeptAnswer | None:
        d = self.dialect
        with self._using() as handle:
            while True:
                taken = self._execute(
                    handle,
                    f"INSERT INTO {d.keys} (project, key, owner, lease_until) "
                    f"VALUES (%s, %s, %s, {d.now} + %s) ON CONFLICT (project, key) DO NOTHING",
                    (project, key, owner, lease),
                ).rowcount
                if taken:
                    return None
                found = self._execute(
                    handle,
                    f"SELECT status, headers, body, owner, lease_until <= {d.now} FROM {d.keys} "
                    "WHERE project = %s AND key = %s",
                    (project, key),
                ).fetchone()
                if found is not None:  # else its holder dropped it meanwhile: take it
                    status, headers, body, holder, lapsed = found
                    return KeptAnswer(
                        None if status is None else int(status),
                        json.loads(headers) if headers else {},
                        body or "",
                        holder,
                        status is None and bool(lapsed),
                    )

    def keep_key(
        self, key: str, status: int, headers: dict[str, str], body: str, *, project: str
    ) -> None:
        self._count(
            f"INSERT INTO {self.dialect.keys} (project, key, status, headers, body) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (project, key) DO UPDATE SET "
            "status = excluded.status, headers = excluded.headers, body = excluded.body, "
            "owner = NULL, lease_until = NULL",
            (project, key, status, json.dumps(headers), body),
        )

    def drop_key(self, key: str, owner: str, *, project: str) -> bool:
        return (
            self._count(
                f"DELETE FROM {self.dialect.keys} WHERE project = %s AND key = %s "
                "AND owner = %s AND status IS NULL",
                (project, key, owner),
            )
            > 0
        )

    def renew_keys(self, owner: str, keys: list[str], lease: float, *, project: str) -> None:
        self._count(
            f"UPDATE {self.dialect.keys} SET lease_until = {self.dialect.now} + %s "
            f"WHERE owner = %s AND status IS NULL AND project = %s "
            f"AND key IN ({self.dialect.id_list})",
            (lease, owner, project, _dump(keys)),
        )
