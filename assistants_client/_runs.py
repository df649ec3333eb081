"""Running an assistant to its end: polling with a deadline, streaming to the end, tool calls.

The client's ``wait_for_run``, ``create_run_and_wait``, ``run_with_tools`` and the streamed forms
of ``create_run`` / ``submit_tool_outputs`` are thin wrappers over what is here. Time goes
through the client's :class:`~assistants_client.RetryPolicy` (its ``clock`` and ``sleep``), the
seam through which tests drive polling without waiting.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, Union

import attrs

from assistants_client import _polling as polling
from assistants_client._converter import unstructure
from assistants_client._exceptions import (
    APIResponseValidationError,
    AssistantsError,
    InvalidArgumentError,
)
from assistants_client._model_base import Model, dumps_compact
from assistants_client._polling import Polled
from assistants_client._response import parse_model
from assistants_client._streaming import AssistantStream
from assistants_client._transport import CallOptions, Transport
from assistants_client.models import RequiredToolCall, RunResponse

__all__ = [
    "ToolCallError",
    "ToolErrorPolicy",
    "check_functions",
    "check_max_rounds",
    "check_tool_error_policy",
    "check_wait",
    "fetcher",
    "poll",
    "run_tool_calls",
    "run_tool_loop",
    "serialize_tool_output",
    "stream_to_end",
    "wait_for_run",
]

logger = logging.getLogger("assistants_client")

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


def check_wait(transport: Transport, timeout: float, poll_interval: float) -> float:
    """The polling deadline (on the policy's clock); InvalidArgumentError for bad values."""
    return polling.check_wait(transport.policy, timeout, poll_interval)


def fetcher(transport: Transport, path: str, cls: type[M]) -> Callable[[CallOptions], Polled[M]]:
    """A poll's fetch: ``GET path`` read as ``cls``, with what the answer said."""

    def fetch(options: CallOptions) -> Polled[M]:
        response = transport.request("GET", path, options=options)
        strict = transport.config.strict_responses
        return polling.polled(parse_model(response, cls, transport.redact, strict=strict), response)

    return fetch


def poll(
    transport: Transport,
    first: Polled[M] | None,
    path: str,
    cls: type[M],
    *,
    done: Callable[[M], bool],
    describe: Callable[[M | None], str],
    deadline: float,
    poll_interval: float,
) -> M:
    """Poll ``GET path`` (read as ``cls``) from ``first`` until ``done``: a poll plan, driven by
    the client's blocking calls and its policy's sleep."""
    plan = polling.poll_plan(
        first,
        done=done,
        describe=describe,
        deadline=deadline,
        poll_interval=poll_interval,
        policy=transport.policy,
    )
    return polling.drive(plan, fetcher(transport, path, cls), transport.policy.sleep)


def wait_for_run(
    transport: Transport, path: str, run_id: str, *, timeout: float, poll_interval: float
) -> RunResponse:
    """Poll ``GET path`` until the run is terminal or ``requires_action``, within ``timeout``.

    At the deadline, PollTimeoutError (an APITimeoutError) carries the run as last seen.
    """
    deadline = check_wait(transport, timeout, poll_interval)

    def describe(run: RunResponse | None) -> str:
        status = run.status if run is not None else "unknown"
        return f"run {run_id} is still {status} after {timeout:g}s"

    return poll(
        transport,
        None,
        path,
        RunResponse,
        done=_is_done,
        describe=describe,
        deadline=deadline,
        poll_interval=poll_interval,
    )


# -- streaming -------------------------------------------------------------------------------


def stream_to_end(stream: AssistantStream) -> RunResponse:
    """Read a run's stream to ``done`` and return the run as of its last event."""
    with stream:
        stream.until_done()
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


def run_tool_loop(
    first: Callable[[], RunResponse],
    submit: Callable[[RunResponse, list[dict[str, str]]], RunResponse],
    functions: Mapping[str, Callable[..., Any]],
    on_tool_error: ToolErrorPolicy,
    max_rounds: int,
    cancel: Callable[[RunResponse], object],
) -> RunResponse:
    """Start a run with ``first()``, then answer its tool calls with ``submit`` until it ends.

    ``first`` and ``submit`` return the run once it is terminal or waits for tool outputs
    (streamed to the end, or polled). When the loop stops with an error while the run waits
    for outputs, ``cancel`` is called first: a run left in ``requires_action`` would keep its
    thread locked until it expires.
    """
    run = first()
    rounds = 0
    while run.status == "requires_action":
        rounds += 1
        try:
            if rounds > max_rounds:
                raise AssistantsError(
                    f"run {run.id} still asks for tool calls after {max_rounds} rounds"
                )
            outputs = run_tool_calls(run, functions, on_tool_error)
        except Exception:
            _cancel_quietly(cancel, run)
            raise
        run = submit(run, outputs)
    return run


def _cancel_quietly(cancel: Callable[[RunResponse], object], run: RunResponse) -> None:
    """Cancel a run the loop gives up on; a failure to cancel must not hide why it gave up."""
    try:
        cancel(run)
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


def run_tool_calls(
    run: RunResponse,
    functions: Mapping[str, Callable[..., Any]],
    on_tool_error: ToolErrorPolicy,
) -> list[dict[str, str]]:
    """Call each function the run asks for with its JSON arguments; one output per call, in
    order. A failed call is reported, raised or handed to the policy (see ToolErrorPolicy)."""
    outputs: list[dict[str, str]] = []
    for call in run.required_tool_calls:
        name = call.function.name
        reason, message, error = _call_function(call, functions.get(name))
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
) -> tuple[str | None, str, BaseException | None]:
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
        return None, serialize_tool_output(function(*args, **kwargs)), None
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


def check_functions(functions: Any) -> Mapping[str, Callable[..., Any]]:
    if not isinstance(functions, Mapping) or not all(
        isinstance(k, str) and callable(v) for k, v in functions.items()
    ):
        raise InvalidArgumentError(
            "functions must map function names to callables", param="functions"
        )
    return functions


def check_tool_error_policy(policy: Any) -> ToolErrorPolicy:
    if policy in ("report", "raise") or callable(policy):
        return policy  # type: ignore[no-any-return]
    raise InvalidArgumentError(
        "on_tool_error must be 'report', 'raise' or a callable", param="on_tool_error"
    )
