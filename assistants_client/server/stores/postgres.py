"""The PostgreSQL store: any number of server processes on one database serve one API.

Needs psycopg 3 (the ``postgres`` extra: ``pip install 'assistants-client[postgres]'``).

* Connections: a small pool of this module's own (``pool_size`` connections, created as needed;
  a request waits at most ``timeout`` seconds for one). psycopg's pool is a separate package,
  and this needs only a few lines of it. A connection that breaks is dropped, with every idle
  one (they went to the same server); new ones are made when the database answers again.
* Transactions run concurrently, in READ COMMITTED. What must not interleave is serialized by
  row locks: the engine locks a thread's row before it starts a run or adds a message (so a
  thread has one active run, and its messages are numbered in the order they commit), and a
  run's row before it changes the run (compare and set). Queued runs and lapsed claims are read
  with ``FOR UPDATE SKIP LOCKED``: two processes never take the same one.
* Numbers come from one database sequence, so lists and cursors agree across processes.
* Timeouts: connecting (``timeout``), each statement and each lock wait (``statement_timeout``
  and ``lock_timeout``, set per connection), and unacknowledged writes to a server that went
  silent (``tcp_user_timeout``). Those are the server's and the kernel's; a server that
  stops answering altogether (frozen, or behind a proxy that went quiet) enforces nothing, so
  each statement also runs under a deadline (the package's one watchdog, ``_deadline.py``) that
  cuts its connection once it overran ``timeout`` by a second. A database that goes away costs a request at most that long, and it fails with
  :class:`~assistants_client.server.store.StoreUnavailable` (a retryable 503), never a hang.
* Cancels: ``cancel_run`` in one process sends ``NOTIFY assistants_cancel, '<run id>'`` with its
  transaction; every process listens on a connection of its own and stops the turn it drives.
  The engine also polls its runs' statuses each second, for a notification lost while the
  listening connection was down.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from assistants_client._deadline import Deadline
from assistants_client.server.store import StoreError, StoreUnavailable, redact
from assistants_client.server.stores.retrieval_schema import POSTGRES_V4
from assistants_client.server.stores.sql import Dialect, SqlStore

try:  # an optional extra: the other stores work without it
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
except ImportError:  # pragma: no cover - depends on the installation
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresStore"]

logger = logging.getLogger("assistants_client.server")

DEFAULT_POOL_SIZE = 10
DEFAULT_TIMEOUT = 10.0
CANCEL_CHANNEL = "assistants_cancel"
# The key of the advisory lock held while the schema is created or upgraded.
MIGRATION_LOCK = 0x617373697374  # "assist"
LISTEN_RETRY = 1.0
# How much longer than the statement timeout a statement may run before its connection is cut.
WATCHDOG_GRACE = 1.0

_V2 = (
    "CREATE SEQUENCE assistants_seq",
    """CREATE TABLE assistants_objects (
        kind text NOT NULL,
        id text NOT NULL,
        parent text NOT NULL,
        seq bigint NOT NULL,
        data json NOT NULL,
        status text,
        expires_at bigint,
        claimed_by text,
        lease_until double precision,
        PRIMARY KEY (kind, id)
    )""",
    "CREATE INDEX assistants_objects_children ON assistants_objects (kind, parent, seq)",
    "CREATE INDEX assistants_runs_queued ON assistants_objects (seq) "
    "WHERE status = 'queued' AND claimed_by IS NULL",
    "CREATE INDEX assistants_runs_claimed ON assistants_objects (claimed_by, lease_until) "
    "WHERE claimed_by IS NOT NULL",
    "CREATE INDEX assistants_runs_waiting ON assistants_objects (expires_at) "
    "WHERE status = 'requires_action'",
    """CREATE TABLE assistants_idempotency_keys (
        key text PRIMARY KEY,
        owner text,
        lease_until double precision,
        status integer,
        headers text,
        body text
    )""",
)
# Projects: objects and keys get a project, "" (the shared namespace) for those stored before.
_V3 = (
    "ALTER TABLE assistants_objects ADD COLUMN project text NOT NULL DEFAULT ''",
    "DROP INDEX assistants_objects_children",
    "CREATE INDEX assistants_objects_children ON assistants_objects (kind, project, parent, seq)",
    "ALTER TABLE assistants_idempotency_keys ADD COLUMN project text NOT NULL DEFAULT ''",
    "ALTER TABLE assistants_idempotency_keys DROP CONSTRAINT assistants_idempotency_keys_pkey",
    "ALTER TABLE assistants_idempotency_keys ADD PRIMARY KEY (project, key)",
)

DIALECT = Dialect(
    objects="assistants_objects",
    keys="assistants_idempotency_keys",
    versions="assistants_schema",
    now="EXTRACT(EPOCH FROM clock_timestamp())::float8",
    lock=" FOR UPDATE",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    run_id="data->>'run_id'",
    id_list="SELECT json_array_elements_text(%s::json)",
    # Version 1 was the layout of the SQLite store before versions were kept.
    migrations={2: _V2, 3: _V3, 4: POSTGRES_V4},
)

_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError) if psycopg is not None else ()
MISSING_DRIVER = "a postgresql:// store needs psycopg 3: pip install 'assistants-client[postgres]'"


class _Pool:
    """At most ``size`` connections, made when needed; idle ones are reused."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], size: int, timeout: float):
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._idle: list[psycopg.Connection[Any]] = []
        self._count = 0
        self._closed = False
        self._ready = threading.Condition()

    def take(self) -> psycopg.Connection[Any]:
        deadline = time.monotonic() + self._timeout
        with self._ready:
            while True:
                if self._closed:
                    raise StoreUnavailable("the store is closed")
                if self._idle:
                    return self._idle.pop()
                if self._count < self._size:
                    self._count += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreUnavailable(
                        f"all {self._size} database connections stayed busy for {self._timeout:g} s"
                    )
                self._ready.wait(remaining)
        try:
            return self._connect()
        except BaseException:
            with self._ready:
                self._count -= 1
                self._ready.notify()
            raise

    def give(self, connection: psycopg.Connection[Any]) -> None:
        """Return a connection after its transaction ended; a broken one is dropped, with the
        idle ones."""
        dropped: list[psycopg.Connection[Any]] = []
        with self._ready:
            if connection.closed or connection.broken or self._closed:
                dropped = [connection, *self._idle]
                self._count -= len(dropped)
                self._idle = []
            else:
                self._idle.append(connection)
            self._ready.notify_all()
        for gone in dropped:
            with contextlib.suppress(Exception):
                gone.close()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._ready.notify_all()
        for connection in idle:
            with contextlib.suppress(Exception):
                connection.close()


