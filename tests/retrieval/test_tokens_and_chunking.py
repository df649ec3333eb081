"""The token counter against the real ``cl100k_base`` on a varied corpus, and chunking by the
API's rules: bounds, overlap, natural edges, exact offsets."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistants_client.server.retrieval import APPROXIMATE_CL100K, InvalidRequest
from assistants_client.server.retrieval.chunking import (
    ChunkingStrategy,
    chunk_text,
    resolve_strategy,
)
from tests.retrieval.token_corpus import cl100k, corpus

SAMPLES = corpus()
COUNT = cl100k()
# The counter's error bound per kind of text (measured: docs/retrieval.md has the figures).
BOUNDS = {
    "prose": 0.08,
    "python": 0.08,
    "markdown": 0.08,
    "json": 0.08,
    "html": 0.1,
    "csv": 0.1,
    "lang-pl": 0.3,
    "lang-tr": 0.3,
    "lang-de": 0.2,
    "lang-vi": 0.2,
}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_the_counter_is_close_to_cl100k_on_each_kind_of_text(kind: str) -> None:
    text = SAMPLES[kind]
    exact = COUNT(text)
    assert exact > 500
    error = (APPROXIMATE_CL100K.count(text) - exact) / exact
    assert abs(error) <= BOUNDS.get(kind, 0.1), f"{kind}: {error:+.1%}"


def test_the_counter_is_within_five_percent_over_the_whole_corpus() -> None:
    exact = sum(COUNT(text) for text in SAMPLES.values())
    estimated = sum(APPROXIMATE_CL100K.count(text) for text in SAMPLES.values())
    assert abs(estimated - exact) / exact <= 0.05


def test_chunks_of_english_hold_close_to_their_budget_in_real_tokens() -> None:
    chunks = chunk_text(SAMPLES["prose"], ChunkingStrategy(800, 400))
    sizes = [COUNT(chunk.text) for chunk in chunks[:-1]]
    assert max(sizes) <= 800 * 1.1
    assert sum(sizes) / len(sizes) >= 800 * 0.6


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_pieces_cover_any_text_exactly(text: str) -> None:
    pieces = list(APPROXIMATE_CL100K.pieces(text))
    assert "".join(text[start:end] for start, end, _ in pieces) == text
    assert all(tokens > 0 for _, _, tokens in pieces)


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ({"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
         "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}},
         "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 201}},
         "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": -1}},
         "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "static"}, "chunking_strategy.static"),
        ({"type": "semantic"}, "chunking_strategy"),
        ({"type": "auto", "static": {}}, "chunking_strategy"),
    ],
)  # fmt: skip
def test_chunking_strategies_outside_the_apis_bounds_name_the_parameter(
    value: dict[str, object], param: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        resolve_strategy(value)
    assert raised.value.param == param


def test_auto_is_static_800_with_400_overlap_and_the_bounds_are_accepted() -> None:
    assert (
        resolve_strategy(None) == resolve_strategy({"type": "auto"}) == ChunkingStrategy(800, 400)
    )
    assert resolve_strategy(
        {"type": "static", "static": {"max_chunk_size_tokens": 4096, "chunk_overlap_tokens": 2048}}
    ).as_api() == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 4096, "chunk_overlap_tokens": 2048},
    }


def test_chunks_end_at_paragraphs_or_sentences_and_overlap_by_the_budget() -> None:
    paragraph = " ".join(
        f"Sentence number {n} says something about topic {n % 7}." for n in range(12)
    )
    text = "\n\n".join(paragraph for _ in range(30))
    chunks = chunk_text(text, ChunkingStrategy(300, 100))
    assert len(chunks) > 5
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.tokens <= 300
        assert chunk.text[-1] == "."  # a sentence (or paragraph) edge, never mid-word
        assert chunk.text[0].isupper()  # a sentence start
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start < before.end  # they overlap and move on
        overlap = APPROXIMATE_CL100K.count(text[after.start : before.end])
        assert 50 <= overlap <= 110


def test_no_overlap_means_chunks_follow_each_other() -> None:
    text = "\n\n".join(f"Paragraph {n}. " + "word " * 60 for n in range(40))
    chunks = chunk_text(text, ChunkingStrategy(200, 0))
    for before, after in itertools.pairwise(chunks):
        assert after.start >= before.end


@settings(max_examples=100, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab cd.\n!?é中"), max_size=3000),
    st.integers(100, 300),
    st.integers(0, 50),
)
def test_any_text_is_covered_by_chunks_with_exact_offsets(
    text: str, size: int, overlap: int
) -> None:
    chunks = chunk_text(text, ChunkingStrategy(size, overlap))
    covered = set()
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text == chunk.text.strip()
        covered.update(range(chunk.start, chunk.end))
    assert all(n in covered for n, ch in enumerate(text) if not ch.isspace())
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_a_run_longer_than_a_chunk_is_cut_inside_it() -> None:
    chunks = chunk_text("=" * 50_000, ChunkingStrategy(100, 0))
    assert len(chunks) > 10 and all(chunk.tokens <= 100 for chunk in chunks)
