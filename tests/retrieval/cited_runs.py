"""Runs that search a vector store and cite, asked one question each, on a test's target.

:func:`cited_runs` uploads the documents into one vector store, makes an assistant with
``file_search`` over it, asks each question in a run of its own and returns, for each, the
names of the files its answer cites. The targets are ``assistants-server`` on the citing model
of ``tests/servers/fake_chat.py`` (it searches with the question, then cites the first passage
it was given) and the emulator (which does the same without a backend): the ``citing_target``
fixture of ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistants_client import AssistantsClient, FileUpload
from tests.files.support import Target


def cited_runs(
    target: Target, documents: Sequence[tuple[str, str]], questions: Sequence[str]
) -> list[list[str]]:
    """For each question, the file names its run's answer cites (``documents``: name, text)."""
    with AssistantsClient(base_url=target.base_url, api_key="sk-test") as client:
        store = client.create_vector_store(name="documents")
        batch = client.upload_files_and_poll(
            store.id, [FileUpload.of(text.encode(), filename=name) for name, text in documents]
        )
        assert batch.file_counts.completed == len(documents), batch
        names = {f.id: f.filename for f in client.list_files(purpose="assistants", limit=100)}
        assistant = client.create_assistant(
            "gpt-4o",
            instructions="Answer from the documents and cite them.",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        cited: list[list[str]] = []
        for question in questions:
            thread = client.create_thread(messages=[{"role": "user", "content": question}])
            reply = client.run_and_get_reply(thread.id, assistant.id)
            assert reply.run.status == "completed", reply.run.last_error
            (message,) = reply.messages
            _, citations = message.text_with_citations()
            cited.append([names.get(c.file_id, c.file_id) for c in citations])
    return cited
