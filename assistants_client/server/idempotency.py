"""Idempotency keys: an operation at most once per ``Idempotency-Key``, whatever retries it.

Part of the HTTP layer (``http.py``), and the one place idempotency lives: every process on the
same store honours a key, because the key is taken in the store, in the transaction of the
operation itself, and the store keeps a key unique. Keys are per project: the same key sent
with another project's credentials is another key, and never gets this project's answer. A duplicate, at once or later, waits for
that transaction, then finds the answer:

* a JSON answer is kept with the key when its transaction commits (an answer of 5xx is not:
  the key is let go, and a retry runs the operation again);
* a streamed answer goes to the first request live, and is kept when its stream ends; until
  then the key is *pending*, held by its process (renewed once a second, with the process's
  claims on runs) and a duplicate waits for it. Should the first request's process stop
  before that, the hold lapses and a duplicate runs the operation itself. Should the stream
  fail, the key is let go;
* an operation that must run outside a transaction (an upload, whose bytes are written a
  piece at a time: ``apart=True``) takes its key in a transaction of its own, holds it pending
  as a stream does while it runs, then keeps its answer. An answer that says the request
  itself could not be read to its end (``Answer.keep`` False) is not kept: the client's retry,
  with the same key, sends the whole body again and is served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistants_client.server.runs import Batch
from assistants_client.server.store import Store, StoreError

__all__ = ["DONE_EVENT", "KEY_POLL", "Answer", "Idempotency", "Stream", "encode"]

logger = logging.getLogger("assistants_client.server")

# How often a request waits for the answer of a duplicate still streaming (seconds).
KEY_POLL = 0.02
STREAM_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8"}


@dataclass
class Answer:
    """A finished answer: what an idempotency key keeps."""

    status: int
    headers: dict[str, str]
    body: bytes
    keep: bool = True
    """False for an answer a retry must not get (the request's body was cut short)."""


def encode(batch: Batch) -> bytes:
    """Server-sent events, as one piece of the body."""
    return "".join([f"event: {name}\ndata: {data}\n\n" for name, data in batch]).encode()


DONE_EVENT = encode([("done", "[DONE]")])


class Stream(Iterator[bytes]):
    """A streamed answer: the pieces of its body (a run's events, batch by batch, then
    ``done``), as they are ready. Closing it before its end lets the run go on without a
    listener."""

    def __init__(self, batches: Iterator[Batch]) -> None:
        self._batches = batches
        self._ended = False

    def __next__(self) -> bytes:
        if self._ended:
            raise StopIteration
        try:
            return encode(next(self._batches))
        except StopIteration:
            self._ended = True
            return DONE_EVENT

    def close(self) -> None:
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()


class Idempotency:
    """The keys of one process (``owner``) on ``store``, held for ``lease`` seconds at a time
    while their answer streams. :meth:`renew` is to be called once a second."""

    def __init__(self, store: Store, owner: str, lease: float) -> None:
        self.store = store
        self.owner = owner
        self.lease = lease
        self._held: set[tuple[str, str]] = set()  # (project, key)
        self._lock = threading.Lock()

    def once(
        self,
        key: str,
        operation: Callable[[], Answer | Stream],
        *,
        project: str,
        apart: bool = False,
    ) -> Answer | Stream:
        """``operation()``'s answer, or that of its first run with ``project``'s ``key``;
        ``apart``: the operation runs outside the key's transaction (see the module
        docstring)."""
        store = self.store
        while True:
            if apart:
                with store.transaction():
                    kept = store.claim_key(key, self.owner, self.lease, project=project)
                if kept is None:
                    return self._apart(project, key, operation)
            else:
                with store.transaction():
                    kept = store.claim_key(key, self.owner, self.lease, project=project)
                    if kept is None:
                        outcome = operation()
                        if isinstance(outcome, Answer):
                            if outcome.status < 500 and outcome.keep:
                                body = outcome.body.decode()
                                store.keep_key(
                                    key, outcome.status, outcome.headers, body, project=project
                                )
                            else:
                                store.drop_key(key, self.owner, project=project)
            if kept is None:
                if isinstance(outcome, Stream):
                    with self._lock:
                        self._held.add((project, key))
                    return _Recording(self, project, key, outcome)
                return outcome
            if not kept.pending:
                assert kept.status is not None
                return Answer(kept.status, dict(kept.headers), kept.body.encode())
            if kept.lapsed and kept.owner is not None:
                # Its process stopped before the answer.
                store.drop_key(key, kept.owner, project=project)
                continue
            time.sleep(KEY_POLL)

    def _apart(
        self, project: str, key: str, operation: Callable[[], Answer | Stream]
    ) -> Answer | Stream:
        """Run ``operation`` with ``key`` held pending, outside any transaction; keep its
        answer, or let the key go (a 5xx, an answer not to keep, an exception)."""
        with self._lock:
            self._held.add((project, key))
        kept = False
        try:
            outcome = operation()
            if isinstance(outcome, Answer) and outcome.status < 500 and outcome.keep:
                body = outcome.body.decode()
                self.store.keep_key(key, outcome.status, outcome.headers, body, project=project)
                kept = True
            return outcome
        finally:
            with self._lock:
                self._held.discard((project, key))
            if not kept:
                try:
                    self.store.drop_key(key, self.owner, project=project)
                except StoreError as problem:
                    logger.warning("an idempotency key stays pending until it lapses: %s", problem)

    def renew(self) -> None:
        """Keep holding the pending keys whose answer this process is streaming."""
        with self._lock:
            held = list(self._held)
        by_project: dict[str, list[str]] = {}
        for project, key in held:
            by_project.setdefault(project, []).append(key)
        for project, keys in by_project.items():
            self.store.renew_keys(self.owner, keys, self.lease, project=project)

    def _finished(self, project: str, key: str, parts: list[bytes] | None) -> None:
        """The stream for ``key`` ended: its whole answer is ``parts``, or it failed (None)."""
        try:
            if parts is not None:
                body = b"".join(parts).decode()
                self.store.keep_key(key, 200, dict(STREAM_HEADERS), body, project=project)
                return
        except Exception:
            logger.exception("the streamed answer for an idempotency key was not kept")
        finally:
            with self._lock:
                self._held.discard((project, key))
        try:
            self.store.drop_key(key, self.owner, project=project)
        except StoreError as problem:
            logger.warning("an idempotency key stays pending until it lapses: %s", problem)


class _Recording(Stream):
    """A streamed answer passed on live and recorded for its idempotency key.

    Closed before its end (the client went away, or never read a byte), it reads the rest
    itself: the run carries on, and the key's answer is the whole stream.
    """

    def __init__(self, keys: Idempotency, project: str, key: str, stream: Stream) -> None:
        self._keys = keys
        self._project = project
        self._key = key
        self._stream = stream
        self._parts: list[bytes] = []
        self._finished = False

    def __next__(self) -> bytes:
        try:
            piece = next(self._stream)
        except StopIteration:
            self._finish()
            raise
        except BaseException:
            self._finish(failed=True)
            raise
        self._parts.append(piece)
        return piece

    def close(self) -> None:
        self._finish()

    def _finish(self, *, failed: bool = False) -> None:
        if self._finished:
            return
        self._finished = True
        if failed:
            self._keys._finished(self._project, self._key, None)
            return
        try:
            self._parts.extend(self._stream)
        except Exception:
            logger.exception("the streamed answer for an idempotency key was not kept")
            self._keys._finished(self._project, self._key, None)
            return
        self._keys._finished(self._project, self._key, self._parts)
