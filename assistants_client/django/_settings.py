"""One client per process (and one async client), built from ``ASSISTANTS_CLIENT`` on first use."""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from assistants_client._async_client import AsyncAssistantsClient
from assistants_client._client import AssistantsClient
from assistants_client._exceptions import InvalidArgumentError

__all__ = [
    "SETTING",
    "async_client_from_settings",
    "client_from_settings",
    "close_async_client",
    "close_client",
    "get_async_client",
    "get_client",
]

logger = logging.getLogger("assistants_client")

SETTING = "ASSISTANTS_CLIENT"

C = TypeVar("C")

_FACTORIES: dict[str, Callable[..., AssistantsClient]] = {
    "openai": AssistantsClient,
    "azure": AssistantsClient.for_azure,
    "foundry": AssistantsClient.for_foundry,
}
_ASYNC_FACTORIES: dict[str, Callable[..., AsyncAssistantsClient]] = {
    "openai": AsyncAssistantsClient,
    "azure": AsyncAssistantsClient.for_azure,
    "foundry": AsyncAssistantsClient.for_foundry,
}


def _parameters(factory: Callable[..., object]) -> frozenset[str]:
    return frozenset(
        name
        for name, parameter in inspect.signature(factory).parameters.items()
        if name not in ("self", "cls")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    )


_KNOWN = {kind: _parameters(factory) for kind, factory in _FACTORIES.items()}


def client_from_settings(config: Mapping[str, Any] | None) -> AssistantsClient:
    """A new client from a value of the ``ASSISTANTS_CLIENT`` setting (None: the environment).

    ``"kind"`` chooses the constructor: ``"openai"`` (the default, ``AssistantsClient(...)``),
    ``"azure"`` (``AssistantsClient.for_azure(...)``) or ``"foundry"``
    (``AssistantsClient.for_foundry(...)``); every other key is one of its keyword arguments. A
    ``token_provider`` may be a callable or the dotted path of one. Raises
    ImproperlyConfigured naming the key at fault.
    """
    return _from_settings(config, _FACTORIES)


def async_client_from_settings(config: Mapping[str, Any] | None) -> AsyncAssistantsClient:
    """A new :class:`AsyncAssistantsClient` from the same setting (see
    :func:`client_from_settings`): the async client's constructors take the same arguments."""
    return _from_settings(config, _ASYNC_FACTORIES)


def _from_settings(
    config: Mapping[str, Any] | None, factories: Mapping[str, Callable[..., C]]
) -> C:
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ImproperlyConfigured(f"{SETTING} must be a dict of client arguments")
    arguments = dict(config)
    kind = arguments.pop("kind", "openai")
    factory = factories.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise ImproperlyConfigured(
            f"{SETTING}['kind'] must be one of {', '.join(map(repr, factories))}, got {kind!r}"
        )
    unknown = sorted(str(key) for key in arguments if key not in _KNOWN[kind])
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING}: unknown key {unknown[0]!r} for kind {kind!r} (known: "
            f"{', '.join(sorted(_KNOWN[kind]))})"
        )
    provider = arguments.get("token_provider")
    if isinstance(provider, str):
        try:
            arguments["token_provider"] = import_string(provider)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"{SETTING}['token_provider']: cannot import {provider!r}: {exc}"
            ) from exc
    try:
        return factory(**arguments)
    except InvalidArgumentError as exc:
        key = exc.param or "kind"
        raise ImproperlyConfigured(f"{SETTING}[{key!r}]: {exc}") from exc


class _Holder(Generic[C]):
    """The process's client: built on first use under a lock, again after a fork."""

    def __init__(self, build: Callable[[Any], C], close: Callable[[C], object]) -> None:
        self.lock = threading.Lock()
        self.client: C | None = None
        self.pid = 0
        self.exit_hook = False
        self._build = build
        self._close = close

    def get(self) -> C:
        client, pid = self.client, self.pid
        if client is not None and pid == os.getpid():
            return client
        with self.lock:
            if self.client is None or self.pid != os.getpid():
                # After a fork the parent's client is left alone: its sockets are the parent's.
                self.client = self._build(getattr(settings, SETTING, None))
                self.pid = os.getpid()
                if not self.exit_hook:
                    atexit.register(self.close)
                    self.exit_hook = True
            return self.client

    def close(self) -> None:
        with self.lock:
            client, self.client = self.client, None
            owned = self.pid == os.getpid()
        if client is not None and owned:
            self._close(client)


_holder = _Holder(client_from_settings, AssistantsClient.close)
# The async client has no loop of its own: one serves every event loop of the process, and is
# closed without one (its pool and its worker threads).
_async_holder = _Holder(async_client_from_settings, AsyncAssistantsClient._close_now)


def get_client() -> AssistantsClient:
    """The client of this process, built from ``settings.ASSISTANTS_CLIENT`` on first use.

    Safe to call from any thread: they all get the same client. A forked worker process builds
    its own. It is closed when the process exits (or by :func:`close_client`).
    """
    return _holder.get()


def get_async_client() -> AsyncAssistantsClient:
    """The :class:`AsyncAssistantsClient` of this process, for async views (ASGI).

    Built from ``settings.ASSISTANTS_CLIENT`` on first use, as :func:`get_client` is, and then
    shared by every request: it is bound to no event loop, so the loop of an ASGI server, the
    loops ``async_to_sync`` makes and those of tests can all use it, one after the other or at
    once. Closed when the process exits (or by :func:`close_async_client`).
    """
    return _async_holder.get()


def close_client() -> None:
    """Close the process's client; the next :func:`get_client` builds a new one."""
    _holder.close()


def close_async_client() -> None:
    """Close the process's async client; the next :func:`get_async_client` builds a new one."""
    _async_holder.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        close_client()
        close_async_client()


setting_changed.connect(_on_setting_changed, dispatch_uid="assistants_client.django")
