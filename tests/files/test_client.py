"""This library's clients drive files, vector stores, file batches and search end to end.

Each test runs twice: against the emulator, and against ``assistants-server`` (SQLite) on a
fake Chat Completions backend that serves ``/embeddings``. Every answer either sends is
checked against the spec (``support.SpecChecked``).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from assistants_client import (
    AssistantsClient,
    AsyncAssistantsClient,
    BadRequestError,
    FileUpload,
    NotFoundError,
)
from tests.files.support import Documents, Target
from tests.support.aio import run


@pytest.fixture
def client(target: Target) -> AssistantsClient:
    return AssistantsClient("sk-files", base_url=target.base_url, timeout=30.0, max_retries=0)


def test_files_are_uploaded_listed_read_back_byte_for_byte_and_deleted(
    client: AssistantsClient, target: Target, docs: Documents
) -> None:
    from_path = client.upload_file(docs.runbook, "assistants")
    from_bytes = client.upload_file(b"plain bytes\n", "user_data", filename="note.txt")
    with docs.binary.open("rb") as handle:
        from_object = client.upload_file(handle, "assistants")
    assert (from_path.filename, from_path.bytes) == ("runbook.md", docs.runbook.stat().st_size)
    assert (from_path.status, from_path.expires_at, from_path.status_details) == (
        "processed",
        None,
        None,
    )
    assert from_object.filename == "firmware.bin" and from_bytes.purpose == "user_data"

    assert client.get_file_content(from_path.id) == docs.runbook.read_bytes()
    assert client.get_file_content(from_object.id) == docs.binary.read_bytes()
    assert client.get_file(from_bytes.id).filename == "note.txt"

    listed = [f.id for f in client.list_files()]
    assert listed == [from_object.id, from_bytes.id, from_path.id]  # newest first
    assert [f.id for f in client.list_files(purpose="assistants", order="asc")] == [
        from_path.id,
        from_object.id,
    ]
    first = client.list_files(limit=1, order="asc")
    assert [f.id for f in first.data] == [from_path.id] and first.has_more
    assert [f.id for f in client.list_files(limit=2, order="asc", after=from_path.id).data] == [
        from_bytes.id,
        from_object.id,
    ]

    deleted = client.delete_file(from_bytes.id)
    assert (deleted.id, deleted.deleted) == (from_bytes.id, True)
    with pytest.raises(NotFoundError):
        client.get_file(from_bytes.id)
    with pytest.raises(NotFoundError):
        client.get_file_content(from_bytes.id)
    assert from_bytes.id not in [f.id for f in client.list_files()]


def test_vector_stores_are_created_listed_modified_and_deleted(client: AssistantsClient) -> None:
    named = client.create_vector_store(
        name="Runbooks",
        description="How we run things",
        metadata={"team": "ops"},
        expires_after={"anchor": "last_active_at", "days": 7},
    )
    unnamed = client.create_vector_store()
    assert (named.name, named.description, named.metadata) == (
        "Runbooks",
        "How we run things",
        {"team": "ops"},
    )
    assert named.expires_after is not None and named.expires_after.days == 7
    assert named.expires_at == named.last_active_at + 7 * 86400  # type: ignore[operator]
    assert (unnamed.name, unnamed.description, unnamed.expires_after, unnamed.expires_at) == (
        None,
        None,
        None,
        None,
    )
    assert named.status == "completed" and named.file_counts.total == 0

    assert [s.id for s in client.list_vector_stores()] == [unnamed.id, named.id]
    page = client.list_vector_stores(limit=1, order="asc")
    assert [s.id for s in page.data] == [named.id] and page.has_more

    renamed = client.update_vector_store(
        named.id, name="Ops runbooks", metadata={"team": "sre"}, expires_after=None
    )
    assert (renamed.name, renamed.metadata, renamed.expires_after, renamed.expires_at) == (
        "Ops runbooks",
        {"team": "sre"},
        None,
        None,
    )
    assert client.get_vector_store(named.id).name == "Ops runbooks"

    gone = client.delete_vector_store(named.id)
    assert (gone.id, gone.deleted) == (named.id, True)
    with pytest.raises(NotFoundError):
        client.get_vector_store(named.id)


def test_a_vector_store_file_is_processed_then_read_changed_and_removed(
    client: AssistantsClient, docs: Documents
) -> None:
    uploaded = client.upload_file(docs.garden, "assistants")
    store = client.create_vector_store(name="garden")
    strategy = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 100},
    }
    done = client.create_vector_store_file_and_poll(
        store.id,
        uploaded.id,
        attributes={"season": "summer", "year": 2024},
        chunking_strategy=strategy,
        timeout=30,
        poll_interval=0.05,
    )
    assert (done.status, done.last_error, done.attributes) == (
        "completed",
        None,
        {"season": "summer", "year": 2024},
    )
    assert done.chunking_strategy.type == "static"
    assert done.usage_bytes > 0

    content = client.get_vector_store_file_content(store.id, uploaded.id)
    text = "".join(part.text or "" for part in content.data)
    assert "Water the tomato plants every morning" in text
    assert "<p>" not in text and "ignored()" not in text  # HTML read as its text

    assert [f.id for f in client.list_vector_store_files(store.id, filter="completed")] == [
        uploaded.id
    ]
    assert list(client.list_vector_store_files(store.id, filter="failed")) == []
    changed = client.update_vector_store_file(store.id, uploaded.id, attributes={"season": "x"})
    assert changed.attributes == {"season": "x"}
    assert client.get_vector_store_file(store.id, uploaded.id).attributes == {"season": "x"}

    shown = client.get_vector_store(store.id)
    assert (shown.file_counts.completed, shown.usage_bytes) == (1, done.usage_bytes)
    removed = client.delete_vector_store_file(store.id, uploaded.id)
    assert (removed.id, removed.deleted) == (uploaded.id, True)
    after = client.get_vector_store(store.id)
    assert (after.file_counts.total, after.usage_bytes) == (0, 0)
    assert client.get_file(uploaded.id).id == uploaded.id  # the file itself stays


def test_three_text_files_and_a_binary_one_end_as_three_completed_and_one_failed(
    client: AssistantsClient, docs: Documents
) -> None:
    store = client.create_vector_store(name="mixed")
    batch = client.upload_files_and_poll(
        store.id, docs.all, max_concurrency=2, timeout=60, poll_interval=0.05
    )
    counts = batch.file_counts
    assert (counts.completed, counts.failed, counts.in_progress, counts.total) == (3, 1, 0, 4)
    assert batch.status == "completed"
    (failed,) = client.list_vector_store_file_batch_files(store.id, batch.id, filter="failed")
    assert failed.last_error is not None
    assert failed.last_error.code in ("unsupported_file", "invalid_file")
    assert client.get_file(failed.id).filename == "firmware.bin"
    every = {f.id for f in client.list_vector_store_file_batch_files(store.id, batch.id)}
    assert len(every) == 4
    shown = client.get_vector_store(store.id)
    assert (shown.status, shown.file_counts.completed, shown.file_counts.failed) == (
        "completed",
        3,
        1,
    )

    # The other form: each file with its own attributes.
    uploaded = [client.upload_file(path, "assistants") for path in docs.texts]
    other = client.create_file_batch_and_poll(
        store.id,
        files=[{"file_id": made.id, "attributes": {"n": n}} for n, made in enumerate(uploaded)],
        timeout=60,
        poll_interval=0.05,
    )
    assert (other.status, other.file_counts.completed) == ("completed", 3)
    assert client.get_vector_store_file(store.id, uploaded[2].id).attributes == {"n": 2}


def test_search_ranks_the_right_file_first_and_honours_filters_and_ranking_options(
    client: AssistantsClient, docs: Documents
) -> None:
    store = client.create_vector_store(name="search")
    teams = {docs.runbook: "ops", docs.billing: "finance", docs.garden: "home"}
    for path, team in teams.items():
        made = client.upload_file(path, "assistants")
        client.create_vector_store_file_and_poll(
            store.id, made.id, attributes={"team": team, "rank": len(team)}, poll_interval=0.05
        )

    found = client.search_vector_store(store.id, "What does ERR-4411 mean?")
    assert found.search_query == ["What does ERR-4411 mean?"]
    assert found.data[0].filename == "runbook.md"
    assert "ERR-4411" in found.data[0].content[0].text
    assert all(0.0 <= hit.score <= 1.0 for hit in found.data)
    assert [hit.score for hit in found.data] == sorted((h.score for h in found.data), reverse=True)

    only_finance = client.search_vector_store(
        store.id, "refund card", filters={"type": "eq", "key": "team", "value": "finance"}
    )
    assert {hit.filename for hit in only_finance.data} == {"billing.txt"}
    assert only_finance.data[0].attributes == {"team": "finance", "rank": 7}
    compound = client.search_vector_store(
        store.id,
        ["tomato", "invoice"],
        filters={
            "type": "and",
            "filters": [
                {"type": "in", "key": "team", "value": ["home", "finance"]},
                {"type": "lt", "key": "rank", "value": 7},
            ],
        },
    )
    assert {hit.filename for hit in compound.data} == {"garden.html"}
    assert compound.search_query == ["tomato", "invoice"]

    one = client.search_vector_store(store.id, "the", max_num_results=1)
    assert len(one.data) <= 1
    strict = client.search_vector_store(
        store.id, "ERR-4411", ranking_options={"ranker": "auto", "score_threshold": 1.0}
    )
    loose = client.search_vector_store(
        store.id, "ERR-4411", ranking_options={"ranker": "none", "score_threshold": 0.0}
    )
    assert loose.data and len(strict.data) < len(loose.data)
    assert all(hit.score >= 1.0 for hit in strict.data)
    assert client.get_vector_store(store.id).last_active_at is not None


def test_deleting_a_file_takes_it_out_of_every_vector_store(
    client: AssistantsClient, docs: Documents
) -> None:
    shared = client.upload_file(docs.runbook, "assistants")
    kept = client.upload_file(docs.billing, "assistants")
    first = client.create_vector_store(name="one")
    second = client.create_vector_store(name="two")
    for store in (first, second):
        client.create_file_batch_and_poll(
            store.id, file_ids=[shared.id, kept.id], poll_interval=0.05
        )
    before = client.get_vector_store(first.id)
    assert before.file_counts.completed == 2
    client.delete_file(shared.id)
    for store in (first, second):
        shown = client.get_vector_store(store.id)
        assert (shown.file_counts.total, shown.file_counts.completed) == (1, 1)
        assert 0 < shown.usage_bytes < before.usage_bytes
        assert [f.id for f in client.list_vector_store_files(store.id)] == [kept.id]
        hits = client.search_vector_store(store.id, "ERR-4411 data volume full").data
        assert shared.id not in {hit.file_id for hit in hits}
        with pytest.raises(NotFoundError):
            client.get_vector_store_file(store.id, shared.id)


def test_limits_the_spec_states_are_answered_400_naming_the_parameter(
    target: Target, docs: Documents
) -> None:
    # The client refuses these itself; a raw session shows what the server answers.
    import requests

    base = target.base_url
    with requests.Session() as http:
        uploaded = http.post(
            f"{base}/files",
            files={"file": ("a.txt", b"some words")},
            data={"purpose": "assistants"},
        ).json()
        store = http.post(f"{base}/vector_stores", json={}).json()
        cases = [
            (
                f"/vector_stores/{store['id']}/files",
                {"file_id": uploaded["id"], "attributes": {f"k{n}": n for n in range(17)}},
                "body.attributes",
            ),
            (
                f"/vector_stores/{store['id']}/files",
                {"file_id": uploaded["id"], "attributes": {"k" * 65: 1}},
                "body.attributes",
            ),
            (
                f"/vector_stores/{store['id']}/files",
                {
                    "file_id": uploaded["id"],
                    "chunking_strategy": {
                        "type": "static",
                        "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101},
                    },
                },
                "body.chunking_strategy.static.chunk_overlap_tokens",
            ),
            (f"/vector_stores/{store['id']}/search", {"query": "x", "max_num_results": 51}, None),
            (
                "/vector_stores",
                {"file_ids": [uploaded["id"]] * 501},
                "body.file_ids",
            ),
            (
                f"/vector_stores/{store['id']}/file_batches",
                {"file_ids": [uploaded["id"]], "files": [{"file_id": uploaded["id"]}]},
                None,
            ),
            (
                f"/vector_stores/{store['id']}/file_batches",
                {"file_ids": [uploaded["id"]] * 2001},
                None,
            ),
            ("/vector_stores", {"metadata": {f"k{n}": "v" for n in range(17)}}, "body.metadata"),
        ]
        for path, body, param in cases:
            answer = http.post(base + path, json=body)
            assert answer.status_code == 400, (path, body, answer.text)
            error = answer.json()["error"]
            assert error["param"], error
            if param is not None:
                assert error["param"] == param, error
            assert error["message"].startswith(error["param"]) or error["param"] in error["message"]
        # An upload's own fields: a form the JSON checks never see.
        refused = http.post(
            f"{base}/files", files={"file": ("a.txt", b"x")}, data={"purpose": "homework"}
        )
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "purpose"
        expiry = http.post(
            f"{base}/files",
            files={"file": ("a.txt", b"x")},
            data={
                "purpose": "assistants",
                "expires_after[anchor]": "created_at",
                "expires_after[seconds]": "60",
            },
        )
        assert expiry.status_code == 400
        assert expiry.json()["error"]["param"] == "expires_after[seconds]"
        too_many = http.get(f"{base}/files", params={"limit": "10001"})
        assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "limit"
        assert http.get(f"{base}/files", params={"limit": "10000"}).status_code == 200


def test_the_async_client_uploads_a_few_at_a_time_without_blocking_its_loop(
    target: Target, docs: Documents
) -> None:
    async def scenario() -> tuple[int, int, int]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.002)

        async with AsyncAssistantsClient("sk-files", base_url=target.base_url) as client:
            store = await client.create_vector_store(name="async")
            ticking = asyncio.ensure_future(ticker())
            files = [*docs.all, FileUpload.of(io.BytesIO(b"from memory"), filename="m.txt")]
            batch = await client.upload_files_and_poll(
                store.id, files, max_concurrency=3, timeout=60, poll_interval=0.05
            )
            stop.set()
            await ticking
            listed = [f async for f in await client.list_files()]
            return batch.file_counts.completed, batch.file_counts.failed, ticks + 0 * len(listed)

    completed, failed, ticks = run(scenario())
    assert (completed, failed) == (4, 1)
    assert ticks > 5  # the loop kept running while files went up and were processed


def test_an_upload_with_an_idempotency_key_is_made_once(
    client: AssistantsClient, target: Target, tmp_path: Path
) -> None:
    import requests

    with requests.Session() as http:
        sent = [
            http.post(
                f"{target.base_url}/files",
                files={"file": ("once.txt", b"made once")},
                data={"purpose": "assistants"},
                headers={"Idempotency-Key": "upload-1"},
            )
            for _ in range(2)
        ]
    assert [answer.status_code for answer in sent] == [200, 200]
    assert sent[0].json() == sent[1].json()
    assert [f.filename for f in client.list_files()] == ["once.txt"]


def test_bad_ids_and_missing_objects_are_404_not_500(client: AssistantsClient) -> None:
    store = client.create_vector_store()
    for call in (
        lambda: client.get_vector_store("vs_missing"),
        lambda: client.get_vector_store_file(store.id, "file-missing"),
        lambda: client.get_vector_store_file_batch(store.id, "vsfb_missing"),
        lambda: client.delete_file("file-missing"),
        lambda: client.create_vector_store_file(store.id, "file-missing"),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(BadRequestError):
        client.list_vector_store_files(store.id, after="file-missing")


def test_a_vector_store_expires_after_its_days_without_use_and_use_moves_last_active_at(
    client: AssistantsClient, target: Target, docs: Documents
) -> None:
    import attrs

    store = client.create_vector_store(
        name="short-lived", expires_after={"anchor": "last_active_at", "days": 1}
    )
    client.create_file_batch_and_poll(
        store.id, file_ids=[client.upload_file(docs.runbook, "assistants").id], poll_interval=0.05
    )
    retrieval = target.engine.retrieval

    def age(seconds: int) -> None:
        with retrieval.transaction():
            record = retrieval.index.get_store("", store.id, lock=True)
            retrieval.index.update_store(
                attrs.evolve(record, last_active_at=record.last_active_at - seconds)
            )

    age(3600)
    idle = client.get_vector_store(store.id)
    assert idle.status == "completed" and idle.last_active_at is not None
    client.search_vector_store(store.id, "ERR-4411")
    used = client.get_vector_store(store.id)
    assert used.last_active_at is not None and used.last_active_at >= idle.last_active_at + 3600
    assert used.expires_at == used.last_active_at + 86400

    age(86400 + 60)
    expired = client.get_vector_store(store.id)
    assert expired.status == "expired"
    assert expired.expires_at is not None and expired.expires_at < used.last_active_at + 86400
    with pytest.raises(BadRequestError) as refused:
        client.search_vector_store(store.id, "ERR-4411")
    assert "expired" in str(refused.value)
    assert [s.status for s in client.list_vector_stores()] == ["expired"]


def test_a_file_past_its_expiry_is_gone_and_swept_out_of_its_vector_stores(
    client: AssistantsClient, target: Target
) -> None:
    import json

    import attrs

    made = client.upload_file(
        b"ERR-4411 expires",
        "assistants",
        filename="short.txt",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert made.expires_at == made.created_at + 3600
    kept = client.upload_file(b"ERR-4411 stays", "assistants", filename="long.txt")
    store = client.create_vector_store(name="expiring")
    client.create_file_batch_and_poll(store.id, file_ids=[made.id, kept.id], poll_interval=0.05)
    retrieval = target.engine.retrieval
    index = retrieval.index
    past = attrs.evolve(index.get_file("", made.id), expires_at=made.created_at - 1)
    with retrieval.transaction():
        if hasattr(index, "files"):
            index.files[made.id] = past
        else:
            data = {name: getattr(past, name) for name in attrs.fields_dict(type(past))}
            index.main.execute(
                "UPDATE retrieval_files SET data = %s WHERE id = %s", (json.dumps(data), made.id)
            )
    with pytest.raises(NotFoundError):
        client.get_file(made.id)
    assert [f.id for f in client.list_files()] == [kept.id]
    target.engine._next_file_sweep = 0.0
    target.engine._sweep_files()
    shown = client.get_vector_store(store.id)
    assert (shown.file_counts.total, shown.file_counts.completed) == (1, 1)
    assert [f.id for f in client.list_vector_store_files(store.id)] == [kept.id]
