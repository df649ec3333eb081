"""Reading what an SSE relay sends, as a browser's EventSource would."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

COMMENT = ":"


def parse_frames(chunks: Iterable[bytes]) -> list[tuple[str, Any]]:
    """``(event name, decoded data)`` per frame; a comment frame is ``(":", its text)``."""
    buffer = b"".join(chunks).decode("utf-8")
    frames: list[tuple[str, Any]] = []
    for block in buffer.split("\n\n"):
        if not block:
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                frames.append((COMMENT, line[1:].strip()))
            elif line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        if data:
            frames.append((name, json.loads("\n".join(data))))
    return frames


def text_of(frames: Iterable[tuple[str, Any]]) -> str:
    return "".join(data["text"] for name, data in frames if name == "text")
