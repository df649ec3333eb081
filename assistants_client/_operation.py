"""One operation of the API, as the generated table (``models/operations.py``) describes it.

The table is generated from the spec; this module is the hand-written shape of its entries and
the one place where an entry becomes a request path, with every id checked first.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

from assistants_client._arguments import validate_id

__all__ = ["ListOperation", "Operation"]

R = TypeVar("R")
I = TypeVar("I")  # noqa: E741 - the item of a list, as in the spec's `items`


@attrs.frozen(kw_only=True)
class Operation(Generic[R]):
    """How to call an operation, and the models of what it takes and gives.

    ``id`` is the spec's operationId, ``name`` the client method (and emulator handler) that
    serves it. ``path`` is the template (``/threads/{thread_id}/runs``) below the base URL.
    ``streamable`` operations accept ``"stream": true`` and then answer with server-sent events.
    ``request_media_type`` says how the body is sent (``application/json``, or
    ``multipart/form-data`` for an upload; None without a body); ``response_media_type`` how
    the answer comes (``application/json``, or ``application/octet-stream``: the raw bytes of
    a file, and ``response`` is then ``bytes``).
    """

    id: str
    name: str
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    request: type[Any] | None
    response: type[R]
    streamable: bool
    request_media_type: str | None
    response_media_type: str

    def path_for(self, **ids: Any) -> str:
        """The path with each id checked (InvalidArgumentError naming it) and filled in."""
        checked = {name: validate_id(ids.get(name), name) for name in self.path_params}
        return self.path.format_map(checked)


@attrs.frozen(kw_only=True)
class ListOperation(Operation[R], Generic[R, I]):
    """A list operation: ``response`` is the page, ``item`` the model of its ``data``."""

    item: type[I]
