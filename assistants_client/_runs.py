"""Running an assistant to its end: polling with a deadline, streaming to the end, tool calls.

The client's ``wait_for_run``, ``create_run_and_wait``, ``run_with_tools`` and the streamed forms
of ``create_run`` / ``submit_tool_outputs`` are thin wrappers over the plans here (see
``_plan``), which both clients carry out: the sync one blocking, the async one on its loop.
:func:`poll_plan` polls any object with a status. Time goes through the client's
:class:`~assistants_client.RetryPolicy` (its ``clock``, and ``sleep`` in the sync client), the
seam through which tests drive polling without waiting.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, TypeVar, Union

import attrs

from assistants_client._config import Timeout
from assistants_client._converter import unstructure
from assistants_client._exceptions import (
    APIResponseValidationError,
    APITimeoutError,
    AssistantsError,
    InvalidArgumentError,
    PollTimeoutError,
)
from assistants_client._model_base import Model, dumps_compact
from assistants_client._plan import Invoke, Plan, ReadStream, Sleep, is_async_callable
from assistants_client._response import parse_model
from assistants_client._streaming import AssistantStream
from assistants_client._transport import CallOptions, Transport, TransportResponse
from assistants_client.models import RequiredToolCall, RunResponse, ThreadMessage

__all__ = [
    "ToolCallError",
    "ToolErrorPolicy",
    "check_functions",
    "check_max_rounds",
    "check_tool_error_policy",
    "check_wait",
    "Waiting",
    "model_parser",
    "poll_plan",
    "serialize_tool_output",
    "stream_to_end_plan",
    "tool_loop_plan",
    "tool_outputs_plan",
    "until_deadline",
    "wait_for_run_plan",
    "within",
]

logger = logging.getLogger("assistants_client")

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=Model)

# What happens when a tool call fails: "report" sends the error to the model as the call's
# output (and logs it at WARNING); "raise" cancels the run and raises ToolCallError; a callable
# returns the output to send for an exception raised inside a function (the model's own
# mistakes, an unknown function or arguments that do not fit, are reported as with "report").
ToolErrorPolicy = Union[  # noqa: UP007
    Literal["report", "raise"], Callable[[RequiredToolCall, BaseException], str]
]

UNKNOWN_FUNCTION = "unknown_function"
INVALID_ARGUMENTS = "invalid_arguments"
FUNCTION_RAISED = "function_raised"


class ToolCallError(AssistantsError):
    """A tool call failed under ``on_tool_error="raise"``; the run was cancelled first.

    ``reason`` says how: ``"unknown_function"`` (no function of that name was given),
    ``"invalid_arguments"`` (not JSON, or the function cannot be called with them) or
    ``"function_raised"``. The exception behind it, if any, is ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        tool_call_id: str,
        function_name: str,
        reason: str,
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.tool_call_id = tool_call_id
        self.function_name = function_name
        self.reason = reason


def _is_done(run: RunResponse) -> bool:
    """Terminal, or waiting for tool outputs: either way polling has nothing more to wait for."""
    return run.is_terminal or run.status == "requires_action"


# -- polling ---------------------------------------------------------------------------------

MAX_POLL_CONNECT = 5.0


