"""The objects the port builds are valid under the spec's schemas (``OpenAIFile``,
``VectorStoreObject``, ``VectorStoreFileObject``, ``VectorStoreFileBatchObject``,
``VectorStoreSearchResultsPage``): the official spec as the project keeps it, with the
overlay's record of what the live API sends where the spec denies it (a file's
``expires_at`` and ``status_details``, a vector store's ``name`` and ``expires_after``, null
when unset; its ``description``)."""

from __future__ import annotations

from assistants_client.server.retrieval import LocalEmbedder, Retrieval, search_page
from assistants_client.server.stores import MemoryStore
from tests.emulator.spec_tools import assert_valid


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
    assert text.as_api()["expires_at"] is None and text.as_api()["status_details"] is None
    bare = retrieval.vector_store_object("", retrieval.create_vector_store("").id)
    assert (bare["name"], bare["description"], bare["expires_after"]) == (None, None, None)
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
