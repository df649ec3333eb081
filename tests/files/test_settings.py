"""The server's settings for files: where it embeds, with which model and key, and the upload cap.

By default the server embeds through the chat backend's own ``/embeddings``, with the backend's
key; ``--embeddings-url`` names another server (its key from ``ASSISTANTS_EMBEDDINGS_API_KEY``,
else the backend's), ``--embeddings none`` turns vectors off. Each setting has its environment
variable; a bad one stops the command with a one-line message and exit status 2.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assistants_client import AssistantsClient
from assistants_client.server import ConfigError, embedder_for, parse_config
from assistants_client.server.retrieval import HttpEmbedder, LocalEmbedder
from tests.files.support import server_target
from tests.retrieval.embeddings_server import EmbeddingsServer
from tests.server.support import BOUND, ROOT, server_command, server_environ

BACKEND = "http://127.0.0.1:9/v1"


def config(*flags: str, **env: str):  # type: ignore[no-untyped-def]
    return parse_config(["--backend-url", BACKEND, *flags], env)


def authorization(embedder: HttpEmbedder) -> str | None:
    headers = embedder._transport.config.auth.headers()
    return headers.get("Authorization")


def test_by_default_the_backends_own_embeddings_endpoint_and_key_are_used() -> None:
    made = embedder_for(config(ASSISTANTS_BACKEND_API_KEY="sk-backend"))
    assert isinstance(made, HttpEmbedder)
    assert (made.base_url, made.model) == (BACKEND, "text-embedding-3-small")
    assert authorization(made) == "Bearer sk-backend"


def test_a_separate_embeddings_server_model_and_key_come_from_flags_or_the_environment() -> None:
    by_flags = config(
        "--embeddings-url",
        "http://127.0.0.1:8001/v1/",
        "--embeddings-model",
        "nomic-embed-text",
        ASSISTANTS_BACKEND_API_KEY="sk-backend",
        ASSISTANTS_EMBEDDINGS_API_KEY="sk-embed",
    )
    by_env = config(
        ASSISTANTS_EMBEDDINGS_URL="http://127.0.0.1:8001/v1",
        ASSISTANTS_EMBEDDINGS_MODEL="nomic-embed-text",
        ASSISTANTS_BACKEND_API_KEY="sk-backend",
    )
    for settings in (by_flags, by_env):
        made = embedder_for(settings)
        assert isinstance(made, HttpEmbedder)
        assert (made.base_url, made.model) == ("http://127.0.0.1:8001/v1", "nomic-embed-text")
    assert authorization(embedder_for(by_flags)) == "Bearer sk-embed"  # type: ignore[arg-type]
    assert authorization(embedder_for(by_env)) == "Bearer sk-backend"  # type: ignore[arg-type]
    assert "sk-embed" not in repr(by_flags)


def test_embeddings_can_be_turned_off_or_made_local_and_the_cap_set() -> None:
    assert embedder_for(config("--embeddings", "none")) is None
    assert embedder_for(config(ASSISTANTS_EMBEDDINGS="NONE")) is None
    assert isinstance(embedder_for(config("--embeddings", "local")), LocalEmbedder)
    assert config().max_file_bytes == 512 * 1024 * 1024
    assert config("--max-file-bytes", "1048576").max_file_bytes == 1048576
    assert config(ASSISTANTS_MAX_FILE_BYTES="2048").max_file_bytes == 2048


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--embeddings", "openai"], ["--embeddings", "backend, none, local", "'openai'"]),
        (["--embeddings-url", "localhost:8001"], ["--embeddings-url", "http(s) URL"]),
        (
            ["--embeddings", "none", "--embeddings-url", "http://e/v1"],
            ["--embeddings-url", "--embeddings none", "one of them"],
        ),
        (["--max-file-bytes", "0"], ["--max-file-bytes", "at least 1"]),
        (["--max-file-bytes", "1GB"], ["--max-file-bytes", "number", "1GB"]),
        (["--embeddings-model", " "], ["--embeddings-model", "empty"]),
    ],
    ids=["bad-choice", "bad-url", "url-and-none", "zero-cap", "cap-with-unit", "blank-model"],
)
def test_bad_file_settings_exit_2_with_one_line_saying_what_to_change(
    flags: list[str], words: list[str]
) -> None:
    with pytest.raises(ConfigError):
        config(*flags)
    result = subprocess.run(
        server_command("--backend-url", BACKEND, *flags),
        cwd=ROOT,
        env=server_environ(),
        capture_output=True,
        text=True,
        timeout=BOUND * 3,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("assistants-server: ")
    assert result.stderr.count("\n") == 1
    for word in words:
        assert word in result.stderr, result.stderr


def test_help_names_the_file_settings_and_their_environment_variables() -> None:
    result = subprocess.run(
        server_command("--help"), cwd=ROOT, env=server_environ(), capture_output=True, text=True
    )
    for flag, env in [
        ("--embeddings", "ASSISTANTS_EMBEDDINGS"),
        ("--embeddings-url", "ASSISTANTS_EMBEDDINGS_URL"),
        ("--embeddings-model", "ASSISTANTS_EMBEDDINGS_MODEL"),
        ("--max-file-bytes", "ASSISTANTS_MAX_FILE_BYTES"),
    ]:
        assert flag in result.stdout and env in result.stdout
    assert "ASSISTANTS_EMBEDDINGS_API_KEY" in result.stdout


def test_files_are_embedded_by_the_separate_server_with_its_own_key(tmp_path: Path) -> None:
    with EmbeddingsServer(dimensions=48) as embeddings:
        made = server_target(
            tmp_path,
            "--embeddings-url",
            embeddings.base_url,
            "--embeddings-model",
            "bge-small",
            ASSISTANTS_EMBEDDINGS_API_KEY="sk-embeddings-only",
        )
        try:
            client = AssistantsClient("sk", base_url=made.base_url, max_retries=0)
            store = client.create_vector_store()
            batch = client.create_file_batch_and_poll(
                store.id,
                file_ids=[
                    client.upload_file(b"ERR-4411: disk full", "assistants", filename="a.txt").id
                ],
                poll_interval=0.05,
            )
            assert batch.file_counts.completed == 1
            assert client.search_vector_store(store.id, "disk").data
            assert embeddings.requests and all(
                r["model"] == "bge-small" for r in embeddings.requests
            )
            assert set(embeddings.authorizations) == {"Bearer sk-embeddings-only"}
            assert made.backend is not None and made.backend.embedding_requests == 0
            record = made.engine.retrieval.get_vector_store("", store.id)
            assert (record.embedding_model, record.dimensions) == ("bge-small", 48)
        finally:
            made.stop()
