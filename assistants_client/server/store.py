"""Where the server's state lives: the store port, and the choice of its adapter.

Three adapters implement :class:`Store` (in ``stores/``); ``stores.open_store(location)`` opens
the one ``location`` names:

* ``None``: memory (``stores/memory.py``): the emulator's default and the tests', gone when the
  process ends;
* a file path: SQLite (``stores/sqlite.py``): the server's embedded store, for one process;
* a ``postgresql://`` URL: PostgreSQL (``stores/postgres.py``): any number of server processes
  on one database serve one API.

**Transactions.** Every operation of the engine runs in one transaction: ``with
store.transaction():``. Memory and SQLite serialize transactions (a lock; for SQLite also
``BEGIN IMMEDIATE``, which excludes other processes); PostgreSQL runs them concurrently and
serializes what must be serialized with row locks (``lock=True`` reads are ``SELECT ... FOR
UPDATE``). A transaction opened inside another is a savepoint: an exception rolls back what it
wrote and nothing else. A store method called outside any transaction runs in one of its own.
Transactions belong to a thread; a generator must not ``yield`` inside one.

**Projects.** Every object and every idempotency key belongs to a project (``""``: the shared
namespace of keys configured without one), and every method that reads, writes, lists or
claims them takes the caller's ``project`` as a keyword argument without a default: a call that
forgets it is a ``TypeError`` at once. What belongs to another project is not found, exactly
as if it did not exist: a read finds nothing, a write or a delete changes nothing, a list
leaves it out, a cursor naming it is unknown, and an idempotency key of one project is another
key in another. Ids are unique in the whole store (they are made at random), so a project can
never make an object that takes another project's id. Only the machinery of runs works across
projects, as it serves every project's runs: :meth:`Store.claim_queued`, :meth:`Store.renew`,
:meth:`Store.lapse`, :meth:`Store.lapsed` and :meth:`Store.due`; each :class:`RunRow` they
return says its project, which the process driving the run then keeps.

**Objects.** JSON documents by kind and id, each under a parent: ``""`` for assistants and
threads, a thread for its messages and runs, a run for its steps. Reads return fresh copies:
changing one changes nothing stored until it is written back (:meth:`Store.update`). Each
object gets a number from one sequence when it is inserted (``seq``): lists are in that order,
and cursors name positions in it. A deleted object leaves a tombstone with its number, so that a
cursor naming it still works. Lists are pages read with ``limit + 1`` rows, so ``has_more`` is
exact.

**Runs.** A run is stored as its *record*, ``{"run": <the API object>, "state": {...}}``. Next to
it the store keeps the run's status and expiry (copied from the record on every write, for the
queries below) and its *claim*: which server process drives the run, until when. A process
claims a run (:meth:`Store.claim`, or :meth:`Store.claim_queued` for queued runs nobody drives),
renews its claims while it drives them (:meth:`Store.renew`), and loses a claim it no longer
renews: :meth:`Store.lapsed` finds those runs, for any process to end. A run's claim ends when
the run leaves the statuses a process drives (``queued``, ``in_progress``, ``cancelling``).
Lease times are the store's clock (the database's, for PostgreSQL), so the processes' clocks
need not agree.

**Extensions.** Code that keeps tables of its own in the store's database (files and vector
stores: ``server/retrieval/``) takes part in the store's transactions through a few documented
hooks, never its private state: :meth:`Store.joined` and :meth:`Store.in_transaction`; on the
SQL stores, ``dialect`` (table names, the clock, row locks) and ``query``/``execute`` (a
statement in the current transaction); on the memory store, ``on_rollback`` (how to undo a
change, should the transaction roll back).

**Idempotency keys.** One row per project and key, unique in the store: the first request with
a key inserts it (:meth:`Store.claim_key`) in the transaction of its operation, so a duplicate
waits for that transaction and then finds the answer (:meth:`Store.keep_key`). A streamed
answer is kept when its stream ends; until then the key is *pending*, held by its process like
a claim.
"""

from __future__ import annotations

import abc
import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "ACTIVE_STATUSES",
    "DRIVEN_STATUSES",
    "SCHEMA_VERSION",
    "JSONDict",
    "KeptAnswer",
    "RunRow",
    "SchemaError",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "UnknownCursor",
    "redact",
]

