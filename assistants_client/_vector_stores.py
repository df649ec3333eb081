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
polling never waits on a cancelled file. :func:`upload_all` uploads files with a bounded number
of threads and, when one upload fails, deletes the ones that succeeded before raising.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

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
    "describe_batch",
    "describe_vector_store_file",
    "ingested",
    "upload_all",
]

logger = logging.getLogger("assistants_client")

T = TypeVar("T")

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


def describe_vector_store_file(file_id: str, timeout: float) -> Callable[[Any], str]:
    def describe(last: Any) -> str:
        status = getattr(last, "status", None) or "not yet seen"
        return f"vector store file {file_id} is still {status} after {timeout:g}s"

    return describe


def describe_batch(what: str, timeout: float) -> Callable[[Any], str]:
    def describe(last: Any) -> str:
        if last is None:
            return f"{what} was not seen done after {timeout:g}s"
        counts = last.file_counts
        return (
            f"{what} {last.id} is still {last.status} after {timeout:g}s "
            f"({counts.completed} completed, {counts.failed} failed, {counts.in_progress} in "
            f"progress of {counts.total} files)"
        )

    return describe


def upload_all(
    items: Sequence[T],
    upload: Callable[[T], Any],
    delete: Callable[[Any], object],
    max_concurrency: int,
) -> list[Any]:
    """``upload(item)`` for every item, ``max_concurrency`` at a time; the results in order.

    When an upload fails, the ones not started are not started, the running ones are waited
    for, every upload that succeeded is deleted (``delete(result)``; a failure to delete is
    logged, not raised over the first error) and the first error is raised.
    """
    results: list[Any] = [None] * len(items)
    stop = threading.Event()

    def one(index: int, item: T) -> None:
        if stop.is_set():
            return
        try:
            results[index] = upload(item)
        except BaseException:
            stop.set()  # before this worker takes the next item
            raise

    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="upload") as pool:
        futures: list[Future[None]] = [pool.submit(one, i, item) for i, item in enumerate(items)]
        wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.done() and f.exception() is not None for f in futures):
            stop.set()
            for future in futures:
                future.cancel()
        wait(futures)
    failure = next((f.exception() for f in futures if not f.cancelled() and f.exception()), None)
    if failure is None:
        return results
    for result in results:
        if result is None:
            continue
        try:
            delete(result)
        except Exception as exc:  # the upload's own error is the one to raise
            logger.warning(
                "could not delete %s after a failed upload: %s", getattr(result, "id", "?"), exc
            )
    raise failure
