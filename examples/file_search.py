"""File search: upload a document, put it in a vector store, and ask an assistant that searches it.

The answer comes back with its citation rendered (``[1]``) and the file it cites. Run it with
`make demo` (on the embedded emulator, after the quick start), or point it at a server:

    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 python examples/file_search.py
"""

from __future__ import annotations

import sys

from quickstart import MODEL, make_client  # the client for the emulator, a server or Azure

from assistants_client import FileUpload

RUNBOOK = b"""ERR-4411 means the data volume is full: rotate the logs, then restart the ingest daemon.

ERR-4412 means the ingest daemon lost its database connection: restart it.

Page the storage on-call after two alerts in an hour.
"""


def main() -> int:
    with make_client() as client:
        runbook = client.upload_file(FileUpload.of(RUNBOOK, filename="runbook.md"), "assistants")
        store = client.create_vector_store(name="Runbooks")
        client.create_vector_store_file_and_poll(store.id, runbook.id)
        assistant = client.create_assistant(
            MODEL,
            name="Runbook helper",
            instructions="Answer from the runbooks and cite them.",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        question = "What does ERR-4411 mean?"
        thread = client.create_thread(messages=[{"role": "user", "content": question}])
        print(f"\n-- file_search run --\n{question}")
        reply = client.run_and_get_reply(thread.id, assistant.id)
        if reply.run.status != "completed":
            print(f"the run ended as {reply.run.status}", file=sys.stderr)
            return 1
        text, citations = reply.messages[-1].text_with_citations()
        print(text)
        for citation in citations:
            print(f"[{citation.number}] {client.get_file(citation.file_id).filename}")

        client.delete_assistant(assistant.id)
        client.delete_vector_store(store.id)
        client.delete_file(runbook.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