@contextlib.contextmanager
def _bounded(connection: psycopg.Connection[Any], allowed: float) -> Iterator[None]:
    """A statement on ``connection`` that runs past ``allowed`` seconds has its connection cut
    (see the module docstring): the package's deadline watchdog shuts its socket down, and the
    thread blocked on it fails as on a lost connection."""
    deadline = Deadline()
    with contextlib.suppress(psycopg.Error):
        deadline.bind_socket(connection.fileno())
    deadline.arm(time.monotonic() + allowed)
    try:
        yield
    finally:
        deadline.disarm()
        if deadline.fired:
            logger.warning("a database statement overran its timeout: its connection was dropped")


class PostgresStore(SqlStore):
    """The store in a PostgreSQL database (see the module docstring).

    ``pool_size``: connections this process opens at most; ``timeout``: seconds a connection,
    a statement or a lock may take before the operation fails as unavailable.
    """

    shared = True
    dialect = DIALECT

    def __init__(
        self,
        location: str | None = None,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        if location is None:
            raise ValueError("a PostgreSQL store needs a postgresql:// URL")
        if psycopg is None:  # pragma: no cover - depends on the installation
            raise StoreError(MISSING_DRIVER)
        super().__init__(location)
        self.timeout = timeout
        self._conninfo = self._settings(location, timeout)
        self._pool = _Pool(self._connect, pool_size, timeout)
        self._allowed = timeout + WATCHDOG_GRACE
        self._migrate()

    @staticmethod
    def _settings(location: str, timeout: float) -> str:
        """The connection string, with this store's timeouts added to the URL's settings."""
        try:
            params = conninfo_to_dict(location)
        except psycopg.ProgrammingError as problem:
            raise ValueError(
                f"not a valid PostgreSQL URL {redact(location)!r}: {problem}"
            ) from None
        millis = int(timeout * 1000)
        options = " ".join(
            part
            for part in (
                str(params.pop("options", "") or ""),
                f"-c statement_timeout={millis}",
                f"-c lock_timeout={millis}",
                f"-c idle_in_transaction_session_timeout={millis * 6}",
            )
            if part
        )
        params.setdefault("application_name", "assistants-server")
        params.setdefault("connect_timeout", str(max(1, round(timeout))))
        params.setdefault("keepalives", "1")
        params.setdefault("keepalives_idle", "10")
        params.setdefault("keepalives_interval", "5")
        params.setdefault("keepalives_count", "3")
        params.setdefault("tcp_user_timeout", str(millis))
        return make_conninfo("", options=options, **params)

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._conninfo)
        except _UNAVAILABLE as problem:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL: {_first_line(problem)}"
            ) from None

    def close(self) -> None:
        self._pool.close()

    # -- transactions ---------------------------------------------------------------------

    def _begin(self) -> Any:
        return self._pool.take()

    def _commit(self, handle: Any) -> None:
        try:
            with _bounded(handle, self._allowed):
                handle.commit()
        except _UNAVAILABLE as problem:
            self._rollback(handle)
            raise StoreUnavailable(f"PostgreSQL could not commit: {_first_line(problem)}") from None
        self._pool.give(handle)

    def _rollback(self, handle: Any) -> None:
        try:
            with contextlib.suppress(psycopg.Error), _bounded(handle, self._allowed):
                handle.rollback()
        finally:
            self._pool.give(handle)

    # -- statements -----------------------------------------------------------------------

    def _execute(self, handle: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            with _bounded(handle, self._allowed):
                return handle.execute(sql, tuple(params))
        except _UNAVAILABLE as problem:
            raise StoreUnavailable(f"PostgreSQL failed: {_first_line(problem)}") from None

    def _seq_value(self, handle: Any) -> tuple[str, tuple[Any, ...]]:
        return "nextval('assistants_seq')", ()

    def _load(self, value: Any) -> Any:
        return value  # psycopg parses json columns

    def _before_migrating(self, handle: Any) -> None:
        # Several processes starting at once: one creates or upgrades, the others then see it.
        self._execute(handle, "SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        super()._before_migrating(handle)

    # -- cancels --------------------------------------------------------------------------

    def notify_cancel(self, run_id: str) -> None:
        with self._using() as handle:
            self._execute(handle, "SELECT pg_notify(%s, %s)", (CANCEL_CHANNEL, run_id))

    def listen_cancels(self, callback: Callable[[str], None]) -> Callable[[], None] | None:
        stopping = threading.Event()
        # stop() writes a byte here: the listener, waiting on its connection's socket and on
        # this one, ends at once instead of at its next timeout (closing an engine is prompt).
        woken, wake = socket.socketpair()

        def listen() -> None:
            try:
                while not stopping.is_set():
                    try:
                        connection = psycopg.connect(self._conninfo, autocommit=True)
                    except _UNAVAILABLE as problem:
                        logger.warning("cannot listen for cancels: %s", _first_line(problem))
                        stopping.wait(LISTEN_RETRY)
                        continue
                    try:
                        connection.execute(f"LISTEN {CANCEL_CHANNEL}")
                        while not stopping.is_set():
                            select.select([connection.fileno(), woken.fileno()], [], [])
                            # psycopg reads what the socket holds; none of it waits in libpq's
                            # buffer between calls, so the socket says when there is more.
                            for notice in connection.notifies(timeout=0):
                                callback(notice.payload)
                    except _UNAVAILABLE as problem:
                        if not stopping.is_set():
                            logger.warning(
                                "listening for cancels stopped: %s", _first_line(problem)
                            )
                            stopping.wait(LISTEN_RETRY)
                    finally:
                        with contextlib.suppress(Exception):
                            connection.close()
            finally:
                woken.close()

        thread = threading.Thread(target=listen, name="assistants-cancels", daemon=True)
        thread.start()

        def stop() -> None:
            stopping.set()
            with contextlib.suppress(OSError):
                wake.send(b"\0")
            thread.join(5.0)
            wake.close()

        return stop


def _first_line(problem: BaseException) -> str:
    return (str(problem).strip().splitlines() or [type(problem).__name__])[0]
