"""``assistants-server``: serve the API on the built-in HTTP server (see ``--help``)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from assistants_client.server import (
    ConfigError,
    SchemaError,
    StoreError,
    build_app,
    parse_config,
    store_for,
)
from assistants_client.server.config import ServerConfig
from assistants_client.server.httpd import WSGIServer, raise_open_file_limit
from assistants_client.server.responders.chat import ChatCompletionsResponder

__all__ = ["main"]

logger = logging.getLogger("assistants_client.server")

# How long the start-up check of the backend waits for an answer (beside serving).
BACKEND_CHECK_TIMEOUT = 2.0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv)
        config.check_bind()
    except ConfigError as problem:
        sys.stderr.write(f"assistants-server: {problem}\n")
        return 2
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app = build_app(config, store_for(config))
    except SchemaError as problem:
        sys.stderr.write(f"assistants-server: {problem}\n")
        return 2
    except StoreError as problem:
        sys.stderr.write(f"assistants-server: cannot open the store: {problem}\n")
        return 1
    # Room for every connection it may hold, and for the rest (databases, the backend, logs).
    raise_open_file_limit(config.max_connections + config.max_connections // 4 + 256)
    try:
        server = WSGIServer(
            app,
            config.host,
            config.port,
            max_connections=config.max_connections,
            threads=config.threads,
        )
    except OSError as problem:
        sys.stderr.write(
            f"assistants-server: cannot listen on {config.host}:{config.port}: {problem}\n"
        )
        app.engine.close()
        return 1
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if server.max_connections < config.max_connections:
        logger.warning(
            "serving at most %d connections, not %d: raise the open-file limit (ulimit -n)",
            server.max_connections,
            config.max_connections,
        )
    server.start()
    host = f"[{config.host}]" if ":" in config.host else config.host
    sys.stdout.write(f"http://{host}:{server.port}/v1\n")
    sys.stdout.flush()
    # Whether the backend can be reached, found out beside serving: start-up waits for nothing.
    threading.Thread(
        target=_check_backend, args=(config,), name="backend-check", daemon=True
    ).start()
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        server.stop()
        app.engine.close()
        app.engine.store.close()
        logger.info("server stopped")
    return 0


def _check_backend(config: ServerConfig) -> None:
    """One WARNING line when the backend cannot be reached or refuses the key."""
    with ChatCompletionsResponder(config.backend_url, api_key=config.backend_api_key) as backend:
        problem = backend.probe(BACKEND_CHECK_TIMEOUT)
    if problem is not None:
        logger.warning("%s", problem)


if __name__ == "__main__":
    raise SystemExit(main())