JSONDict = dict[str, Any]

# Statuses in which a process drives a run (and holds a claim on it).
DRIVEN_STATUSES = frozenset({"queued", "in_progress", "cancelling"})
# Statuses of a thread's one active run.
ACTIVE_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
# The layout of the database this code reads and writes. Each adapter upgrades older layouts
# step by step (a migration per version) and refuses newer ones. Version 3: projects;
# version 4: files and vector stores.
SCHEMA_VERSION = 4


class StoreError(Exception):
    """The store failed."""


class StoreUnavailable(StoreError):
    """The database cannot be reached, or gave up on a statement (timeout, lock conflict):
    nothing was written, and the same request can be retried."""


class SchemaError(StoreError):
    """The database holds a layout this server does not know (written by a newer one)."""


class UnknownCursor(StoreError):
    """A list cursor names no object of the list's kind, present or deleted."""

    def __init__(self, name: str, cursor: str) -> None:
        super().__init__(f"{name}: no object with id '{cursor}'")
        self.name = name
        self.cursor = cursor


@dataclass(frozen=True)
class RunRow:
    """A stored run: its project, its thread, its record, and the process that holds its
    claim (if any)."""

    project: str
    thread_id: str
    record: JSONDict
    claimed_by: str | None


@dataclass(frozen=True)
class KeptAnswer:
    """What an idempotency key holds: the answer (``status`` not None), or ``pending``."""

    status: int | None
    headers: dict[str, str]
    body: str
    owner: str | None
    lapsed: bool

    @property
    def pending(self) -> bool:
        return self.status is None


_PASSWORD_SETTING = re.compile(r"(password=)[^&\s]*", re.IGNORECASE)


def redact(location: str | None) -> str | None:
    """``location`` without its password (in the URL's user part or its settings), for logs,
    messages and reprs."""
    if location is None:
        return None
    location = _PASSWORD_SETTING.sub(r"\1***", location)
    if "://" not in location:
        return location
    scheme, _, rest = location.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return location
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def run_columns(kind: str, data: JSONDict) -> tuple[str | None, int | None]:
    """The status and expiry a run's record carries (None for other kinds)."""
    if kind != "run":
        return None, None
    run = data["run"]
    status = run["status"]
    expires_at = run.get("expires_at") if status == "requires_action" else None
    return status, expires_at


class _Local(threading.local):
    depth = 0
    handle: Any = None
    after: list[Callable[[], None]]

    def __init__(self) -> None:
        self.after = []


