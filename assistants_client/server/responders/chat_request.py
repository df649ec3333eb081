"""A turn of a run as a Chat Completions request: what the backend is sent, and what it cannot take.

:class:`ChatRequest` turns a :class:`~assistants_client.server.responders.Turn` into the body of
one ``POST {base_url}/chat/completions``:

* ``stream: true`` and ``stream_options: {"include_usage": true}``, always;
* a system message made of the run's ``instructions`` and ``additional_instructions`` (joined
  by a blank line; none when both are empty), the thread's messages in order (text parts, and
  ``image_url`` parts as Chat image parts; an assistant's text without its citation markers,
  which name results of earlier runs), then each earlier tool round of the run as an
  assistant message with ``tool_calls`` followed by one ``tool`` message per call;
* function tools as ``tools``, and a ``file_search`` tool as the function the server runs
  for it (``file_search.FUNCTION``; a ``tool_choice`` naming the tool names the function); ``tool_choice`` and ``parallel_tool_calls`` only with tools
  (backends refuse them otherwise); ``response_format`` when it is ``json_object`` or
  ``json_schema``; ``temperature`` and ``top_p`` when set; the run's ``max_completion_tokens``
  under the field named by ``completion_tokens_field``.

Truncation: ``last_messages`` sends the last N thread messages; ``auto`` with
``max_prompt_tokens`` drops the oldest thread messages until the estimated prompt fits. The
estimate is deliberately simple: a message costs 4 tokens plus one token per 4 characters of
its text (tool call names and arguments and tool outputs included), plus 765 tokens per image;
the tool definitions cost one token per 4 characters of their JSON. The system message, the
run's own tool rounds and the last user message are never dropped.

:func:`check_turn` refuses (with :class:`~assistants_client.server.responders.UnsupportedInput`
naming the item) what a Chat Completions backend cannot take: tools other than functions and
``file_search``, a ``tool_choice`` naming one, ``image_file`` content, images in assistant messages and content of
unknown types.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from assistants_client.server.file_search import FILE_SEARCH, FUNCTION, MARKER
from assistants_client.server.responders import Turn, UnsupportedInput

__all__ = [
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "ChatRequest",
    "CompletionTokensField",
    "check_turn",
]

IMAGE_TOKENS: Final = 765
MESSAGE_OVERHEAD_TOKENS: Final = 4

CompletionTokensField = Literal["max_completion_tokens", "max_tokens"]


def check_turn(turn: Turn) -> None:
    """Raise UnsupportedInput for what a Chat Completions backend cannot take (see above)."""
    for index, tool in enumerate(turn.tools):
        kind = tool.get("type")
        if kind not in ("function", FILE_SEARCH):
            raise UnsupportedInput(
                f"tools of type {kind!r} cannot be used with a Chat Completions backend; "
                "only function and file_search tools can",
                param=f"tools[{index}]",
            )
    choice = turn.tool_choice
    if isinstance(choice, Mapping) and choice.get("type") not in ("function", FILE_SEARCH):
        raise UnsupportedInput(
            f"tool_choice of type {choice.get('type')!r} cannot be used with a Chat "
            "Completions backend",
            param="tool_choice",
        )
    for index, message in enumerate(turn.messages):
        _check_message(index, message)


@attrs.frozen(kw_only=True)
class ChatRequest:
    """How turns become request bodies for one backend.

    ``model_map`` renames a run's model; ``tokens_field`` carries ``max_completion_tokens``;
    ``extra_body`` fields are added to every body, never replacing one set here.
    """

    model_map: Mapping[str, str] = attrs.field(factory=dict)
    tokens_field: CompletionTokensField = "max_completion_tokens"
    extra_body: Mapping[str, Any] = attrs.field(factory=dict)

    def body(self, turn: Turn) -> dict[str, Any]:
        """The JSON body sent to the backend for ``turn`` (raises UnsupportedInput)."""
        check_turn(turn)
        system = "\n\n".join(
            text for text in (turn.instructions, turn.additional_instructions) if text
        )
        head = [{"role": "system", "content": system}] if system else []
        thread = [_chat_message(message) for message in turn.messages]
        rounds = _tool_round_messages(turn)
        tools = _function_tools(turn)
        fixed = sum(_estimate_tokens(m) for m in head + rounds)
        if tools:
            fixed += math.ceil(len(json.dumps(tools)) / 4)
        kept = [thread[i] for i in _kept_indexes(thread, turn, fixed)]
        body: dict[str, Any] = {
            "model": self.model_map.get(turn.model, turn.model),
            "messages": head + kept + rounds,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = tools
            if turn.tool_choice is not None:
                body["tool_choice"] = _tool_choice(turn)
            if turn.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = turn.parallel_tool_calls
        response_format = _response_format(turn.response_format)
        if response_format is not None:
            body["response_format"] = response_format
        if turn.temperature is not None:
            body["temperature"] = turn.temperature
        if turn.top_p is not None:
            body["top_p"] = turn.top_p
        if turn.max_completion_tokens is not None:
            body[self.tokens_field] = turn.max_completion_tokens
        plain: dict[str, Any] = _plain({**self.extra_body, **body})
        return plain

    def payload(self, turn: Turn) -> bytes:
        """:meth:`body` as the bytes sent (raises UnsupportedInput, or ValueError/TypeError
        for a run that cannot be JSON: a NaN, say)."""
        return json.dumps(self.body(turn), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _text_of(part: Mapping[str, Any]) -> str:
    text = part.get("text")
    if isinstance(text, Mapping):
        value = text.get("value")
        return value if isinstance(value, str) else ""
    return text if isinstance(text, str) else ""


def _check_message(index: int, message: Mapping[str, Any]) -> None:
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise UnsupportedInput(
            f"messages of role {role!r} cannot be sent to a Chat Completions backend",
            param=f"messages[{index}].role",
        )
    content = message.get("content")
    if content is None or isinstance(content, str):
        return
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        where = f"messages[{index}].content[{number}]"
        if kind == "text":
            continue
        if kind == "image_url" and role == "user":
            continue
        if kind == "image_url":
            raise UnsupportedInput(
                "a Chat Completions backend takes images only in user messages", param=where
            )
        if kind == "image_file":
            raise UnsupportedInput(
                "image_file content (an uploaded file) cannot be sent to a Chat Completions "
                "backend; use an image_url part",
                param=where,
            )
        raise UnsupportedInput(
            f"content of type {kind!r} cannot be sent to a Chat Completions backend", param=where
        )


def _chat_message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message["role"]
    content = message.get("content")
    if content is None or isinstance(content, str):
        return {"role": role, "content": content or ""}
    if not any(part.get("type") == "image_url" for part in content):
        # Plain text as a string: every backend takes it, some take nothing else.
        text = "\n".join(_text_of(part) for part in content)
        if role == "assistant":
            # The citation markers of an earlier answer name results of an earlier run: a
            # model that copied one would cite this run's result of the same number.
            text = MARKER.sub("", text)
        return {"role": role, "content": text}
    parts: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            parts.append({"type": "text", "text": _text_of(part)})
        else:
            source = part.get("image_url") or {}
            image = {"url": source.get("url")}
            if source.get("detail") is not None:
                image["detail"] = source["detail"]
            parts.append({"type": "image_url", "image_url": image})
    return {"role": role, "content": parts}


def _tool_round_messages(turn: Turn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for round_ in turn.tool_rounds:
        calls = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
            for call in round_.calls
        ]
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        for call in round_.calls:
            output = round_.outputs.get(call["id"], "")
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
    return messages


def _estimate_tokens(message: Mapping[str, Any]) -> int:
    """The prompt-size estimate used by ``auto`` truncation (see the module docstring)."""
    chars = 0
    images = 0
    content = message.get("content")
    if isinstance(content, str):
        chars += len(content)
    elif isinstance(content, list):
        for part in content:
            if part.get("type") == "image_url":
                images += 1
            else:
                chars += len(part.get("text") or "")
    for call in message.get("tool_calls") or ():
        chars += len(call["function"]["name"]) + len(call["function"]["arguments"])
    return MESSAGE_OVERHEAD_TOKENS + math.ceil(chars / 4) + IMAGE_TOKENS * images


def _kept_indexes(
    messages: Sequence[Mapping[str, Any]], turn: Turn, fixed_tokens: int
) -> list[int]:
    everything = list(range(len(messages)))
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    strategy = turn.truncation_strategy or {"type": "auto"}
    if strategy.get("type") == "last_messages":
        count = strategy.get("last_messages")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return everything
        first = len(messages) - count
        return [i for i in everything if i >= first or i == last_user]
    if strategy.get("type") != "auto" or turn.max_prompt_tokens is None:
        return everything
    costs = [_estimate_tokens(m) for m in messages]
    total = fixed_tokens + sum(costs)
    kept = []
    for index in everything:
        if total > turn.max_prompt_tokens and index != last_user:
            total -= costs[index]
            continue
        kept.append(index)
    return kept


def _plain(value: Any) -> Any:
    """``value`` with every Mapping made a dict and every other sequence a list (for JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _tool_choice(turn: Turn) -> str | Mapping[str, Any]:
    """The run's ``tool_choice``; one naming ``file_search`` names its function until the run
    has searched, and is ``auto`` after (else the model could only search again)."""
    choice = turn.tool_choice
    assert choice is not None
    if isinstance(choice, Mapping) and choice.get("type") == FILE_SEARCH:
        searched = any(
            call["name"] == FILE_SEARCH for round_ in turn.tool_rounds for call in round_.calls
        )
        return "auto" if searched else {"type": "function", "function": {"name": FILE_SEARCH}}
    return choice


def _function_tools(turn: Turn) -> list[dict[str, Any]]:
    tools = []
    for tool in turn.tools:
        if tool.get("type") == FILE_SEARCH:
            if FUNCTION not in tools:
                tools.append(dict(FUNCTION))
            continue
        function = {k: v for k, v in (tool.get("function") or {}).items() if v is not None}
        if function.get("strict") is False:
            # The API shows the default on every stored tool; a backend is sent only what
            # was asked (some refuse the field).
            del function["strict"]
        tools.append({"type": "function", "function": function})
    return tools


def _response_format(value: str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping) and value.get("type") in ("json_object", "json_schema"):
        return value
    return None
