"""``file_search`` in runs: the function a model is offered, the search the server runs for it,
what the model reads back, and the citations of its answer.

A run whose tools hold ``{"type": "file_search"}`` searches the vector stores of its assistant
(``tool_resources.file_search.vector_store_ids``, or those its createThreadAndRun gave) and of
its thread. The model is offered one function, :data:`FUNCTION` (``file_search`` with 1 to 5
``queries``); when it calls it, the engine (not the client: the run never waits in
``requires_action`` for it) runs the queries at once over those stores with the hybrid search
of the retrieval port, merges the hits (a chunk found by several queries keeps its best
score), keeps the tool's ``max_num_results`` (default 20) above its
``ranking_options.score_threshold``, and as many of them as fit :data:`TOKEN_BUDGET` tokens.

The model reads them back (:func:`tool_message`) each labelled with a marker
``【{i}:{j}†{filename}】``: ``i`` numbers the run's searches from 0, ``j`` the results of that
search from 0, so a marker names one result of the run for good. A marker the model writes
that names a result becomes a ``file_citation`` annotation (:class:`Citer`); any other stays
plain text.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from assistants_client.server.objects import SHOWN_RANKER, JSONDict
from assistants_client.server.retrieval import (
    APPROXIMATE_CL100K,
    InvalidRequest,
    NotFound,
    Retrieval,
    SearchHit,
    TokenCounter,
)
from assistants_client.server.retrieval.analysis import terms

__all__ = [
    "CITE_INSTRUCTION",
    "DEFAULT_MAX_RESULTS",
    "FILE_SEARCH",
    "FUNCTION",
    "INCLUDE_CONTENT",
    "MARKER",
    "MAX_MARKER",
    "MAX_SEARCHES",
    "NOTHING_FOUND",
    "NO_MORE_SEARCHES",
    "STORE_WAIT",
    "TOKEN_BUDGET",
    "Cited",
    "Citer",
    "FileSearcher",
    "SearchOptions",
    "SearchOutcome",
    "SearchUnavailable",
    "marker",
    "queries_of",
    "step_results",
    "supporting",
    "tool_message",
]

FILE_SEARCH: Final = "file_search"
INCLUDE_CONTENT: Final = "step_details.tool_calls[*].file_search.results[*].content"
DEFAULT_MAX_RESULTS: Final = 20
MAX_QUERIES: Final = 5
# A model's query is cut to this many characters (a search is bounded, whatever it sends).
MAX_QUERY_CHARS: Final = 2_000
# Searches a run makes for its model; past them the model is told to answer with what it found
# (and a turn whose model keeps calling fails after twice as many).
MAX_SEARCHES: Final = 8
# The text a search hands back to the model, at most (as the API's 16k for gpt-4 models).
TOKEN_BUDGET: Final = 16_000
# How long a run waits for the files of its thread's vector store still being ingested.
STORE_WAIT: Final = 60.0
STORE_POLL: Final = 0.25
MARKER: Final = re.compile(r"【(\d+):(\d+)†([^】\n]+)】")
# The longest marker a streamed answer holds back while it may still be one.
MAX_MARKER: Final = 300
_NAME_LIMIT: Final = 200
# A stretch of text that may still become a marker: 【, digits, :, digits, †, a name.
_PREFIX: Final = re.compile(r"【(?:\d+(?::(?:\d+(?:†[^】\n]*)?)?)?)?")

FUNCTION: Final[JSONDict] = {
    "type": "function",
    "function": {
        "name": FILE_SEARCH,
        "description": (
            "Search the files available to this conversation (documents the user or the "
            "assistant provided) and return the passages that match best, each labelled "
            "with a citation marker. Use it for any question those files may answer."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "queries": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": MAX_QUERIES,
                    "description": (
                        "One to five search queries, each a short self-contained question "
                        "or phrase; split a question that asks several things into several "
                        "queries."
                    ),
                }
            },
            "required": ["queries"],
            "additionalProperties": False,
        },
    },
}

CITE_INSTRUCTION: Final = (
    "Answer from these passages. Cite each passage you use by writing its marker (the line "
    "in 【 】 above it) exactly as shown, right after the statement it supports."
)
NOTHING_FOUND: Final = "The search found nothing in the files available to this conversation."
NO_MORE_SEARCHES: Final = (
    "No more searches can be made in this run: answer with the passages already found."
)


class SearchUnavailable(Exception):
    """A store of the run cannot be searched (expired, or deleted): the run fails with this
    message."""


def marker_name(filename: str) -> str:
    """A filename as a marker shows it: no bracket, no line break, at most 200 characters."""
    name = re.sub(r"[【】\r\n]", " ", filename).strip()[:_NAME_LIMIT]
    return name or "file"


def marker(search: int, result: int, filename: str) -> str:
    return f"【{search}:{result}†{marker_name(filename)}】"


@attrs.frozen
class SearchOptions:
    """What a run's ``file_search`` tool sets: ``max_num_results`` and its ranking options."""

    max_num_results: int = DEFAULT_MAX_RESULTS
    score_threshold: float = 0.0
    ranker: str = "auto"

    @classmethod
    def of_tools(cls, tools: Sequence[Mapping[str, Any]]) -> SearchOptions:
        for tool in tools:
            if tool.get("type") != FILE_SEARCH:
                continue
            settings = tool.get(FILE_SEARCH) or {}
            ranking = settings.get("ranking_options") or {}
            most = settings.get("max_num_results")
            threshold = ranking.get("score_threshold")
            return cls(
                max_num_results=DEFAULT_MAX_RESULTS if most is None else int(most),
                score_threshold=0.0 if threshold is None else float(threshold),
                ranker=ranking.get("ranker") or "auto",
            )
        return cls()

    def shown(self) -> JSONDict:
        """The step's ``ranking_options``."""
        ranker = SHOWN_RANKER if self.ranker == "auto" else self.ranker
        return {"ranker": ranker, "score_threshold": self.score_threshold}


