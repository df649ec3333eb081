"""The Assistants API server: runs answered by any OpenAI-compatible Chat Completions backend.

``assistants-server --backend-url URL`` serves the API on the standard-library HTTP server;
``wsgi_app()`` is the same application for any WSGI server, configured from the same flags
and environment variables (``config.py`` lists them)::

    gunicorn -k gthread --threads 32 'assistants_client.server:wsgi_app()'

Inside, from HTTP down:

* the HTTP layer: ``http.py`` (the WSGI application), ``projects.py`` (which project a client
  key belongs to), ``routes.py`` (a request into a call of the engine: the raw path's ids, the
  query string, the body checked by ``validation.py``, the caller's project),
  ``idempotency.py`` (an operation once per project and ``Idempotency-Key``), and ``httpd.py``
  (the built-in HTTP/1.1 server, with ``framing.py``: requests read as RFC 9112 frames them);
* the engine, which knows no HTTP: ``engine.py`` (the façade: one typed method per operation),
  ``resources.py`` (the objects in the store), ``scheduling.py`` (which process executes a run,
  when; cancels, expiry, recovery), ``runs.py`` (one turn of a run, as events) and
  ``objects.py`` (objects with the fields the spec requires and those the live API sends);
* its responders (``responders/``): the Chat Completions backend (``chat.py``, with
  ``chat_request.py`` and ``chat_chunks.py``), or the emulator's script (``scripted.py``,
  ``script.py``);
* its store (``store.py``, ``stores/``): memory; a SQLite file, or a PostgreSQL database shared
  by several server processes, with ``--db``;
* files and vector stores (``files.py``, over ``retrieval/``: uploads, parsing, chunking,
  embeddings through the backend's ``/embeddings`` by default, hybrid search), kept in the
  same store.

Calls to the backend use the client's own HTTP machinery (``_transport.py``, ``_retry.py``,
``_deadline.py``, ``_sse.py``).
"""

from __future__ import annotations

import logging

from assistants_client.server.config import (
    EMBEDDINGS_KEY_ENV,
    ConfigError,
    ServerConfig,
    parse_config,
)
from assistants_client.server.engine import Engine, Timing
from assistants_client.server.http import ApiApp, Credentials
from assistants_client.server.responders.chat import ChatCompletionsResponder
from assistants_client.server.retrieval import Embedder, embedder_from_settings
from assistants_client.server.store import SchemaError, Store, StoreError, StoreUnavailable
from assistants_client.server.stores import open_store

__all__ = [
    "ConfigError",
    "SchemaError",
    "ServerConfig",
    "StoreError",
    "StoreUnavailable",
    "build_app",
    "embedder_for",
    "parse_config",
    "store_for",
    "wsgi_app",
]

logger = logging.getLogger("assistants_client.server")


def store_for(config: ServerConfig) -> Store:
    """The store ``config.db`` names, its schema created or upgraded.

    Raises :class:`SchemaError` for a database of a newer server, :class:`StoreUnavailable`
    for one that cannot be reached.
    """
    if config.db is None:
        logger.warning("no --db: the state is kept in memory and lost when the server stops")
    return open_store(config.db, pool_size=config.db_pool, timeout=config.db_timeout)


def embedder_for(config: ServerConfig) -> Embedder | None:
    """How ``config`` embeds files and searches (None: keyword search only)."""
    return embedder_from_settings(
        config.embeddings_base_url,
        config.embeddings_model,
        backend_url=config.backend_url,
        backend_api_key=config.backend_api_key,
        environ={EMBEDDINGS_KEY_ENV: config.embeddings_api_key or ""},
    )


def build_app(config: ServerConfig, store: Store | None = None) -> ApiApp:
    """The WSGI application for ``config``: a store (``store``, or the one ``config.db``
    names), the backend responder, the engine."""
    responder = ChatCompletionsResponder(
        config.backend_url,
        api_key=config.backend_api_key,
        model_map=config.model_map,
        connect_timeout=config.backend_connect_timeout,
        read_timeout=config.backend_read_timeout,
        total_timeout=config.backend_max_duration,
        max_retries=config.backend_max_retries,
        max_answer_text=config.backend_max_text,
        completion_tokens_field=config.completion_tokens_field,  # type: ignore[arg-type]
        # Backend calls at once: the background runs, plus a streamed run per request served.
        max_connections=config.workers + config.threads,
    )
    engine = Engine(
        store if store is not None else store_for(config),
        responder,
        timing=Timing(run_expires_after=config.run_expiry),
        workers=config.workers,
        lease=config.run_lease,
        embedder=embedder_for(config),
        max_file_bytes=config.max_file_bytes,
    )
    credentials = Credentials(keys=config.api_keys, loopback_only=not config.api_keys)
    return ApiApp(
        engine,
        prefix="/v1",
        credentials=credentials,
        max_body_bytes=config.max_body_bytes,
        poll_after_ms="500",
    )


def wsgi_app(*argv: str) -> ApiApp:
    """The server as a WSGI application: flags as arguments, else the environment variables.

    ``gunicorn 'assistants_client.server:wsgi_app()'`` or
    ``gunicorn 'assistants_client.server:wsgi_app("--db", "assistants.db")'``. Without client
    keys (``ASSISTANTS_SERVER_API_KEYS``) it answers only clients on the loopback interface.
    """
    config = parse_config(argv)
    logging.basicConfig(level=config.log_level)
    return build_app(config)
