"""Chat Completions chunks in, increments out, and what a backend says went wrong, in words.

:class:`ChunkReader` folds one answer, chunk by chunk (or a whole completion sent as JSON), into
the port's increments: a :class:`TextDelta` per content piece (a ``refusal`` is passed on as
text; reasoning fields some local servers add, ``reasoning_content`` or ``reasoning``, are not
part of the answer and are left out), a :class:`ToolCallDelta` per tool-call piece, and
:class:`Usage` when the backend reports it (the usage-only last chunk included). Only the
first choice is the answer (``n > 1`` is never asked for). Azure's asynchronous content-filter
annotations (``object: ""``) are not part of the answer either.

Tool calls are numbered 0, 1, ... in the order they first appear, whatever indices the backend
used (:class:`_ToolCalls`); a call's first piece carries its id (one is made up when the backend
sends none) and name. A turn that produced tool calls but whose backend reported ``stop`` (some
local servers do) finishes with ``tool_calls``.

:class:`BackendText` is the one place where what a backend wrote (an error message, an error
object, the text of an exception) becomes words the server shows or logs: every secret of the
responder replaced by ``[redacted]`` first, then shortened, so that no cut can leave part of a
secret that redaction would no longer recognise (a body cut by a read limit loses the bytes at
its end that could start one).

Every event is read as the SSE standard decodes a stream (bytes that are not UTF-8 become
U+FFFD), and as JSON that the server can store and send again: halves of surrogate pairs become
U+FFFD, ``NaN``, ``Infinity`` and numbers too large for a double become null (:func:`read_json`).
The answer's text and tool calls are counted as they come (``ChunkReader.limit``).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final

from assistants_client.server.responders import (
    Failure,
    FailureCode,
    Finish,
    FinishReason,
    Increment,
    TextDelta,
    ToolCallDelta,
    Usage,
)

__all__ = ["FINISH_REASONS", "MESSAGE_EXCERPT", "BackendText", "ChunkReader", "read_json"]

MESSAGE_EXCERPT: Final = 1000
REDACTED: Final = "[redacted]"
_JSON_SPACE: Final = " \t\n\r"
_SURROGATES: Final = re.compile("[\ud800-\udfff]")


def _no_number(text: str) -> float | None:
    """A float of a backend's JSON; ``1e999`` (read as infinity) is null, as NaN is."""
    value = float(text)
    return value if math.isfinite(value) else None


# A backend's NaN, Infinity and 1e999 are read as null: no value that JSON cannot carry gets
# into an object the server stores or sends.
_DECODER: Final = json.JSONDecoder(parse_constant=lambda constant: None, parse_float=_no_number)
_DECODE: Final = _DECODER.raw_decode
FINISH_REASONS: Final[Mapping[str, FinishReason]] = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "length",
    "content_filter": "content_filter",
}


