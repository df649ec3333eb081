"""The adapters of the store port (``assistants_client.server.store``): memory, SQLite,
PostgreSQL, and :func:`open_store`, which picks one."""

from __future__ import annotations

from typing import Any

from assistants_client.server.store import Store
from assistants_client.server.stores.memory import MemoryStore
from assistants_client.server.stores.postgres import PostgresStore
from assistants_client.server.stores.sqlite import SqliteStore

__all__ = ["MemoryStore", "PostgresStore", "SqliteStore", "open_store"]


def open_store(location: str | None = None, **options: Any) -> Store:
    """The store ``location`` names, its schema made current: memory (None), PostgreSQL (a
    ``postgresql://`` URL; needs the ``postgres`` extra) or SQLite (a file path).

    ``options`` go to the adapter (PostgreSQL: ``pool_size``, ``timeout``). Raises
    :class:`~assistants_client.server.store.SchemaError` for a database of a newer server,
    :class:`~assistants_client.server.store.StoreUnavailable` for one that cannot be reached.
    """
    if location is None:
        return MemoryStore()
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresStore(location, **options)
    return SqliteStore(location, **options)
