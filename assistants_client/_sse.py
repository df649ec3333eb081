"""Server-sent events framing: body chunks in, one complete event at a time out, bounded.

sseclient-py parses the events (their fields and values), but it gathers the lines of an
event by appending each piece to the bytes so far (``data += line``), and the ``data`` lines
of one event the same way: the cost grows with the square of an event's size or line count.
A 200 MB line without a newline took some 1,000 s of CPU. So :class:`EventFramer` does the
gathering, in time linear in the bytes received, and hands sseclient one event per chunk,
already reduced to the lines sseclient uses:

- a comment line (``: ping``) is dropped as it arrives, never buffered;
- of ``event``, ``id`` and ``retry`` only the last line is kept (the one sseclient keeps);
  fields sseclient ignores are dropped;
- an event with no ``data`` line is dropped (sseclient dispatches none);
- the ``data`` lines are kept in order. sseclient joins them with line breaks, by copying, so
  past ``MAX_DATA_LINES`` of them the framer joins them itself, with tabs, into one line.
  Event data is JSON, which reads a tab between two tokens exactly as a line break, and
  refuses both inside a string: the parsed value is the same.

An event larger than ``max_event_bytes`` (comments aside) raises :class:`EventTooLarge` as
soon as the bytes received pass the limit, before they are kept.

What servers send most, a chunk of whole events each made of one ``data`` line (and maybe an
``event`` line before it), is passed on without going through the lines one by one.
:func:`event_of` reads a frame's name and data where sseclient-py is not needed (the server
reading its Chat Completions backend).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["MAX_DATA_LINES", "EventFramer", "EventTooLarge", "event_of"]

MAX_DATA_LINES = 16
_SINGLE_FIELDS = (b"event", b"id", b"retry")


class EventTooLarge(Exception):
    """One event passed the size limit while it arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"one event is larger than {limit} bytes")
        self.limit = limit


class EventFramer:
    """Cuts a byte stream into complete events (see the module docstring)."""

    def __init__(self, max_event_bytes: int) -> None:
        self.limit = max_event_bytes
        # The line being received: its pieces, unless it is a comment (then only noted).
        self._pieces: list[bytes] = []
        self._line_started = False
        self._comment = False
        self._after_cr = False
        # The event being received.
        self._single: dict[bytes, bytes] = {}
        self._data: list[bytes] = []
        self._size = 0

    @property
    def pending(self) -> bool:
        """Whether part of an event (or of a line) has arrived without its end."""
        return self._line_started or bool(self._data) or bool(self._single)

    def frames(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The complete events of ``chunks``, one per item, for sseclient."""
        for chunk in chunks:
            if not chunk:
                continue
            # What servers send most: a chunk that is one event, an `event` line and a `data`
            # line, already in the shape sseclient should get.
            if chunk[:6] == b"event:" and chunk[-2:] == b"\n\n" and len(chunk) <= self.limit:
                first = chunk.find(b"\n")
                if (
                    chunk.find(b"\n", first + 1) == len(chunk) - 2
                    and chunk[first + 1 : first + 6] == b"data:"
                    and b"\r" not in chunk
                    and not self._after_cr
                    and not self.pending
                ):
                    yield chunk
                    continue
            yield from self.feed(chunk)

    def feed(self, chunk: bytes) -> list[bytes]:
        """The events completed by ``chunk``."""
        if chunk[-2:] == b"\n\n" and not self._after_cr and not self.pending and b"\r" not in chunk:
            if (
                chunk[:5] == b"data:"
                and chunk.find(b"\n") == len(chunk) - 2
                and len(chunk) - 2 <= self.limit
            ):
                return [chunk]  # one event of one data line: what servers send most
            return self._feed_whole_events(chunk)
        return self._feed_lines(chunk)

    def _feed_whole_events(self, chunk: bytes) -> list[bytes]:
        """Whole events, LF only (what servers send, usually one event per chunk).

        An event of one ``data`` line, or of one ``event`` and one ``data`` line, is already
        what sseclient should get; any other goes through the line by line path.
        """
        events: list[bytes] = []
        for block in chunk[:-2].split(b"\n\n"):
            first, newline, second = block.partition(b"\n")
            if (
                newline
                and len(block) <= self.limit
                and first[:6] == b"event:"
                and second[:5] == b"data:"
                and b"\n" not in second
            ) or (not newline and first[:5] == b"data:" and len(block) <= self.limit):
                events.append(block + b"\n\n")
            elif block:
                events += self._feed_lines(block + b"\n\n")
        return events

    def _feed_lines(self, chunk: bytes) -> list[bytes]:
        events: list[bytes] = []
        if self._after_cr:
            self._after_cr = False
            if chunk[:1] == b"\n":  # the LF of a CRLF split between two chunks
                chunk = chunk[1:]
        lines = chunk.splitlines(True)
        for line in lines:
            end = line[-1:]
            if end != b"\n" and end != b"\r":
                self._add_piece(line)  # the unfinished last line of the chunk
                continue
            if end == b"\r" and line is lines[-1]:
                self._after_cr = True
            body = line.rstrip(b"\r\n")
            if body:
                self._add_piece(body)
            if not self._line_started:
                event = self._dispatch()  # a blank line ends the event
                if event is not None:
                    events.append(event)
                continue
            self._end_line()
        return events

    def _add_piece(self, piece: bytes) -> None:
        if not self._line_started:
            self._line_started = True
            self._comment = piece[:1] == b":"
        if self._comment:
            return
        self._size += len(piece)
        if self._size > self.limit:
            raise EventTooLarge(self.limit)
        self._pieces.append(piece)

    def _end_line(self) -> None:
        pieces = self._pieces
        comment = self._comment
        self._pieces = []
        self._line_started = self._comment = False
        if comment:
            return
        line = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._size += 1
        name = line.partition(b":")[0]
        if name == b"data":
            self._data.append(line)
        elif name in _SINGLE_FIELDS:
            self._single[name] = line

    def _dispatch(self) -> bytes | None:
        data, single = self._data, self._single
        self._data, self._single, self._size = [], {}, 0
        if not data:
            return None
        if len(data) > MAX_DATA_LINES:
            values = [_value(line) for line in data]
            data = [b"data: " + b"\t".join(values)]
        return b"\n".join([*single.values(), *data]) + b"\n\n"


def _value(line: bytes) -> bytes:
    """A field line's value as sseclient reads it: after the colon and one space."""
    _, colon, value = line.partition(b":")
    if not colon:
        return b""
    return value[1:] if value[:1] == b" " else value


def event_of(frame: bytes) -> tuple[str, bytes]:
    """The name (``message`` when it has none, or an empty one) and the data of one frame of
    :meth:`EventFramer.feed`, its ``data`` lines joined by line breaks: what sseclient-py would
    make of it."""
    if frame[:6] == b"data: " and frame.find(b"\n", 6) == len(frame) - 2:
        return "message", frame[6:-2]  # what servers send most: one data line
    name = b"message"
    data: list[bytes] = []
    for line in frame[:-2].split(b"\n"):
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value
    text = name.decode("utf-8", errors="replace") or "message"
    return text, data[0] if len(data) == 1 else b"\n".join(data)
