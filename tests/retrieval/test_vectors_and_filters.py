"""Vector search by sign bits and exact re-scoring, and attribute filters."""

from __future__ import annotations

import random

import pytest

from assistants_client.server.retrieval import InvalidRequest
from assistants_client.server.retrieval.embeddings import normalized
from assistants_client.server.retrieval.filters import compile_filter, matches
from assistants_client.server.retrieval.vectors import BinaryIndex, dot, pack, rescore, sign_bits


def test_sign_bits_put_the_first_dimension_highest() -> None:
    assert sign_bits([1.0, -1.0, 0.0, 2.0]) == 0b1001


def test_pre_selection_and_rescoring_agree_with_an_exact_scan() -> None:
    rng = random.Random(3)
    vectors = [normalized([rng.gauss(0, 1) for _ in range(256)]) for _ in range(3000)]
    index = BinaryIndex()
    for key, vector in enumerate(vectors):
        index.add(key, sign_bits(vector), f"file-{key % 7}")
    packed = {key: pack(vector) for key, vector in enumerate(vectors)}
    agree = 0
    for target in rng.sample(range(len(vectors)), 40):
        # A query near a stored vector, as a question near its passage.
        query = normalized([x + rng.gauss(0, 0.04) for x in vectors[target]])
        exact = sorted(range(len(vectors)), key=lambda k: -dot(query, vectors[k]))[:10]
        found = rescore(
            query, index.nearest(query, 128), lambda keys: {k: packed[k] for k in keys}, 10
        )
        assert found[0][0] == target
        assert found[0][1] == pytest.approx(dot(query, vectors[target]), abs=1e-5)
        agree += len({key for key, _ in found} & set(exact))
    assert agree / (40 * 10) >= 0.2  # random vectors beyond the first are near-ties


def test_pre_selection_keeps_to_the_allowed_files() -> None:
    index = BinaryIndex()
    for key in range(100):
        index.add(key, key, f"file-{key % 4}")
    assert {k % 4 for k in index.nearest([1.0] * 8, 10, {"file-1"})} == {1}


@pytest.mark.parametrize(
    ("spec", "attributes", "expected"),
    [
        ({"type": "eq", "key": "a", "value": "x"}, {"a": "x"}, True),
        ({"type": "eq", "key": "a", "value": 1}, {"a": True}, False),
        ({"type": "eq", "key": "a", "value": True}, {"a": True}, True),
        ({"type": "ne", "key": "a", "value": "x"}, {}, True),
        ({"type": "gt", "key": "n", "value": 2}, {"n": 2.5}, True),
        ({"type": "gte", "key": "n", "value": 2}, {"n": 2}, True),
        ({"type": "lt", "key": "n", "value": 2}, {"n": "1"}, False),
        ({"type": "lte", "key": "n", "value": 2}, {}, False),
        ({"type": "in", "key": "c", "value": ["a", "b"]}, {"c": "b"}, True),
        ({"type": "nin", "key": "c", "value": ["a", "b"]}, {"c": "z"}, True),
        ({"type": "nin", "key": "c", "value": ["a"]}, {}, True),
        (
            {
                "type": "or",
                "filters": [
                    {"type": "eq", "key": "a", "value": "x"},
                    {"type": "and", "filters": [{"type": "gt", "key": "n", "value": 1}]},
                ],
            },
            {"n": 5},
            True,
        ),
    ],
)
def test_filters_compare_by_type(
    spec: dict[str, object], attributes: dict[str, object], expected: bool
) -> None:
    assert matches(spec, attributes) is expected


@pytest.mark.parametrize(
    ("spec", "param"),
    [
        ("eq", "filters"),
        ({"type": "eq", "value": 1}, "filters.key"),
        ({"type": "eq", "key": "a"}, "filters.value"),
        ({"type": "eq", "key": "a", "value": {"x": 1}}, "filters.value"),
        ({"type": "in", "key": "a", "value": "x"}, "filters.value"),
        ({"type": "and", "filters": []}, "filters.filters"),
        (
            {"type": "and", "filters": [{"type": "eq", "key": "a", "value": 1, "x": 2}]},
            "filters.filters[0]",
        ),
    ],
)
def test_a_malformed_filter_names_where_it_is_wrong(spec: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        compile_filter(spec)
    assert raised.value.param == param


def test_a_filter_nested_too_deep_is_refused() -> None:
    spec: dict[str, object] = {"type": "eq", "key": "a", "value": 1}
    for _ in range(40):
        spec = {"type": "and", "filters": [spec]}
    with pytest.raises(InvalidRequest, match="nested"):
        compile_filter(spec)
