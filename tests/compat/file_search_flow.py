"""The file_search flow every client runs in tests/compat/test_file_search_runs.py, and its checks.

Three documents, a question only one of them answers, and the checks a searching run must pass
whatever client read it, on plain JSON (an SDK's model dumped, or what a node script printed):
the steps are ``[tool_calls(file_search), message_creation]``, the answering document ranks
first, the message carries exactly one ``file_citation``, for that document, whose indices cut
its marker out of the text, and ``include[]`` adds the passages.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.files.support import Target, server_target
from tests.servers.fake_chat import citing_answer

DOCUMENTS = {
    "runbook.txt": (
        "ERR-4411 means the data volume is full. Rotate the logs, then restart the ingest "
        "daemon. Page the storage on-call after two alerts."
    ),
    "billing.txt": (
        "Invoices are issued on the first business day of each month. A refund takes five to "
        "seven days to reach the customer's card."
    ),
    "garden.txt": (
        "Water the tomato plants every morning. They need full sun, staking, and a feed of "
        "compost every two weeks."
    ),
}
ANSWERING = "runbook.txt"
ANSWER_FACT = "ERR-4411 means the data volume is full"
QUESTION = "What does ERR-4411 mean?"
INCLUDE_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
MARKER = re.compile(r"【\d+:\d+†[^】\n]+】")


def citing_server(tmp_path: Path) -> Target:
    """``assistants-server`` on a fake backend that searches and cites (``citing_answer``)."""
    made = server_target(tmp_path)
    assert made.backend is not None
    made.backend.default_answer = citing_answer
    return made


def write_documents(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in DOCUMENTS.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def check_steps(steps: list[dict[str, Any]], file_ids: dict[str, str], *, included: bool) -> None:
    """One file_search call that ranked the answering document first, then the message."""
    assert [step["type"] for step in steps] == ["tool_calls", "message_creation"], steps
    assert all(step["status"] == "completed" for step in steps), steps
    (call,) = steps[0]["step_details"]["tool_calls"]
    assert call["type"] == "file_search", call
    assert call["id"], call
    results = call["file_search"]["results"]
    assert results, call
    first = results[0]
    assert (first["file_name"], first["file_id"]) == (ANSWERING, file_ids[ANSWERING]), results
    assert all(0.0 <= result["score"] <= 1.0 for result in results), results
    scores = [result["score"] for result in results]
    assert scores == sorted(scores, reverse=True), scores
    assert call["file_search"]["ranking_options"]["ranker"], call
    if included:
        assert all(result.get("content") for result in results), results
        assert ANSWER_FACT in "".join(part["text"] for part in first["content"]), first
        assert all(part["type"] == "text" for r in results for part in r["content"]), results
    else:
        assert all(result.get("content") is None for result in results), results


def check_citation(content: list[dict[str, Any]], file_ids: dict[str, str]) -> dict[str, Any]:
    """Exactly one file_citation, for the answering document, its indices exact; returned."""
    (part,) = [part for part in content if part["type"] == "text"]
    text = part["text"]["value"]
    citations = [a for a in part["text"]["annotations"] if a["type"] == "file_citation"]
    assert len(citations) == 1, part
    (citation,) = citations
    assert citation["file_citation"]["file_id"] == file_ids[ANSWERING], citation
    assert MARKER.fullmatch(citation["text"]), citation
    assert text[citation["start_index"] : citation["end_index"]] == citation["text"], part
    return citation


def as_stored(content: Any) -> Any:
    """A message's ``content`` accumulated from its deltas, without what only deltas carry:
    the ``index`` of each part and annotation, and the empty ``quote`` the live API sent in a
    delta's ``file_citation`` (``tests/fixtures/reference/assistants-file-search-run.sse``) but
    not in the stored message. An SDK keeps both when it accumulates."""
    if isinstance(content, list):
        return [as_stored(item) for item in content]
    if isinstance(content, dict):
        return {
            key: as_stored(value)
            for key, value in content.items()
            if key != "index" and not (key == "quote" and value == "")
        }
    return content
