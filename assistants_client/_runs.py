"""Running an assistant to its end: polling with a deadline, streaming to the end, tool calls.

The client's ``wait_for_run``, ``create_run_and_wait``, ``run_with_tools`` and the streamed forms
of ``create_run`` / ``submit_tool_outputs`` are thin wrappers over what is here. Time goes
through the client's :class:`~assistants_client.RetryPolicy` (its ``clock`` and ``sleep``), the
seam through which tests drive polling without waiting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

import attrs

from assistants_client._config import Timeout
from assistants_client._converter import unstructure
from assistants_client._exceptions import (
    APIResponseValidationError,
    APITimeoutError,
    AssistantsError,
    InvalidArgumentError,
)
from assistants_client._model_base import Model, dumps_compact
from assistants_client._response import parse_model
from assistants_client._streaming import AssistantStream
from assistants_client._transport import CallOptions, Transport
from assistants_client.models import RequiredToolCall, RunResponse

__all__ = [
    "ToolErrorPolicy",
    "check_functions",
    "check_max_rounds",
    "check_tool_error_policy",
    "check_wait",
    "run_tool_calls",
    "run_tool_loop",
    "serialize_tool_output",
    "stream_to_end",
    "wait_for_run",
]

logger = logging.getLogger("assistants_client")

# What happens when a tool function raises: "report" sends the error to the model as the
# tool's output; "raise" stops the loop and re-raises; a callable returns the output to send.
ToolErrorPolicy = Union[  # noqa: UP007
    Literal["report", "raise"], Callable[[RequiredToolCall, BaseException], str]
]


def _is_done(run: RunResponse) -> bool:
    """Terminal, or waiting for tool outputs: either way polling has nothing more to wait for."""
    return run.is_terminal or run.status == "requires_action"


# -- polling ---------------------------------------------------------------------------------


def check_wait(transport: Transport, timeout: float, poll_interval: float) -> float:
    """The polling deadline (on the policy's clock); InvalidArgumentError for bad values."""
    for name, value in (("timeout", timeout), ("poll_interval", poll_interval)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise InvalidArgumentError(f"{name} must be a number >= 0", param=name)
    return transport.policy.clock() + float(timeout)


def wait_for_run(
    transport: Transport, path: str, run_id: str, *, timeout: float, poll_interval: float
) -> RunResponse:
    """Poll ``GET path`` until the run is terminal or ``requires_action``, within ``timeout``."""
    deadline = check_wait(transport, timeout, poll_interval)
    policy = transport.policy
    status = "unknown"
    while True:
        remaining = deadline - policy.clock()
        per_call = Timeout(connect=min(5.0, max(remaining, 0.001)), read=max(remaining, 0.001))
        options = CallOptions(timeout=per_call, max_retries=policy.poll_retries(remaining))
        try:
            response = transport.request("GET", path, options=options)
        except APITimeoutError as exc:
            if policy.clock() < deadline:
                raise
            # The poll itself ran into the overall deadline.
            raise APITimeoutError(
                f"run {run_id} is still {status} after {timeout:g}s",
                method="GET",
                url=exc.url,
                request_id=exc.request_id,
            ) from exc
        strict = transport.config.strict_responses
        run = parse_model(response, RunResponse, transport.redact, strict=strict)
        status = run.status
        if _is_done(run):
            return run
        wait = policy.poll_wait(response.headers.get("openai-poll-after-ms"), poll_interval)
        remaining = deadline - policy.clock()
        if remaining <= 0 or wait >= remaining:
            raise APITimeoutError(
                f"run {run_id} is still {run.status} after {timeout:g}s",
                method="GET",
                url=response.url,
                status_code=response.status_code,
                request_id=response.request_id,
            )
        policy.sleep(wait)


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
) -> RunResponse:
    """Start a run with ``first()``, then answer its tool calls with ``submit`` until it ends.

    ``first`` and ``submit`` return the run once it is terminal or waits for tool outputs
    (streamed to the end, or polled).
    """
    run = first()
    rounds = 0
    while run.status == "requires_action":
        rounds += 1
        if rounds > max_rounds:
            raise AssistantsError(
                f"run {run.id} still asks for tool calls after {max_rounds} rounds"
            )
        outputs = run_tool_calls(run.required_tool_calls, functions, on_tool_error)
        run = submit(run, outputs)
    return run


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
    calls: list[RequiredToolCall],
    functions: Mapping[str, Callable[..., Any]],
    on_tool_error: ToolErrorPolicy,
) -> list[dict[str, str]]:
    """Call each requested function with its JSON arguments; one output per call, in order."""
    outputs: list[dict[str, str]] = []
    for call in calls:
        name = call.function.name
        function = functions.get(name)
        if function is None:
            logger.debug("tool call %s asks for unknown function %r", call.id, name)
            output = _error_output(
                f"unknown function {name!r}; available: {', '.join(sorted(functions)) or 'none'}"
            )
            outputs.append({"tool_call_id": call.id, "output": output})
            continue
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except ValueError as exc:
            output = _error_output(f"the arguments of {name!r} are not valid JSON: {exc}")
            outputs.append({"tool_call_id": call.id, "output": output})
            continue
        try:
            result = function(**arguments) if isinstance(arguments, dict) else function(arguments)
            output = serialize_tool_output(result)
        except Exception as exc:
            if on_tool_error == "raise":
                raise
            logger.debug("tool %r raised %s", name, type(exc).__name__)
            output = (
                on_tool_error(call, exc)
                if callable(on_tool_error)
                else _error_output(f"{name} raised {type(exc).__name__}: {exc}")
            )
        outputs.append({"tool_call_id": call.id, "output": output})
    return outputs


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