class Store(abc.ABC):
    """The state of the API (see the module docstring); the methods are safe to call from
    many threads.

    ``shared``: whether several processes may use the store at once (PostgreSQL). A store that
    is not shared belongs to one process, so the runs it finds claimed at start were left by a
    process that stopped.
    """

    shared: ClassVar[bool] = False

    def __init__(self, location: str | None = None, **options: Any) -> None:
        self._local = _Local()

    # -- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction (a savepoint inside another): all or nothing of what it writes."""
        local = self._local
        if local.depth:
            mark = local.depth
            self._savepoint(local.handle, mark)
            local.depth += 1
            try:
                yield
            except BaseException:
                local.depth = mark
                self._rollback_to(local.handle, mark)
                raise
            local.depth = mark
            self._release(local.handle, mark)
            return
        local.handle = self._begin()
        local.depth = 1
        local.after = []
        try:
            yield
        except BaseException:
            handle, local.handle, local.depth = local.handle, None, 0
            self._rollback(handle)
            raise
        handle, local.handle, local.depth = local.handle, None, 0
        self._commit(handle)
        after, local.after = local.after, []
        for callback in after:
            callback()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the current transaction commits (now, outside of one)."""
        if self._local.depth:
            self._local.after.append(callback)
        else:
            callback()

    def in_transaction(self) -> bool:
        """Whether this thread is inside one of the store's transactions."""
        return self._local.depth > 0

    def joined(self) -> contextlib.AbstractContextManager[Any]:
        """The current transaction, joined as it is (no savepoint), or one of its own outside
        of one; its handle. For code that keeps tables of its own beside the store's and
        takes part in its transactions (see "Extensions" in the module docstring)."""
        return self._using()

    @contextlib.contextmanager
    def _using(self) -> Iterator[Any]:
        """The current transaction's handle; a transaction of its own outside of one."""
        if self._local.depth:
            yield self._local.handle
            return
        with self.transaction():
            yield self._local.handle

    @abc.abstractmethod
    def _begin(self) -> Any:
        """Start a transaction; its handle (a connection, or what the adapter needs)."""

    @abc.abstractmethod
    def _commit(self, handle: Any) -> None: ...

    @abc.abstractmethod
    def _rollback(self, handle: Any) -> None:
        """Roll back; never raises (the exception that caused it is the one to report)."""

    @abc.abstractmethod
    def _savepoint(self, handle: Any, mark: int) -> None: ...

    @abc.abstractmethod
    def _rollback_to(self, handle: Any, mark: int) -> None: ...

    @abc.abstractmethod
    def _release(self, handle: Any, mark: int) -> None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Release the database; the store is not used after this."""

    # -- objects --------------------------------------------------------------------------

    @abc.abstractmethod
    def get(
        self,
        kind: str,
        obj_id: str,
        parent: str | None = None,
        *,
        project: str,
        lock: bool = False,
    ) -> JSONDict | None:
        """An object of ``project`` (under ``parent``, when given); ``lock``: no other
        transaction changes or locks it until this one ends."""

    @abc.abstractmethod
    def insert(
        self, kind: str, obj_id: str, data: JSONDict, parent: str = "", *, project: str
    ) -> None:
        """Store a new object in ``project``, numbered after every object before it."""

    @abc.abstractmethod
    def update(self, kind: str, obj_id: str, data: JSONDict, *, project: str) -> bool:
        """Replace an existing object's data; False (and nothing stored) if it is gone, or
        another project's."""

    def put(
        self, kind: str, obj_id: str, data: JSONDict, parent: str = "", *, project: str
    ) -> None:
        """Insert ``obj_id``, or replace it where it is."""
        with self._using():
            if not self.update(kind, obj_id, data, project=project):
                self.insert(kind, obj_id, data, parent, project=project)

    @abc.abstractmethod
    def delete(self, kind: str, obj_id: str, *, project: str) -> bool:
        """Delete an object, leaving its tombstone; False if there was none in ``project``."""

    @abc.abstractmethod
    def delete_children(self, kind: str, parent: str, *, project: str) -> int:
        """Delete every object of ``kind`` under ``parent`` (tombstones kept); how many."""

    @abc.abstractmethod
    def children(self, kind: str, parent: str = "", *, project: str) -> list[JSONDict]:
        """Every object of ``kind`` under ``parent``, in order."""

    @abc.abstractmethod
    def iter_kind(self, kind: str, *, project: str) -> list[tuple[str, JSONDict]]:
        """Every object of ``kind`` in ``project`` with its parent, in order."""

    def page(
        self,
        kind: str,
        parent: str,
        *,
        project: str,
        limit: int,
        ascending: bool,
        after: str | None = None,
        before: str | None = None,
        run_id: str | None = None,
    ) -> tuple[list[JSONDict], bool]:
        """One page of a list and whether more follow it.

        ``after``/``before`` are ids, positions in the listing order (``ascending`` by
        number, or the reverse): the page starts right after ``after``; with only ``before``,
        it is the ``limit`` objects right before it. ``run_id`` keeps messages of that run.
        Raises :class:`UnknownCursor` for a cursor that names nothing of ``kind`` in
        ``project``.
        """
        with self._using():
            # The bounds first: an unknown cursor is an error even in an empty list.
            after_seq = self._cursor(kind, "after", after, project) if after is not None else None
            before_seq = (
                self._cursor(kind, "before", before, project) if before is not None else None
            )
            # In ascending order "after" is a lower bound; in descending order an upper one.
            lower = after_seq if ascending else before_seq
            upper = before_seq if ascending else after_seq
            # In the listing order; for "before" alone, back from the cursor.
            backwards = before is not None and after is None
            found = self._range(
                kind,
                project,
                parent,
                lower,
                upper,
                ascending=ascending != backwards,
                count=limit + 1,
                run_id=run_id,
            )
        more = len(found) > limit
        found = found[:limit]
        if backwards:
            found.reverse()
        return found, more

    @abc.abstractmethod
    def _cursor(self, kind: str, name: str, cursor: str, project: str) -> int:
        """The number of the object ``cursor`` names, present or deleted; raises
        :class:`UnknownCursor` (for the parameter ``name``) if there is none of ``kind`` in
        ``project``."""

    @abc.abstractmethod
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
        """Up to ``count`` objects of ``kind`` in ``project`` under ``parent`` numbered strictly
        between
        ``lower`` and ``upper`` (None: no bound), in ``ascending`` order of their numbers or
        the reverse; ``run_id`` keeps messages of that run."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Forget every object, tombstone and idempotency key, of every project."""

    # -- runs -----------------------------------------------------------------------------

    @abc.abstractmethod
    def get_run(self, run_id: str, *, project: str, lock: bool = False) -> RunRow | None:
        """A run of ``project`` with its claim (``lock``: as :meth:`get`)."""

    @abc.abstractmethod
    def active_run(self, thread_id: str, *, project: str) -> JSONDict | None:
        """The record of the thread's run in an active status, if there is one."""

    @abc.abstractmethod
    def claim(self, run_id: str, owner: str | None, lease: float = 0.0, *, project: str) -> None:
        """``owner`` drives the run, for ``lease`` seconds unless renewed (None: nobody)."""

    @abc.abstractmethod
    def claim_queued(self, owner: str, limit: int, lease: float) -> list[RunRow]:
        """Claim up to ``limit`` queued runs nobody drives, of any project, oldest first; what
        was claimed is locked until the transaction ends, and skipped by other processes'
        claims."""

    @abc.abstractmethod
    def renew(self, owner: str, run_ids: list[str], lease: float) -> dict[str, str]:
        """Extend ``owner``'s claims on ``run_ids`` by ``lease`` seconds from now.

        Returns the status of each of those runs that ``owner`` still holds: a run missing
        from it was deleted, or ended, or its claim lapsed and someone else took it.
        """

    @abc.abstractmethod
    def lapse(self, owner: str) -> None:
        """Let every claim of ``owner`` lapse now (its process stops)."""

    @abc.abstractmethod
    def lapsed(self, *, everyone: bool = False, limit: int = 100) -> list[RunRow]:
        """Runs in a driven status whose claim lapsed (``everyone``: any claim, and any run in
        progress: a store that is not shared, at start), locked; runs locked by others are
        skipped."""

    @abc.abstractmethod
    def due(self, now: int, limit: int = 100) -> list[RunRow]:
        """Runs waiting in ``requires_action`` past their expiry, locked (others skipped)."""

    @abc.abstractmethod
    def notify_cancel(self, run_id: str) -> None:
        """Tell the other processes, when this transaction commits, that the run is
        cancelled (only a shared store has others to tell)."""

    def listen_cancels(self, callback: Callable[[str], None]) -> Callable[[], None] | None:
        """Call ``callback(run_id)`` for each cancel another process notifies, from a thread
        of the store's; returns how to stop listening (None: nothing to listen to)."""
        return None

    # -- idempotency keys -----------------------------------------------------------------

    @abc.abstractmethod
    def claim_key(self, key: str, owner: str, lease: float, *, project: str) -> KeptAnswer | None:
        """Take ``project``'s ``key`` for this transaction's operation (None), or what the key
        holds.

        A duplicate running at the same time waits here until the first transaction ends.
        """

    @abc.abstractmethod
    def keep_key(
        self, key: str, status: int, headers: dict[str, str], body: str, *, project: str
    ) -> None:
        """The answer of the operation that took ``key``."""

    @abc.abstractmethod
    def drop_key(self, key: str, owner: str, *, project: str) -> bool:
        """Forget a pending key held by ``owner`` (its answer never came); False if it was
        not."""

    @abc.abstractmethod
    def renew_keys(self, owner: str, keys: list[str], lease: float, *, project: str) -> None:
        """Extend ``owner``'s hold on its pending ``keys`` of ``project`` by ``lease`` seconds
        from now."""
