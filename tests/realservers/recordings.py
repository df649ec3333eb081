"""The recordings of the live API in tests/fixtures/reference, read as the tests need them.

Each ``.sse`` file opens with ``#`` lines saying where it was recorded; the body follows
unchanged. Each ``responses/*.json`` file holds one recorded answer: its operation
(``GET /threads/{thread_id}/runs/{run_id}``), its source, its status and its body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistants_client._operation import Operation
from assistants_client.models import operations

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "reference"
RESPONSES = REFERENCE / "responses"
ASSISTANTS_STREAMS = sorted(REFERENCE.glob("assistants-*.sse"))
RESPONSE_FILES = sorted(RESPONSES.glob("*.json"))


def sse_body(path: Path) -> bytes:
    """The recorded body of an ``.sse`` file, without its leading comment block."""
    lines = path.read_bytes().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if not line.startswith(b"#"))
    return b"".join(lines[start:])


def events(body: bytes) -> list[tuple[str, Any]]:
    """(event, decoded data) pairs of a plain LF-separated SSE body."""
    found = []
    for block in body.decode("utf-8").split("\n\n"):
        name = data = None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
        if name is not None and data is not None:
            found.append((name, data if name == "done" else json.loads(data)))
    return found


def recorded_response(path: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record


def operation_of(label: str) -> Operation[Any]:
    """The table's entry for ``"GET /threads/{thread_id}/runs/{run_id}"``."""
    method, path = label.split(" ", 1)
    return next(op for op in operations.OPERATIONS if (op.method, op.path) == (method, path))
