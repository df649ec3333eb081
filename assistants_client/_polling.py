"""Waiting for an object to be done, as a plan of steps that any loop can drive.

A poll plan (:func:`poll_plan`) is a generator that does no I/O and never sleeps. It yields
steps and is sent what they produced:

- ``Fetch(options)``: get the object now, with these per-call options (a read timeout and a
  number of retries that fit in what is left of the deadline); send back a :class:`Polled`
  (the object and the server's ``openai-poll-after-ms`` header), or ``throw`` the
  ``APITimeoutError`` the request raised;
- ``Sleep(seconds)``: wait that long (the server's hint when it gave a sane one, else
  ``poll_interval``); send back None.

The plan returns the object once it is done, and raises :class:`PollTimeoutError` carrying the
last object seen when the deadline comes first: before a wait that would overrun it, or when a
fetch times out at it. Every client helper that polls (``wait_for_run``, the vector store file
and file batch helpers) is one plan driven by :func:`drive`, the blocking loop; an asyncio
client drives the same plan with ``await asyncio.sleep`` and an awaited fetch::

    step = next(plan)            # (inside try/except StopIteration as done: return done.value)
    while True:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            step = plan.send(None)
        else:
            try:
                polled = await fetch(step.options)
            except APITimeoutError as exc:
                step = plan.throw(exc)
            else:
                step = plan.send(polled)

Time is read from the client's :class:`~assistants_client.RetryPolicy` (``clock``), the seam
through which tests run polling without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar, Union

import attrs

from assistants_client._config import Timeout
from assistants_client._exceptions import APITimeoutError, InvalidArgumentError, PollTimeoutError
from assistants_client._retry import RetryPolicy
from assistants_client._transport import CallOptions, TransportResponse

__all__ = [
    "Fetch",
    "PollPlan",
    "Polled",
    "Sleep",
    "check_wait",
    "drive",
    "poll_plan",
    "polled",
]

T = TypeVar("T")

POLL_AFTER_HEADER = "openai-poll-after-ms"
MAX_CONNECT = 5.0


@attrs.frozen
class Fetch:
    """Get the object now with these options; send back a :class:`Polled`."""

    options: CallOptions


@attrs.frozen
class Sleep:
    """Wait ``seconds``; send back None."""

    seconds: float


@attrs.frozen
class Polled(Generic[T]):
    """An object as a poll (or its creation) answered it, with what the answer said."""

    value: T
    poll_after_ms: str | None = None
    url: str | None = None
    request_id: str | None = None


PollStep = Union[Fetch, Sleep]  # noqa: UP007 - an alias, read at run time
PollPlan = Generator[PollStep, Any, T]


def polled(value: T, response: TransportResponse) -> Polled[T]:
    """``value`` as read from ``response`` (its poll-after hint, its URL and request id)."""
    return Polled(
        value,
        response.headers.get(POLL_AFTER_HEADER),
        url=response.url,
        request_id=response.request_id,
    )


def check_wait(policy: RetryPolicy, timeout: float, poll_interval: float) -> float:
    """The polling deadline (on the policy's clock); InvalidArgumentError for bad values."""
    for name, value in (("timeout", timeout), ("poll_interval", poll_interval)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise InvalidArgumentError(f"{name} must be a number >= 0", param=name)
    return policy.clock() + float(timeout)


def poll_plan(
    first: Polled[T] | None,
    *,
    done: Callable[[T], bool],
    describe: Callable[[T | None], str],
    deadline: float,
    poll_interval: float,
    policy: RetryPolicy,
) -> PollPlan[T]:
    """Poll until ``done(object)``, starting from ``first`` (what creating it answered) or,
    without it, with a fetch; ``describe(last)`` says what was still not done at the deadline.
    """
    last = first
    if last is not None and done(last.value):
        return last.value
    while True:
        if last is not None:
            wait = policy.poll_wait(last.poll_after_ms, poll_interval)
            remaining = deadline - policy.clock()
            if remaining <= 0 or wait >= remaining:
                raise _timed_out(describe, last)
            yield Sleep(wait)
        remaining = deadline - policy.clock()
        if remaining <= 0:
            raise _timed_out(describe, last)
        options = CallOptions(
            timeout=Timeout(connect=min(MAX_CONNECT, remaining), read=remaining),
            max_retries=policy.poll_retries(remaining),
        )
        try:
            answer: Polled[T] = yield Fetch(options)
        except APITimeoutError as exc:
            if policy.clock() < deadline:
                raise
            # The poll itself ran into the deadline.
            raise _timed_out(describe, last, exc) from exc
        last = answer
        if done(answer.value):
            return answer.value


def _timed_out(
    describe: Callable[[Any], str], last: Polled[Any] | None, cause: APITimeoutError | None = None
) -> PollTimeoutError:
    return PollTimeoutError(
        describe(last.value if last is not None else None),
        last=last.value if last is not None else None,
        method="GET",
        url=cause.url if cause is not None else (last.url if last is not None else None),
        request_id=(cause.request_id if cause is not None else (last.request_id if last else None)),
    )


def drive(
    plan: PollPlan[T], fetch: Callable[[CallOptions], Polled[T]], sleep: Callable[[float], None]
) -> T:
    """Run a poll plan with blocking calls: ``fetch(options)`` and ``sleep(seconds)``."""
    try:
        step = next(plan)
        while True:
            if isinstance(step, Sleep):
                sleep(step.seconds)
                step = plan.send(None)
                continue
            try:
                answer = fetch(step.options)
            except APITimeoutError as exc:
                step = plan.throw(exc)
            else:
                step = plan.send(answer)
    except StopIteration as finished:
        result: T = finished.value
        return result
