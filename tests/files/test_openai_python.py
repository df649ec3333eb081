"""openai-python 3.54 drives files, vector stores, file batches and search: only ``base_url``
changes. Against the emulator, and against ``assistants-server`` on a fake Chat Completions
backend that serves ``/embeddings``; every answer is checked against the spec, and every
object the SDK builds has every field its model declares."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.files.support import Documents, Target

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def sdk(target: Target) -> openai.OpenAI:
    return openai.OpenAI(base_url=target.base_url, api_key="sk-files", max_retries=0, timeout=30)


def assert_complete(*objects: Any) -> None:
    """No field of the SDK's model is missing from what the server sent. (Not validated
    strictly: the live API sends ``name: null`` for a vector store given none, which the
    SDK's model types as a string; the SDK reads it as None, as it does from the live API.)"""
    for obj in objects:
        missing = set(type(obj).model_fields) - obj.model_fields_set
        assert not missing, f"{type(obj).__name__} lacks {sorted(missing)}"


def test_files_create_list_retrieve_content_and_delete(sdk: openai.OpenAI, docs: Documents) -> None:
    with docs.runbook.open("rb") as handle:
        text = sdk.files.create(file=handle, purpose="assistants")
    binary = sdk.files.create(file=docs.binary, purpose="assistants")
    assert (text.filename, text.bytes, text.purpose) == (
        "runbook.md",
        docs.runbook.stat().st_size,
        "assistants",
    )
    assert_complete(text, binary)
    assert sdk.files.retrieve(text.id).id == text.id
    assert sdk.files.content(binary.id).read() == docs.binary.read_bytes()
    assert sdk.files.content(text.id).text == docs.runbook.read_text(encoding="utf-8")
    listed = list(sdk.files.list(purpose="assistants"))
    assert [f.id for f in listed] == [binary.id, text.id]
    assert_complete(*listed)
    paged = sdk.files.list(limit=1, order="asc")
    assert [f.id for f in paged.data] == [text.id] and paged.has_more
    assert [f.id for f in paged.get_next_page().data] == [binary.id]
    deleted = sdk.files.delete(text.id)
    assert (deleted.id, deleted.deleted) == (text.id, True)
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(text.id)


def test_vector_stores_create_list_retrieve_update_and_delete(sdk: openai.OpenAI) -> None:
    store = sdk.vector_stores.create(
        name="Runbooks",
        metadata={"team": "ops"},
        expires_after={"anchor": "last_active_at", "days": 2},
    )
    bare = sdk.vector_stores.create()
    assert_complete(store, bare)
    assert (store.name, store.metadata, store.status) == ("Runbooks", {"team": "ops"}, "completed")
    assert store.expires_after is not None and store.expires_after.days == 2
    assert [s.id for s in sdk.vector_stores.list()] == [bare.id, store.id]
    updated = sdk.vector_stores.update(store.id, name="Ops", expires_after=None)
    assert (updated.name, updated.expires_after) == ("Ops", None)
    assert sdk.vector_stores.retrieve(store.id).name == "Ops"
    removed = sdk.vector_stores.delete(store.id)
    assert (removed.id, removed.deleted) == (store.id, True)
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.retrieve(store.id)


def test_files_create_and_poll_and_upload_and_poll(
    sdk: openai.OpenAI, target: Target, docs: Documents
) -> None:
    store = sdk.vector_stores.create(name="polled")
    uploaded = sdk.files.create(file=docs.billing, purpose="assistants")
    attached = sdk.vector_stores.files.create_and_poll(
        file_id=uploaded.id, vector_store_id=store.id, attributes={"team": "finance"}
    )
    assert (attached.status, attached.attributes) == ("completed", {"team": "finance"})
    assert_complete(attached)
    direct = sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=docs.garden)
    assert direct.status == "completed" and direct.last_error is None
    listed = list(sdk.vector_stores.files.list(store.id, filter="completed"))
    assert {f.id for f in listed} == {uploaded.id, direct.id}
    assert_complete(*listed)
    content = list(sdk.vector_stores.files.content(uploaded.id, vector_store_id=store.id))
    assert "refund" in "".join(part.text or "" for part in content)
    changed = sdk.vector_stores.files.update(
        uploaded.id, vector_store_id=store.id, attributes={"team": "billing"}
    )
    assert changed.attributes == {"team": "billing"}
    gone = sdk.vector_stores.files.delete(uploaded.id, vector_store_id=store.id)
    assert gone.deleted
    shown = sdk.vector_stores.retrieve(store.id)
    assert (shown.file_counts.completed, shown.file_counts.total) == (1, 1)


def test_file_batches_create_and_poll_count_three_completed_and_one_failed(
    sdk: openai.OpenAI, docs: Documents
) -> None:
    store = sdk.vector_stores.create(name="batch")
    ids = [sdk.files.create(file=path, purpose="assistants").id for path in docs.all]
    batch = sdk.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=ids)
    assert_complete(batch)
    counts = batch.file_counts
    assert (counts.completed, counts.failed, counts.in_progress, counts.total) == (3, 1, 0, 4)
    failed = list(
        sdk.vector_stores.file_batches.list_files(
            batch.id, vector_store_id=store.id, filter="failed"
        )
    )
    assert [f.id for f in failed] == [ids[3]]
    assert failed[0].last_error is not None
    assert failed[0].last_error.code in ("unsupported_file", "invalid_file")

    uploaded = sdk.vector_stores.file_batches.upload_and_poll(
        vector_store_id=store.id, files=docs.texts, max_concurrency=2
    )
    assert (uploaded.status, uploaded.file_counts.completed) == ("completed", 3)
    assert sdk.vector_stores.file_batches.retrieve(uploaded.id, vector_store_id=store.id).id == (
        uploaded.id
    )


def test_vector_stores_search_with_filters_and_ranking_options(
    sdk: openai.OpenAI, target: Target, docs: Documents
) -> None:
    store = sdk.vector_stores.create(name="search")
    for path, team in ((docs.runbook, "ops"), (docs.billing, "finance"), (docs.garden, "home")):
        made = sdk.files.create(file=path, purpose="assistants")
        sdk.vector_stores.files.create_and_poll(
            file_id=made.id, vector_store_id=store.id, attributes={"team": team}
        )
    page = sdk.vector_stores.search(store.id, query="ERR-4411 data volume")
    results = list(page)
    assert results[0].filename == "runbook.md"
    assert "ERR-4411" in results[0].content[0].text
    assert_complete(*results)
    filtered = list(
        sdk.vector_stores.search(
            store.id,
            query=["tomato", "refund"],
            filters={"type": "ne", "key": "team", "value": "home"},
            ranking_options={"ranker": "auto", "score_threshold": 0.0},
            max_num_results=5,
        )
    )
    assert filtered[0].filename == "billing.txt"
    assert "garden.html" not in {r.filename for r in filtered}  # filtered out before scoring
    nothing = list(
        sdk.vector_stores.search(store.id, query="tomato", ranking_options={"score_threshold": 1.0})
    )
    assert all(r.score >= 1.0 for r in nothing)
    if target.backend is not None:
        assert target.backend.embedding_requests > 0  # the semantic path ran, on the backend
