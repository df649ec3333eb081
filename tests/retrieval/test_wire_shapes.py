"""The objects the port builds are valid under the official spec's schemas (``OpenAIFile``,
``VectorStoreObject``, ``VectorStoreFileObject``, ``VectorStoreFileBatchObject``,
``VectorStoreSearchResultsPage``), read from the upstream spec beside the checkout."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from assistants_client.server.retrieval import LocalEmbedder, Retrieval, search_page
from assistants_client.server.stores import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
# Beside a clone (CI), or beside the folder of worktrees.
CANDIDATES = [
    ROOT.parent / "shared" / "openapi" / "openai-openapi.yaml",
    ROOT.parent.parent / "shared" / "openapi" / "openai-openapi.yaml",
]
UPSTREAM = next((path for path in CANDIDATES if path.exists()), None)

pytestmark = pytest.mark.skipif(
    UPSTREAM is None, reason="the upstream spec (shared/openapi) is not beside this checkout"
)


@functools.cache
def components() -> dict[str, Any]:
    assert UPSTREAM is not None
    with UPSTREAM.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    return {"schemas": document["components"]["schemas"]}


def assert_valid(name: str, instance: Any) -> None:
    schema = {"$ref": f"#/components/schemas/{name}", "components": components()}
    errors = list(Draft202012Validator(schema).iter_errors(instance))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.path)} {e.message}" for e in errors[:5])


def test_every_object_the_port_builds_fits_the_spec() -> None:
    retrieval = Retrieval.over(MemoryStore(), embedder=LocalEmbedder(64))
    text = retrieval.create_file("", "a.md", "assistants", b"# A\n\nERR-4411 means a full disk.")
    binary = retrieval.create_file("", "b.bin", "assistants", b"\x00\x01binary")
    expiring = retrieval.create_file("", "c.txt", "batch", b"x", expires_after_seconds=3600)
    store = retrieval.create_vector_store(
        "",
        name="docs",
        metadata={"k": "v"},
        expires_after={"anchor": "last_active_at", "days": 7},
        file_ids=[text.id],
    )
    retrieval.create_vector_store("")  # no name, no expiry
    batch = retrieval.create_batch("", store.id, file_ids=[binary.id], attributes={"n": 1})
    for record in (text, binary, expiring):
        assert_valid("OpenAIFile", record.as_api())
    assert_valid("VectorStoreObject", retrieval.vector_store_object("", store.id))
    assert_valid("VectorStoreFileObject", retrieval.get_store_file("", store.id, text.id).as_api())
    assert_valid("VectorStoreFileBatchObject", retrieval.batch_object("", store.id, batch.id))
    retrieval.ingest("", store.id, text.id)
    retrieval.ingest("", store.id, binary.id)
    failed = retrieval.get_store_file("", store.id, binary.id).as_api()
    assert failed["last_error"]["code"] == "unsupported_file"
    assert_valid("VectorStoreFileObject", failed)
    assert_valid("VectorStoreFileBatchObject", retrieval.batch_object("", store.id, batch.id))
    for shown in retrieval.vector_store_objects(retrieval.list_vector_stores("")[0]):
        assert_valid("VectorStoreObject", shown)
    found = retrieval.search("", [store.id], ["ERR-4411", "disk"])
    assert found.hits
    assert_valid("VectorStoreSearchResultsPage", search_page(found.queries, found.hits))
