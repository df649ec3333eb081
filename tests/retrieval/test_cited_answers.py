"""Retrieval quality end to end: runs that search forty handbooks cite the one that answers.

Each of the ten questions of ``handbooks.py`` is asked in a run of an assistant with
``file_search`` over a vector store of the whole corpus: on ``assistants-server``, whose
backend is the citing model of ``tests/servers/fake_chat.py`` (it searches with the question,
then cites the first passage it was given), and on the emulator (which does the same without a
backend). An answer is right when its one citation names the handbook that answers the
question; at least nine of ten must be.
"""

from __future__ import annotations

import pytest

from tests.files.support import Target
from tests.retrieval.cited_runs import cited_runs
from tests.retrieval.handbooks import build

pytestmark = pytest.mark.timeout(180)

HANDBOOKS, QUESTIONS = build()
REQUIRED_RIGHT = 9


def test_runs_cite_the_handbook_that_answers_at_least_nine_questions_of_ten(
    citing_target: Target,
) -> None:
    cited = cited_runs(
        citing_target,
        [(h.filename, h.text) for h in HANDBOOKS],
        [question.text for question in QUESTIONS],
    )
    answers = [
        (question.text, HANDBOOKS[question.answer].filename, names)
        for question, names in zip(QUESTIONS, cited, strict=True)
    ]
    wrong = [answer for answer in answers if answer[2] != [answer[1]]]
    right = len(answers) - len(wrong)
    assert right >= REQUIRED_RIGHT, f"{right}/{len(answers)} right; wrong: {wrong}"
