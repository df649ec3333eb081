"""The memory store: the state in this process's memory, gone when it ends (tests, emulator).

Transactions hold one lock (``MemoryStore.lock``), so they run one at a time. Each change is
recorded with how to undo it, which is how a transaction or a savepoint rolls back. Objects are
kept as JSON text, as the databases keep them: a read is a fresh copy, and a list page parses
only its own objects (children are found by bisecting their numbers).

No transaction holds the lock longer than what it looks at needs: the runs in an active status
are kept apart (``_live``), so the once-a-second sweeps and the claims of queued runs look at
those, not at every run the store ever held; an object is turned into JSON text before the lock
is taken, and read back from it after (the text of a row is replaced, never changed).
"""

from __future__ import annotations

import bisect
import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from assistants_client.server.store import (
    ACTIVE_STATUSES,
    DRIVEN_STATUSES,
    JSONDict,
    KeptAnswer,
    RunRow,
    Store,
    UnknownCursor,
    run_columns,
)

__all__ = ["MemoryStore"]

Undo = Callable[[], None]


def _dump(data: JSONDict) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


@dataclass
class _Row:
    kind: str
    id: str
    project: str
    parent: str
    seq: int
    text: str
    status: str | None = None
    expires_at: int | None = None
    claimed_by: str | None = None
    lease_until: float | None = None


@dataclass
class _Key:
    owner: str | None
    lease_until: float | None
    status: int | None = None
    headers: str = "{}"
    body: str = ""


class _Children:
    """The numbers and ids of one collection, in order."""

    __slots__ = ("ids", "seqs")

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.ids: list[str] = []

    def add(self, seq: int, obj_id: str) -> None:
        at = bisect.bisect_left(self.seqs, seq)
        self.seqs.insert(at, seq)
        self.ids.insert(at, obj_id)

    def remove(self, seq: int) -> None:
        at = bisect.bisect_left(self.seqs, seq)
        if at < len(self.seqs) and self.seqs[at] == seq:
            del self.seqs[at]
            del self.ids[at]


