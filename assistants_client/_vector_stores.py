"""Files and vector stores: the checks the spec states only in prose, and getting files in.

What the spec says in its schemas (a chunk size of 100 to 4096 tokens, at most 50 search
results, batches of 1 to 2000 files, an upload's purpose and expiry) is checked by the
operations' generated request models. What it says in words is checked here, before any
request: a chunk overlap of at most half the chunk size; ``file_ids`` and ``files`` of a batch
exclusive (and the batch-wide ``attributes``/``chunking_strategy``, which the API ignores
beside ``files``, refused there rather than silently dropped); ``in``/``nin`` filters take a
list and the other comparisons a single value; a search query that is not blank.

Ingestion: a vector store file or a file batch is done as soon as its status is anything but
``in_progress`` (``completed``, ``failed``, ``cancelled``, or a status a newer server adds), so
polling never waits on a cancelled file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assistants_client._exceptions import InvalidArgumentError
from assistants_client._model_base import Model
from assistants_client._omit import Omit

__all__ = [
    "FILE_STATUSES",
    "MAX_FILTER_DEPTH",
    "check_batch",
    "check_chunking_strategy",
    "check_concurrency",
    "check_filters",
    "check_query",
    "check_status_filter",
    "check_tool_resources",
    "ingested",
    "ingestion_status",
]

FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")
MAX_FILTER_DEPTH = 32
_LIST_COMPARISONS = frozenset({"in", "nin"})


def _plain(value: Any) -> Any:
    return value.to_dict() if isinstance(value, Model) else value


def check_chunking_strategy(value: Any, param: str = "chunking_strategy") -> None:
    """A static strategy's overlap is at most half its chunk size, and not negative."""
    value = _plain(value)
    if not isinstance(value, Mapping) or value.get("type") != "static":
        return  # the request model checks the rest
    static = _plain(value.get("static"))
    if not isinstance(static, Mapping):
        return
    size, overlap = static.get("max_chunk_size_tokens"), static.get("chunk_overlap_tokens")
    if not isinstance(size, int) or not isinstance(overlap, int):
        return  # the request model says what is wrong (a bool, a float, a str)
    if overlap < 0:
        raise InvalidArgumentError(
            f"{param}: chunk_overlap_tokens must be >= 0, got {overlap}", param=param
        )
    if overlap * 2 > size:
        raise InvalidArgumentError(
            f"{param}: chunk_overlap_tokens ({overlap}) must not exceed half of "
            f"max_chunk_size_tokens ({size})",
            param=param,
        )


def check_tool_resources(value: Any, param: str = "tool_resources") -> None:
    """The chunking strategies of the vector stores a ``tool_resources`` creates."""
    value = _plain(value)
    if not isinstance(value, Mapping):
        return
    file_search = _plain(value.get("file_search"))
    stores = file_search.get("vector_stores") if isinstance(file_search, Mapping) else None
    if isinstance(stores, Sequence) and not isinstance(stores, str):
        for store in stores:
            store = _plain(store)
            if isinstance(store, Mapping) and "chunking_strategy" in store:
                check_chunking_strategy(store["chunking_strategy"], param)


def check_filters(value: Any, param: str = "filters") -> None:
    """Comparisons ``in``/``nin`` take a list, the others one value; nesting is bounded."""
    stack: list[tuple[Any, int]] = [(_plain(value), 1)]
    while stack:
        node, depth = stack.pop()
        node = _plain(node)
        if depth > MAX_FILTER_DEPTH:
            raise InvalidArgumentError(
                f"{param}: filters nest at most {MAX_FILTER_DEPTH} levels deep", param=param
            )
        if not isinstance(node, Mapping):
            continue  # the request model says what is wrong with it
        kind = node.get("type")
        if kind in ("and", "or"):
            inner = node.get("filters")
            if isinstance(inner, Sequence) and not isinstance(inner, (str, bytes)):
                stack.extend((item, depth + 1) for item in inner)
            continue
        if "value" not in node or not isinstance(kind, str):
            continue
        is_list = isinstance(node["value"], (list, tuple))
        if kind in _LIST_COMPARISONS and not is_list:
            raise InvalidArgumentError(
                f"{param}: the {kind!r} comparison on {node.get('key')!r} takes a list of values",
                param=param,
            )
        if kind not in _LIST_COMPARISONS and is_list:
            raise InvalidArgumentError(
                f"{param}: the {kind!r} comparison on {node.get('key')!r} takes one value, "
                "not a list (use 'in' or 'nin')",
                param=param,
            )


def check_query(value: Any) -> None:
    """A search query: a non-blank string, or a non-empty list of them."""
    queries = value if isinstance(value, (list, tuple)) else [value]
    if not queries:
        raise InvalidArgumentError("query must not be an empty list", param="query")
    for query in queries:
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgumentError(
                "query must be a non-blank str or a list of non-blank str", param="query"
            )


def check_batch(file_ids: Any, files: Any, attributes: Any, chunking_strategy: Any) -> None:
    """``file_ids`` or ``files``, exactly one; batch-wide settings only with ``file_ids``."""
    given = [name for name, v in (("file_ids", file_ids), ("files", files)) if not _omitted(v)]
    if len(given) != 1:
        raise InvalidArgumentError(
            "give exactly one of file_ids or files (they are mutually exclusive), got "
            + (" and ".join(given) or "neither"),
            param="files" if given else "file_ids",
        )
    if given == ["files"]:
        for name, value in (("attributes", attributes), ("chunking_strategy", chunking_strategy)):
            if not _omitted(value):
                raise InvalidArgumentError(
                    f"{name} applies to file_ids only: with files, give each file its own "
                    f"{name} (the API ignores a batch-wide one)",
                    param=name,
                )
        if isinstance(files, Sequence) and not isinstance(files, (str, bytes)):
            for index, item in enumerate(files):
                item = _plain(item)
                if isinstance(item, Mapping) and "chunking_strategy" in item:
                    check_chunking_strategy(item["chunking_strategy"], f"files[{index}]")
    elif not _omitted(chunking_strategy):
        check_chunking_strategy(chunking_strategy)


def _omitted(value: Any) -> bool:
    return isinstance(value, Omit)


def check_status_filter(value: Any) -> Any:
    if _omitted(value):
        return value
    if value not in FILE_STATUSES:
        raise InvalidArgumentError(
            f"filter must be one of {', '.join(FILE_STATUSES)}, got {value!r}", param="filter"
        )
    return value


def check_concurrency(value: Any, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise InvalidArgumentError(
            f"max_concurrency must be an int from 1 to {most} (the connection pool's size), "
            f"got {value!r}",
            param="max_concurrency",
        )
    return value


# -- ingestion --------------------------------------------------------------------------------


def ingested(item: Any) -> bool:
    """Done: anything but ``in_progress`` (a cancelled file is done too)."""
    return getattr(item, "status", None) != "in_progress"


def ingestion_status(item: Any) -> str:
    """A vector store file's status; a batch's with its counts, for a deadline's message."""
    status = str(getattr(item, "status", None) or "unknown")
    counts = getattr(item, "file_counts", None)
    if counts is None:
        return status
    return (
        f"{status} ({counts.completed} completed, {counts.failed} failed, "
        f"{counts.in_progress} in progress of {counts.total} files)"
    )