def check_wait(transport: Transport, timeout: float, poll_interval: float) -> float:
    """The polling deadline (on the policy's clock); InvalidArgumentError for bad values."""
    for name, value in (("timeout", timeout), ("poll_interval", poll_interval)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise InvalidArgumentError(f"{name} must be a number >= 0", param=name)
    return transport.policy.clock() + float(timeout)


def model_parser(transport: Transport, cls: type[M]) -> Callable[[TransportResponse], M]:
    """Reads an answer as ``cls``, as the client reads its answers (redacted, tolerant)."""
    strict = transport.config.strict_responses
    return lambda response: parse_model(response, cls, transport.redact, strict=strict)


@attrs.frozen
class Waiting(Generic[T]):
    """What a wait is about, for its deadline and its error: ``what`` (``"run run_1"``), how
    to tell its status (``status_of``; a batch's adds its counts), the ``timeout`` it was
    given and the ``deadline`` that follows from it (on the policy's clock: counted from the
    call, so a create-and-poll helper's create call counts too)."""

    what: str
    status_of: Callable[[T], str]
    timeout: float
    deadline: float

    def expired(
        self,
        last: T | None,
        *,
        url: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> PollTimeoutError:
        status = self.status_of(last) if last is not None else "not yet seen"
        return PollTimeoutError(
            f"{self.what} is still {status} after {self.timeout:g}s",
            last=last,
            method="GET",
            url=url,
            status_code=status_code,
            request_id=request_id,
        )


def within(transport: Transport, waiting: Waiting[Any]) -> CallOptions:
    """Per-call options for a call that must end by the wait's deadline: a read timeout and
    retries that fit in what is left (a call made at the deadline gets a millisecond, and
    :func:`until_deadline` turns its timeout into the wait's)."""
    policy = transport.policy
    remaining = max(waiting.deadline - policy.clock(), 0.001)
    return CallOptions(
        timeout=Timeout(connect=min(MAX_POLL_CONNECT, remaining), read=remaining),
        max_retries=policy.poll_retries(remaining),
    )


def until_deadline(
    transport: Transport, waiting: Waiting[Any], plan: Plan[R], last: Any = None
) -> Plan[R]:
    """``plan`` (a call made with :func:`within`'s options), its APITimeoutError at the
    wait's deadline raised as the wait's PollTimeoutError (carrying ``last``)."""
    try:
        return (yield from plan)
    except APITimeoutError as exc:
        if isinstance(exc, PollTimeoutError) or transport.policy.clock() < waiting.deadline:
            raise
        raise waiting.expired(last, url=exc.url, request_id=exc.request_id) from exc


def poll_plan(
    transport: Transport,
    path: str,
    *,
    parse: Callable[[TransportResponse], T],
    is_done: Callable[[T], bool],
    waiting: Waiting[T],
    poll_interval: float,
    first: tuple[T, TransportResponse] | None = None,
) -> Plan[T]:
    """Poll ``GET path`` until ``is_done(parse(answer))``, by ``waiting.deadline``.

    ``first`` is the object as its creation answered it (a create-and-poll helper): done
    already, it is returned without a poll; else the first poll waits as the creation's answer
    asks. Waits ``poll_interval`` seconds between polls, or what the server asks for in
    ``openai-poll-after-ms``. A poll is retried like any call, except near the deadline (see
    ``RetryPolicy.poll_retries``), and never outlasts it. When time runs out first,
    :class:`PollTimeoutError` (an APITimeoutError) says ``"{what} is still {status} after
    {timeout}s"`` and carries the object as last seen (``last``). A plan (see ``_plan``):
    the sync client blocks between polls, the async one awaits ``asyncio.sleep``.
    """
    policy = transport.policy
    last: T | None = None
    response: TransportResponse | None = None
    if first is not None:
        last, response = first
        if is_done(last):
            return last
    while True:
        if response is not None:
            wait = policy.poll_wait(response.headers.get("openai-poll-after-ms"), poll_interval)
            remaining = waiting.deadline - policy.clock()
            if remaining <= 0 or wait >= remaining:
                raise waiting.expired(
                    last,
                    url=response.url,
                    status_code=response.status_code,
                    request_id=response.request_id,
                )
            yield Sleep(wait)
        options = within(transport, waiting)
        response = yield from until_deadline(
            transport, waiting, transport.request_plan("GET", path, options=options), last
        )
        last = parse(response)
        if is_done(last):
            return last


def wait_for_run_plan(
    transport: Transport, path: str, run_id: str, *, timeout: float, poll_interval: float
) -> Plan[RunResponse]:
    """Poll ``GET path`` until the run is terminal or ``requires_action``, within ``timeout``."""
    waiting = Waiting(
        f"run {run_id}", _status_of, timeout, check_wait(transport, timeout, poll_interval)
    )
    return poll_plan(
        transport,
        path,
        parse=model_parser(transport, RunResponse),
        is_done=_is_done,
        waiting=waiting,
        poll_interval=poll_interval,
    )


def _status_of(run: RunResponse) -> str:
    return run.status


# -- streaming -------------------------------------------------------------------------------


def stream_to_end_plan(
    opening: Plan[AssistantStream], written: list[ThreadMessage] | None = None
) -> Plan[RunResponse]:
    """Open a run's stream, read it to ``done`` and return the run as of its last event; the
    messages the stream delivered are added to ``written``."""
    stream = yield from opening
    yield ReadStream(stream)
    if written is not None:
        written.extend(stream.final_messages)
    run = stream.snapshot.run
    if run is None:
        raise APIResponseValidationError(
            "the event stream ended without any run event",
            method="POST",
            request_id=stream.request_id,
            status_code=stream.status_code,
            partial=stream.snapshot,
        )
    return run


# -- tool calls ------------------------------------------------------------------------------


def tool_loop_plan(
    first: Plan[RunResponse],
    submit: Callable[[RunResponse, list[dict[str, str]]], Plan[RunResponse]],
    functions: Mapping[str, Callable[..., Any]],
    on_tool_error: ToolErrorPolicy,
    max_rounds: int,
    cancel: Callable[[RunResponse], Plan[RunResponse]],
) -> Plan[RunResponse]:
    """Start a run with ``first``, then answer its tool calls with ``submit`` until it ends.

    ``first`` and ``submit`` return the run once it is terminal or waits for tool outputs
    (streamed to the end, or polled). When the loop stops with an error while the run waits
    for outputs, ``cancel`` runs first: a run left in ``requires_action`` would keep its
    thread locked until it expires.
    """
    run = yield from first
    rounds = 0
    while run.status == "requires_action":
        rounds += 1
        try:
            if rounds > max_rounds:
                raise AssistantsError(
                    f"run {run.id} still asks for tool calls after {max_rounds} rounds"
                )
            outputs = yield from tool_outputs_plan(run, functions, on_tool_error)
        except Exception:
            yield from _cancel_quietly(cancel, run)
            raise
        run = yield from submit(run, outputs)
    return run


def _cancel_quietly(
    cancel: Callable[[RunResponse], Plan[RunResponse]], run: RunResponse
) -> Plan[None]:
    """Cancel a run the loop gives up on; a failure to cancel must not hide why it gave up."""
    try:
        yield from cancel(run)
    except Exception as exc:
        logger.warning("run_with_tools: could not cancel run %s: %s", run.id, exc)


def check_max_rounds(max_rounds: Any) -> int:
    if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or max_rounds < 1:
        raise InvalidArgumentError("max_rounds must be a positive integer", param="max_rounds")
    return max_rounds


def serialize_tool_output(result: Any) -> str:
    """A tool function's return value as the output string sent to the model."""
    if isinstance(result, str):
        return result
    if isinstance(result, Model):
        return result.to_json()
    if attrs.has(type(result)):
        return dumps_compact(unstructure(result))
    return json.dumps(result, default=str, ensure_ascii=False, separators=(",", ":"))


def _error_output(message: str) -> str:
    return dumps_compact({"error": message})


def tool_outputs_plan(
    run: RunResponse,
    functions: Mapping[str, Callable[..., Any]],
    on_tool_error: ToolErrorPolicy,
) -> Plan[list[dict[str, str]]]:
    """Call each function the run asks for with its JSON arguments; one output per call, in
    order. A failed call is reported, raised or handed to the policy (see ToolErrorPolicy).
    Each call is an Invoke step: the async client awaits an ``async def`` on its loop."""
    outputs: list[dict[str, str]] = []
    for call in run.required_tool_calls:
        name = call.function.name
        reason, message, error = yield from _call_function(call, functions.get(name))
        if reason is None:
            output = message
        elif on_tool_error == "raise":
            raise ToolCallError(
                f"run {run.id}, tool call {call.id}: {message}",
                run_id=run.id,
                tool_call_id=call.id,
                function_name=name,
                reason=reason,
            ) from error
        elif callable(on_tool_error) and reason == FUNCTION_RAISED and error is not None:
            logger.debug(
                "run %s, tool call %s: %s; output from on_tool_error", run.id, call.id, message
            )
            output = on_tool_error(call, error)
        else:
            # The model reads the error and may try again; the log says what happened, since a
            # wrong signature or a missing function is more often a bug than the model's doing.
            logger.warning(
                "run_with_tools: run %s, tool call %s, function %r (%s): %s; sent to the model "
                "as an error output",
                run.id,
                call.id,
                name,
                reason,
                message,
                exc_info=error if reason == FUNCTION_RAISED else None,
                extra={
                    "run_id": run.id,
                    "tool_call_id": call.id,
                    "function_name": name,
                    "reason": reason,
                },
            )
            output = _error_output(message)
        outputs.append({"tool_call_id": call.id, "output": output})
    return outputs


def _call_function(
    call: RequiredToolCall, function: Callable[..., Any] | None
) -> Plan[tuple[str | None, str, BaseException | None]]:
    """(None, output, None) for a call that succeeded; else (reason, message, exception).

    The message names only what the model already knows (the function it asked for, and its
    parameters): never the other functions of the caller.
    """
    name = call.function.name
    if function is None:
        return UNKNOWN_FUNCTION, f"unknown function {name!r}", None
    try:
        arguments = json.loads(call.function.arguments or "{}")
    except ValueError as exc:
        return INVALID_ARGUMENTS, f"the arguments of {name!r} are not valid JSON: {exc}", exc
    args, kwargs = ((), arguments) if isinstance(arguments, dict) else ((arguments,), {})
    mismatch = _binding_error(function, args, kwargs)
    if mismatch is not None:
        return INVALID_ARGUMENTS, f"the arguments do not fit {name!r}: {mismatch}", mismatch
    try:
        result = yield Invoke(function, args, kwargs)
        return None, serialize_tool_output(result), None
    except Exception as exc:
        return FUNCTION_RAISED, f"{name} raised {type(exc).__name__}: {exc}", exc


def _binding_error(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> TypeError | None:
    """Why ``function`` cannot be called with these arguments (checked before calling it, so
    that a TypeError raised inside the function is not taken for the model's mistake)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature to check (some builtins): the call will tell
        return None
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        return exc
    return None


def check_functions(
    functions: Any, *, allow_async: bool = False
) -> Mapping[str, Callable[..., Any]]:
    """The tool functions, checked; ``async def`` ones only where they can be awaited."""
    if not isinstance(functions, Mapping) or not all(
        isinstance(k, str) and callable(v) for k, v in functions.items()
    ):
        raise InvalidArgumentError(
            "functions must map function names to callables", param="functions"
        )
    if not allow_async:
        for name, function in functions.items():
            if is_async_callable(function):
                raise InvalidArgumentError(
                    f"functions[{name!r}] is an async function, which AssistantsClient cannot "
                    "await: use AsyncAssistantsClient, or a plain function",
                    param="functions",
                )
    return functions


def check_tool_error_policy(policy: Any) -> ToolErrorPolicy:
    if policy in ("report", "raise") or callable(policy):
        return policy  # type: ignore[no-any-return]
    raise InvalidArgumentError(
        "on_tool_error must be 'report', 'raise' or a callable", param="on_tool_error"
    )
