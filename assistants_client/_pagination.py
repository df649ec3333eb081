"""Cursor pages for the ``list_*`` methods.

A :class:`SyncPage` is one page of results. Iterating it yields every item of this page and of
the pages after it; the next page is fetched (with ``after=<last id>``) only when the items
before it have been consumed, and a page is dropped as soon as iteration moves past it, so
iterating any number of items holds one page in memory at a time. An :class:`AsyncPage` is the
same for the async client, walked with ``async for``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Generic, TypeVar

__all__ = ["AsyncPage", "SyncPage"]

T = TypeVar("T")


class _Page(Generic[T]):
    """What both kinds of page hold: ``data``, ``has_more``, ``first_id``, ``last_id``."""

    __slots__ = ("__weakref__", "data", "first_id", "has_more", "last_id")

    def __init__(
        self, *, data: Sequence[T], has_more: bool, first_id: str | None, last_id: str | None
    ) -> None:
        self.data: list[T] = list(data)
        self.has_more = bool(has_more)
        self.first_id = first_id
        self.last_id = last_id

    def _next_cursor(self) -> str | None:
        """The cursor of the next page, when the server said there is one."""
        if not self.has_more:
            return None
        if self.last_id:
            return self.last_id
        if self.data:
            last = getattr(self.data[-1], "id", None)
            if isinstance(last, str) and last:
                return last
        return None

    def has_next_page(self) -> bool:
        """Whether the server said more items follow (and there is a cursor to fetch them)."""
        return self._next_cursor() is not None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(items={len(self.data)}, first_id={self.first_id!r}, "
            f"last_id={self.last_id!r}, has_more={self.has_more!r})"
        )


class SyncPage(_Page[T]):
    """One page of a list: ``data``, ``has_more``, ``first_id``, ``last_id``.

    ``for item in page`` walks this page and every later page, lazily. ``iter_pages()`` does
    the same page by page; ``next_page()`` fetches only the next one.
    """

    __slots__ = ("_fetch_after",)

    def __init__(
        self,
        *,
        data: Sequence[T],
        has_more: bool,
        first_id: str | None,
        last_id: str | None,
        fetch_after: Callable[[str], SyncPage[T]],
    ) -> None:
        super().__init__(data=data, has_more=has_more, first_id=first_id, last_id=last_id)
        self._fetch_after = fetch_after

    def next_page(self) -> SyncPage[T] | None:
        """The next page, fetched now, or None when this is the last page."""
        cursor = self._next_cursor()
        return None if cursor is None else self._fetch_after(cursor)

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        """This page, then each later page, fetched one at a time as iteration reaches it."""
        yield self
        fetch = self._fetch_after
        cursor = self._next_cursor()
        # Only the cursor of the current page is kept, not the page itself, so a page the
        # caller no longer holds can be freed while iteration goes on.
        while cursor is not None:
            page = fetch(cursor)
            if not page.data:
                yield page
                return
            cursor = page._next_cursor()
            yield page
            del page

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            items = page.data
            del page
            yield from items


class AsyncPage(_Page[T]):
    """One page of a list, for the async client: ``data``, ``has_more``, ``first_id``,
    ``last_id``.

    ``async for item in page`` walks this page and every later page, lazily (one page in
    memory at a time). ``iter_pages()`` does the same page by page; ``await next_page()``
    fetches only the next one.
    """

    __slots__ = ("_fetch_after",)

    def __init__(
        self,
        *,
        data: Sequence[T],
        has_more: bool,
        first_id: str | None,
        last_id: str | None,
        fetch_after: Callable[[str], Awaitable[AsyncPage[T]]],
    ) -> None:
        super().__init__(data=data, has_more=has_more, first_id=first_id, last_id=last_id)
        self._fetch_after = fetch_after

    async def next_page(self) -> AsyncPage[T] | None:
        """The next page, fetched now, or None when this is the last page."""
        cursor = self._next_cursor()
        return None if cursor is None else await self._fetch_after(cursor)

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        """This page, then each later page, fetched one at a time as iteration reaches it."""
        yield self
        fetch = self._fetch_after
        cursor = self._next_cursor()
        while cursor is not None:
            page = await fetch(cursor)
            if not page.data:
                yield page
                return
            cursor = page._next_cursor()
            yield page
            del page

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            items = page.data
            del page
            for item in items:
                yield item
