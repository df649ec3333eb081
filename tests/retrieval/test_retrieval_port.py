"""The retrieval port's behaviour, one suite run against every store: memory, SQLite,
PostgreSQL (vectors searched in Python) and PostgreSQL with pgvector (HNSW).

What the engine relies on: files kept exactly and streamed back, uploads that leave nothing
when they fail, projects that do not see each other, vector stores with counts and usage that
follow their files, ingestion that ends every file completed or failed with a reason, and a
search that finds, filters, thresholds and cites exact passages.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import attrs
import pytest
import requests

from assistants_client.server.retrieval import (
    FileTooLarge,
    InvalidRequest,
    LocalEmbedder,
    MalformedUpload,
    NotFound,
    Retrieval,
    search_page,
)
from assistants_client.server.retrieval.service import PIECE_BYTES
from tests.retrieval.conftest import MakeRetrieval

PROJECT = ""


def multipart(
    content: bytes, *, filename: str = "notes.txt", fields: dict[str, str] | None = None
) -> tuple[str, bytes]:
    prepared = requests.Request(
        "POST",
        "http://127.0.0.1/v1/files",
        files={"file": (filename, io.BytesIO(content), "text/plain")},
        data=fields if fields is not None else {"purpose": "assistants"},
    ).prepare()
    assert isinstance(prepared.body, bytes)
    return prepared.headers["Content-Type"], prepared.body


def pieces(body: bytes, size: int = 7000) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def ingest_all(retrieval: Retrieval, store_id: str, project: str = PROJECT) -> list[str]:
    files, _ = retrieval.list_store_files(project, store_id, limit=100)
    return [retrieval.ingest(project, store_id, f.file_id) for f in files]


def store_with(retrieval: Retrieval, documents: dict[str, str], project: str = PROJECT) -> str:
    ids = [
        retrieval.create_file(project, name, "assistants", text.encode()).id
        for name, text in documents.items()
    ]
    store = retrieval.create_vector_store(project, name="docs", file_ids=ids)
    assert set(ingest_all(retrieval, store.id, project)) == {"completed"}
    return store.id


# -- files --------------------------------------------------------------------------------------


def test_an_uploaded_file_streams_back_byte_for_byte_in_pieces(retrieval: Retrieval) -> None:
    content = bytes(range(256)) * (PIECE_BYTES // 256 * 2 + 3)  # three pieces, the last short
    content_type, body = multipart(content, filename="data.bin")
    record = retrieval.upload_file(PROJECT, content_type, pieces(body, 65536))
    assert record.bytes == len(content) and record.filename == "data.bin"
    streamed = list(retrieval.file_content(PROJECT, record.id))
    assert len(streamed) == 3 and all(len(p) <= PIECE_BYTES for p in streamed)
    assert b"".join(streamed) == content
    assert retrieval.get_file(PROJECT, record.id).as_api() == {
        "object": "file",
        "id": record.id,
        "purpose": "assistants",
        "filename": "data.bin",
        "bytes": len(content),
        "created_at": record.created_at,
        "expires_at": None,
        "status": "processed",
        "status_details": None,
    }


def test_an_upload_cut_midway_leaves_no_file_and_no_piece(retrieval: Retrieval) -> None:
    content_type, body = multipart(b"x" * (PIECE_BYTES * 2 + 10))
    with pytest.raises(MalformedUpload, match="cut"):
        retrieval.upload_file(PROJECT, content_type, pieces(body[: PIECE_BYTES + 500], 65536))
    assert retrieval.list_files(PROJECT) == ([], False)
    assert retrieval.sweep(older_than=-1.0) == 0  # nothing was left behind to sweep


def test_a_body_that_fails_while_read_leaves_no_file(retrieval: Retrieval) -> None:
    content_type, body = multipart(b"y" * (PIECE_BYTES + 10))

    def broken() -> Iterator[bytes]:
        yield body[: PIECE_BYTES + 100]
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        retrieval.upload_file(PROJECT, content_type, broken())
    assert retrieval.list_files(PROJECT) == ([], False)
    assert retrieval.sweep(older_than=-1.0) == 0


def test_an_upload_over_the_cap_is_refused_and_leaves_nothing(
    make_retrieval: MakeRetrieval,
) -> None:
    retrieval = make_retrieval(max_file_bytes=PIECE_BYTES + 1)
    content_type, body = multipart(b"z" * (PIECE_BYTES + 2))
    with pytest.raises(FileTooLarge) as raised:
        retrieval.upload_file(PROJECT, content_type, pieces(body, 65536))
    assert raised.value.limit == PIECE_BYTES + 1
    assert retrieval.list_files(PROJECT) == ([], False)
    assert retrieval.sweep(older_than=-1.0) == 0


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "purpose"),
        ({"purpose": "wallpaper"}, "purpose"),
        (
            {"purpose": "assistants", "expires_after[anchor]": "created_at"},
            "expires_after[seconds]",
        ),
        (
            {
                "purpose": "batch",
                "expires_after[anchor]": "created_at",
                "expires_after[seconds]": "60",
            },
            "expires_after[seconds]",
        ),
        ({"purpose": "batch", "colour": "blue"}, "colour"),
    ],
)
def test_upload_fields_are_checked_and_name_the_parameter(
    retrieval: Retrieval, fields: dict[str, str], param: str
) -> None:
    content_type, body = multipart(b"hello", fields=fields)
    with pytest.raises(InvalidRequest) as raised:
        retrieval.upload_file(PROJECT, content_type, [body])
    assert raised.value.param == param
    assert retrieval.list_files(PROJECT) == ([], False)


def test_a_file_with_an_expiry_reports_it(retrieval: Retrieval) -> None:
    content_type, body = multipart(
        b"hello",
        fields={
            "purpose": "batch",
            "expires_after[anchor]": "created_at",
            "expires_after[seconds]": "3600",
        },
    )
    record = retrieval.upload_file(PROJECT, content_type, [body])
    assert record.expires_at == record.created_at + 3600


def test_files_list_newest_first_by_purpose_with_exact_has_more(retrieval: Retrieval) -> None:
    made = [
        retrieval.create_file(PROJECT, f"f{n}.txt", "batch" if n % 2 else "assistants", b"x")
        for n in range(5)
    ]
    page, more = retrieval.list_files(PROJECT, limit=2)
    assert [f.id for f in page] == [made[4].id, made[3].id] and more
    page, more = retrieval.list_files(PROJECT, limit=2, after=made[3].id)
    assert [f.id for f in page] == [made[2].id, made[1].id] and more
    page, more = retrieval.list_files(PROJECT, purpose="batch", order="asc")
    assert [f.id for f in page] == [made[1].id, made[3].id] and not more
    with pytest.raises(InvalidRequest) as raised:
        retrieval.list_files(PROJECT, after="file-nothing")
    assert raised.value.param == "after"


def test_one_project_never_sees_another_projects_objects(retrieval: Retrieval) -> None:
    mine = retrieval.create_file("team-a", "a.txt", "assistants", b"alpha ERR-4411")
    store = retrieval.create_vector_store("team-a", file_ids=[mine.id])
    retrieval.ingest("team-a", store.id, mine.id)
    for call in (
        lambda: retrieval.get_file("team-b", mine.id),
        lambda: retrieval.file_content("team-b", mine.id),
        lambda: retrieval.delete_file("team-b", mine.id),
        lambda: retrieval.get_vector_store("team-b", store.id),
        lambda: retrieval.search("team-b", [store.id], "alpha"),
        lambda: retrieval.get_store_file("team-b", store.id, mine.id),
        lambda: retrieval.create_vector_store("team-b", file_ids=[mine.id]),
    ):
        with pytest.raises(NotFound):
            call()
    assert retrieval.list_files("team-b") == ([], False)
    assert retrieval.list_vector_stores("team-b") == ([], False)
    assert retrieval.list_files("")[0] == []
    assert [hit.file_id for hit in retrieval.search("team-a", [store.id], "alpha").hits] == [
        mine.id
    ]


# -- vector stores and their files ----------------------------------------------------------------


def test_a_vector_store_counts_its_files_through_ingestion(retrieval: Retrieval) -> None:
    good = retrieval.create_file(PROJECT, "good.md", "assistants", b"# Hello\n\nSome words.")
    bad = retrieval.create_file(PROJECT, "photo.png", "assistants", b"\x89PNG\r\n\x1a\n....")
    store = retrieval.create_vector_store(
        PROJECT, name="kb", metadata={"team": "a"}, file_ids=[good.id, bad.id]
    )
    shown = retrieval.vector_store_object(PROJECT, store.id)
    assert shown["status"] == "in_progress"
    assert shown["file_counts"] == {
        "in_progress": 2,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "total": 2,
    }
    assert retrieval.ingest(PROJECT, store.id, good.id) == "completed"
    assert retrieval.ingest(PROJECT, store.id, bad.id) == "failed"
    assert retrieval.ingest(PROJECT, store.id, good.id) == "completed"  # idempotent
    shown = retrieval.vector_store_object(PROJECT, store.id)
    assert shown["status"] == "completed" and shown["name"] == "kb"
    assert shown["file_counts"]["completed"] == 1 and shown["file_counts"]["failed"] == 1
    assert shown["usage_bytes"] == len("# Hello\n\nSome words.")
    assert shown["metadata"] == {"team": "a"}
    failed = retrieval.get_store_file(PROJECT, store.id, bad.id).as_api()
    assert failed["status"] == "failed"
    assert failed["last_error"]["code"] == "unsupported_file"
    assert "PNG image" in failed["last_error"]["message"]
    done = retrieval.get_store_file(PROJECT, store.id, good.id).as_api()
    assert done["chunking_strategy"] == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
    }
    assert retrieval.store_file_content(PROJECT, store.id, good.id) == "# Hello\n\nSome words."


def test_deleting_a_file_removes_it_from_every_store_and_their_counts(retrieval: Retrieval) -> None:
    shared = retrieval.create_file(PROJECT, "shared.txt", "assistants", b"a shared passage")
    other = retrieval.create_file(PROJECT, "other.txt", "assistants", b"another passage here")
    first = retrieval.create_vector_store(PROJECT, file_ids=[shared.id, other.id])
    second = retrieval.create_vector_store(PROJECT, file_ids=[shared.id])
    ingest_all(retrieval, first.id)
    ingest_all(retrieval, second.id)
    assert sorted(retrieval.delete_file(PROJECT, shared.id)) == sorted([first.id, second.id])
    assert retrieval.vector_store_object(PROJECT, first.id)["file_counts"]["total"] == 1
    assert retrieval.vector_store_object(PROJECT, first.id)["usage_bytes"] == len(
        "another passage here"
    )
    assert retrieval.vector_store_object(PROJECT, second.id)["file_counts"]["total"] == 0
    assert all(h.file_id != shared.id for h in retrieval.search(PROJECT, [first.id], "shared").hits)
    with pytest.raises(NotFound):
        retrieval.get_file(PROJECT, shared.id)


def test_adding_a_file_twice_returns_the_file_already_there(retrieval: Retrieval) -> None:
    made = retrieval.create_file(PROJECT, "a.txt", "assistants", b"text")
    store = retrieval.create_vector_store(PROJECT)
    first = retrieval.add_file(PROJECT, store.id, made.id, attributes={"year": 2024})
    again = retrieval.add_file(PROJECT, store.id, made.id)
    assert again == first
    assert retrieval.vector_store_object(PROJECT, store.id)["file_counts"]["total"] == 1


def test_store_files_list_by_status_and_page(retrieval: Retrieval) -> None:
    made = [retrieval.create_file(PROJECT, f"{n}.txt", "assistants", b"words") for n in range(3)]
    binary = retrieval.create_file(PROJECT, "x.bin", "assistants", b"\x00\x01\x02")
    store = retrieval.create_vector_store(PROJECT, file_ids=[f.id for f in [*made, binary]])
    ingest_all(retrieval, store.id)
    page, more = retrieval.list_store_files(PROJECT, store.id, status="completed", order="asc")
    assert [f.file_id for f in page] == [f.id for f in made] and not more
    page, more = retrieval.list_store_files(
        PROJECT, store.id, limit=1, before=made[2].id, order="asc"
    )
    assert [f.file_id for f in page] == [made[1].id] and more
    assert [
        f.file_id for f in retrieval.list_store_files(PROJECT, store.id, status="failed")[0]
    ] == [binary.id]
    with pytest.raises(InvalidRequest) as raised:
        retrieval.list_store_files(PROJECT, store.id, status="done")
    assert raised.value.param == "filter"


def test_a_batch_counts_its_own_files_and_cancel_ends_the_rest(retrieval: Retrieval) -> None:
    texts = [retrieval.create_file(PROJECT, f"{n}.txt", "assistants", b"text") for n in range(3)]
    binary = retrieval.create_file(PROJECT, "b.bin", "assistants", b"\x7fELF\x02\x01")
    store = retrieval.create_vector_store(PROJECT)
    batch = retrieval.create_batch(PROJECT, store.id, file_ids=[f.id for f in [*texts, binary]])
    shown = retrieval.batch_object(PROJECT, store.id, batch.id)
    assert shown["object"] == "vector_store.files_batch" and shown["status"] == "in_progress"
    for made in [*texts, binary]:
        retrieval.ingest(PROJECT, store.id, made.id)
    shown = retrieval.batch_object(PROJECT, store.id, batch.id)
    assert shown["status"] == "completed"
    assert shown["file_counts"] == {
        "in_progress": 0,
        "completed": 3,
        "failed": 1,
        "cancelled": 0,
        "total": 4,
    }
    later = retrieval.create_file(PROJECT, "later.txt", "assistants", b"later")
    second = retrieval.create_batch(PROJECT, store.id, files=[{"file_id": later.id}])
    retrieval.cancel_batch(PROJECT, store.id, second.id)
    assert retrieval.ingest(PROJECT, store.id, later.id) == "cancelled"
    shown = retrieval.batch_object(PROJECT, store.id, second.id)
    assert shown["status"] == "cancelled" and shown["file_counts"]["cancelled"] == 1
    retrieval.cancel_batch(PROJECT, store.id, batch.id)  # done already: it stays as it ended
    assert retrieval.batch_object(PROJECT, store.id, batch.id)["status"] == "completed"
    with pytest.raises(InvalidRequest):
        retrieval.create_batch(PROJECT, store.id, file_ids=[later.id], files=[])


def test_vector_stores_are_modified_listed_and_deleted(retrieval: Retrieval) -> None:
    stores = [retrieval.create_vector_store(PROJECT, name=f"s{n}") for n in range(3)]
    page, more = retrieval.list_vector_stores(PROJECT, limit=2)
    assert [s.id for s in page] == [stores[2].id, stores[1].id] and more
    changed = retrieval.update_vector_store(
        PROJECT, stores[0].id, name="renamed", expires_after={"anchor": "last_active_at", "days": 2}
    )
    assert changed.name == "renamed"
    shown = retrieval.vector_store_object(PROJECT, stores[0].id)
    assert shown["expires_at"] == shown["last_active_at"] + 2 * 86400
    with pytest.raises(InvalidRequest) as raised:
        retrieval.update_vector_store(
            PROJECT, stores[0].id, expires_after={"anchor": "x", "days": 1}
        )
    assert raised.value.param == "expires_after.anchor"
    retrieval.delete_vector_store(PROJECT, stores[1].id)
    assert [s.id for s in retrieval.list_vector_stores(PROJECT, order="asc")[0]] == [
        stores[0].id,
        stores[2].id,
    ]
    with pytest.raises(NotFound):
        retrieval.delete_vector_store(PROJECT, stores[1].id)


def test_an_expired_vector_store_says_so_and_refuses_search(retrieval: Retrieval) -> None:
    store = retrieval.create_vector_store(
        PROJECT, expires_after={"anchor": "last_active_at", "days": 1}
    )
    with retrieval.transaction():
        record = retrieval.index.get_store(PROJECT, store.id)
        assert record is not None
        retrieval.index.update_store(
            attrs.evolve(record, last_active_at=record.created_at - 2 * 86400)
        )
    assert retrieval.vector_store_object(PROJECT, store.id)["status"] == "expired"
    with pytest.raises(InvalidRequest, match="expired"):
        retrieval.search(PROJECT, [store.id], "anything")


# -- search -------------------------------------------------------------------------------------


DOCUMENTS = {
    "errors.md": "# Error codes\n\nERR-4411 means the disk quota is exhausted. Free space and "
    "retry.\n\nERR-4412 means the network is unreachable.",
    "passwords.txt": "To reset a forgotten password, open the sign-in page and follow the "
    "recovery link sent by email.",
    "pasta.txt": "Boil salted water, add the pasta and cook it for nine minutes.",
}


def test_search_finds_the_passage_and_its_exact_offsets(retrieval: Retrieval) -> None:
    store_id = store_with(retrieval, DOCUMENTS)
    result = retrieval.search(PROJECT, [store_id], "What does ERR-4411 mean?")
    top = result.hits[0]
    assert top.filename == "errors.md"
    text = retrieval.store_file_content(PROJECT, store_id, top.file_id)
    assert text[top.chunk.start : top.chunk.end] == top.chunk.text
    assert "ERR-4411" in top.chunk.text
    assert all(0.0 <= hit.score <= 1.0 for hit in result.hits)
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    page = search_page(result.queries, result.hits)
    assert page["object"] == "vector_store.search_results.page"
    assert page["search_query"] == ["What does ERR-4411 mean?"]
    assert page["data"][0]["content"] == [{"type": "text", "text": top.chunk.text}]
    json.dumps(page)


def test_search_honours_max_results_threshold_and_several_queries(retrieval: Retrieval) -> None:
    store_id = store_with(retrieval, DOCUMENTS)
    assert (
        len(retrieval.search(PROJECT, [store_id], "password pasta disk", max_num_results=1).hits)
        == 1
    )
    assert retrieval.search(PROJECT, [store_id], "password", score_threshold=1.0).hits == []
    both = retrieval.search(PROJECT, [store_id], ["reset password", "cook pasta"])
    assert {hit.filename for hit in both.hits[:2]} == {"passwords.txt", "pasta.txt"}
    assert both.queries == ["reset password", "cook pasta"]


def test_filters_apply_to_file_attributes_before_scoring(retrieval: Retrieval) -> None:
    store = retrieval.create_vector_store(PROJECT)
    for n, year in enumerate((2022, 2023, 2024)):
        made = retrieval.create_file(
            PROJECT, f"r{n}.txt", "assistants", f"annual report {year}".encode()
        )
        retrieval.add_file(PROJECT, store.id, made.id, attributes={"year": year, "kind": "report"})
        retrieval.ingest(PROJECT, store.id, made.id)
    found = retrieval.search(
        PROJECT,
        [store.id],
        "annual report",
        filters={
            "type": "and",
            "filters": [
                {"type": "gte", "key": "year", "value": 2023},
                {"type": "eq", "key": "kind", "value": "report"},
            ],
        },
    )
    assert sorted(hit.attributes["year"] for hit in found.hits) == [2023, 2024]
    none = retrieval.search(
        PROJECT, [store.id], "annual report", filters={"type": "in", "key": "year", "value": [1999]}
    )
    assert none.hits == []
    with pytest.raises(InvalidRequest) as raised:
        retrieval.search(PROJECT, [store.id], "x", filters={"type": "near", "key": "a", "value": 1})
    assert raised.value.param == "filters.type"


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"max_num_results": 0}, "max_num_results"),
        ({"max_num_results": 51}, "max_num_results"),
        ({"score_threshold": 1.5}, "ranking_options.score_threshold"),
        ({"ranker": "best"}, "ranking_options.ranker"),
    ],
)
def test_search_limits_are_checked(
    retrieval: Retrieval, options: dict[str, object], param: str
) -> None:
    store = retrieval.create_vector_store(PROJECT)
    with pytest.raises(InvalidRequest) as raised:
        retrieval.search(PROJECT, [store.id], "q", **options)  # type: ignore[arg-type]
    assert raised.value.param == param


def test_search_without_an_embedder_is_lexical_and_well_formed(
    make_retrieval: MakeRetrieval,
) -> None:
    retrieval = make_retrieval(None)
    store_id = store_with(retrieval, DOCUMENTS)
    hits = retrieval.search(PROJECT, [store_id], "forgotten password").hits
    assert hits[0].filename == "passwords.txt" and 0.0 < hits[0].score <= 1.0
    assert retrieval.get_vector_store(PROJECT, store_id).embedding_model is None


def test_a_store_records_the_model_and_dimension_it_was_embedded_with(
    retrieval: Retrieval,
) -> None:
    store_id = store_with(retrieval, {"a.txt": "some text"})
    record = retrieval.get_vector_store(PROJECT, store_id)
    assert (record.embedding_model, record.dimensions) == ("local-hash-64", 64)


def test_a_search_after_a_change_sees_the_change(retrieval: Retrieval) -> None:
    store_id = store_with(retrieval, {"a.txt": "zebra crossing"})
    assert retrieval.search(PROJECT, [store_id], "zebra").hits
    later = retrieval.create_file(PROJECT, "b.txt", "assistants", b"giraffe neck")
    retrieval.add_file(PROJECT, store_id, later.id)
    retrieval.ingest(PROJECT, store_id, later.id)
    assert retrieval.search(PROJECT, [store_id], "giraffe").hits[0].file_id == later.id
    retrieval.remove_file(PROJECT, store_id, later.id)
    assert all(h.file_id != later.id for h in retrieval.search(PROJECT, [store_id], "giraffe").hits)


def test_a_file_removed_during_ingestion_is_not_indexed(retrieval: Retrieval) -> None:
    made = retrieval.create_file(PROJECT, "a.txt", "assistants", b"words")
    store = retrieval.create_vector_store(PROJECT, file_ids=[made.id])
    embedder = retrieval.embedder
    assert isinstance(embedder, LocalEmbedder)

    class Removing(LocalEmbedder):
        def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
            retrieval.remove_file(PROJECT, store.id, made.id)
            return super().embed(texts)

    retrieval.embedder = Removing(64)
    assert retrieval.ingest(PROJECT, store.id, made.id) == "deleted"
    assert retrieval.search(PROJECT, [store.id], "words").hits == []


def test_a_cancelled_file_is_not_indexed_and_counts_as_cancelled(retrieval: Retrieval) -> None:
    made = retrieval.create_file(PROJECT, "a.txt", "assistants", b"cancelled words")
    store = retrieval.create_vector_store(PROJECT, file_ids=[made.id])
    assert retrieval.cancel_file(PROJECT, store.id, made.id).status == "cancelled"
    assert retrieval.ingest(PROJECT, store.id, made.id) == "cancelled"
    assert retrieval.vector_store_object(PROJECT, store.id)["file_counts"]["cancelled"] == 1
    assert retrieval.search(PROJECT, [store.id], "cancelled").hits == []
    done = retrieval.create_file(PROJECT, "b.txt", "assistants", b"done")
    retrieval.add_file(PROJECT, store.id, done.id)
    retrieval.ingest(PROJECT, store.id, done.id)
    assert retrieval.cancel_file(PROJECT, store.id, done.id).status == "completed"


def test_clear_forgets_every_file_and_store(retrieval: Retrieval) -> None:
    store_id = store_with(retrieval, {"a.txt": "words"})
    retrieval.clear()
    assert retrieval.list_files(PROJECT) == ([], False)
    assert retrieval.list_vector_stores(PROJECT) == ([], False)
    with pytest.raises(NotFound):
        retrieval.search(PROJECT, [store_id], "words")
    again = store_with(retrieval, {"b.txt": "other words"})
    assert [h.filename for h in retrieval.search(PROJECT, [again], "words").hits] == ["b.txt"]
