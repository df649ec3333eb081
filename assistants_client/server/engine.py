"""The engine: the Assistants API's operations over a store and a responder, without HTTP.

It knows nothing of who answers a run (a :class:`Responder` does), nor of HTTP (``http.py``
serves it: routes, paths, query strings and idempotency keys are its business), nor, beyond the
:class:`Store` it is given, of where state lives. One engine serves both the emulator (a
scripted responder) and the server (a Chat Completions backend).

Its parts:

* :class:`Engine`, this module: the façade, one method per operation of the API, named as in the
  generated operations table (``models/operations.py``). Each takes typed arguments (ids as
  strings, a :class:`~assistants_client.server.resources.ListQuery` for a page, a request body
  already checked against the spec) and runs in one store transaction of its own, so several
  engines (server processes) on one shared store serve one API;
* every operation takes the ``project`` of the caller (keyword-only, no default: the HTTP layer
  turns the caller's key into it, ``""`` being the shared namespace) and works in that project
  only: an object of another project is not found, exactly as an id that names nothing;
* ``resources.py``: the objects in the store;
* ``scheduling.py``: the execution of runs (claims, workers, cancels, expiry, recovery), and
  ``runs.py``: one turn of a run;
* ``file_search.py``: the ``file_search`` tool in runs: the function a model is offered, the
  searches a turn runs for it (``runs.py`` drives them), and the citations of the answer;
* ``files.py``: files, vector stores, file batches and search, over the retrieval port
  (``retrieval/``: the files' bytes and the index in the same store, ingested in the
  background on this engine's workers, under leases like runs).

An upload runs outside any transaction (its bytes are written a piece at a time); the other
operations of files and vector stores run in the port's transactions.

A run's turn is built once per call of the responder: when the run is created (and then checked,
prepared, and, for a streamed run, answered), when tool outputs are submitted, and when a
process claims a queued run.
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable

from assistants_client.server import objects
from assistants_client.server.errors import ApiError
from assistants_client.server.file_search import INCLUDE_CONTENT, STORE_WAIT, FileSearcher
from assistants_client.server.files import FileContent, FileResources, Upload
from assistants_client.server.objects import ASSISTANT_KEYS, JSONDict
from assistants_client.server.resources import ListQuery, Resources, check_metadata
from assistants_client.server.responders import Responder
from assistants_client.server.retrieval import DEFAULT_MAX_FILE_BYTES, Embedder, Retrieval
from assistants_client.server.runs import event
from assistants_client.server.scheduling import (
    DEFAULT_LEASE,
    DEFAULT_WORKERS,
    RunScheduler,
    StreamResult,
    Timing,
)
from assistants_client.server.store import Store

__all__ = [
    "Engine",
    "FileContent",
    "ListQuery",
    "StreamResult",
    "Timing",
    "Upload",
]

logger = logging.getLogger("assistants_client.server")

# Files ingested at once by one engine (parsing, chunking and embedding, on its workers).
INGESTION_WORKERS = 2
# How often expired files and the leftovers of interrupted uploads are swept (seconds).
FILE_SWEEP_EVERY = 60.0


class Engine:
    """The API over a store and a responder (see the module docstring). Thread-safe: every
    operation may come on its own thread, and runs in a store transaction of its own; no
    transaction is open while a responder is awaited.

    * ``foundry``: answer lists in Azure AI Foundry's shape (no ``object`` nor ``first_id``).
    * ``workers``: how many runs this engine executes in the background at once; more wait
      ``queued`` (for this engine's next free worker, or another's).
    * ``lease``: seconds a claim on a run (or on a file's ingestion) lasts unless renewed
      (see ``scheduling.py``).
    * ``embedder``: how files and queries are embedded (None: search by keywords only);
      ``max_file_bytes``: the largest upload taken (413 past it).
    * ``file_search_wait``: seconds a run's search waits for the files of its thread's vector
      store still being ingested.
    """

    def __init__(
        self,
        store: Store,
        responder: Responder,
        *,
        timing: Timing | None = None,
        workers: int = DEFAULT_WORKERS,
        foundry: bool = False,
        lease: float = DEFAULT_LEASE,
        embedder: Embedder | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        file_search_wait: float = STORE_WAIT,
    ) -> None:
        self.store = store
        self.responder = responder
        self.timing = timing or Timing()
        self.lease = lease
        # Who this engine is, in the claims it holds: unique per process and start.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.resources = Resources(
            store, foundry=foundry, run_expires_after=self.timing.run_expires_after
        )
        self.retrieval = Retrieval.over(
            store, embedder=embedder, max_file_bytes=max_file_bytes, owner=self.owner, lease=lease
        )
        self.searcher = FileSearcher(self.retrieval, wait=file_search_wait)
        self.runs = RunScheduler(
            store,
            responder,
            owner=self.owner,
            timing=self.timing,
            workers=workers,
            lease=lease,
            searcher=self.searcher,
        )
        self.files = FileResources(self.retrieval, foundry=foundry)
        self.resources.attach = self.files.attach
        self.retrieval.start(self.runs.submit, workers=min(INGESTION_WORKERS, workers))
        self._next_file_sweep = 0.0
        self.every_sweep(self._sweep_files)

    @property
    def closing(self) -> bool:
        return self.runs.closing

    def close(self) -> None:
        """Stop: turns and ingestions under way stop where they are (see
        ``RunScheduler.close``); their claims lapse, for another process to take."""
        self.retrieval.close()
        self.runs.close()
        self.searcher.close()

    def forget_runs(self) -> None:
        """Stop every turn under way and forget them (before the store is cleared)."""
        self.runs.forget()

    def _sweep_files(self) -> None:
        """Once a minute: delete the files past their expiry, and forget the pieces of
        uploads a process stopped in the middle of, a day ago."""
        if time.monotonic() < self._next_file_sweep:
            return
        self._next_file_sweep = time.monotonic() + FILE_SWEEP_EVERY
        try:
            self.retrieval.sweep_expired()
            self.retrieval.sweep()
        except Exception as problem:  # the claims' renewal, sharing this sweep, must go on
            logger.warning("sweeping expired files failed (tried again in a minute): %s", problem)

    def clear_files(self) -> None:
        """Forget every file and vector store (with the store's ``clear``, a reset)."""
        self.retrieval.clear()

    def every_sweep(self, sweeper: Callable[[], None]) -> None:
        """Call ``sweeper`` once a second while the engine runs (to renew what this process
        holds in the store)."""
        self.runs.every_sweep(sweeper)

    # -- assistants -----------------------------------------------------------------------

    def list_assistants(self, page: ListQuery, *, project: str) -> JSONDict:
        with self.store.transaction():
            return self.resources.list_assistants(page, project=project)

    def create_assistant(self, body: JSONDict, *, project: str) -> JSONDict:
        with self.store.transaction():
            body = self._with_stores(body, project)
            return self.resources.create_assistant(body, project=project)

    def get_assistant(self, assistant_id: str, *, project: str) -> JSONDict:
        with self.store.transaction():
            assistant = self.resources.assistant(assistant_id, project=project)
            return objects.ordered(assistant, ASSISTANT_KEYS)

    def update_assistant(self, assistant_id: str, body: JSONDict, *, project: str) -> JSONDict:
        with self.store.transaction():
            self.resources.assistant(assistant_id, project=project)
            body = self._with_stores(body, project)
            return self.resources.update_assistant(assistant_id, body, project=project)

    def delete_assistant(self, assistant_id: str, *, project: str) -> JSONDict:
        with self.store.transaction():
            return self.resources.delete_assistant(assistant_id, project=project)

    # -- threads --------------------------------------------------------------------------

    def create_thread(self, body: JSONDict, *, project: str) -> JSONDict:
        with self.store.transaction():
            body = self._with_stores(body, project)
            return self.resources.create_thread(body, project=project)

    def get_thread(self, thread_id: str, *, project: str) -> JSONDict:
        with self.store.transaction():
            thread = self.resources.thread(thread_id, project=project)
        # Recorded: a thread whose create and modify answers show no resources is read back
        # with an empty code interpreter entry.
        thread["tool_resources"] = objects.code_interpreter_default(thread["tool_resources"])
        return thread

    def update_thread(self, thread_id: str, body: JSONDict, *, project: str) -> JSONDict:
        with self.store.transaction():
            self.resources.thread(thread_id, project=project)
            body = self._with_stores(body, project)
            return self.resources.update_thread(thread_id, body, project=project)

    def delete_thread(self, thread_id: str, *, project: str) -> JSONDict:
        with self.store.transaction():
            # The turn under way of a run of the thread finds its run gone, and stops.
            return self.resources.delete_thread(thread_id, self.runs.signal, project=project)

    # -- messages -------------------------------------------------------------------------

    def list_messages(
        self, thread_id: str, page: ListQuery, run_id: str | None = None, *, project: str
    ) -> JSONDict:
        with self.store.transaction():
            self.resources.thread(thread_id, project=project)
            return self.resources.page(
                "message", thread_id, page, objects.message_view, run_id=run_id, project=project
            )

    def create_message(self, thread_id: str, body: JSONDict, *, project: str) -> JSONDict:
        with self.store.transaction():
            message = self.resources.create_message(thread_id, body, project=project)
            return objects.message_view(message)

    def get_message(self, thread_id: str, message_id: str, *, project: str) -> JSONDict:
        with self.store.transaction():
            message = self.resources.message(thread_id, message_id, project=project)
            return objects.message_view(message)

    def update_message(
        self, thread_id: str, message_id: str, body: JSONDict, *, project: str
    ) -> JSONDict:
        with self.store.transaction():
            message = self.resources.update_message(thread_id, message_id, body, project=project)
        return objects.modified_message_view(message)

    def delete_message(self, thread_id: str, message_id: str, *, project: str) -> JSONDict:
        with self.store.transaction():
            return self.resources.delete_message(thread_id, message_id, project=project)

    # -- runs -----------------------------------------------------------------------------

    def list_runs(self, thread_id: str, page: ListQuery, *, project: str) -> JSONDict:
        with self.store.transaction():
            self.resources.thread(thread_id, project=project)
            return self.resources.page(
                "run", thread_id, page, lambda record: record["run"], project=project
            )

    def create_run(
        self, thread_id: str, body: JSONDict, include: list[str] | None = None, *, project: str
    ) -> JSONDict | StreamResult:
        content = _include_content(include)
        with self.store.transaction():
            self.resources.thread(thread_id, project=project, lock=True)
            record, turn = self.resources.new_run(
                thread_id, body, self.runs.admit, project=project, include_content=content
            )
            run = record["run"]
            streaming = bool(body.get("stream"))
            opening = (
                [event("thread.run.created", run), event("thread.run.queued", run)]
                if streaming
                else []
            )
            return self.runs.start(record, turn, opening, streaming=streaming)

    def create_thread_and_run(self, body: JSONDict, *, project: str) -> JSONDict | StreamResult:
        with self.store.transaction():
            # A refused request leaves nothing behind, not even its new thread: its
            # transaction rolls back.
            self.resources.assistant(body["assistant_id"], "body.assistant_id", project=project)
            check_metadata(body.get("metadata"))
            body = self._with_stores(body, project)
            thread_body = dict(body.get("thread") or {})
            if body.get("tool_resources") is None:  # else the run's are the thread's too
                thread_body = self._with_stores(thread_body, project, "body.thread")
            resources = (
                objects.tool_resources(body["tool_resources"])
                if body.get("tool_resources") is not None
                else None
            )
            thread_resources = (
                copy.deepcopy(resources)
                if resources is not None
                else objects.tool_resources(thread_body.get("tool_resources"))
            )
            streaming = bool(body.get("stream"))
            if streaming:
                # Recorded: the thread of a streamed createThreadAndRun reports an (empty) code
                # interpreter resource, like its run.
                thread_resources = objects.code_interpreter_default(thread_resources)
            thread = self.resources.create_thread(
                thread_body, "body.thread", thread_resources, project=project
            )
            run_body = {k: v for k, v in body.items() if k not in ("thread", "tool_resources")}
            record, turn = self.resources.new_run(
                thread["id"], run_body, self.runs.admit, resources, project=project
            )
            run = record["run"]
            opening = (
                [
                    event("thread.created", thread),
                    event("thread.run.created", run),
                    event("thread.run.queued", run),
                ]
                if streaming
                else []
            )
            return self.runs.start(record, turn, opening, streaming=streaming)

    def get_run(self, thread_id: str, run_id: str, *, project: str) -> JSONDict:
        with self.store.transaction():
            run: JSONDict = self.resources.record(thread_id, run_id, project=project)["run"]
            return run

    def update_run(self, thread_id: str, run_id: str, body: JSONDict, *, project: str) -> JSONDict:
        with self.store.transaction():
            record = self.resources.record(thread_id, run_id, project=project, lock=True)
            if "metadata" in body:
                record["run"]["metadata"] = check_metadata(body["metadata"])
            self.store.update("run", run_id, record, project=project)
            run: JSONDict = record["run"]
            return run

    def cancel_run(self, thread_id: str, run_id: str, *, project: str) -> JSONDict:
        with self.store.transaction():
            row, marked = self.resources.mark_cancelling(thread_id, run_id, project=project)
            if marked:
                self.runs.cancel(row)
            run: JSONDict = row.record["run"]
            return run

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, body: JSONDict, *, project: str
    ) -> JSONDict | StreamResult:
        with self.store.transaction():
            record, step, turn = self.resources.take_tool_outputs(
                thread_id, run_id, body, self.responder.prepare, project=project
            )
            streaming = bool(body.get("stream"))
            content = bool(record["state"].get("include_content"))
            opening = (
                [
                    event(
                        "thread.run.step.completed",
                        objects.step_view(step, include_content=content),
                    )
                ]
                if step is not None
                else []
            )
            if streaming:
                opening.append(event("thread.run.queued", record["run"]))
            return self.runs.start(record, turn, opening if streaming else [], streaming=streaming)

    # -- steps ----------------------------------------------------------------------------

    def list_run_steps(
        self,
        thread_id: str,
        run_id: str,
        page: ListQuery,
        include: list[str] | None = None,
        *,
        project: str,
    ) -> JSONDict:
        content = _include_content(include)
        with self.store.transaction():
            self.resources.record(thread_id, run_id, project=project)
            return self.resources.page(
                "step",
                run_id,
                page,
                lambda step: objects.step_view(step, include_content=content),
                project=project,
            )

    def get_run_step(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        include: list[str] | None = None,
        *,
        project: str,
    ) -> JSONDict:
        content = _include_content(include)
        with self.store.transaction():
            return objects.step_view(
                self.resources.step(thread_id, run_id, step_id, project=project),
                include_content=content,
            )

    def _with_stores(self, body: JSONDict, project: str, path: str = "body") -> JSONDict:
        """``body`` with the vector stores its ``tool_resources`` make inline created (and
        named by id)."""
        resources = body.get("tool_resources")
        made = self.files.inline_stores(project, resources, f"{path}.tool_resources")
        return body if made is resources else {**body, "tool_resources": made}

    # -- files ----------------------------------------------------------------------------

    def list_files(self, page: ListQuery, purpose: str | None = None, *, project: str) -> JSONDict:
        return self.files.list_files(project, page, purpose)

    def upload_file(self, body: Upload, *, project: str) -> JSONDict:
        """``POST /files``: called outside any transaction (its bytes go in a piece at a
        time)."""
        return self.files.upload_file(project, body)

    def get_file(self, file_id: str, *, project: str) -> JSONDict:
        return self.files.get_file(project, file_id)

    def delete_file(self, file_id: str, *, project: str) -> JSONDict:
        return self.files.delete_file(project, file_id)

    def get_file_content(self, file_id: str, *, project: str) -> FileContent:
        return self.files.file_content(project, file_id)

    # -- vector stores --------------------------------------------------------------------

    def list_vector_stores(self, page: ListQuery, *, project: str) -> JSONDict:
        return self.files.list_vector_stores(project, page)

    def create_vector_store(self, body: JSONDict, *, project: str) -> JSONDict:
        return self.files.create_vector_store(project, body)

    def get_vector_store(self, vector_store_id: str, *, project: str) -> JSONDict:
        return self.files.get_vector_store(project, vector_store_id)

    def update_vector_store(
        self, vector_store_id: str, body: JSONDict, *, project: str
    ) -> JSONDict:
        return self.files.update_vector_store(project, vector_store_id, body)

    def delete_vector_store(self, vector_store_id: str, *, project: str) -> JSONDict:
        return self.files.delete_vector_store(project, vector_store_id)

    def search_vector_store(
        self, vector_store_id: str, body: JSONDict, *, project: str
    ) -> JSONDict:
        return self.files.search(project, vector_store_id, body)

    # -- vector store files ---------------------------------------------------------------

    def list_vector_store_files(
        self,
        vector_store_id: str,
        page: ListQuery,
        filter: str | None = None,
        *,
        project: str,
    ) -> JSONDict:
        return self.files.list_vector_store_files(project, vector_store_id, page, filter)

    def create_vector_store_file(
        self, vector_store_id: str, body: JSONDict, *, project: str
    ) -> JSONDict:
        return self.files.create_vector_store_file(project, vector_store_id, body)

    def get_vector_store_file(
        self, vector_store_id: str, file_id: str, *, project: str
    ) -> JSONDict:
        return self.files.get_vector_store_file(project, vector_store_id, file_id)

    def update_vector_store_file(
        self, vector_store_id: str, file_id: str, body: JSONDict, *, project: str
    ) -> JSONDict:
        return self.files.update_vector_store_file(project, vector_store_id, file_id, body)

    def delete_vector_store_file(
        self, vector_store_id: str, file_id: str, *, project: str
    ) -> JSONDict:
        return self.files.delete_vector_store_file(project, vector_store_id, file_id)

    def get_vector_store_file_content(
        self, vector_store_id: str, file_id: str, *, project: str
    ) -> JSONDict:
        return self.files.vector_store_file_content(project, vector_store_id, file_id)

    # -- file batches ---------------------------------------------------------------------

    def create_vector_store_file_batch(
        self, vector_store_id: str, body: JSONDict, *, project: str
    ) -> JSONDict:
        return self.files.create_file_batch(project, vector_store_id, body)

    def get_vector_store_file_batch(
        self, vector_store_id: str, batch_id: str, *, project: str
    ) -> JSONDict:
        return self.files.get_file_batch(project, vector_store_id, batch_id)

    def cancel_vector_store_file_batch(
        self, vector_store_id: str, batch_id: str, *, project: str
    ) -> JSONDict:
        return self.files.cancel_file_batch(project, vector_store_id, batch_id)

    def list_vector_store_file_batch_files(
        self,
        vector_store_id: str,
        batch_id: str,
        page: ListQuery,
        filter: str | None = None,
        *,
        project: str,
    ) -> JSONDict:
        return self.files.list_vector_store_files(
            project, vector_store_id, page, filter, batch_id=batch_id
        )


def _include_content(include: list[str] | None) -> bool:
    """Whether ``include[]`` asks for the file_search results' passages (400 for a value the
    API does not know, as it answered)."""
    for index, value in enumerate(include or []):
        if value != INCLUDE_CONTENT:
            raise ApiError(
                400,
                f"Invalid value: '{value}'. Supported values are: '{INCLUDE_CONTENT}'.",
                param=f"include[{index}]",
                code="invalid_value",
            )
    return bool(include)
