"""Deterministic payloads for the benchmarks (same bytes on every machine and every run).

* :func:`messages_page` - a ``GET /threads/{id}/messages`` page of 100 messages (about 80 KB):
  text content with file citations and file paths, attachments and metadata.
* :func:`run_stream` - the server-sent event stream of one streamed run that writes one
  message in ``deltas`` ``thread.message.delta`` events, from ``thread.run.created`` to
  ``done``.

``python -m bench.payloads`` (re)writes ``bench/fixtures/messages_page.json``.
"""

from __future__ import annotations

import json
import random
from typing import Any

from bench.common import FIXTURES

EPOCH = 1_735_689_600  # 2025-01-01T00:00:00Z
THREAD_ID = "thread_bench0000000000000000"
ASSISTANT_ID = "asst_bench00000000000000000"
RUN_ID = "run_bench000000000000000000"
STEP_ID = "step_bench00000000000000000"
STREAM_MESSAGE_ID = "msg_benchstream000000000000"

_WORDS = [
    "the",
    "quarterly",
    "report",
    "shows",
    "revenue",
    "growth",
    "across",
    "all",
    "regions",
    "with",
    "notable",
    "gains",
    "in",
    "cloud",
    "services",
    "subscriptions",
    "while",
    "hardware",
    "margins",
    "narrowed",
    "because",
    "component",
    "costs",
    "rose",
    "sharply",
    "during",
    "the",
    "second",
    "half",
    "of",
    "the",
    "fiscal",
    "year",
    "according",
    "to",
    "the",
    "filings",
]


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _hex_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(96):024x}"


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def message(rng: random.Random, index: int, thread_id: str = THREAD_ID) -> dict[str, Any]:
    """One message as the API returns it; assistant messages carry two annotations."""
    assistant = index % 2 == 1
    text = " ".join(_sentence(rng, rng.randint(8, 12)) for _ in range(3))
    annotations: list[dict[str, Any]] = []
    if assistant:
        citation = f"\u3010{index % 7}:{index % 3}\u2020source\u3011"
        path = f"sandbox:/mnt/data/report_{index}.csv"
        start = len(text)
        text += citation
        annotations.append(
            {
                "type": "file_citation",
                "text": citation,
                "start_index": start,
                "end_index": start + len(citation),
                "file_citation": {"file_id": _hex_id(rng, "file")},
            }
        )
        text += f" See [the table]({path})."
        start = text.index(path)
        annotations.append(
            {
                "type": "file_path",
                "text": path,
                "start_index": start,
                "end_index": start + len(path),
                "file_path": {"file_id": _hex_id(rng, "file")},
            }
        )
    created = EPOCH + index * 7
    return {
        "id": _hex_id(rng, "msg"),
        "object": "thread.message",
        "created_at": created,
        "assistant_id": ASSISTANT_ID if assistant else None,
        "thread_id": thread_id,
        "run_id": RUN_ID if assistant else None,
        "role": "assistant" if assistant else "user",
        "status": "completed",
        "incomplete_details": None,
        "completed_at": created + 2,
        "incomplete_at": None,
        "content": [{"type": "text", "text": {"value": text, "annotations": annotations}}],
        "attachments": []
        if assistant
        else [{"file_id": _hex_id(rng, "file"), "tools": [{"type": "file_search"}]}],
        "metadata": {"topic": "finance", "turn": str(index)},
    }


def messages_page_obj(count: int = 100) -> dict[str, Any]:
    rng = random.Random(20250101)
    data = [message(rng, i) for i in range(count)]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"],
        "last_id": data[-1]["id"],
        "has_more": True,
    }


def messages_page(count: int = 100) -> bytes:
    """The list page as the server sends it (compact JSON, UTF-8)."""
    return json.dumps(messages_page_obj(count), separators=(",", ":"), ensure_ascii=False).encode()


def load_messages_page() -> bytes:
    """The committed fixture (rebuilt when missing)."""
    path = FIXTURES / "messages_page.json"
    if not path.exists():
        write_fixtures()
    return path.read_bytes()


# -- the streamed run ----------------------------------------------------------------------------


