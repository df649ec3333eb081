"""Run scheduling: which process executes a run, when, and what happens when it cannot.

* A run is executed by a :class:`~assistants_client.server.runs.TurnDriver`, turn by turn: the
  first turn when it is created, the next one each time tool outputs are submitted. A turn
  works in its run's project only (the one the store's claims and sweeps say each run has):
  whichever process or worker executes it, it reads and writes nothing of another project.
* A run is driven by the one process that holds its *claim* (see ``store.py``). A streamed run
  is claimed by the process that streams it, driven by the request; if its client goes away,
  the rest of the turn goes on in the background. A run that is not streamed is stored
  ``queued`` and claimed by a process with a free worker (of ``workers``): this one at once,
  usually, or any other.
* Each process renews the claims it drives once a second; a claim not renewed lapses after
  ``lease`` seconds (its process stopped), and any process then ends the run: a turn prepared
  in advance (scripted replies) is queued again, else the run fails with ``server_error``: a
  live answer cannot be resumed. No run stays ``in_progress`` forever.
* A cancel marks the run ``cancelling`` and signals its turn, in this process or, through the
  store, in the one that drives it (which also polls its runs' statuses each second); the turn
  stops the responder (within a second) and ends the run ``cancelled``, keeping the text
  received so far.
* A run left in ``requires_action`` past its ``expires_at`` becomes ``expired`` (when it is
  read, and by a sweep once a second).

What else a process must renew while it lives (the idempotency keys of answers it streams)
joins that once-a-second sweep through :meth:`RunScheduler.every_sweep`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from assistants_client.server import objects
from assistants_client.server.errors import ApiError
from assistants_client.server.file_search import FileSearcher
from assistants_client.server.objects import JSONDict
from assistants_client.server.responders import Responder, Turn, UnsupportedInput
from assistants_client.server.runs import Batch, TurnDriver, close_run, turn_of
from assistants_client.server.store import RunRow, Store, StoreError

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RUN_EXPIRY",
    "DEFAULT_WORKERS",
    "RunScheduler",
    "StreamResult",
    "Timing",
]

logger = logging.getLogger("assistants_client.server")

DEFAULT_RUN_EXPIRY = 600.0
DEFAULT_WORKERS = 32
DEFAULT_LEASE = 10.0
# How often claims are renewed, lapsed claims and expired runs swept, statuses polled.
SWEEP_EVERY = 1.0
INTERRUPTED = "The server stopped while the run was under way."
_MESSAGE_PARAM = re.compile(r"messages\[(\d+)\](.*)")


@dataclass(frozen=True)
class Timing:
    """The pace of runs: seconds spent ``queued`` and ``cancelling``, and the run expiry.

    The server answers as fast as its backend; the emulator uses small delays so that each
    state can be observed, and a scripted responder paces its pieces by ``stream_interval``
    (and spends ``in_progress`` before answering a run in the background).
    """

    queued: float = 0.0
    in_progress: float = 0.0
    cancelling: float = 0.0
    stream_interval: float = 0.0
    run_expires_after: float = DEFAULT_RUN_EXPIRY


@dataclass
class StreamResult:
    """An operation answered with an event stream: iterate ``events`` (batches of events that
    are ready together) to drive it; close it to let the run go on without a listener."""

    events: Iterator[Batch]


@dataclass
class _Active:
    """A run this process drives: the signal its turn watches."""

    cancelled: threading.Event = field(default_factory=threading.Event)


class _Listening(Iterator[Batch]):
    """The events of a streamed turn: the opening ones, then the turn's as it goes.

    Closed before its end (the client went away, or never read a byte), it hands the rest of
    the turn to the scheduler's workers: the run goes on without a listener.
    """

    def __init__(self, scheduler: RunScheduler, turn: Iterator[Batch], opening: Batch) -> None:
        self._scheduler = scheduler
        self._turn = turn
        self._opening = opening
        self._done = False
        self._closed = False

    def __next__(self) -> Batch:
        if self._opening:
            opening, self._opening = self._opening, []
            return opening
        try:
            return next(self._turn)
        except StopIteration:
            self._done = True
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._done:
            self._scheduler.carry_on(self._turn)


def _exhaust(batches: Iterator[Batch]) -> None:
    for _ in batches:
        pass


class RunScheduler:
    """Executes the runs of one process (see the module docstring). Thread-safe.

    ``owner`` names this process in the claims it holds; ``workers`` is how many runs it
    executes in the background at once (more wait ``queued``, for this process's next free
    worker or another's); ``lease`` is how long a claim lasts unless renewed.
    """

    def __init__(
        self,
        store: Store,
        responder: Responder,
        *,
        owner: str,
        timing: Timing,
        workers: int = DEFAULT_WORKERS,
        lease: float = DEFAULT_LEASE,
        searcher: FileSearcher | None = None,
    ) -> None:
        self.store = store
        self.responder = responder
        self.searcher = searcher
        self.owner = owner
        self.timing = timing
        self.lease = lease
        self._workers = workers
        self._busy = 0  # runs claimed for the workers and not yet done
        self._active: dict[str, _Active] = {}
        self._lock = threading.Lock()
        self._sweepers: list[Callable[[], None]] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="assistants-run"
        )
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._unavailable = False
        if not store.shared:
            # The store is this process's alone: whatever it finds claimed, a process that
            # stopped left behind.
            self._sweep_lapsed(everyone=True)
        self._stop_listening = store.listen_cancels(self.cancelled_elsewhere)
        self._background = threading.Thread(
            target=self._background_work, name="assistants-runs", daemon=True
        )
        self._background.start()

    @property
    def closing(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stop: turns under way stop where they are, without changing their runs. Their
        claims lapse at once, so that another process (or a restart on the same store) ends
        them (see the module docstring)."""
        self._closed.set()
        self._wake.set()
        if self._stop_listening is not None:
            self._stop_listening()
        with self._lock:
            for active in self._active.values():
                active.cancelled.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._background.join(5.0)
        try:
            self.store.lapse(self.owner)
        except StoreError as problem:
            logger.warning("could not release this process's runs: %s", problem)

    def forget(self) -> None:
        """Stop every turn under way and forget them (before the store is cleared)."""
        with self._lock:
            for active in self._active.values():
                active.cancelled.set()
            self._active.clear()

    def every_sweep(self, sweeper: Callable[[], None]) -> None:
        """Call ``sweeper`` once a second, with the renewal of this process's claims."""
        with self._lock:
            self._sweepers.append(sweeper)

    # -- starting turns -------------------------------------------------------------------

    def admit(self, turn: Turn, existing: int) -> Mapping[str, Any] | None:
        """In the transaction that queues a turn: 400 for what the responder cannot do (an
        ``additional_messages`` item named as such: the thread had ``existing`` messages
        before), else what the responder prepares for it."""
        try:
            self.responder.check(turn)
        except UnsupportedInput as unsupported:
            param = unsupported.param
            found = _MESSAGE_PARAM.match(param)
            if found is not None and int(found.group(1)) >= existing:
                param = f"additional_messages[{int(found.group(1)) - existing}]{found.group(2)}"
            raise ApiError(400, unsupported.message, param=param) from None
        return self.responder.prepare(turn)

    def start(
        self, record: JSONDict, turn: Turn, opening: Batch, *, streaming: bool
    ) -> JSONDict | StreamResult:
        """In the transaction that queued ``record``'s turn: leave it to a worker (its run is
        the answer), or stream it in this request, after ``opening``, from ``turn`` (which
        says the run's project)."""
        run: JSONDict = record["run"]
        if not streaming:
            self.store.on_commit(self._wake.set)
            return run
        run_id = run["id"]
        self.store.claim(run_id, self.owner, self.lease, project=turn.project)
        active = _Active()
        self.store.on_commit(lambda: self._register(run_id, active))
        driven = self._driven(turn.project, record, turn, active)
        return StreamResult(_Listening(self, driven, opening))

    def cancel(self, row: RunRow) -> None:
        """In the transaction that marked ``row``'s run ``cancelling``: end it, or tell the
        process that drives it."""
        run_id = row.record["run"]["id"]
        if row.claimed_by is None:
            # No turn is under way (the run waits for tool outputs, or for a worker): this
            # process ends the run, and claims it meanwhile, in case it stops first.
            self.store.claim(run_id, self.owner, self.lease, project=row.project)
            self.store.on_commit(lambda: self._submit(self._finish_cancel, row.project, run_id))
        else:
            self.signal(run_id, row.claimed_by)

    def signal(self, run_id: str, owner: str) -> None:
        """Tell the turn of a run that it is cancelled (or gone), here or where it runs."""
        if owner == self.owner:
            self.store.on_commit(lambda: self.cancelled_elsewhere(run_id))
        else:
            self.store.notify_cancel(run_id)

    def cancelled_elsewhere(self, run_id: str) -> None:
        with self._lock:
            active = self._active.get(run_id)
        if active is not None:
            active.cancelled.set()

    def submit(self, work: Callable[[], None]) -> None:
        """``work()`` on one of this process's workers (a file's ingestion), unless the
        scheduler closes."""
        self._submit(work)

    def carry_on(self, turn: Iterator[Batch]) -> None:
        """The rest of a streamed turn whose client went away, on a worker."""
        self._submit(self._drive_quietly, turn)

    # -- executing turns ------------------------------------------------------------------

    def _register(self, run_id: str, active: _Active) -> None:
        with self._lock:
            self._active[run_id] = active

    def _unregister(self, run_id: str, active: _Active) -> None:
        with self._lock:
            if self._active.get(run_id) is active:
                del self._active[run_id]

    def _driven(
        self,
        project: str,
        record: JSONDict,
        turn: Turn | None,
        active: _Active,
        *,
        background: bool = False,
    ) -> Iterator[Batch]:
        """The events of one turn of a run of ``project`` this process claimed; it is this
        process's run (its claim renewed) until the turn ends, whichever way. A turn claimed in
        the background is made here, from the store, in the run's project."""
        run = record["run"]
        timing = self.timing
        try:
            if turn is None:
                messages = self.store.children("message", run["thread_id"], project=project)
                turn = turn_of(record, messages, project=project)
            driver = TurnDriver(
                self.store,
                self.owner,
                self.responder,
                record,
                turn,
                active.cancelled,
                project=project,
                closing=self._closed.is_set,
                queued_delay=timing.queued,
                answer_delay=timing.in_progress if background else 0.0,
                cancel_delay=timing.cancelling,
                searcher=self.searcher,
            )
            yield from driver.drive()
        finally:
            self._unregister(run["id"], active)

    def _submit(self, work: Callable[..., None], *args: Any) -> None:
        """``work(*args)`` on a worker, unless the scheduler closes."""
        if self.closing:
            return
        try:
            self._pool.submit(work, *args)
        except RuntimeError:  # the pool shut down meanwhile
            logger.debug("the engine closed before %s could start", work.__name__)

    @staticmethod
    def _drive_quietly(batches: Iterator[Batch]) -> None:
        try:
            _exhaust(batches)
        except Exception:
            logger.exception("a run failed in the background")

    def _drive_claimed(self, row: RunRow, active: _Active) -> None:
        try:
            self._drive_quietly(
                self._driven(row.project, row.record, None, active, background=True)
            )
        finally:
            with self._lock:
                self._busy -= 1
            self._wake.set()

    def _claim_queued(self) -> None:
        """Claim queued runs for the free workers."""
        with self._lock:
            free = self._workers - self._busy
        if free <= 0 or self.closing:
            return
        with self.store.transaction():
            rows = self.store.claim_queued(self.owner, free, self.lease)
        for row in rows:
            active = _Active()
            self._register(row.record["run"]["id"], active)
            with self._lock:
                self._busy += 1
            try:
                self._pool.submit(self._drive_claimed, row, active)
            except RuntimeError:  # the pool shut down: the engine closes
                self._unregister(row.record["run"]["id"], active)
                with self._lock:
                    self._busy -= 1

    def _finish_cancel(self, project: str, run_id: str) -> None:
        if self.timing.cancelling > 0:
            time.sleep(self.timing.cancelling)
        try:
            with self.store.transaction():
                row = self.store.get_run(run_id, project=project, lock=True)
                if row is None or row.claimed_by != self.owner:
                    return
                if row.record["run"]["status"] == "cancelling":
                    close_run(self.store, row.record, "cancelled", [], project=project)
        except StoreError as problem:
            # The claim lapses, and a sweep ends the run.
            logger.warning("could not end the cancelled run %s: %s", run_id, problem)

    # -- claims, expiry and recovery ------------------------------------------------------

    def _background_work(self) -> None:
        """Claim queued runs when woken (or once a second); keep the claims, sweep lapsed
        claims and expired runs once a second."""
        next_keep = 0.0
        while not self.closing:
            self._wake.clear()
            try:
                if time.monotonic() >= next_keep:
                    next_keep = time.monotonic() + SWEEP_EVERY
                    self._keep()
                self._claim_queued()
                if self._unavailable:
                    logger.warning("the store is available again")
                    self._unavailable = False
            except StoreError as problem:
                if not self._unavailable:
                    logger.warning("the store is unavailable: %s", problem)
                    self._unavailable = True
            except Exception:
                logger.exception("the background work on runs failed")
            self._wake.wait(max(0.0, next_keep - time.monotonic()))

    def _keep(self) -> None:
        with self._lock:
            driven = list(self._active)
            sweepers = list(self._sweepers)
        held = self.store.renew(self.owner, driven, self.lease) if driven else {}
        for sweeper in sweepers:
            sweeper()
        for run_id in driven:
            status = held.get(run_id)
            if status is None or status == "cancelling":
                # Cancelled through another process (should its notice have been lost), or
                # gone: the turn stops.
                self.cancelled_elsewhere(run_id)
        self._sweep_lapsed()
        self._expire_due()

    def _expire_due(self) -> None:
        """Expire the runs left in ``requires_action`` past their ``expires_at``."""
        with self.store.transaction():
            for row in self.store.due(objects.now()):
                close_run(self.store, row.record, "expired", [], project=row.project)

    def _sweep_lapsed(self, *, everyone: bool = False) -> None:
        """End the runs whose process stopped (``everyone``: every run under way)."""
        while True:
            with self.store.transaction():
                rows = self.store.lapsed(everyone=everyone)
                for row in rows:
                    self._end_lapsed(row)
            if len(rows) < 100 or not everyone:
                return

    def _end_lapsed(self, row: RunRow) -> None:
        record, project = row.record, row.project
        run = record["run"]
        logger.info("run %s: its process stopped while it was %s", run["id"], run["status"])
        if run["status"] == "cancelling":
            close_run(self.store, record, "cancelled", [], project=project)
        elif run["status"] == "queued" or record["state"].get("prepared") is not None:
            # Not started, or prepared in advance: another turn can answer it.
            run["status"] = "queued"
            self.store.update("run", run["id"], record, project=project)
            self.store.claim(run["id"], None, project=project)
            self.store.on_commit(self._wake.set)
        else:
            self._fail_interrupted(record, project)

    def _fail_interrupted(self, record: JSONDict, project: str) -> None:
        run = record["run"]
        error = {"code": "server_error", "message": INTERRUPTED}
        now = objects.now()
        message_id = record["state"].pop("message", None)
        if message_id is not None:
            message = self.store.get("message", message_id, run["thread_id"], project=project)
            if message is not None and message["status"] == "in_progress":
                message["status"] = "incomplete"
                message["incomplete_at"] = now
                message["incomplete_details"] = {"reason": "run_failed"}
                self.store.update("message", message_id, message, project=project)
        for step in self.store.children("step", run["id"], project=project):
            if step["status"] == "in_progress":
                step["status"] = "failed"
                step["failed_at"] = now
                step["last_error"] = error
                step["expires_at"] = None
                self.store.update("step", step["id"], step, project=project)
        run["status"] = "failed"
        run["failed_at"] = now
        run["last_error"] = error
        run["expires_at"] = None
        prompt, completion = record["state"].get("usage", [0, 0])
        run["usage"] = objects.usage(prompt, completion)
        self.store.update("run", run["id"], record, project=project)