class MemoryStore(Store):
    """The store in memory (see the module docstring)."""

    def __init__(self, location: str | None = None, **options: Any) -> None:
        super().__init__(location)
        self.lock = threading.RLock()
        self._seq = 0
        self._rows: dict[tuple[str, str], _Row] = {}
        self._run_rows: dict[str, _Row] = {}  # the runs among the rows
        self._live: dict[str, _Row] = {}  # the runs in an active status, for sweeps and claims
        # (kind, project, parent) -> the collection
        self._children: dict[tuple[str, str, str], _Children] = {}
        self._tombstones: dict[tuple[str, str], int] = {}  # (project, id) -> number
        self._keys: dict[tuple[str, str], _Key] = {}  # (project, key)
        self._undo: list[Undo] = []

    def close(self) -> None:
        """Nothing to release: the state goes with the process."""

    def notify_cancel(self, run_id: str) -> None:
        """No other process shares this store: nobody to tell."""

    # -- transactions ---------------------------------------------------------------------

    def _begin(self) -> Any:
        self.lock.acquire()
        self._undo = []
        return self._undo

    def _commit(self, handle: Any) -> None:
        self._undo = []
        self.lock.release()

    def _rollback(self, handle: Any) -> None:
        try:
            self._unwind(0)
        finally:
            self.lock.release()

    def _savepoint(self, handle: Any, mark: int) -> None:
        handle.append(len(handle))  # the position to unwind to, as an entry of its own

    def _rollback_to(self, handle: Any, mark: int) -> None:
        self._unwind(self._marker(handle))

    def _release(self, handle: Any, mark: int) -> None:
        at = self._marker(handle)
        del handle[at]  # the marker goes; the changes stay, for the enclosing transaction

    @staticmethod
    def _marker(handle: list[Any]) -> int:
        for at in range(len(handle) - 1, -1, -1):
            if isinstance(handle[at], int):
                return at
        raise AssertionError("no savepoint to return to")

    def _unwind(self, to: int) -> None:
        undo = self._undo
        while len(undo) > to:
            entry = undo.pop()
            if not isinstance(entry, int):
                entry()

    def _record(self, undo: Undo) -> None:
        self._undo.append(undo)

    def on_rollback(self, undo: Undo) -> None:
        """Call ``undo()`` should the current transaction (or savepoint) roll back: how an
        extension's tables in memory take part in the store's transactions (see ``store.py``).
        To be called inside a transaction (``with store.joined():``)."""
        if not self._local.depth:
            raise RuntimeError("on_rollback outside of a transaction")
        self._record(undo)

    # -- rows -----------------------------------------------------------------------------

    def _attach(self, row: _Row) -> None:
        self._rows[(row.kind, row.id)] = row
        if row.kind == "run":
            self._run_rows[row.id] = row
            self._index(row)
        self._children.setdefault((row.kind, row.project, row.parent), _Children()).add(
            row.seq, row.id
        )

    def _detach(self, row: _Row) -> None:
        del self._rows[(row.kind, row.id)]
        if row.kind == "run":
            del self._run_rows[row.id]
            self._live.pop(row.id, None)
        children = self._children.get((row.kind, row.project, row.parent))
        if children is not None:
            children.remove(row.seq)
            if not children.seqs:
                del self._children[(row.kind, row.project, row.parent)]

    def _index(self, row: _Row) -> None:
        """Keep a stored run among the live ones while its status is active."""
        if row.kind != "run" or self._run_rows.get(row.id) is not row:
            return
        if row.status in ACTIVE_STATUSES:
            self._live[row.id] = row
        else:
            self._live.pop(row.id, None)

    def _set(self, row: _Row, **changes: Any) -> None:
        """Change ``row``'s fields (its kind, id, parent and number stay)."""
        before = (row.text, row.status, row.expires_at, row.claimed_by, row.lease_until)
        for name, value in changes.items():
            setattr(row, name, value)
        self._index(row)

        def undo() -> None:
            (row.text, row.status, row.expires_at, row.claimed_by, row.lease_until) = before
            self._index(row)

        self._record(undo)

    # -- objects --------------------------------------------------------------------------

    def _row(self, kind: str, obj_id: str, project: str) -> _Row | None:
        """The row of ``project``'s object (None for another project's)."""
        row = self._rows.get((kind, obj_id))
        return row if row is not None and row.project == project else None

    def get(
        self,
        kind: str,
        obj_id: str,
        parent: str | None = None,
        *,
        project: str,
        lock: bool = False,
    ) -> JSONDict | None:
        with self._using():
            row = self._row(kind, obj_id, project)
            if row is None or (parent is not None and row.parent != parent):
                return None
            text = row.text
        found: JSONDict = json.loads(text)  # text is never changed in place: parsed unlocked
        return found

    def insert(
        self, kind: str, obj_id: str, data: JSONDict, parent: str = "", *, project: str
    ) -> None:
        text = _dump(data)  # before the lock: it is the caller's data
        status, expires_at = run_columns(kind, data)
        with self._using():
            if (kind, obj_id) in self._rows:
                raise ValueError(f"{kind} {obj_id} exists")
            self._seq += 1
            row = _Row(kind, obj_id, project, parent, self._seq, text, status, expires_at)
            self._attach(row)
            self._record(lambda: self._detach(row))

    def update(self, kind: str, obj_id: str, data: JSONDict, *, project: str) -> bool:
        text = _dump(data)  # before the lock: it is the caller's data
        status, expires_at = run_columns(kind, data)
        with self._using():
            row = self._row(kind, obj_id, project)
            if row is None:
                return False
            if kind == "run" and status not in DRIVEN_STATUSES:
                self._set(
                    row,
                    text=text,
                    status=status,
                    expires_at=expires_at,
                    claimed_by=None,
                    lease_until=None,
                )
            else:
                self._set(row, text=text, status=status, expires_at=expires_at)
            return True

    def delete(self, kind: str, obj_id: str, *, project: str) -> bool:
        with self._using():
            row = self._row(kind, obj_id, project)
            if row is None:
                return False
            self._bury(row)
            return True

    def _bury(self, row: _Row) -> None:
        self._detach(row)
        where = (row.project, row.id)
        previous = self._tombstones.get(where)
        self._tombstones[where] = row.seq

        def undo() -> None:
            if previous is None:
                self._tombstones.pop(where, None)
            else:
                self._tombstones[where] = previous
            self._attach(row)

        self._record(undo)

    def delete_children(self, kind: str, parent: str, *, project: str) -> int:
        with self._using():
            children = self._children.get((kind, project, parent))
            if children is None:
                return 0
            rows = [self._rows[(kind, obj_id)] for obj_id in list(children.ids)]
            for row in rows:
                self._bury(row)
            return len(rows)

    def children(self, kind: str, parent: str = "", *, project: str) -> list[JSONDict]:
        with self._using():
            children = self._children.get((kind, project, parent))
            if children is None:
                return []
            texts = [self._rows[(kind, i)].text for i in children.ids]
        return [json.loads(text) for text in texts]

    def iter_kind(self, kind: str, *, project: str) -> list[tuple[str, JSONDict]]:
        with self._using():
            rows = sorted(
                (r for r in self._rows.values() if r.kind == kind and r.project == project),
                key=_by_seq,
            )
            return [(row.parent, json.loads(row.text)) for row in rows]

    def _cursor(self, kind: str, name: str, cursor: str, project: str) -> int:
        row = self._row(kind, cursor, project)
        if row is not None:
            return row.seq
        seq = self._tombstones.get((project, cursor))
        if seq is None:
            raise UnknownCursor(name, cursor)
        return seq

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
        children = self._children.get((kind, project, parent))
        if children is None:
            return []
        seqs = children.seqs
        low = 0 if lower is None else bisect.bisect_right(seqs, lower)
        high = len(seqs) if upper is None else bisect.bisect_left(seqs, upper)
        positions = range(low, high) if ascending else range(high - 1, low - 1, -1)
        found: list[JSONDict] = []
        for at in positions:
            data = json.loads(self._rows[(kind, children.ids[at])].text)
            if run_id is not None and data.get("run_id") != run_id:
                continue
            found.append(data)
            if len(found) >= count:
                break
        return found

    _STATE = ("_rows", "_run_rows", "_live", "_children", "_tombstones", "_keys")

    def clear(self) -> None:
        with self._using():
            state = {name: getattr(self, name) for name in self._STATE}
            for name in self._STATE:
                setattr(self, name, {})

            def undo() -> None:
                for name, value in state.items():
                    setattr(self, name, value)

            self._record(undo)

    # -- runs -----------------------------------------------------------------------------

    def get_run(self, run_id: str, *, project: str, lock: bool = False) -> RunRow | None:
        with self._using():
            row = self._run_rows.get(run_id)
            if row is None or row.project != project:
                return None
            parent, text, claimed_by = row.parent, row.text, row.claimed_by
        return RunRow(project, parent, json.loads(text), claimed_by)

    def active_run(self, thread_id: str, *, project: str) -> JSONDict | None:
        with self._using():
            children = self._children.get(("run", project, thread_id))
            for obj_id in children.ids if children is not None else ():
                row = self._rows[("run", obj_id)]
                if row.status in ACTIVE_STATUSES:
                    found: JSONDict = json.loads(row.text)
                    return found
            return None

    def claim(self, run_id: str, owner: str | None, lease: float = 0.0, *, project: str) -> None:
        with self._using():
            row = self._run_rows.get(run_id)
            if row is not None and row.project == project:
                until = None if owner is None else time.time() + lease
                self._set(row, claimed_by=owner, lease_until=until)

    def _runs(self, keep: Callable[[_Row], bool]) -> list[_Row]:
        """The live runs ``keep`` keeps, oldest first (every other run is ended)."""
        return sorted((r for r in self._live.values() if keep(r)), key=_by_seq)

    def claim_queued(self, owner: str, limit: int, lease: float) -> list[RunRow]:
        with self._using():
            rows = self._runs(lambda r: r.status == "queued" and r.claimed_by is None)[:limit]
            until = time.time() + lease
            for row in rows:
                self._set(row, claimed_by=owner, lease_until=until)
            return [_run_row(r) for r in rows]

    def renew(self, owner: str, run_ids: list[str], lease: float) -> dict[str, str]:
        with self._using():
            until = time.time() + lease
            held: dict[str, str] = {}
            for run_id in run_ids:
                row = self._run_rows.get(run_id)
                if row is not None and row.claimed_by == owner:
                    self._set(row, lease_until=until)
                    held[run_id] = row.status or ""
            return held

    def lapse(self, owner: str) -> None:
        with self._using():
            for row in self._runs(lambda r: r.claimed_by == owner):
                self._set(row, lease_until=0.0)

    def lapsed(self, *, everyone: bool = False, limit: int = 100) -> list[RunRow]:
        with self._using():
            now = time.time()

            def lapsed(row: _Row) -> bool:
                if row.status not in DRIVEN_STATUSES:
                    return False
                if everyone:
                    return row.claimed_by is not None or row.status != "queued"
                return row.claimed_by is not None and (row.lease_until or 0.0) <= now

            rows = self._runs(lapsed)[:limit]
            return [_run_row(r) for r in rows]

    def due(self, now: int, limit: int = 100) -> list[RunRow]:
        with self._using():
            rows = self._runs(
                lambda r: (
                    r.status == "requires_action"
                    and r.expires_at is not None
                    and r.expires_at <= now
                )
            )[:limit]
            return [_run_row(r) for r in rows]

    def _forget_key(self, where: tuple[str, str]) -> None:
        self._keys.pop(where, None)

    def _restore_key(self, where: tuple[str, str], kept: _Key) -> None:
        self._keys[where] = kept

    # -- idempotency keys -----------------------------------------------------------------

    def claim_key(self, key: str, owner: str, lease: float, *, project: str) -> KeptAnswer | None:
        where = (project, key)
        with self._using():
            kept = self._keys.get(where)
            if kept is None:
                self._keys[where] = _Key(owner, time.time() + lease)
                self._record(lambda: self._forget_key(where))
                return None
            return KeptAnswer(
                kept.status,
                json.loads(kept.headers),
                kept.body,
                kept.owner,
                kept.status is None and (kept.lease_until or 0.0) <= time.time(),
            )

    def keep_key(
        self, key: str, status: int, headers: dict[str, str], body: str, *, project: str
    ) -> None:
        where = (project, key)
        with self._using():
            previous = self._keys.get(where)
            self._keys[where] = _Key(None, None, status, json.dumps(headers), body)

            def undo() -> None:
                if previous is None:
                    self._keys.pop(where, None)
                else:
                    self._keys[where] = previous

            self._record(undo)

    def drop_key(self, key: str, owner: str, *, project: str) -> bool:
        where = (project, key)
        with self._using():
            kept = self._keys.get(where)
            if kept is None or kept.status is not None or kept.owner != owner:
                return False
            del self._keys[where]
            self._record(lambda: self._restore_key(where, kept))
            return True

    def renew_keys(self, owner: str, keys: list[str], lease: float, *, project: str) -> None:
        with self._using():
            until = time.time() + lease
            for key in keys:
                where = (project, key)
                kept = self._keys.get(where)
                if kept is not None and kept.owner == owner and kept.status is None:
                    self._keys[where] = replace(kept, lease_until=until)
                    self._record(functools.partial(self._restore_key, where, kept))


def _by_seq(row: _Row) -> int:
    return row.seq


def _run_row(row: _Row) -> RunRow:
    return RunRow(row.project, row.parent, json.loads(row.text), row.claimed_by)
