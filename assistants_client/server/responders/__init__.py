"""The responder port: who answers a run, as a stream of increments.

The engine asks a responder for one *turn* of a run (the work between the run leaving
``queued`` and it stopping: a reply, a set of tool calls, or a failure). A responder gets a
:class:`Turn` (everything the run's model would be given) and yields :class:`Increment` values
as they become known, so the engine can stream them to clients at once:

* :class:`TextDelta`: a piece of the assistant's text;
* :class:`ToolCallDelta`: a piece of a function call; the first piece of a call carries its
  ``index``, ``id`` and ``name``, later pieces carry fragments of its ``arguments``;
* :class:`Usage`: the tokens the turn used (the last one wins);
* :class:`Finish`: why the turn ended (``stop``, ``tool_calls``, ``length``,
  ``content_filter``);
* :class:`Failure`: the turn failed (``server_error``, ``rate_limit_exceeded``,
  ``invalid_prompt``); what was yielded before it is kept as the partial answer.
* :class:`Expire`: the run expires (a scripted responder's way to test expiry; a backend never
  sends it).

The last increment is a :class:`Finish`, a :class:`Failure` or an :class:`Expire`; nothing
follows it. A cancelled turn simply ends, without any of them.

A responder never raises for a failure of its backend: it yields a :class:`Failure`. It stops
promptly (within a second) once the ``cancelled`` event passed to :meth:`Responder.respond` is
set, releasing whatever connection it holds.

Increments are streamed to clients as they come, each as soon as it is known. A responder
that gets several at a time (a backend's network read often holds many chunks) may say so:
:meth:`Responder.respond` may return :class:`Increments`, whose ``ready()`` tells, without
waiting, whether the next increment is already at hand. The engine then sends what it has in
one write once ``ready()`` is False (or a few milliseconds' worth has gathered), instead of one
write per increment. Any other iterator counts as never ready.

:meth:`Responder.prepare` is called when a turn is queued, in the order runs are created, and
what it returns is stored with the run and handed back in :attr:`Turn.prepared`. A scripted
responder picks its reply there, so that replies go to runs in the order they were queued and a
queued turn survives a restart; a backend prepares nothing, and a turn that was under way when
the server stopped then fails, as a live answer cannot be resumed.

Two adapters plug in here: the scripted responder of the emulator, and the Chat Completions
backend of the server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, Union

import attrs

__all__ = [
    "Expire",
    "Failure",
    "FailureCode",
    "Finish",
    "FinishReason",
    "Increment",
    "Increments",
    "Responder",
    "TextDelta",
    "ToolCallDelta",
    "ToolRound",
    "Turn",
    "UnsupportedInput",
    "Usage",
]

FinishReason = Literal["stop", "tool_calls", "length", "content_filter", "max_prompt_tokens"]
FailureCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]


@attrs.frozen
class TextDelta:
    """A piece of the assistant's reply text."""

    text: str


@attrs.frozen
class ToolCallDelta:
    """A piece of one function call: ``id`` and ``name`` come with the call's first piece."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@attrs.frozen
class Usage:
    """Tokens used by the turn so far (a later Usage replaces an earlier one)."""

    prompt_tokens: int
    completion_tokens: int


@attrs.frozen
class Finish:
    """Why the turn ended: ``length`` and ``max_prompt_tokens`` leave the run incomplete."""

    reason: FinishReason


@attrs.frozen
class Expire:
    """The run expires."""


@attrs.frozen
class Failure:
    """The turn failed; ``message`` is safe to show (no secret in it)."""

    code: FailureCode
    message: str


Increment = Union[TextDelta, ToolCallDelta, Usage, Finish, Failure, Expire]  # noqa: UP007


class Increments(Iterator[Increment]):
    """A responder's increments, and whether the next one is at hand (see the module
    docstring). Closing it closes ``source``."""

    __slots__ = ("_source", "ready")

    def __init__(self, source: Iterator[Increment], ready: Callable[[], bool]) -> None:
        self._source = source
        self.ready = ready

    def __iter__(self) -> Iterator[Increment]:
        return self._source  # a loop over the increments pays for no wrapper

    def __next__(self) -> Increment:
        return next(self._source)

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None:
            close()


@attrs.frozen
class ToolRound:
    """One earlier round of tool calls in this run: the calls asked for and their outputs.

    ``calls`` are ``{"id", "name", "arguments"}`` dicts in the order they were asked for;
    ``outputs`` maps a call id to the output the client submitted.
    """

    calls: Sequence[Mapping[str, str]]
    outputs: Mapping[str, str]


@attrs.frozen(kw_only=True)
class Turn:
    """Everything a responder needs to answer one turn of a run.

    The values are as the API stores them on the run (``tools``, ``tool_choice``,
    ``response_format``, ``truncation_strategy`` are the JSON objects of the run), and
    ``messages`` are the thread's messages in creation order, as API objects (``role`` and
    ``content`` parts of type ``text``, ``image_url`` or ``image_file``), including the run's
    ``additional_messages`` and any assistant message an earlier turn of this run wrote.

    A turn is made once per call of the responder, and its values are not copied for it: a
    responder reads them and changes none.

    ``project`` is the project the run belongs to (``""``: the shared namespace): whatever a
    responder reads beyond the turn, it reads in that project only.
    """

    project: str
    run_id: str
    thread_id: str
    assistant_id: str
    model: str
    instructions: str | None
    additional_instructions: str | None = None
    messages: Sequence[Mapping[str, Any]] = ()
    tool_rounds: Sequence[ToolRound] = ()
    tools: Sequence[Mapping[str, Any]] = ()
    tool_choice: str | Mapping[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: str | Mapping[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: Mapping[str, Any] | None = None
    prepared: Mapping[str, Any] | None = None


class UnsupportedInput(Exception):
    """The run asks for something this responder cannot do (answered 400 at run creation).

    ``param`` names the offending item, e.g. ``tools[1].type`` or
    ``additional_messages[0].content[1]``.
    """

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class Responder(Protocol):
    """Answers the turns of runs. Must be safe to call from many threads at once."""

    def check(self, turn: Turn) -> None:
        """Raise :class:`UnsupportedInput` for a run this responder cannot answer.

        Called when the run is created (before it is stored), so a client gets a 400 naming
        the unsupported item instead of a run that fails later.
        """

    def prepare(self, turn: Turn) -> Mapping[str, Any] | None:
        """What to store with a queued turn (JSON data), or None; see the module docstring."""

    def respond(self, turn: Turn, cancelled: threading.Event) -> Iterator[Increment]:
        """The increments of one turn, yielded as they become known."""
        ...
