"""Retrieval quality end to end: runs that search forty handbooks cite the one that answers.

Each of the ten questions of ``handbooks.py`` is asked in a run of an assistant with
``file_search`` over a vector store of the whole corpus: on ``assistants-server``, whose
backend is the citing model of ``tests/servers/fake_chat.py`` (it searches with the question,
then cites the first passage it was given), and on the emulator (which does the same without a
backend). An answer is right when its one citation names the handbook that answers the
question; at least nine of ten must be.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistants_client import AssistantsClient, FileUpload
from tests.compat.file_search_flow import citing_server
from tests.files.support import Target, emulator_target
from tests.retrieval.handbooks import build

pytestmark = pytest.mark.timeout(180)

HANDBOOKS, QUESTIONS = build()
REQUIRED_RIGHT = 9


@pytest.fixture(params=["server", "emulator"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    made = citing_server(tmp_path) if request.param == "server" else emulator_target()
    try:
        yield made
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


def test_runs_cite_the_handbook_that_answers_at_least_nine_questions_of_ten(
    target: Target,
) -> None:
    with AssistantsClient(base_url=target.base_url, api_key="sk-test") as client:
        store = client.create_vector_store(name="handbooks")
        batch = client.upload_files_and_poll(
            store.id, [FileUpload.of(h.text.encode(), filename=h.filename) for h in HANDBOOKS]
        )
        assert batch.file_counts.completed == len(HANDBOOKS), batch
        names = {f.id: f.filename for f in client.list_files(purpose="assistants", limit=100)}
        assistant = client.create_assistant(
            "gpt-4o",
            instructions="Answer from the office handbooks and cite them.",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        answers: list[tuple[str, str, list[str]]] = []
        for question in QUESTIONS:
            thread = client.create_thread(messages=[{"role": "user", "content": question.text}])
            reply = client.run_and_get_reply(thread.id, assistant.id)
            assert reply.run.status == "completed", reply.run.last_error
            (message,) = reply.messages
            _, citations = message.text_with_citations()
            cited = [names.get(c.file_id, c.file_id) for c in citations]
            answers.append((question.text, HANDBOOKS[question.answer].filename, cited))
    wrong = [answer for answer in answers if answer[2] != [answer[1]]]
    right = len(answers) - len(wrong)
    assert right >= REQUIRED_RIGHT, f"{right}/{len(answers)} right; wrong: {wrong}"
