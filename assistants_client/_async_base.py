"""The hand-written half of :class:`AsyncAssistantsClient`: its core, and how a plan is awaited.

The methods of ``AsyncAssistantsClient`` are generated (``_async_client.py``, written by
``codegen/async_client.py`` from ``_client.py``): the same names, parameters, defaults,
annotations and docstrings as :class:`AssistantsClient`'s. Each calls the same method of its
*core*, an :class:`AsyncCore`: an ``AssistantsClient`` whose ``_run`` hands the method's plan
back unrun (see ``_plan``). The arguments are thus checked by the sync client's own code,
before any I/O, and the plan is then awaited on the client's :class:`AsyncRunner`:

- ``await self._result(self._core.get_thread(thread_id))``: a model (or whatever the sync
  method returns);
- ``await self._page(self._core.list_messages(thread_id))``: an :class:`AsyncPage`;
- ``self._stream(self._core.stream_run(...))``: an unopened :class:`AsyncAssistantStream`.

A method added to ``AssistantsClient`` appears here when ``make generate`` runs again; one
that did I/O outside a plan would block the loop, so the core's transport refuses it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import requests

from assistants_client._async_runner import AsyncRunner
from assistants_client._async_streaming import AsyncAssistantStream
from assistants_client._client import AssistantsClient
from assistants_client._config import ClientConfig
from assistants_client._pagination import AsyncPage, SyncPage
from assistants_client._plan import Deferred, Plan
from assistants_client._response import RawResponse, async_raw_response_wrapper
from assistants_client._retry import RetryPolicy
from assistants_client._streaming import AssistantStream
from assistants_client.models import operations as ops

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["AsyncAssistantsClientWithRawResponse", "AsyncClientBase", "AsyncCore"]

R = TypeVar("R")
T = TypeVar("T")


class AsyncCore(AssistantsClient):
    """An AssistantsClient whose methods check their arguments and return their plan unrun.

    What a method returns here is a :class:`Deferred` typed as what the sync method returns:
    only :class:`AsyncClientBase` reads it.
    """

    _awaits_callables: ClassVar[bool] = True

    def _run(self, plan: Plan[R]) -> R:
        return cast(R, Deferred(plan))

    def _setup(
        self,
        config: ClientConfig,
        session: requests.Session | None,
        retry_policy: RetryPolicy,
        pool_maxsize: int,
        max_response_bytes: int,
        max_event_bytes: int,
    ) -> None:
        super()._setup(
            config, session, retry_policy, pool_maxsize, max_response_bytes, max_event_bytes
        )
        # A method that sent a request outside its plan would block the event loop: refused.
        vars(self._transport)["request"] = _blocking_request


def _blocking_request(*args: object, **kwargs: object) -> Any:
    raise RuntimeError(
        "a method of the async client sent a blocking request: a client method must end in "
        "`return self._run(plan)` (see assistants_client/_plan.py)"
    )


class AsyncClientBase:
    """What every ``AsyncAssistantsClient`` has besides its generated methods."""

    _core: AsyncCore
    _runner: AsyncRunner
    with_raw_response: AsyncAssistantsClientWithRawResponse

    def _attach(self, core: AsyncCore) -> None:
        self._core = core
        self._runner = AsyncRunner(max_workers=2 * core._transport.pool_maxsize)
        self.with_raw_response = AsyncAssistantsClientWithRawResponse(self)

    @classmethod
    def _wrapping(cls, core: AsyncCore) -> Self:
        client = cls.__new__(cls)
        client._attach(core)
        return client

    # -- awaiting what the core returns -------------------------------------------------------

    async def _result(self, deferred: R) -> R:
        """The result of a core method's plan, carried out on the loop."""
        if isinstance(deferred, Deferred):
            return cast(R, await self._runner.run(deferred.plan))
        return deferred  # the method had nothing to send

    async def _page(self, deferred: SyncPage[T]) -> AsyncPage[T]:
        page = await self._result(deferred)
        if isinstance(page, RawResponse):  # through with_raw_response
            raw: RawResponse[SyncPage[T]] = page
            return cast(AsyncPage[T], RawResponse(raw._response, lambda: self._paged(raw.parse())))
        return self._paged(page)

    def _paged(self, page: SyncPage[T]) -> AsyncPage[T]:
        fetch = page._fetch_after

        async def fetch_after(cursor: str) -> AsyncPage[T]:
            return self._paged(await self._result(fetch(cursor)))

        return AsyncPage(
            data=page.data,
            has_more=page.has_more,
            first_id=page.first_id,
            last_id=page.last_id,
            fetch_after=fetch_after,
        )

    def _stream(self, deferred: AssistantStream) -> AsyncAssistantStream:
        if not isinstance(deferred, Deferred):
            raise TypeError(f"not the plan of a stream: {deferred!r}")
        plan: Plan[AssistantStream] = deferred.plan
        return AsyncAssistantStream(plan, self._runner.run)

    # -- lifecycle ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection pool (unless the session was passed in) and the worker
        threads."""
        self._close_now()

    def _close_now(self) -> None:
        self._core.close()
        self._runner.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        version = self._core._transport.config.api_version
        extra = f", api_version={version!r}" if version else ""
        return f"{type(self).__name__}(base_url={self._core.base_url!r}{extra})"


class AsyncAssistantsClientWithRawResponse:
    """The async client's API methods, one per operation of the table, each returning (once
    awaited) a :class:`RawResponse`, as ``AssistantsClient.with_raw_response`` does."""

    def __init__(self, client: AsyncClientBase) -> None:
        for operation in ops.OPERATIONS:
            method = getattr(client, operation.name, None)
            if method is not None and inspect.iscoroutinefunction(method):
                setattr(self, operation.name, async_raw_response_wrapper(method))

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Callable[..., Awaitable[RawResponse[Any]]]: ...
