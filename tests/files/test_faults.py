"""Bad input and bad luck lose nothing: uploads cut or too large, killed processes, rate limits.

* An upload cut mid-body (its connection closed, or its chunked body never ended) leaves no
  file and no piece of one; its Idempotency-Key is let go, so the client's retry is served.
* An upload over ``--max-file-bytes`` is answered 413 with the limit in its message; one whose
  ``Content-Length`` announces it is answered before its body is read.
* A server killed (``kill -9``) mid-ingestion leaves nothing ``in_progress`` for ever: on
  SQLite the restarted server takes the file again; on PostgreSQL another server takes it when
  the dead one's lease lapses.
* A storm of 429s from the embeddings endpoint delays ingestion and fails nothing; a backend
  that serves no ``/embeddings`` leaves search to keywords.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from assistants_client import AssistantsClient
from tests.files.support import Documents, Target, emulator_target, server_target
from tests.server.support import BOUND, ServerProcess, run_process, server_environ, wait_until
from tests.servers.fake_chat import FakeChatServer
from tests.support import postgres
from tests.support.postgres import PostgresServer

BOUNDARY = "cutcutcut"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    postgres.install_when_requested(items)


@pytest.fixture
def backend() -> Iterator[FakeChatServer]:
    with FakeChatServer() as fake:
        yield fake


def form_head(size: int, name: str = "big.txt") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()


FORM_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def send_raw(target: Target, head: bytes, body: bytes, *, read: bool = True) -> bytes:
    """Send a request as given, then close the socket (after reading the answer, or not)."""
    host, port = target.base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=BOUND) as sock:
        sock.sendall(head + body)
        if not read:
            sock.shutdown(socket.SHUT_WR)
            time.sleep(0.2)  # let the server read what came, then find the end
            return b""
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
        return answer


def upload_head(target: Target, length: int | None, extra: str = "") -> bytes:
    path = "/" + target.base_url.split("//", 1)[1].split("/", 1)[1] + "/files"
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n{extra}\r\n"
    ).encode()


def pieces_left(target: Target) -> int:
    """The pieces of file bytes the store holds (of files, or of uploads never finished)."""
    index = target.engine.retrieval.index
    if hasattr(index, "pieces"):
        return len(index.pieces)
    return int(index.main.query("SELECT COUNT(*) FROM retrieval_pieces")[0][0])


def test_an_upload_cut_mid_body_leaves_no_file_and_its_key_lets_a_retry_through(
    target: Target,
) -> None:
    content = b"x" * (3 * 1024 * 1024)  # three pieces' worth: some are written before the cut
    body = form_head(len(content)) + content + FORM_TAIL
    head = upload_head(target, len(body), "Idempotency-Key: cut-1\r\n")
    send_raw(target, head, body[: len(body) // 2], read=False)
    client = AssistantsClient("sk", base_url=target.base_url, max_retries=0)
    wait_until(lambda: pieces_left(target) == 0, what="the cut upload's pieces to go")
    assert list(client.list_files()) == []

    chunked = upload_head(target, None)
    first = form_head(10)
    send_raw(target, chunked, f"{len(first):x}\r\n".encode() + first + b"\r\n", read=False)
    wait_until(lambda: pieces_left(target) == 0)
    assert list(client.list_files()) == []

    # The same key again, the whole body this time: served, and made once.
    answer = send_raw(target, head, body)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    (made,) = list(client.list_files())
    assert made.bytes == len(content) and made.filename == "big.txt"
    assert client.get_file_content(made.id) == content


@pytest.mark.parametrize("kind", ["emulator", "server"])
def test_an_upload_over_the_cap_is_413_and_keeps_nothing(kind: str, tmp_path: Path) -> None:
    made = (
        emulator_target(max_file_bytes=1000)
        if kind == "emulator"
        else server_target(tmp_path, "--max-file-bytes", "1000")
    )
    try:
        with requests.Session() as http:
            refused = http.post(
                f"{made.base_url}/files",
                files={"file": ("big.txt", b"y" * 1001)},
                data={"purpose": "assistants"},
            )
            assert refused.status_code == 413
            error = refused.json()["error"]
            assert "1,000 bytes" in error["message"] and "nothing was stored" in error["message"]
            assert (error["param"], error["code"]) == ("file", "file_too_large")
            fits = http.post(
                f"{made.base_url}/files",
                files={"file": ("small.txt", b"y" * 1000)},
                data={"purpose": "assistants"},
            )
            assert fits.status_code == 200, fits.text
            listed = http.get(f"{made.base_url}/files").json()["data"]
            assert [f["filename"] for f in listed] == ["small.txt"]
        assert pieces_left(made) == 1
        # A body announced far larger is refused before a byte of it is read.
        answer = send_raw(made, upload_head(made, 50 * 1024 * 1024), b"")
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


def test_a_storm_of_429s_from_the_embeddings_endpoint_delays_ingestion_and_fails_nothing(
    tmp_path: Path, backend: FakeChatServer, docs: Documents
) -> None:
    backend.embeddings_rate_limited = 10  # more than one call's retries: the file waits
    made = server_target(tmp_path, backend=backend)
    try:
        client = AssistantsClient("sk", base_url=made.base_url, max_retries=0)
        uploaded = client.upload_file(docs.runbook, "assistants")
        store = client.create_vector_store(name="storm")
        first = client.create_vector_store_file(store.id, uploaded.id)
        assert first.status == "in_progress"
        done = client.create_vector_store_file_and_poll(
            store.id, uploaded.id, timeout=60, poll_interval=0.1
        )
        assert (done.status, done.last_error) == ("completed", None)
        assert backend.embeddings_rate_limited == 0 and backend.embedding_requests > 10
        record = made.engine.retrieval.get_vector_store("", store.id)
        assert record.embedding_model == "text-embedding-3-small"  # its vectors were kept
        hits = client.search_vector_store(store.id, "data volume full").data
        assert hits and hits[0].file_id == uploaded.id
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


def test_a_backend_without_embeddings_leaves_search_to_keywords(
    tmp_path: Path, backend: FakeChatServer, docs: Documents
) -> None:
    backend.embeddings_served = False
    made = server_target(tmp_path, backend=backend)
    try:
        client = AssistantsClient("sk", base_url=made.base_url, max_retries=0)
        store = client.create_vector_store(name="lexical")
        batch = client.upload_files_and_poll(store.id, docs.texts, poll_interval=0.05)
        assert batch.file_counts.completed == 3
        assert made.engine.retrieval.get_vector_store("", store.id).embedding_model is None
        hits = client.search_vector_store(store.id, "ERR-4411").data
        assert hits[0].filename == "runbook.md"
        assert backend.embedding_requests >= 1
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


# -- processes killed mid-ingestion ---------------------------------------------------------------


def status_of(base_url: str, store_id: str, file_id: str) -> str:
    answer = requests.get(f"{base_url}/vector_stores/{store_id}/files/{file_id}", timeout=BOUND)
    answer.raise_for_status()
    return str(answer.json()["status"])


def start_ingestion(server: ServerProcess, backend: FakeChatServer, docs: Documents) -> Any:
    """Upload a file and add it to a new store; return once its ingestion is embedding."""
    client = AssistantsClient("sk", base_url=server.base_url, timeout=BOUND, max_retries=0)
    uploaded = client.upload_file(docs.runbook, "assistants")
    store = client.create_vector_store(name="killed", file_ids=[uploaded.id])
    assert backend.embedding_arrived.wait(BOUND), "the ingestion never called /embeddings"
    client.close()
    return store, uploaded


def kill(server: ServerProcess) -> None:
    server.process.kill()  # SIGKILL: nothing is released, nothing is cleaned up
    server.process.wait(BOUND)
    server.stop()


def test_a_server_killed_mid_ingestion_leaves_nothing_in_progress_after_a_restart(
    tmp_path: Path, backend: FakeChatServer, docs: Documents
) -> None:
    gate = threading.Event()
    backend.embeddings_gate = gate
    flags = ("--backend-url", backend.base_url, "--port", "0", "--db", str(tmp_path / "s.db"))
    first = run_process(*flags)
    try:
        store, uploaded = start_ingestion(first, backend, docs)
        assert status_of(first.base_url, store.id, uploaded.id) == "in_progress"
    finally:
        kill(first)
    gate.set()
    second = run_process(*flags)
    try:
        wait_until(
            lambda: status_of(second.base_url, store.id, uploaded.id) != "in_progress",
            what="the restarted server to take the killed ingestion again",
        )
        assert status_of(second.base_url, store.id, uploaded.id) == "completed"
        shown = requests.get(f"{second.base_url}/vector_stores/{store.id}", timeout=BOUND).json()
        assert shown["status"] == "completed" and shown["file_counts"]["in_progress"] == 0
    finally:
        second.stop()


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    yield postgres_server.dsn(name)
    postgres_server.drop_database(name)


def test_a_server_killed_mid_ingestion_on_postgresql_has_its_file_taken_when_its_lease_lapses(
    database: str, backend: FakeChatServer, docs: Documents
) -> None:
    gate = threading.Event()
    backend.embeddings_gate = gate
    environ = server_environ(ASSISTANTS_DB=database)
    flags = ("--backend-url", backend.base_url, "--port", "0", "--run-lease", "1")
    first = run_process(*flags, environ=environ)
    other = None
    try:
        store, uploaded = start_ingestion(first, backend, docs)
        asked = backend.embedding_requests
        other = run_process(*flags, environ=environ)
        # The first server renews its claim: past a lease, the other one has not taken it.
        time.sleep(2.0)
        assert backend.embedding_requests == asked
        assert status_of(other.base_url, store.id, uploaded.id) == "in_progress"
        kill(first)
        gate.set()
        started = time.monotonic()
        wait_until(
            lambda: status_of(other.base_url, store.id, uploaded.id) != "in_progress",
            what="the other server to take the file once the lease lapsed",
        )
        assert status_of(other.base_url, store.id, uploaded.id) == "completed"
        assert time.monotonic() - started < BOUND
        listed = requests.get(f"{other.base_url}/vector_stores/{store.id}/files", timeout=BOUND)
        assert [f["status"] for f in json.loads(listed.text)["data"]] == ["completed"]
        found = requests.post(
            f"{other.base_url}/vector_stores/{store.id}/search",
            json={"query": "ERR-4411"},
            timeout=BOUND,
        ).json()
        assert [hit["file_id"] for hit in found["data"]][:1] == [uploaded.id]
    finally:
        gate.set()
        if first.process.poll() is None:
            first.stop()
        if other is not None:
            other.stop()


def test_a_cancelled_batch_stops_its_files_and_stays_cancelled(
    tmp_path: Path, backend: FakeChatServer, docs: Documents
) -> None:
    gate = threading.Event()
    backend.embeddings_gate = gate  # ingestion holds at its first embeddings call
    made = server_target(tmp_path, backend=backend)
    try:
        client = AssistantsClient("sk", base_url=made.base_url, max_retries=0)
        store = client.create_vector_store(name="cancelled")
        ids = [client.upload_file(path, "assistants").id for path in docs.texts]
        batch = client.create_vector_store_file_batch(store.id, file_ids=ids)
        assert backend.embedding_arrived.wait(BOUND)
        cancelled = client.cancel_vector_store_file_batch(store.id, batch.id)
        assert cancelled.status == "cancelled"
        assert cancelled.file_counts.in_progress == 0
        assert cancelled.file_counts.cancelled == 3
        gate.set()  # the ingestion under way finds its file cancelled and keeps nothing
        done = client.wait_for_file_batch(store.id, batch.id, poll_interval=0.05)
        assert done.status == "cancelled"
        time.sleep(0.3)
        files = list(client.list_vector_store_file_batch_files(store.id, batch.id))
        assert {f.status for f in files} == {"cancelled"}
        assert client.search_vector_store(store.id, "ERR-4411").data == []
        shown = client.get_vector_store(store.id)
        assert (shown.file_counts.cancelled, shown.usage_bytes, shown.status) == (3, 0, "completed")
        made.assert_all_answers_fit_the_spec()
    finally:
        gate.set()
        made.stop()