@attrs.frozen
class SearchOutcome:
    """One search: its ``results`` as the step stores them (``content`` included; answers
    show it only when asked), and the ``output`` the model reads."""

    results: list[JSONDict]
    output: str


def queries_of(arguments: str, fallback: str) -> list[str]:
    """The queries of a call's ``arguments`` (at most 5, each cut to 2,000 characters); a model
    that sent something else searches for ``fallback`` (the last user message) rather than
    failing the run."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        parsed = {}
    found = parsed.get("queries") if isinstance(parsed, dict) else None
    if isinstance(found, str):
        found = [found]
    if not isinstance(found, list):
        found = [parsed.get("query")] if isinstance(parsed, dict) else []
    queries = [q.strip() for q in found if isinstance(q, str) and q.strip()]
    if not queries and fallback.strip():
        queries = [fallback.strip()]
    return [query[:MAX_QUERY_CHARS] for query in queries[:MAX_QUERIES]]


def tool_message(results: Sequence[Mapping[str, Any]], notice: str | None = None) -> str:
    """What the model reads back: each result as its marker and its passage, separated by
    blank lines, then how to cite; or that nothing was found. ``notice`` (files not searched)
    comes first."""
    parts = [notice] if notice else []
    if results:
        parts += [f"{result['marker']}\n{result['text']}" for result in results]
        parts.append(CITE_INSTRUCTION)
    else:
        parts.append(NOTHING_FOUND)
    return "\n\n".join(parts)


class FileSearcher:
    """Runs a run's searches over the retrieval port (thread-safe).

    ``wait``: seconds a run waits for the files of its thread's store still being ingested;
    ``budget``: tokens of passages handed to the model, counted by ``counter``.
    """

    def __init__(
        self,
        retrieval: Retrieval,
        *,
        wait: float = STORE_WAIT,
        budget: int = TOKEN_BUDGET,
        counter: TokenCounter = APPROXIMATE_CL100K,
    ) -> None:
        self.retrieval = retrieval
        self.wait = wait
        self.budget = budget
        self.counter = counter
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=MAX_QUERIES, thread_name_prefix="assistants-search"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wait_for_files(
        self, project: str, store_ids: Sequence[str], cancelled: threading.Event
    ) -> int:
        """Wait (up to ``wait`` seconds, or until cancelled) for the files of ``store_ids``
        still ``in_progress``; how many still are."""
        deadline = time.monotonic() + self.wait
        while True:
            pending = 0
            for store_id in store_ids:
                try:
                    record = self.retrieval.get_vector_store(project, store_id)
                except NotFound:
                    continue
                with self.retrieval.transaction():
                    counts, _ = self.retrieval.index.store_counts(record.id)
                pending += counts.in_progress
            if not pending or time.monotonic() >= deadline:
                return pending
            if cancelled.wait(min(STORE_POLL, max(0.0, deadline - time.monotonic()))):
                return pending

    def check_stores(self, project: str, store_ids: Sequence[str]) -> None:
        """Raise :class:`SearchUnavailable` for a store that is gone or expired."""
        for store_id in store_ids:
            try:
                record = self.retrieval.get_vector_store(project, store_id)
            except NotFound:
                raise SearchUnavailable(
                    f"The vector store {store_id} of this run no longer exists."
                ) from None
            if record.expired():
                raise SearchUnavailable(
                    f"The vector store {store_id} of this run has expired; give the run a "
                    "store that has not (a store's expires_after sets how long it lives)."
                )

    def search(
        self,
        project: str,
        store_ids: Sequence[str],
        queries: Sequence[str],
        options: SearchOptions,
        number: int,
        notice: str | None = None,
        *,
        exhausted: bool = False,
    ) -> SearchOutcome:
        """Search ``number`` of a run: ``queries`` in parallel over ``store_ids``, merged,
        cut to the options and the token budget (raises :class:`SearchUnavailable`);
        ``exhausted``: the run may search no more."""
        if exhausted:
            return SearchOutcome([], NO_MORE_SEARCHES)
        if not store_ids or not queries:
            return SearchOutcome([], tool_message([], notice))
        self.check_stores(project, store_ids)

        def one(query: str) -> list[SearchHit]:
            return self.retrieval.search(
                project,
                store_ids,
                query,
                max_num_results=options.max_num_results,
                score_threshold=options.score_threshold,
                ranker=options.ranker,
            ).hits

        try:
            # Several queries at once: each waits mostly on the embeddings endpoint and the
            # database.
            found = list(self._pool.map(one, queries)) if len(queries) > 1 else [one(queries[0])]
        except (InvalidRequest, NotFound) as problem:  # a store expired or went meanwhile
            raise SearchUnavailable(f"The search could not run: {problem}.") from None
        best: dict[tuple[str, str, int], SearchHit] = {}
        for hits in found:
            for hit in hits:
                key = (hit.chunk.vector_store_id, hit.file_id, hit.chunk.index)
                if key not in best or hit.score > best[key].score:
                    best[key] = hit
        ranked = sorted(best.values(), key=lambda hit: -hit.score)[: options.max_num_results]
        results: list[JSONDict] = []
        spent = 0
        for hit in ranked:
            label = marker(number, len(results), hit.filename)
            cost = self.counter.count(label) + self.counter.count(hit.chunk.text) + 2
            if spent + cost > self.budget:
                break
            spent += cost
            results.append(
                {
                    "file_id": hit.file_id,
                    "file_name": hit.filename,
                    "score": hit.score,
                    "attributes": dict(hit.attributes),
                    "content": [{"type": "text", "text": hit.chunk.text}],
                    "marker": label,
                    "text": hit.chunk.text,
                }
            )
        return SearchOutcome(results, tool_message(results, notice))


def step_results(results: Sequence[Mapping[str, Any]]) -> list[JSONDict]:
    """Results as the step stores them (the API's fields, ``content`` included)."""
    keys = ("file_id", "file_name", "score", "attributes", "content")
    return [{key: result[key] for key in keys} for result in results]


# -- citations -------------------------------------------------------------------------------

# The fallback citation: an answer without any marker is attributed to the passage that holds
# at least this share of the answer's words (stemmed, stop words left out), and at least
# SUPPORT_WORDS of them.
SUPPORT_SHARE: Final = 0.6
SUPPORT_WORDS: Final = 3


def supporting(answer: str, passages: Sequence[str]) -> int | None:
    """The passage an answer that cites nothing says the most of (its index), or None when
    none holds enough of it (see :data:`SUPPORT_SHARE`); ties go to the better ranked one."""
    said = set(terms(answer))
    if len(said) < SUPPORT_WORDS:
        return None
    best: int | None = None
    best_share = 0.0
    for index, passage in enumerate(passages):
        shared = len(said & set(terms(passage)))
        share = shared / len(said)
        if shared >= SUPPORT_WORDS and share >= SUPPORT_SHARE and share > best_share:
            best, best_share = index, share
    return best


Cited = tuple[str, str | None]
"""A stretch of an answer's text, and the file it cites (None: plain text)."""


class Citer:
    """Finds, in an answer streamed a piece at a time, the markers that name results of the
    run: ``feed`` returns the text that is settled, cut so that each marker naming a result is
    a stretch of its own with that result's file id. A stretch that may still become a marker
    is held back until it is one, or cannot be, or passes :data:`MAX_MARKER` characters;
    ``flush`` releases it at the end.

    ``results`` are ``(search, result, file_id, filename)`` of the run's searches. A marker
    names a result when its numbers name one and its name is that result's file (or
    ``source``, the word the API's own models wrote); any other is plain text.
    """

    def __init__(self, results: Sequence[Sequence[Any]]) -> None:
        self._by_place: dict[tuple[int, int], tuple[str, str]] = {
            (int(search), int(result)): (file_id, marker_name(filename))
            for search, result, file_id, filename in results
        }
        self._held = ""

    def file_of(self, found: re.Match[str]) -> str | None:
        """The file a marker names, or None."""
        known = self._by_place.get((int(found.group(1)), int(found.group(2))))
        if known is not None and found.group(3) in (known[1], "source"):
            return known[0]
        return None

    def feed(self, piece: str) -> list[Cited]:
        if not self._held and "【" not in piece:
            return [(piece, None)] if piece else []  # most pieces, by far
        text = self._held + piece
        self._held = ""
        settled: list[Cited] = []
        start = 0
        while True:
            opening = text.find("【", start)
            if opening < 0:
                break
            found = MARKER.match(text, opening)
            if found is not None:
                file_id = self.file_of(found)
                if file_id is None:
                    start = found.end()
                    continue
                if opening > 0:
                    settled.append((text[:opening], None))
                settled.append((found.group(0), file_id))
                text = text[found.end() :]
                start = 0
                continue
            prefix = _PREFIX.match(text, opening)
            assert prefix is not None
            if prefix.end() == len(text) and len(text) - opening <= MAX_MARKER:
                self._held = text[opening:]
                text = text[:opening]
                break
            start = opening + 1
        if text:
            settled.append((text, None))
        return settled

    def flush(self) -> list[Cited]:
        held, self._held = self._held, ""
        return [(held, None)] if held else []
