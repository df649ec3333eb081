"""A query's identifiers (``ERR-4202``, ``INC0012345``, ``v2.3.1``) rank the chunks that hold
them exactly first, whatever the vector side says.

* What counts as an identifier, and as holding it exactly (``analysis.identifiers``).
* On every store: the chunk holding the query's code comes first over chunks that hold near
  misses of it and more of the query's other words, with an embedder that prefers the near
  misses; scores stay within 0 to 1, falling down the list, and ``score_threshold`` keeps its
  meaning.
* End to end, on ``assistants-server`` with the fake backend's embeddings (64 dimensions) and on
  the emulator: runs asked what each of forty error codes means cite that code's runbook,
  though the runbook of the code before names it too ("not the same as ERR-4202").
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from assistants_client.server.retrieval import Retrieval
from assistants_client.server.retrieval.analysis import identifiers
from tests.files.support import Target
from tests.retrieval.cited_runs import cited_runs
from tests.retrieval.conftest import MakeRetrieval
from tests.retrieval.corpus import build

RUNBOOKS, QUESTIONS = build(40, seed=2312)
CODE_QUESTIONS = [question for question in QUESTIONS if question.kind == "code"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What does ERR-4202 mean?", ["ERR-4202"]),
        ("INC0012345 and inc0012345 again", ["INC0012345"]),
        ("upgrade to v2.3.1.", ["v2.3.1"]),
        ("x86_64 builds of SKU-B12-RED", ["x86_64", "SKU-B12-RED"]),
        ("error 4202 on the 2nd, pi is 3.14, ERR- alone", []),
    ],
)
def test_identifiers_are_tokens_that_mix_letters_and_digits(text: str, expected: list[str]) -> None:
    assert [found.text for found in identifiers(text)] == expected


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("## Error ERR-4202", True),
        ("see err-4202.", True),
        ("(ERR-4202)", True),
        ("ERR-42021 is another", False),
        ("ERR-4202-B is another", False),
        ("XERR-4202 is another", False),
        ("ERR 4202 is spelt apart", False),
        ("ERR-4201 is the one before", False),
    ],
)
def test_a_text_holds_an_identifier_only_as_a_whole_token(text: str, held: bool) -> None:
    (code,) = identifiers("ERR-4202")
    assert code.held_by(text) is held


ANSWER = "ERR-4202 is raised when the data volume is full. Rotate the logs."
NEAR_MISSES = [
    "What does ERR-4201 mean? It means the cache is cold; what it means for you is nothing.",
    "What does ERR-42021 mean? It means a replica lags; ERR-42021 means wait.",
    "What does ERR-4202-B mean? It means the backup is late; ERR-4202-B means retry.",
    "What does ERR 4202 mean, spelt apart? It means nothing here.",
]


class MisleadingEmbedder:
    """Puts the answer across the query's direction, and every other text close to it."""

    model = "misleading-3"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            if "volume" in text:
                vectors.append([0.0, 1.0, 0.0])
            else:
                slant = 0.05 * (len(text) % 7)
                vectors.append(
                    [1.0 / (1.0 + slant**2) ** 0.5, 0.0, slant / (1.0 + slant**2) ** 0.5]
                )
        return vectors


def test_the_chunk_holding_the_querys_code_comes_first_whatever_the_vectors_say(
    make_retrieval: MakeRetrieval,
) -> None:
    retrieval = make_retrieval(MisleadingEmbedder())
    made = [
        retrieval.create_file("", f"doc{n}.md", "assistants", text.encode())
        for n, text in enumerate([*NEAR_MISSES, ANSWER])
    ]
    answer = made[-1].id
    store = retrieval.create_vector_store("", name="codes", file_ids=[f.id for f in made])
    for file in made:
        assert retrieval.ingest("", store.id, file.id) == "completed"
    question = "What does ERR-4202 mean?"
    # The vector side puts the answer last, and the near miss "ERR 4202" holds every word of
    # the question: fused as they are, the near misses would come first.
    vector_only = Retrieval(retrieval.index, embedder=retrieval.embedder, keyword_weight=0.0)
    assert vector_only.search("", [store.id], question).hits[-1].file_id == answer

    hits = retrieval.search("", [store.id], question).hits
    assert hits[0].file_id == answer, [hit.chunk.text for hit in hits]
    scores = [hit.score for hit in hits]
    assert all(0.0 <= score <= 1.0 for score in scores), scores
    assert scores == sorted(scores, reverse=True), scores
    kept = retrieval.search("", [store.id], question, score_threshold=scores[0]).hits
    assert kept and kept[0].file_id == answer
    # A list of queries: the one naming the code still puts its chunk first.
    listed = retrieval.search("", [store.id], ["what it means", question]).hits
    assert listed[0].file_id == answer


@pytest.mark.timeout(300)
def test_runs_asked_about_an_error_code_cite_that_codes_runbook(citing_target: Target) -> None:
    cited = cited_runs(
        citing_target,
        [(runbook.filename, runbook.text) for runbook in RUNBOOKS],
        [question.text for question in CODE_QUESTIONS],
    )
    wrong = [
        (question.text, names)
        for question, names in zip(CODE_QUESTIONS, cited, strict=True)
        if names != [RUNBOOKS[question.answer].filename]
    ]
    if citing_target.backend is not None:  # the vectors took part: the backend served them
        assert citing_target.backend.embedding_requests > 0
    # Every runbook names its code in its heading and its text, the one before it once: the
    # keyword side tells them apart every time, and the rule lets it decide.
    assert not wrong, f"{len(CODE_QUESTIONS) - len(wrong)}/{len(CODE_QUESTIONS)} right: {wrong}"
