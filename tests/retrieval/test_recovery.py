"""A process killed mid-ingestion (``kill -9``) leaves nothing ``in_progress`` for ever: on
SQLite the next process takes every claim it finds at start; on PostgreSQL any process takes a
claim once its lease lapses. The background ingestor ends the file ``completed``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from assistants_client.server.retrieval import LocalEmbedder, Retrieval
from assistants_client.server.retrieval.sql import PostgresIndexStore
from assistants_client.server.store import Store
from tests.retrieval.conftest import MakeRetrieval
from tests.server.support import BOUND, wait_until

ROOT = Path(__file__).resolve().parents[2]
LEASE = 1.0


def location_of(store_kind: str, tmp_path: Path, database_url: str | None) -> str:
    return str(tmp_path / "state.db") if store_kind == "sqlite" else str(database_url)


@pytest.mark.parametrize("store_kind", ["sqlite", "postgres", "pgvector"], indirect=True)
def test_a_kill_during_ingestion_leaves_nothing_in_progress_after_restart_or_lease(
    store_kind: str,
    open_main: Callable[[], Store],
    tmp_path: Path,
    database_url: str | None,
) -> None:
    main = open_main()
    options = {"pgvector": store_kind == "pgvector"} if store_kind != "sqlite" else {}
    first = Retrieval.over(main, embedder=LocalEmbedder(64), **options)
    made = first.create_file("", "a.txt", "assistants", b"the words of a file that survives")
    store = first.create_vector_store("", file_ids=[made.id])
    main.close()

    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.retrieval.ingest_child",
            location_of(store_kind, tmp_path, database_url),
            store.id,
            made.id,
            str(LEASE if store_kind != "sqlite" else 3600.0),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "EMBEDDING", child.stderr.read() if child.stderr else ""
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(BOUND)

    reopened = open_main()
    restarted = Retrieval.over(reopened, embedder=LocalEmbedder(64), lease=LEASE, **options)
    try:
        assert restarted.get_store_file("", store.id, made.id).status == "in_progress"
        # Nobody may take a live claim: on PostgreSQL the child's lease has not lapsed yet
        # (on SQLite it never would; the restart takes it instead).
        if store_kind != "sqlite":
            assert restarted.ingest("", store.id, made.id) in ("in_progress", "completed")
        restarted.start(poll=0.1)
        wait_until(
            lambda: restarted.get_store_file("", store.id, made.id).status != "in_progress",
            what="the killed ingestion to be taken again",
        )
        assert restarted.get_store_file("", store.id, made.id).status == "completed"
        shown = restarted.vector_store_object("", store.id)
        assert shown["status"] == "completed" and shown["file_counts"]["completed"] == 1
        assert restarted.search("", [store.id], "survives").hits[0].file_id == made.id
    finally:
        restarted.close()
        reopened.close()


@pytest.mark.parametrize("store_kind", ["postgres", "pgvector"], indirect=True)
def test_pgvector_is_used_where_the_server_has_it_and_not_elsewhere(
    store_kind: str, open_main: Callable[[], Store]
) -> None:
    main = open_main()
    try:
        index = Retrieval.over(main).index
        assert isinstance(index, PostgresIndexStore)
        assert index.pgvector is (store_kind == "pgvector")
        if store_kind == "postgres":
            with pytest.raises(RuntimeError, match="no pgvector"):
                Retrieval.over(main, pgvector=True)
    finally:
        main.close()


def test_closing_releases_the_claims_so_another_process_takes_them_at_once(
    make_retrieval: MakeRetrieval,
) -> None:
    started, release = threading.Event(), threading.Event()

    class Blocking(LocalEmbedder):
        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            started.set()
            release.wait(BOUND)
            return super().embed(texts)

    first = make_retrieval(Blocking(64), lease=3600.0)
    made = first.create_file("", "a.txt", "assistants", b"words to index once")
    first.start(poll=0.05)
    store = first.create_vector_store("", file_ids=[made.id])
    assert started.wait(BOUND)
    first.close()
    other = Retrieval(first.index, embedder=LocalEmbedder(64), owner="other", lease=3600.0)
    assert other.ingest("", store.id, made.id) == "completed"
    release.set()
    wait_until(lambda: first.ingestor is None)
    time.sleep(0.2)  # the first ingestion ends, finds its claim gone and keeps nothing
    assert other.get_store_file("", store.id, made.id).status == "completed"
    assert len(other.search("", [store.id], "index").hits) == 1
