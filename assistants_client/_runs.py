"""Running an assistant: event callbacks, the tool-call loop and polling with a deadline.

The client's ``create_run(..., on_event=...)``, ``run_with_tools`` and ``wait_for_run`` are thin
wrappers over what is here.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

import attrs

from assistants_client._exceptions import InvalidArgumentError
from assistants_client._model_base import Model, dumps_compact
from assistants_client._streaming import AssistantEventHandler
from assistants_client.models import AssistantStreamEvent, RequiredToolCall

__all__ = [
    "EventCallback",
    "ToolErrorPolicy",
    "callback_handler",
    "run_tool_calls",
    "serialize_tool_output",
]

logger = logging.getLogger("assistants_client")

# ``callback(event)`` or ``callback(event_name, event)``.
EventCallback = Union[  # noqa: UP007
    Callable[[AssistantStreamEvent], object], Callable[[str, AssistantStreamEvent], object]
]
# What happens when a tool function raises: "report" sends the error to the model as the
# tool's output; "raise" stops the loop and re-raises; a callable returns the output to send.
ToolErrorPolicy = Union[  # noqa: UP007
    Literal["report", "raise"], Callable[[RequiredToolCall, BaseException], str]
]


def _takes_name_and_event(callback: Callable[..., object]) -> tuple[bool, bool]:
    """(two positional arguments?, keywords event_name and event?) for a callback."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # some builtins have no signature: pass the event only
        return False, False
    params = list(signature.parameters.values())
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params) or len(positional) >= 2:
        return True, False
    names = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    if {"event_name", "event"} <= names:
        return False, True
    if len(positional) == 1:
        return False, False
    raise InvalidArgumentError(
        "on_event must take (event) or (event_name, event)", param="on_event"
    )


class _CallbackHandler(AssistantEventHandler):
    def __init__(self, callback: Callable[..., object]) -> None:
        self._callback = callback
        self._two, self._keywords = _takes_name_and_event(callback)

    def on_event(self, event: AssistantStreamEvent) -> None:
        name = event.event
        if self._keywords:
            self._callback(event_name=name, event=event)
        elif self._two:
            self._callback(name, event)
        else:
            self._callback(event)


def callback_handler(
    on_event: EventCallback | AssistantEventHandler | None,
) -> AssistantEventHandler | None:
    """A handler for an ``on_event`` argument: a handler is used as is, a callable is wrapped."""
    if on_event is None or isinstance(on_event, AssistantEventHandler):
        return on_event
    if not callable(on_event):
        raise InvalidArgumentError(
            "on_event must be a callable or an AssistantEventHandler", param="on_event"
        )
    return _CallbackHandler(on_event)


def serialize_tool_output(result: Any) -> str:
    """A tool function's return value as the output string sent to the model."""
    if isinstance(result, str):
        return result
    if isinstance(result, Model):
        return result.to_json()
    if attrs.has(type(result)):
        from assistants_client._converter import converter

        return dumps_compact(converter.unstructure(result))
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
