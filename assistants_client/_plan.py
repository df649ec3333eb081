"""Plans: the logic of a call that sends, waits and polls, written once for both clients.

A *plan* is a generator. It yields *steps* (what to do next), receives what each step gave
back (or has the step's exception raised at its ``yield``), and returns the call's result.
It does no I/O of its own: who carries the steps out decides how to wait.

- :class:`AssistantsClient` carries them out in place, blocking (:func:`run_plan`).
- :class:`AsyncAssistantsClient` carries them out on an event loop: a blocking step on a
  worker thread, a sleep with ``asyncio.sleep``, a function of the user's awaited when it is
  an ``async def``.

The steps:

- :class:`Blocking` ``(function, cancel=..., abandon=...)``: a call that blocks on the network
  (one HTTP attempt). Given up on (the task awaiting it was cancelled), ``cancel()`` is called
  from the loop: it must make ``function`` return at once (firing the attempt's
  :class:`~assistants_client._deadline.Deadline` shuts its socket down); a result that arrives
  anyway is handed to ``abandon(result)`` to be released (an open stream's connection).
- :class:`Sleep` ``(seconds)``: a wait between two polls or two attempts.
- :class:`Invoke` ``(function, args, kwargs)``: a function of the user's (a tool).
- :class:`ReadStream` ``(stream)``: an opened :class:`AssistantStream` read to its end, its
  handler called on the way.
- :class:`Gather` ``(plans, limit)``: several plans carried out at once, at most ``limit`` at a
  time (the sync client: on that many threads; the async one: as that many tasks on its loop);
  gives back each one's :class:`Outcome`, in order. Once one has failed, those not yet started
  are not started. Uploading files a few at a time is one plan gathering an upload plan per
  file.

Plans compose with ``yield from``: a plan that polls yields from the transport's plan of each
request (``response = yield from transport.request_plan("GET", path)``), so every attempt and
every wait of every retry is a step of the outer plan too.

How a client method uses one. A method that does I/O checks its arguments first (raising
before any request), then ends in ``return self._run(plan)``. The sync client's ``_run`` runs
the plan; the async client's core returns it unrun (:class:`Deferred`), and the generated
``AsyncAssistantsClient`` method awaits it on the loop. So a method written this way exists in
both clients with one body, and ``make generate`` writes its async form. The rules:

- Every request goes through ``transport.request_plan`` (``self._send_plan``,
  ``self._list_plan``, ``self._stream_plan`` wrap it). A multipart upload too: its form goes
  to ``request_plan(..., form=...)``, and its file is read within each attempt's Blocking step,
  never outside a plan: in the async client a blocking call outside a plan would stall the
  loop, and its transport refuses ``request()``.
- Other blocking work (reading a file to upload) is a ``Blocking`` step of its own.
- A method that sends several requests (create, then poll) is one plan that yields from
  the plans of each, never a sequence of calls of other public methods: in the async client
  those return unrun plans.
- Waiting is a ``Sleep`` step, never ``time.sleep``.
- Work done a few at a time is a ``Gather`` step, never threads of the method's own.

``_runs.poll_plan`` is the polling loop (a deadline, the server's ``openai-poll-after-ms``,
retries that never overrun the deadline, ``PollTimeoutError`` carrying the object as last
seen) for any object with a status; ``_runs.Waiting`` says what is waited for and until when.
The client's ``create_vector_store_file_and_poll`` is the model of a create-and-poll helper:
it checks its arguments, then runs one plan that sends the create call within the wait's
deadline (``_runs.within`` and ``_runs.until_deadline``) and polls from its answer
(``poll_plan(..., first=(created, response))``).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union

import attrs

if TYPE_CHECKING:
    from assistants_client._streaming import AssistantStream

__all__ = [
    "Blocking",
    "Deferred",
    "Gather",
    "Invoke",
    "Outcome",
    "Plan",
    "ReadStream",
    "Sleep",
    "Step",
    "is_async_callable",
    "run_plan",
]

R = TypeVar("R")


@attrs.frozen
class Blocking:
    """A call that blocks on the network; see the module documentation."""

    function: Callable[[], Any]
    cancel: Callable[[], object] | None = None
    abandon: Callable[[Any], object] | None = None


@attrs.frozen
class Sleep:
    """A wait of ``seconds``."""

    seconds: float


@attrs.frozen
class Invoke:
    """A call of a function of the user's, ``function(*args, **kwargs)``."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ReadStream:
    """An opened stream, read to its end; gives the stream back."""

    stream: AssistantStream


@attrs.frozen
class Gather:
    """Several plans at once, at most ``limit`` at a time; gives back a list of
    :class:`Outcome`, one per plan, in order (see the module documentation)."""

    plans: Sequence[Generator[Any, Any, Any]]
    limit: int


@attrs.frozen
class Outcome:
    """How one plan of a :class:`Gather` ended: its ``value``, or its ``error``; a plan not
    started (another failed first) has ``started`` False."""

    value: Any = None
    error: Exception | None = None
    started: bool = True

    @property
    def ok(self) -> bool:
        return self.started and self.error is None


Step = Union[Blocking, Sleep, Invoke, ReadStream, Gather]  # noqa: UP007 - a runtime alias on 3.10
Plan = Generator[Step, Any, R]
"""A plan that returns an ``R``."""


class Deferred(Generic[R]):
    """A plan handed back unrun, for the async client to carry out on its loop."""

    __slots__ = ("plan",)

    def __init__(self, plan: Plan[R]) -> None:
        self.plan = plan

    def __repr__(self) -> str:
        return f"<Deferred {getattr(self.plan, '__qualname__', self.plan)}>"


def is_async_callable(function: object) -> bool:
    """An ``async def`` function (or a partial of one, or an object with an async __call__)."""
    if inspect.iscoroutinefunction(function):
        return True
    call = inspect.getattr_static(type(function), "__call__", None)
    return call is not None and inspect.iscoroutinefunction(call)


def run_plan(plan: Plan[R], sleep: Callable[[float], None]) -> R:
    """Carry ``plan`` out in this thread, blocking; ``sleep`` waits (the policy's)."""
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
                value = _run_step(step, sleep)
            except Exception as exc:
                error = exc
    finally:
        plan.close()


def _run_step(step: Step, sleep: Callable[[float], None]) -> Any:
    if isinstance(step, Blocking):
        return step.function()
    if isinstance(step, Sleep):
        sleep(step.seconds)
        return None
    if isinstance(step, Invoke):
        return step.function(*step.args, **step.kwargs)
    if isinstance(step, ReadStream):
        with step.stream as stream:
            stream.until_done()
        return step.stream
    if isinstance(step, Gather):
        return _gather(step, sleep)
    raise TypeError(f"not a step of a plan: {step!r}")


def _gather(step: Gather, sleep: Callable[[float], None]) -> list[Outcome]:
    """A Gather carried out on ``step.limit`` threads (at most one per plan)."""
    plans = list(step.plans)
    outcomes: list[Outcome] = [Outcome(started=False)] * len(plans)
    failed = threading.Event()

    def carry_out(index: int) -> None:
        plan = plans[index]
        if failed.is_set():
            plan.close()
            return
        try:
            outcomes[index] = Outcome(run_plan(plan, sleep))
        except Exception as exc:
            outcomes[index] = Outcome(error=exc)
            failed.set()

    if plans:
        workers = max(1, min(step.limit, len(plans)))
        with ThreadPoolExecutor(workers, thread_name_prefix="assistants-client-gather") as pool:
            list(pool.map(carry_out, range(len(plans))))
    return outcomes
