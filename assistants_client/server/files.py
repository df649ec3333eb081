"""Files, vector stores, file batches and search: the API's operations over the retrieval port.

:class:`FileResources` is to files and vector stores what ``resources.py`` is to assistants
and threads: it serves the engine's operations (``engine.py``) in the API's shapes, over
:class:`~assistants_client.server.retrieval.Retrieval` (``retrieval/``), which keeps the
files' bytes, the vector stores and their index in the server's store and ingests in the
background. What the port raises becomes the API's errors here: a refused parameter 400
(naming it, as ``body.<path>`` for a field of a JSON body), a file over the size cap 413, an
object of no one (or of another project) 404.

Every method takes the ``project`` the request belongs to (``""``: the shared namespace), as
the port does. Each runs in transactions of the port's own: an upload (:meth:`upload_file`)
writes its bytes a piece at a time, each piece in a short transaction, so it must be called
outside any; its file becomes visible in one last step, or not at all.

Two operations do not answer JSON: an upload's body is an :class:`Upload` (the request's
``multipart/form-data`` stream, read as it arrives), and a file's content a
:class:`FileContent` (its exact bytes, streamed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from assistants_client.server import objects
from assistants_client.server.errors import ApiError
from assistants_client.server.objects import JSONDict
from assistants_client.server.resources import ListQuery
from assistants_client.server.retrieval import (
    FileTooLarge,
    InvalidRequest,
    NotFound,
    Retrieval,
    search_page,
)
from assistants_client.server.retrieval.records import StoreFileRecord
from assistants_client.server.retrieval.service import UNSET

__all__ = ["FileContent", "FileResources", "Upload"]

# Parameters that are not fields of a JSON body: the query string's, the path's, and a form's.
_NOT_IN_BODY = frozenset(
    {"limit", "order", "after", "before", "filter", "purpose", "vector_store_id", "batch_id"}
)


@attrs.frozen
class Upload:
    """The body of ``POST /files``: its ``Content-Type`` (with the form's boundary) and its
    bytes, in pieces as they arrive (the iterator raises ApiError when the request's body
    cannot be read to its end)."""

    content_type: str | None
    chunks: Iterable[bytes]


@attrs.frozen
class FileContent:
    """The answer of ``GET /files/{id}/content``: the file's exact bytes, ``size`` of them,
    in pieces (each read from the store in a short transaction of its own)."""

    filename: str
    size: int
    chunks: Iterator[bytes]


@contextlib.contextmanager
def _answering(body: bool = False) -> Iterator[None]:
    """The port's errors as the API's (see the module docstring); ``body``: the operation
    has a JSON body, whose fields the port names without the ``body.`` of the API's paths."""
    try:
        yield
    except FileTooLarge as problem:
        raise ApiError(413, f"{problem}.", param="file", code="file_too_large") from None
    except NotFound as problem:
        raise ApiError(404, str(problem), param=_where(problem.param, body)) from None
    except InvalidRequest as problem:
        param = _where(problem.param, body)
        message = problem.message
        if param is not None and problem.param:
            # The message starts with the parameter's path, as the request checks' do.
            if message.startswith(problem.param):
                message = param + message[len(problem.param) :]
            else:
                message = f"{param}: {message}"
        raise ApiError(400, message, param=param) from None


def _where(param: str | None, body: bool) -> str | None:
    if param is None or not body or param.split(".", 1)[0].split("[", 1)[0] in _NOT_IN_BODY:
        return param
    return f"body.{param}"


def _optional(body: Mapping[str, Any], name: str) -> Any:
    return body.get(name, UNSET)


class FileResources:
    """Files, vector stores, file batches and search (see the module docstring).

    ``foundry`` answers the list of files as Azure AI Foundry does (``object`` and ``data``).
    """

    def __init__(self, retrieval: Retrieval, *, foundry: bool = False) -> None:
        self.retrieval = retrieval
        self.foundry = foundry

    def _page(self, items: list[JSONDict], more: bool) -> JSONDict:
        return objects.page(items, more)

    # -- files ----------------------------------------------------------------------------

    def upload_file(self, project: str, body: Upload) -> JSONDict:
        """``POST /files``; outside any transaction (see the module docstring)."""
        with _answering():
            record = self.retrieval.upload_file(project, body.content_type, body.chunks)
        return record.as_api()

    def list_files(self, project: str, page: ListQuery, purpose: str | None) -> JSONDict:
        with _answering():
            found, more = self.retrieval.list_files(
                project, purpose=purpose, limit=page.limit, order=page.order, after=page.after
            )
        items = [record.as_api() for record in found]
        if self.foundry:
            return {"object": "list", "data": items}
        return self._page(items, more)

    def get_file(self, project: str, file_id: str) -> JSONDict:
        with _answering():
            return self.retrieval.get_file(project, file_id).as_api()

    def delete_file(self, project: str, file_id: str) -> JSONDict:
        """The file goes, and with it its place in every vector store."""
        with _answering():
            self.retrieval.delete_file(project, file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    def file_content(self, project: str, file_id: str) -> FileContent:
        with _answering():
            record = self.retrieval.get_file(project, file_id)
            chunks = self.retrieval.file_content(project, file_id)
        return FileContent(record.filename, record.bytes, chunks)

    # -- vector stores --------------------------------------------------------------------

    def create_vector_store(self, project: str, body: JSONDict) -> JSONDict:
        with _answering(body=True):
            record = self.retrieval.create_vector_store(
                project,
                name=body.get("name"),
                description=body.get("description"),
                metadata=body.get("metadata"),
                expires_after=body.get("expires_after"),
                chunking_strategy=body.get("chunking_strategy"),
                file_ids=body.get("file_ids") or (),
            )
            return self.retrieval.vector_store_object(project, record.id)

    def list_vector_stores(self, project: str, page: ListQuery) -> JSONDict:
        with _answering():
            found, more = self.retrieval.list_vector_stores(
                project, limit=page.limit, order=page.order, after=page.after, before=page.before
            )
            return self._page(self.retrieval.vector_store_objects(found), more)

    def get_vector_store(self, project: str, vector_store_id: str) -> JSONDict:
        with _answering():
            return self.retrieval.vector_store_object(project, vector_store_id)

    def update_vector_store(self, project: str, vector_store_id: str, body: JSONDict) -> JSONDict:
        with _answering(body=True):
            self.retrieval.update_vector_store(
                project,
                vector_store_id,
                name=_optional(body, "name"),
                metadata=_optional(body, "metadata"),
                expires_after=_optional(body, "expires_after"),
            )
            return self.retrieval.vector_store_object(project, vector_store_id)

    def delete_vector_store(self, project: str, vector_store_id: str) -> JSONDict:
        with _answering():
            self.retrieval.delete_vector_store(project, vector_store_id)
        return objects.deleted(vector_store_id, "vector_store")

    def search(self, project: str, vector_store_id: str, body: JSONDict) -> JSONDict:
        ranking = body.get("ranking_options") or {}
        with _answering(body=True):
            found = self.retrieval.search(
                project,
                [vector_store_id],
                body["query"],  # the port checks it
                max_num_results=body.get("max_num_results", 10),
                filters=body.get("filters"),
                score_threshold=ranking.get("score_threshold", 0.0),
                ranker=ranking.get("ranker", "auto"),
                rewrite_query=bool(body.get("rewrite_query", False)),
            )
        return search_page(found.queries, found.hits)

    # -- vector store files ---------------------------------------------------------------

    def create_vector_store_file(
        self, project: str, vector_store_id: str, body: JSONDict
    ) -> JSONDict:
        with _answering(body=True):
            record = self.retrieval.add_file(
                project,
                vector_store_id,
                body["file_id"],  # the port checks it
                attributes=body.get("attributes"),
                chunking_strategy=body.get("chunking_strategy"),
            )
        return record.as_api()

    def list_vector_store_files(
        self,
        project: str,
        vector_store_id: str,
        page: ListQuery,
        filter: str | None,
        batch_id: str | None = None,
    ) -> JSONDict:
        with _answering():
            found, more = self.retrieval.list_store_files(
                project,
                vector_store_id,
                status=filter,
                batch_id=batch_id,
                limit=page.limit,
                order=page.order,
                after=page.after,
                before=page.before,
            )
        return self._page([record.as_api() for record in found], more)

    def get_vector_store_file(self, project: str, vector_store_id: str, file_id: str) -> JSONDict:
        with _answering():
            found: StoreFileRecord = self.retrieval.get_store_file(
                project, vector_store_id, file_id
            )
        return found.as_api()

    def update_vector_store_file(
        self, project: str, vector_store_id: str, file_id: str, body: JSONDict
    ) -> JSONDict:
        with _answering(body=True):
            record = self.retrieval.update_store_file(
                project, vector_store_id, file_id, body.get("attributes")
            )
        return record.as_api()

    def delete_vector_store_file(
        self, project: str, vector_store_id: str, file_id: str
    ) -> JSONDict:
        with _answering():
            self.retrieval.remove_file(project, vector_store_id, file_id)
        return objects.deleted(file_id, "vector_store.file")

    def vector_store_file_content(
        self, project: str, vector_store_id: str, file_id: str
    ) -> JSONDict:
        with _answering():
            text = self.retrieval.store_file_content(project, vector_store_id, file_id)
        return {
            "object": "vector_store.file_content.page",
            "data": [{"type": "text", "text": text}] if text else [],
            "has_more": False,
            "next_page": None,
        }

    # -- file batches ---------------------------------------------------------------------

    def create_file_batch(self, project: str, vector_store_id: str, body: JSONDict) -> JSONDict:
        with _answering(body=True):
            record = self.retrieval.create_batch(
                project,
                vector_store_id,
                file_ids=body.get("file_ids"),
                files=body.get("files"),
                attributes=body.get("attributes"),
                chunking_strategy=body.get("chunking_strategy"),
            )
            return self.retrieval.batch_object(project, vector_store_id, record.id)

    def get_file_batch(self, project: str, vector_store_id: str, batch_id: str) -> JSONDict:
        with _answering():
            return self.retrieval.batch_object(project, vector_store_id, batch_id)

    def cancel_file_batch(self, project: str, vector_store_id: str, batch_id: str) -> JSONDict:
        with _answering():
            self.retrieval.cancel_batch(project, vector_store_id, batch_id)
            return self.retrieval.batch_object(project, vector_store_id, batch_id)

    # -- the vector stores of assistants and threads --------------------------------------

    def inline_stores(self, project: str, resources: Any, path: str) -> Any:
        """``resources`` (an assistant's or a thread's ``tool_resources``) with the vector
        stores of ``file_search.vector_stores`` created and named in ``vector_store_ids``;
        ``path`` is where the request has them (for the 400 or 404 that names a part). A
        store of ``vector_store_ids`` that is not the project's is a 404."""
        if not isinstance(resources, Mapping):
            return resources
        search = resources.get("file_search")
        if not isinstance(search, Mapping):
            return resources
        ids = list(search.get("vector_store_ids") or [])
        for index, store_id in enumerate(ids):
            where = f"{path}.file_search.vector_store_ids[{index}]"
            with _answering_at(where, prefix=False):
                self.retrieval.get_vector_store(project, store_id)
        if not search.get("vector_stores"):
            return resources
        if len(ids) + len(search["vector_stores"]) > 1:
            where = f"{path}.file_search"
            raise ApiError(
                400,
                f"{where}: at most one vector store may be attached (vector_store_ids and "
                "vector_stores together)",
                param=where,
            )
        for index, inline in enumerate(search["vector_stores"]):
            where = f"{path}.file_search.vector_stores[{index}]"
            with _answering_at(where):
                record = self.retrieval.create_vector_store(
                    project,
                    metadata=inline.get("metadata"),
                    chunking_strategy=inline.get("chunking_strategy"),
                    file_ids=inline.get("file_ids") or (),
                )
            ids.append(record.id)
        return {
            **resources,
            "file_search": {
                **{k: v for k, v in search.items() if k != "vector_stores"},
                "vector_store_ids": ids,
            },
        }

    def attach(self, project: str, thread: JSONDict, attachments: Any, path: str) -> bool:
        """Add the files of a message's ``attachments`` meant for ``file_search`` to the
        thread's vector store, made (expiring 7 days after its last activity) when the
        thread has none, or only one that expired; True when the thread changed (it names a
        new store)."""
        files: list[str] = []
        for index, item in enumerate(attachments or []):
            tools = item.get("tools") if isinstance(item, Mapping) else None
            if not any(
                isinstance(t, Mapping) and t.get("type") == "file_search" for t in tools or []
            ):
                continue
            file_id = str(item.get("file_id"))
            with _answering_at(f"{path}[{index}].file_id"):
                self.retrieval.get_file(project, file_id)
            files.append(file_id)
        if not files:
            return False
        resources = thread.setdefault("tool_resources", {})
        search = resources.get("file_search") or {}
        ids = list(search.get("vector_store_ids") or [])
        if ids and self._expired(project, ids[0]):
            ids = []  # a new store takes the place of one that expired
        if ids:
            for file_id in files:
                with _answering_at(path):
                    self.retrieval.add_file(project, ids[0], file_id)
            return False
        with _answering_at(path):
            record = self.retrieval.create_vector_store(
                project,
                name=f"{thread['id']} attachments",
                expires_after=THREAD_STORE_EXPIRY,
                file_ids=list(dict.fromkeys(files)),
            )
        resources["file_search"] = {**search, "vector_store_ids": [record.id]}
        return True

    def _expired(self, project: str, store_id: str) -> bool:
        try:
            return self.retrieval.get_vector_store(project, store_id).expired()
        except NotFound:
            return False  # named below, as not found


# The vector store attachments make for a thread lives on this long after its last activity.
THREAD_STORE_EXPIRY: JSONDict = {"anchor": "last_active_at", "days": 7}


@contextlib.contextmanager
def _answering_at(where: str, *, prefix: bool = True) -> Iterator[None]:
    """The port's errors as the API's, naming ``where`` (a part of a request body)."""
    try:
        yield
    except NotFound as problem:
        message = f"{where}: {problem}" if prefix else str(problem)
        raise ApiError(404, message, param=where) from None
    except InvalidRequest as problem:
        raise ApiError(400, f"{where}: {problem.message}", param=where) from None
