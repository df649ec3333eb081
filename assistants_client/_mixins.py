"""Hand-written behaviour that generated classes take on through the naming table.

``codegen/naming.py`` (``MIXINS``) lists which generated class derives from which mixin; the
generated code only names the base class. Mixins hold no state (``__slots__ = ()``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from assistants_client._citations import CitationFormat, CitedText, render, strip
from assistants_client._converter import structure
from assistants_client._exceptions import ModelValidationError

if TYPE_CHECKING:
    # For the annotation only: the generated models import this module.
    from assistants_client.models import RequiredToolCall

__all__ = ["RunResponseMixin", "ThreadMessageMixin"]

T = TypeVar("T")

TERMINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})


class ThreadMessageMixin:
    """Reading a message's text (as written, with its citations rendered, or without them),
    and parsing it as a structured output."""

    __slots__ = ()
    content: list[Any]

    @property
    def text(self) -> str:
        """The text of every text content part, in order, joined."""
        return "".join(
            part.text.value for part in self.content if getattr(part, "type", None) == "text"
        )

    def text_with_citations(self, format: CitationFormat | None = None) -> CitedText:
        """The text with each citation marker (``【4:0†notes.txt】``) replaced, and the files
        it cites: ``text, citations = message.text_with_citations()``.

        ``format(n, annotation)`` says what replaces a marker of the ``n``-th cited file
        (numbered from 1 in order of first citation; a file cited twice keeps its number);
        by default ``[n]``. ``citations`` lists each cited file once: its ``number``,
        ``file_id`` and the ``annotations`` citing it. A marker is found by the annotation's
        indices when they point at it, else by its text, so wrong indices never cut the text
        in the wrong place; a marker no annotation covers is removed.
        """
        return render(self.content, format)

    def plain_text(self) -> str:
        """The text without its citation markers: for speech, search indexes, plain UIs."""
        return strip(self.content)

    def parse(self, cls: type[T]) -> T:
        """The message's text, read as JSON into ``cls`` (an attrs class, usually).

        Raises ModelValidationError, naming the class, when the text is not JSON or does not
        fit the class.
        """
        name = getattr(cls, "__name__", str(cls))
        text = self.text
        try:
            data = json.loads(text)
        except ValueError as exc:
            excerpt = text if len(text) <= 200 else text[:200] + "..."
            raise ModelValidationError(
                f"the message text is not JSON for {name}: {exc} (text: {excerpt!r})",
                model=name,
                path=name,
                errors=[str(exc)],
            ) from exc
        return structure(data, cls)


class RunResponseMixin:
    """Convenience views of a run."""

    __slots__ = ()
    status: str
    required_action: Any

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed, cancelled, expired and incomplete runs."""
        return self.status in TERMINAL_RUN_STATUSES

    @property
    def required_tool_calls(self) -> list[RequiredToolCall]:
        """The tool calls a ``requires_action`` run waits for (empty otherwise)."""
        if self.status != "requires_action" or self.required_action is None:
            return []
        return list(self.required_action.submit_tool_outputs.tool_calls)
