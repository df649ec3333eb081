"""The server's settings: command-line flags, each with an environment variable behind it.

``assistants-server`` and ``wsgi_app()`` read the same settings, so a team can run the server
under the HTTP server it already trusts (gunicorn) with the configuration it would give the
command. A flag wins over its environment variable.

Secrets come only from the environment, never from flags (a command line is visible to every
user of the machine): ``ASSISTANTS_BACKEND_API_KEY`` (the backend's key, sent as a bearer
token), ``ASSISTANTS_EMBEDDINGS_API_KEY`` (the embeddings endpoint's, when it is not the
backend's) and ``ASSISTANTS_SERVER_API_KEYS`` (the keys clients must present, comma-separated,
each ``PROJECT:KEY`` or ``KEY``: see ``projects.py``), or a file of them (``--api-keys-file``,
one a line, readable by its owner only). Without client keys, the server serves only loopback
clients. A PostgreSQL URL with a password is accepted in ``--db``, with a warning: it is
better kept in ``ASSISTANTS_DB`` (or left to libpq: ``PGPASSWORD``, ``~/.pgpass``). The
password is never logged nor shown (``redact``).

Files are embedded, by default, through the chat backend's own ``POST /embeddings`` (OpenAI,
Ollama and LiteLLM serve it beside ``/chat/completions``); a backend without it (404, 405,
501) leaves search to keywords. ``--embeddings-url`` names another server (vLLM and llama.cpp
serve embeddings from a process of their own), ``--embeddings none`` turns vectors off,
``--embeddings local`` embeds offline (a deterministic hashing embedder, for tests).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from assistants_client._config import is_loopback
from assistants_client.server.projects import (
    KeysError,
    keys_by_project,
    keys_from_file,
    keys_from_list,
)
from assistants_client.server.retrieval.embeddings import EMBEDDINGS_KEY_ENV
from assistants_client.server.retrieval.service import DEFAULT_MAX_FILE_BYTES
from assistants_client.server.store import redact

logger = logging.getLogger("assistants_client.server")

__all__ = ["EMBEDDINGS_KEY_ENV", "ConfigError", "ServerConfig", "parse_config"]

BACKEND_KEY_ENV = "ASSISTANTS_BACKEND_API_KEY"
CLIENT_KEYS_ENV = "ASSISTANTS_SERVER_API_KEYS"
EMBEDDINGS_CHOICES = ("backend", "none", "local")


class ConfigError(ValueError):
    """Settings the server refuses to start with; the message says what to change."""


@attrs.frozen(kw_only=True)
class ServerConfig:
    """Everything the server is built from (see ``assistants-server --help``)."""

    backend_url: str
    backend_api_key: str | None = attrs.field(default=None, repr=False)
    model_map: Mapping[str, str] = attrs.field(factory=dict)
    # Each client key with its project ("": the shared namespace).
    api_keys: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    db: str | None = attrs.field(default=None, repr=lambda db: repr(redact(db)))
    db_pool: int = 10
    db_timeout: float = 10.0
    run_lease: float = 10.0
    workers: int = 32
    max_connections: int = 4096
    threads: int = 256
    run_expiry: float = 600.0
    backend_connect_timeout: float = 10.0
    backend_read_timeout: float = 300.0
    backend_max_retries: int = 3
    backend_max_text: int = 8 * 1024 * 1024
    backend_max_duration: float = 900.0
    completion_tokens_field: str = "max_completion_tokens"
    max_body_bytes: int = 4 * 1024 * 1024
    embeddings: str = "backend"
    embeddings_url: str | None = None
    embeddings_model: str | None = None
    embeddings_api_key: str | None = attrs.field(default=None, repr=False)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    log_level: str = "WARNING"

    @property
    def embeddings_base_url(self) -> str | None:
        """Where vectors come from: an ``/embeddings`` base URL, ``none`` or ``local``."""
        if self.embeddings != "backend":
            return self.embeddings
        return self.embeddings_url or self.backend_url

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def check_bind(self) -> None:
        """Without client keys, only a loopback address may be bound."""
        if self.api_keys or is_loopback(self.host):
            return
        raise ConfigError(
            f"refusing to serve {self.host} without client keys: anyone who can reach it could "
            f"use your backend. Set {CLIENT_KEYS_ENV} (comma-separated keys clients must send as "
            "`Authorization: Bearer <key>`), or bind 127.0.0.1."
        )


# flag -> (environment variable, help)
_SETTINGS: dict[str, tuple[str, str]] = {
    "backend-url": (
        "ASSISTANTS_BACKEND_URL",
        "an OpenAI-compatible base URL; runs post to {url}/chat/completions",
    ),
    "host": ("ASSISTANTS_HOST", "address to bind (default 127.0.0.1)"),
    "port": ("ASSISTANTS_PORT", "port to bind (default 8000; 0 picks a free one)"),
    "api-keys-file": (
        "ASSISTANTS_SERVER_API_KEYS_FILE",
        "a file of client keys, one PROJECT:KEY (or KEY) a line, readable by its owner only; "
        f"taken with those of {CLIENT_KEYS_ENV}",
    ),
    "db": (
        "ASSISTANTS_DB",
        "where the state is kept: a SQLite file, or a postgresql:// URL for several server "
        "processes on one database (default: memory only)",
    ),
    "db-pool": (
        "ASSISTANTS_DB_POOL",
        "PostgreSQL connections each process opens at most (default 10)",
    ),
    "db-timeout": (
        "ASSISTANTS_DB_TIMEOUT",
        "seconds a database connection, statement or lock may take before the request gets a "
        "retryable 503 (default 10)",
    ),
    "run-lease": (
        "ASSISTANTS_RUN_LEASE",
        "seconds a process's claim on a run lasts without renewal: a run whose process died "
        "fails after this (default 10)",
    ),
    "model-map": (
        "ASSISTANTS_MODEL_MAP",
        "FROM=TO: send model FROM to the backend as TO (repeatable; comma-separated in the "
        "environment)",
    ),
    "workers": ("ASSISTANTS_WORKERS", "runs executed in the background at once (default 32)"),
    "max-connections": (
        "ASSISTANTS_MAX_CONNECTIONS",
        "connections open at once, idle ones included; past it the longest idle one is "
        "closed, or the new one gets 503 (default 4096, within the open-file limit)",
    ),
    "threads": (
        "ASSISTANTS_THREADS",
        "requests served at once, each on a thread (a stream holds one while it streams); "
        "more get 503 (default 256)",
    ),
    "run-expiry": (
        "ASSISTANTS_RUN_EXPIRY",
        "seconds a run may wait in requires_action before it expires (default 600)",
    ),
    "backend-timeout": (
        "ASSISTANTS_BACKEND_TIMEOUT",
        "seconds of silence from the backend before a run fails (default 300)",
    ),
    "backend-retries": (
        "ASSISTANTS_BACKEND_RETRIES",
        "retries of a backend 429/5xx before a run fails (default 3)",
    ),
    "backend-max-text": (
        "ASSISTANTS_BACKEND_MAX_TEXT",
        "characters of text and tool calls one backend answer may hold, and 64 bytes of "
        "answer per character; past either the run fails, keeping the text so far "
        "(default 8388608: 8 Mi)",
    ),
    "backend-max-duration": (
        "ASSISTANTS_BACKEND_MAX_DURATION",
        "seconds one backend answer may take, retries included; past it the run fails, "
        "keeping the text so far (default 900)",
    ),
    "completion-tokens-field": (
        "ASSISTANTS_COMPLETION_TOKENS_FIELD",
        "the backend's completion-token limit field: max_completion_tokens (default) or "
        "max_tokens (Ollama, older llama.cpp)",
    ),
    "embeddings": (
        "ASSISTANTS_EMBEDDINGS",
        "how files and searches are embedded: backend (default: the backend's own "
        "/embeddings, or --embeddings-url; keyword search only where it serves none), none "
        "(keyword search only) or local (an offline deterministic embedder, for tests)",
    ),
    "embeddings-url": (
        "ASSISTANTS_EMBEDDINGS_URL",
        "an OpenAI-compatible base URL serving /embeddings apart from the backend (vLLM, "
        f"llama.cpp); its key comes from {EMBEDDINGS_KEY_ENV}, else the backend's",
    ),
    "embeddings-model": (
        "ASSISTANTS_EMBEDDINGS_MODEL",
        "the embeddings model (default text-embedding-3-small)",
    ),
    "max-file-bytes": (
        "ASSISTANTS_MAX_FILE_BYTES",
        "the largest file an upload may carry, in bytes; past it the upload gets 413 "
        "(default 536870912, 512 MiB)",
    ),
    "log-level": ("ASSISTANTS_LOG_LEVEL", "logging level (default WARNING)"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistants-server",
        description=(
            "Serve the Assistants API, with runs answered by an OpenAI-compatible Chat "
            "Completions backend. Secrets come from the environment: "
            f"{BACKEND_KEY_ENV} (the backend's key), {EMBEDDINGS_KEY_ENV} (the embeddings "
            f"endpoint's, when not the backend's) and {CLIENT_KEYS_ENV} (client keys)."
        ),
    )
    for flag, (env, help_text) in _SETTINGS.items():
        action = "append" if flag == "model-map" else "store"
        parser.add_argument(f"--{flag}", action=action, default=None, help=f"{help_text} [{env}]")
    return parser


# The largest value each numeric setting takes: past it a value cannot work (a port), or would
# fail later, on a socket or a timer, rather than now with a clear message.
_MAXIMA: dict[str, float] = {
    "port": 65535,
    "workers": 100_000,
    "db-pool": 10_000,
    "db-timeout": 86_400,
    "run-lease": 86_400,
    "max-connections": 1_000_000,
    "threads": 100_000,
    "run-expiry": 30 * 86_400,
    "backend-timeout": 86_400,
    "backend-retries": 100,
    "max-file-bytes": 1 << 40,  # 1 TiB: a byte count, not a timer
}
# Finite, and small enough for every timer and socket timeout (about 31 years).
_LARGEST: float = 1e9


def _number(name: str, raw: str, kind: type[Any], minimum: float) -> Any:
    try:
        value = kind(raw)
    except (ValueError, OverflowError):
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"--{name} must be {what}, got {raw!r}") from None
    if value != value:  # NaN
        raise ConfigError(f"--{name} must be a number, got {raw!r}")
    if value < minimum:
        raise ConfigError(f"--{name} must be at least {minimum:g}, got {raw!r}")
    if value > (maximum := _MAXIMA.get(name, _LARGEST)):
        raise ConfigError(f"--{name} must be at most {maximum:g}, got {raw!r}")
    return value


def _has_password(location: str) -> bool:
    return redact(location) != location


def _model_map(entries: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in entries:
        source, sep, target = entry.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ConfigError(f"--model-map takes FROM=TO, got {entry!r}")
        found[source.strip()] = target.strip()
    return found


def parse_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """The settings from flags (``argv``) over environment variables (``environ``)."""
    env = os.environ if environ is None else environ
    args = vars(_parser().parse_args(list(argv or [])))

    def setting(flag: str) -> Any:
        value = args[flag.replace("-", "_")]
        if value is None:
            raw = env.get(_SETTINGS[flag][0], "").strip()
            if raw:
                value = raw.split(",") if flag == "model-map" else raw
        return value

    backend_url = setting("backend-url")
    if not backend_url:
        raise ConfigError(
            "a backend is required: pass --backend-url (or set ASSISTANTS_BACKEND_URL), e.g. "
            "http://127.0.0.1:11434/v1 for Ollama"
        )
    if not str(backend_url).startswith(("http://", "https://")):
        raise ConfigError(f"--backend-url must be an http(s) URL, got {backend_url!r}")
    fields: dict[str, Any] = {"backend_url": str(backend_url).rstrip("/")}
    backend_key = env.get(BACKEND_KEY_ENV, "").strip()
    if backend_key:
        fields["backend_api_key"] = backend_key
    try:
        entries = keys_from_list(env.get(CLIENT_KEYS_ENV, ""), CLIENT_KEYS_ENV)
        if (keys_file := setting("api-keys-file")) is not None:
            entries += keys_from_file(str(keys_file))
        fields["api_keys"] = keys_by_project(entries)
    except KeysError as problem:
        raise ConfigError(str(problem)) from None
    if (host := setting("host")) is not None:
        fields["host"] = host
    if (port := setting("port")) is not None:
        fields["port"] = _number("port", port, int, 0)
    if (db := setting("db")) is not None:
        if args["db"] is not None and _has_password(str(db)):
            logger.warning(
                "--db %s carries a password, which every user of the machine can read in the "
                "process list: set the URL in ASSISTANTS_DB, or the password in PGPASSWORD or "
                "~/.pgpass",
                redact(str(db)),
            )
        fields["db"] = db
    if (mapping := setting("model-map")) is not None:
        fields["model_map"] = _model_map(mapping)
    for flag, name, kind, minimum in (
        ("workers", "workers", int, 1),
        ("db-pool", "db_pool", int, 1),
        ("db-timeout", "db_timeout", float, 0.1),
        ("run-lease", "run_lease", float, 1),
        ("max-connections", "max_connections", int, 1),
        ("threads", "threads", int, 1),
        ("run-expiry", "run_expiry", float, 1),
        ("backend-timeout", "backend_read_timeout", float, 0.1),
        ("backend-retries", "backend_max_retries", int, 0),
        ("backend-max-text", "backend_max_text", int, 1),
        ("backend-max-duration", "backend_max_duration", float, 0.1),
    ):
        if (raw := setting(flag)) is not None:
            fields[name] = _number(flag, raw, kind, minimum)
    if (field := setting("completion-tokens-field")) is not None:
        if field not in ("max_completion_tokens", "max_tokens"):
            raise ConfigError(
                f"--completion-tokens-field is max_completion_tokens or max_tokens, got {field!r}"
            )
        fields["completion_tokens_field"] = field
    fields.update(_embeddings(setting, env))
    if (raw := setting("max-file-bytes")) is not None:
        fields["max_file_bytes"] = _number("max-file-bytes", raw, int, 1)
    if (level := setting("log-level")) is not None:
        fields["log_level"] = str(level).upper()
    return ServerConfig(**fields)


def _embeddings(setting: Callable[[str], Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The embeddings settings: where vectors come from, the model, the key."""
    fields: dict[str, Any] = {}
    choice = setting("embeddings")
    if choice is not None:
        choice = str(choice).strip().lower()
        if choice not in EMBEDDINGS_CHOICES:
            raise ConfigError(
                f"--embeddings is one of {', '.join(EMBEDDINGS_CHOICES)}, got {choice!r}"
            )
        fields["embeddings"] = choice
    url = setting("embeddings-url")
    if url is not None:
        if not str(url).startswith(("http://", "https://")):
            raise ConfigError(f"--embeddings-url must be an http(s) URL, got {url!r}")
        if fields.get("embeddings", "backend") != "backend":
            raise ConfigError(
                f"--embeddings-url names where to embed, --embeddings {fields['embeddings']} "
                "that nothing is: give one of them"
            )
        fields["embeddings_url"] = str(url).rstrip("/")
    if (model := setting("embeddings-model")) is not None:
        if not str(model).strip():
            raise ConfigError("--embeddings-model must not be empty")
        fields["embeddings_model"] = str(model).strip()
    key = env.get(EMBEDDINGS_KEY_ENV, "").strip()
    if key:
        fields["embeddings_api_key"] = key
    return fields