class BackendText:
    """What a backend wrote, made safe to show: its secrets redacted, then shortened.

    ``secrets`` are the values that must never appear (the API key, a password in the URL,
    values of extra headers); the longest are replaced first, so one that contains another is
    replaced whole. A secret is also found as JSON escapes it (a text taken from a JSON
    document unparsed).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        found = {secret for secret in secrets if secret}
        found |= {json.dumps(secret)[1:-1] for secret in found}
        found |= {json.dumps(secret, ensure_ascii=False)[1:-1] for secret in found}
        self._secrets = sorted(found, key=len, reverse=True)
        # Past a cut, the end of a text may be the start of a secret; so much is dropped.
        self.longest = max((len(secret) for secret in self._secrets), default=0)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced (for log lines: an exception's text)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def message(self, text: str) -> str:
        """A backend's message as a failure shows it: redacted, then cut to
        ``MESSAGE_EXCERPT`` characters (cutting first could leave the start of a secret)."""
        text = self.redact(text)
        if len(text) <= MESSAGE_EXCERPT:
            return text
        end = MESSAGE_EXCERPT
        # A cut inside a "[redacted]" goes past it: the reader sees what stood there.
        marker = text.find(REDACTED, end - len(REDACTED) + 1, end + len(REDACTED) - 1)
        if marker != -1 and marker < end:
            end = marker + len(REDACTED)
        return text[:end] + "..."

    def cut_short(self, raw: bytes) -> bytes:
        """A body read only in part (``raw``, cut by a read limit): without the bytes at its
        end that could be the start of a secret, which redaction would not recognise."""
        return raw[: max(0, len(raw) - 4 * self.longest)]

    def of_error_body(self, raw: bytes) -> str:
        """The message of an error answer's body: ``error.message`` (OpenAI, LiteLLM), a string
        ``error`` (Ollama), ``message`` (vLLM), ``detail`` (FastAPI servers), else the body's
        text with its white space folded."""
        text = raw.decode("utf-8", errors="replace")
        message: str | None = None
        try:
            data = _DECODER.decode(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                message = error["message"]
            elif isinstance(error, str):
                message = error
            else:
                for key in ("message", "detail"):
                    if isinstance(data.get(key), str):
                        message = data[key]
                        break
        if message is None:
            message = " ".join(text.split()) or "(no message)"
        return self.message(message)

    def error_failure(self, error: Any) -> Failure:
        """The Failure of a backend's ``error`` (a JSON object or a string) in a stream or in
        a whole answer: rate limits and refused prompts keep their kind."""
        if isinstance(error, dict):
            message = error.get("message")
            text = message if isinstance(message, str) else json.dumps(error, ensure_ascii=False)
            code = str(error.get("code") or "")
            kind = str(error.get("type") or "")
        else:
            text, code, kind = str(error), "", ""
        failure_code: FailureCode = "server_error"
        if code == "rate_limit_exceeded" or kind in ("rate_limit_error", "rate_limit_exceeded"):
            failure_code = "rate_limit_exceeded"
        elif kind == "invalid_request_error" or code in (
            "invalid_prompt",
            "context_length_exceeded",
        ):
            failure_code = "invalid_prompt"
        return Failure(failure_code, "the backend reported an error: " + self.message(text))


class _Call:
    __slots__ = ("backend_index", "id", "index", "name", "opened", "pending")

    def __init__(self, index: int, backend_index: int | None) -> None:
        self.index = index
        self.backend_index = backend_index
        self.id: str | None = None
        self.name: str | None = None
        self.opened = False
        self.pending: list[str] = []


class _ToolCalls:
    """Tool-call pieces in, ToolCallDeltas out.

    Pieces belong to the call with the same ``index`` (several pieces of one call may share a
    chunk). A backend that omits ``index`` is followed by ``id``: a new id opens a new call, a
    piece without one continues the last call. A piece whose index is taken by a call with a
    different id opens a new call (some servers number every call 0). A call opens (first
    delta, with id and name) once its name is known; arguments that came before are sent with
    it.
    """

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self._by_backend_index: dict[int, _Call] = {}
        self.size = 0  # characters of names and arguments received

    def _call_for(self, backend_index: int | None, call_id: str | None) -> _Call:
        if backend_index is not None:
            known = self._by_backend_index.get(backend_index)
            if known is not None and not (call_id and known.id and call_id != known.id):
                return known
        elif call_id:
            for call in self.calls:
                if call.id == call_id:
                    return call
        elif self.calls:
            return self.calls[-1]
        call = _Call(len(self.calls), backend_index)
        self.calls.append(call)
        if backend_index is not None:
            self._by_backend_index[backend_index] = call
        return call

    def feed(self, piece: Any, out: list[Increment], backend_index: int | None = None) -> None:
        """The deltas of one tool-call piece, appended to ``out``."""
        if not isinstance(piece, dict):
            return
        index = piece.get("index", backend_index)
        if not isinstance(index, int) or isinstance(index, bool):
            index = None
        call_id = piece.get("id") if isinstance(piece.get("id"), str) and piece.get("id") else None
        function = piece.get("function")
        function = function if isinstance(function, dict) else {}
        name = function.get("name") if isinstance(function.get("name"), str) else None
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send the arguments as an object
            arguments = json.dumps(arguments)
        fragment = arguments if isinstance(arguments, str) else ""
        self.size += len(fragment) + len(name or "")
        call = self._call_for(index, call_id)
        if call.opened:
            if fragment:
                out.append(ToolCallDelta(index=call.index, arguments=fragment))
            return
        call.id = call.id or call_id
        call.name = call.name or name or None
        if fragment:
            call.pending.append(fragment)
        if call.name:
            call.opened = True
            call.id = call.id or f"call_{uuid.uuid4().hex[:24]}"
            out.append(
                ToolCallDelta(
                    index=call.index, id=call.id, name=call.name, arguments="".join(call.pending)
                )
            )
            call.pending.clear()

    @property
    def any_opened(self) -> bool:
        return any(call.opened for call in self.calls)

    @property
    def unnamed(self) -> bool:
        return any(not call.opened for call in self.calls)


class ChunkReader:
    """Chat completion chunks in, increments out (see the module docstring); remembers the
    finish reason, and the failure that ended the answer, if one did.

    ``limit``: the most characters of text (content and refusals) and of tool calls (names
    and arguments) an answer may hold; a chunk that would pass it ends the answer with a
    failure instead (the text before it is kept), so that no backend can make a run grow
    without bound.
    """

    def __init__(self, text: BackendText, limit: int | None = None) -> None:
        self.text = text
        self.tools = _ToolCalls()
        self.finish_reason: str | None = None
        self.failure: Failure | None = None
        self.limit = limit
        self._size = 0  # characters of text received
        self._usage: Usage | None = None

    @property
    def size(self) -> int:
        """Characters of text and of tool calls received so far."""
        return self._size + self.tools.size

    def feed(self, name: str, data: bytes) -> list[Increment]:
        """The increments of one server-sent event (its name and data)."""
        try:
            payload = read_json(data)
        except (ValueError, RecursionError):  # UnicodeDecodeError included
            self.failure = Failure("server_error", "the backend sent an event that is not JSON")
            return [self.failure]
        if not isinstance(payload, dict):
            self.failure = Failure(
                "server_error", "the backend sent an event that is not an object"
            )
            return [self.failure]
        error = payload.get("error")
        if error or name == "error":
            self.failure = self.text.error_failure(error or payload)
            return [self.failure]
        if payload.get("object") == "":
            return []  # Azure's asynchronous content-filter annotations, not the answer
        out: list[Increment] = []
        choices = payload.get("choices")
        if choices:
            delta = _only_content(choices)
            if delta is not None:  # what most chunks are: one piece of text
                if delta:
                    out.append(TextDelta(delta))
                    self._size += len(delta)
            else:
                self._choices(choices, out)
        usage = payload.get("usage")
        if usage is not None:
            counted = _read_usage(usage)
            if counted is not None and counted != self._usage:
                self._usage = counted
                out.append(counted)
        if self.limit is not None and self.size > self.limit:
            return [self._too_long()]
        return out

    def _too_long(self) -> Failure:
        self.failure = Failure(
            "server_error",
            f"the backend's answer passed the limit of {self.limit} characters of text and "
            "tool calls; the text before it is kept",
        )
        return self.failure

    def whole(self, payload: Mapping[str, Any]) -> list[Increment]:
        """The increments of a complete (non-streamed) chat completion."""
        out: list[Increment] = []
        choices = payload.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            message = choice.get("message")
            if isinstance(message, dict):
                self._delta(message, out)
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
        usage = _read_usage(payload.get("usage"))
        if usage is not None:
            out.append(usage)
        if self.limit is not None and self.size > self.limit:
            return [self._too_long()]
        return out

    def _choices(self, choices: Any, out: list[Increment]) -> None:
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # n > 1 is never asked for; only the first choice is the answer
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._delta(delta, out)
            reason = choice.get("finish_reason")
            if isinstance(reason, str):
                self.finish_reason = reason

    def _delta(self, delta: dict[str, Any], out: list[Increment]) -> None:
        content = delta.get("content")
        if content and isinstance(content, str):
            out.append(TextDelta(content))
            self._size += len(content)
        refusal = delta.get("refusal")
        if refusal and isinstance(refusal, str):
            out.append(TextDelta(refusal))
            self._size += len(refusal)
        tool_calls = delta.get("tool_calls")
        if tool_calls:
            for piece in tool_calls if isinstance(tool_calls, list) else ():
                self.tools.feed(piece, out)
        legacy = delta.get("function_call")
        if isinstance(legacy, dict):
            self.tools.feed(legacy, out, backend_index=-1)

    def finish(self) -> Finish:
        reason = FINISH_REASONS.get(self.finish_reason or "stop", "stop")
        if reason == "stop" and self.tools.any_opened:
            reason = "tool_calls"
        return Finish(reason)


def read_json(data: bytes) -> Any:
    """The JSON value of an event's data (ValueError when it is no JSON). As the SSE standard
    decodes a stream, bytes that are not UTF-8 become U+FFFD; so does half of an escaped UTF-16
    surrogate pair, which is no character either. NaN and Infinity are null. An object right
    after ``data:``, what servers send, is scanned without json.loads' two regular expressions
    around it."""
    text = data.decode("utf-8", "replace")
    if text[:1] != "{":
        value = _DECODER.decode(text)
    else:
        value, end = _DECODE(text)
        if end != len(text) and text[end:].strip(_JSON_SPACE):
            raise ValueError("not JSON: more follows the value")
    if "\\ud" in text or "\\uD" in text:
        value = _whole_characters(value)
    return value


def _whole_characters(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, list):
        return [_whole_characters(item) for item in value]
    if isinstance(value, dict):
        return {_whole_characters(key): _whole_characters(item) for key, item in value.items()}
    return value


def _only_content(choices: Any) -> str | None:
    """The text of a chunk whose one choice's delta holds nothing but text and which does not
    finish (the common case, read without the general path); None for any other chunk."""
    if type(choices) is not list or len(choices) != 1:
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("index", 0) != 0 or choice.get("finish_reason"):
        return None
    delta = choice.get("delta")
    if type(delta) is not dict or len(delta) != 1:
        return None
    content = delta.get("content")
    return content if type(content) is str else None


def _read_usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    return Usage(
        prompt_tokens=prompt if isinstance(prompt, int) else 0,
        completion_tokens=completion if isinstance(completion, int) else 0,
    )
