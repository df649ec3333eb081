"""A process that claims one ingestion and hangs inside it, to be killed (``kill -9``).

``python -m tests.retrieval.ingest_child LOCATION STORE_ID FILE_ID LEASE``: opens the store at
``LOCATION`` (a SQLite file or a PostgreSQL URL), ingests the file with an embedder that prints
``EMBEDDING`` and then blocks forever; the claim it took is what the kill leaves behind.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

from assistants_client.server.retrieval import Retrieval
from assistants_client.server.stores import open_store


class Hanging:
    model = "local-hash-64"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        print("EMBEDDING", flush=True)
        threading.Event().wait()
        raise AssertionError("unreachable")


def main(location: str, store_id: str, file_id: str, lease: str) -> None:
    retrieval = Retrieval.over(open_store(location), embedder=Hanging(), lease=float(lease))
    retrieval.ingest("", store_id, file_id)


if __name__ == "__main__":
    main(*sys.argv[1:])