def _run(status: str, **changes: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "id": RUN_ID,
        "object": "thread.run",
        "created_at": EPOCH,
        "thread_id": THREAD_ID,
        "assistant_id": ASSISTANT_ID,
        "status": status,
        "required_action": None,
        "last_error": None,
        "expires_at": EPOCH + 600,
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "incomplete_details": None,
        "model": "gpt-4o",
        "instructions": "Answer questions about the quarterly report.",
        "tools": [{"type": "file_search"}],
        "metadata": {},
        "usage": None,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "response_format": "auto",
    }
    run.update(changes)
    return run


def _step(status: str, **changes: Any) -> dict[str, Any]:
    step: dict[str, Any] = {
        "id": STEP_ID,
        "object": "thread.run.step",
        "created_at": EPOCH + 1,
        "assistant_id": ASSISTANT_ID,
        "thread_id": THREAD_ID,
        "run_id": RUN_ID,
        "type": "message_creation",
        "status": status,
        "step_details": {
            "type": "message_creation",
            "message_creation": {"message_id": STREAM_MESSAGE_ID},
        },
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
    }
    step.update(changes)
    return step


def _stream_message(status: str, text: str | None, **changes: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "id": STREAM_MESSAGE_ID,
        "object": "thread.message",
        "created_at": EPOCH + 1,
        "assistant_id": ASSISTANT_ID,
        "thread_id": THREAD_ID,
        "run_id": RUN_ID,
        "role": "assistant",
        "status": status,
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "content": []
        if text is None
        else [{"type": "text", "text": {"value": text, "annotations": []}}],
        "attachments": [],
        "metadata": {},
    }
    msg.update(changes)
    return msg


def stream_chunks(deltas: int = 10_000) -> tuple[list[str], list[tuple[str, str]]]:
    """(the text pieces, the (event, data) pairs of the whole run, ``done`` included)."""
    rng = random.Random(10_000)
    pieces = [(" " if i else "") + rng.choice(_WORDS) for i in range(deltas)]
    text = "".join(pieces)
    done_at = EPOCH + 30
    usage = {"prompt_tokens": 120, "completion_tokens": deltas, "total_tokens": 120 + deltas}
    events: list[tuple[str, Any]] = [
        ("thread.run.created", _run("queued")),
        ("thread.run.queued", _run("queued")),
        ("thread.run.in_progress", _run("in_progress", started_at=EPOCH + 1)),
        ("thread.run.step.created", _step("in_progress")),
        ("thread.run.step.in_progress", _step("in_progress")),
        ("thread.message.created", _stream_message("in_progress", None)),
        ("thread.message.in_progress", _stream_message("in_progress", None)),
    ]
    for piece in pieces:
        events.append(
            (
                "thread.message.delta",
                {
                    "id": STREAM_MESSAGE_ID,
                    "object": "thread.message.delta",
                    "delta": {"content": [{"index": 0, "type": "text", "text": {"value": piece}}]},
                },
            )
        )
    events += [
        ("thread.message.completed", _stream_message("completed", text, completed_at=done_at)),
        ("thread.run.step.completed", _step("completed", completed_at=done_at, usage=usage)),
        (
            "thread.run.completed",
            _run(
                "completed",
                started_at=EPOCH + 1,
                completed_at=done_at,
                expires_at=None,
                usage=usage,
            ),
        ),
    ]
    pairs = [(name, _dump(data)) for name, data in events]
    pairs.append(("done", "[DONE]"))
    return pieces, pairs


def run_stream(deltas: int = 10_000) -> tuple[str, list[bytes]]:
    """(the final message text, one SSE frame per event, as the server writes them)."""
    pieces, pairs = stream_chunks(deltas)
    frames = [f"event: {name}\ndata: {data}\n\n".encode() for name, data in pairs]
    return "".join(pieces), frames


def write_fixtures() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "messages_page.json").write_bytes(messages_page())


if __name__ == "__main__":
    write_fixtures()
    page = load_messages_page()
    text, frames = run_stream()
    print(f"messages_page.json: {len(page):,} bytes")
    print(f"run stream: {len(frames):,} events, {sum(map(len, frames)):,} bytes")
