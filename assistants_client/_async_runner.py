"""Carrying plans out on an event loop: how :class:`AsyncAssistantsClient` does its I/O.

The client's logic (arguments, retries, polling, tool loops) is written once, as plans (see
``_plan``). :class:`AsyncRunner` carries a plan out on the running loop, step by step:

- :class:`~assistants_client._plan.Blocking` (one HTTP attempt) runs on a worker thread of the
  client's own pool, at most ``2 * pool_maxsize`` threads, started as needed, never by the
  loop itself (``_workers``). The loop only awaits the result. If the awaiting task is cancelled, the step's ``cancel()`` fires the attempt's
  deadline (its socket is shut down, so the worker returns at once), the runner waits for the
  worker to be free again (at most :data:`CANCEL_GRACE` seconds) and an open answer that
  arrives anyway is released: a cancelled call leaves neither a blocked thread nor a busy
  connection behind.
- :class:`~assistants_client._plan.Sleep` (between polls, before a retry) is
  ``asyncio.sleep``: no thread waits, and cancelling the task ends the wait at once.
- :class:`~assistants_client._plan.Invoke` (a tool function): an ``async def`` function is
  awaited on the loop; a plain one runs on ``asyncio.to_thread``, so it may block.
- :class:`~assistants_client._plan.ReadStream`: the stream is read by one reader thread and
  handed to the loop in batches (``_async_streaming``).
- :class:`~assistants_client._plan.Gather`: each plan is a task of its own on the loop, at
  most ``limit`` carried out at once; cancelling the task awaiting them cancels them all.

Nothing here is bound to one event loop: a client made under one loop works under another,
and under several at once (each in its thread).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from assistants_client._async_streaming import AsyncAssistantStream
from assistants_client._handoff import Hand, handoff_for
from assistants_client._plan import (
    Blocking,
    Gather,
    Invoke,
    Outcome,
    Plan,
    ReadStream,
    Sleep,
    is_async_callable,
)
from assistants_client._workers import Workers

__all__ = ["CANCEL_GRACE", "AsyncRunner"]

logger = logging.getLogger("assistants_client")

R = TypeVar("R")

CANCEL_GRACE = 1.0
"""Seconds a cancelled call waits for its worker to come back before it lets go of it."""


class AsyncRunner:
    """Carries plans out on the running event loop, for one client (see the module doc)."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._workers = Workers("assistants-client-call", limit=max_workers)

    def close(self) -> None:
        """Nothing to free now: idle worker threads end on their own (``_workers``), and a call
        made later has new ones started, as the sync client's pool opens new connections."""

    async def run(self, plan: Plan[R]) -> R:
        """Carry ``plan`` out; its result, or the exception it ends with."""
        value: Any = None
        error: Exception | None = None
        try:
            while True:
                try:
                    step = plan.send(value) if error is None else plan.throw(error)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                value, error = None, None
                try:
                    if isinstance(step, Blocking):
                        value = await self.blocking(step)
                    elif isinstance(step, Sleep):
                        await asyncio.sleep(step.seconds)
                    elif isinstance(step, Invoke):
                        value = await invoke(step)
                    elif isinstance(step, ReadStream):
                        value = await self.read_stream(step)
                    elif isinstance(step, Gather):
                        value = await self.gather(step)
                    else:
                        raise TypeError(f"not a step of a plan: {step!r}")
                except Exception as exc:  # not CancelledError: the plan is closed below
                    error = exc
        finally:
            plan.close()

    async def gather(self, step: Gather) -> list[Outcome]:
        """The plans of ``step`` as tasks, at most ``step.limit`` running at once."""
        plans = list(step.plans)
        outcomes: list[Outcome] = [Outcome(started=False)] * len(plans)
        room = asyncio.Semaphore(max(1, step.limit))
        failed = False

        async def carry_out(index: int) -> None:
            nonlocal failed
            async with room:
                if failed:
                    plans[index].close()
                    return
                try:
                    outcomes[index] = Outcome(await self.run(plans[index]))
                except Exception as exc:
                    outcomes[index] = Outcome(error=exc)
                    failed = True

        tasks = [asyncio.ensure_future(carry_out(index)) for index in range(len(plans))]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for plan in plans:
                plan.close()
            raise
        return outcomes

    async def blocking(self, step: Blocking) -> Any:
        """``step.function()`` on a worker thread; see the module doc for cancellation."""
        return await self.on_worker(step.function, step.cancel, step.abandon)

    async def on_worker(
        self,
        function: Callable[[], R],
        cancel: Callable[[], object] | None = None,
        abandon: Callable[[R], object] | None = None,
    ) -> R:
        """``function()`` on a worker thread; its outcome is handed back with one wake-up of
        the loop. Cancelled, see the module doc."""
        loop = asyncio.get_running_loop()
        call = _Call(loop.create_future(), abandon, handoff_for(loop))
        self._workers.submit(call.work, function)
        try:
            return await call.future  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            if call.drop():  # it had not started: nothing to undo
                raise
            if cancel is not None:
                cancel()
            call.finished = loop.create_future()
            done, _ = await asyncio.wait({call.finished}, timeout=CANCEL_GRACE)
            if not done:
                logger.warning(
                    "a cancelled call's worker thread did not return within %.1f s", CANCEL_GRACE
                )
            raise

    async def read_stream(self, step: ReadStream) -> Any:
        """Read an opened stream to its end on the loop (one reader thread, batched)."""
        stream = AsyncAssistantStream.reading(step.stream)
        async with stream:
            await stream.until_done()
        return step.stream


async def invoke(step: Invoke) -> Any:
    """A function of the user's: ``async def`` awaited here, a plain one on a thread."""
    function = step.function
    if is_async_callable(function):
        result = function(*step.args, **step.kwargs)
    else:
        result = await asyncio.to_thread(function, *step.args, **step.kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class _Call:
    """One blocking call handed to a worker thread, and how its outcome comes back."""

    __slots__ = ("_lock", "_state", "abandon", "finished", "future", "hand")

    QUEUED, RUNNING, DROPPED = 0, 1, 2

    def __init__(
        self,
        future: asyncio.Future[Any],
        abandon: Callable[[Any], object] | None,
        hand: Hand,
    ) -> None:
        self.future = future
        self.abandon = abandon
        self.hand = hand
        self.finished: asyncio.Future[None] | None = None  # awaited once the call was cancelled
        self._lock = threading.Lock()
        self._state = self.QUEUED

    def drop(self) -> bool:
        """On the loop, once cancelled: True when the call never started (and now never will)."""
        with self._lock:
            if self._state == self.QUEUED:
                self._state = self.DROPPED
                return True
            return False

    def work(self, function: Callable[[], Any]) -> None:
        """On the worker thread."""
        with self._lock:
            if self._state == self.DROPPED:
                return
            self._state = self.RUNNING
        try:
            outcome: tuple[bool, Any] = (True, function())
        except BaseException as exc:
            outcome = (False, exc)
        try:
            self.hand(self.settle, outcome)
        except RuntimeError:  # the loop is closed: nobody will take the result
            self.release(outcome)

    def settle(self, outcome: tuple[bool, Any]) -> None:
        """On the loop."""
        future = self.future
        if future.cancelled():
            self.release(outcome)
            if self.finished is not None and not self.finished.done():
                self.finished.set_result(None)
            return
        ok, value = outcome
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def release(self, outcome: tuple[bool, Any]) -> None:
        ok, value = outcome
        if ok and self.abandon is not None:
            try:
                self.abandon(value)
            except Exception as exc:  # the result is being thrown away: nothing else to do
                logger.debug("releasing an abandoned result raised %s", type(exc).__name__)
