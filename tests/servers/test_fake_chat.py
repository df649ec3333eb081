"""The fake Chat Completions backend sends chunks shaped as the recorded OpenAI streams.

Each chunk of a scripted answer must have the key paths of some chunk of the recording it
imitates (``tests/fixtures/reference/chat-*.sse``, recorded from the live API): the server's
tests are only as true as this fake.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.servers.fake_chat import (
    REFERENCE_DIR,
    ChatAnswer,
    ScriptedCall,
    length_answer,
    parallel_tool_calls_answer,
    recorded_frames,
    text_answer,
    tool_call_answer,
)


def key_paths(value: Any, prefix: str = "") -> frozenset[str]:
    """Every key path of a JSON value, list items folded into ``[]``."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}"
            paths.add(path)
            paths |= key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, prefix + "[]")
    return frozenset(paths)


def chunk_shapes(frames: list[bytes]) -> list[frozenset[str]]:
    shapes = []
    for raw in frames:
        data = raw.decode().strip().removeprefix("data: ")
        if data != "[DONE]":
            shapes.append(key_paths(json.loads(data)))
    return shapes


def ends_with_done(frames: list[bytes]) -> bool:
    return frames[-1].decode().strip() == "data: [DONE]"


CASES = {
    "chat-text-usage.sse": text_answer("Hello there, how are you?", chunks=4),
    "chat-length.sse": length_answer("A long answer cut short", chunks=3),
    "chat-tool-call.sse": tool_call_answer(
        "get_weather", '{"city": "Paris"}', splits=(3, 9), usage=(40, 12)
    ),
    "chat-parallel-tool-calls.sse": parallel_tool_calls_answer(
        [
            ScriptedCall("call_1", "get_weather", '{"city": "Paris"}', (4,)),
            ScriptedCall("call_2", "get_time", '{"zone": "CET"}', (2,)),
        ]
    ),
}


@pytest.mark.parametrize("recording", sorted(CASES))
def test_each_scripted_chunk_has_the_keys_of_a_recorded_chunk(recording: str) -> None:
    answer: ChatAnswer = CASES[recording]
    recorded = recorded_frames(REFERENCE_DIR / recording)
    known = set(chunk_shapes(recorded))
    for index, shape in enumerate(chunk_shapes(answer.frames)):
        assert shape in known, (
            f"chunk {index} of the fake's answer has keys {sorted(shape)}, "
            f"which no chunk of {recording} has"
        )
    assert ends_with_done(answer.frames) == ends_with_done(recorded)


def test_the_shape_check_notices_a_key_the_recordings_never_send() -> None:
    answer = text_answer("Hello", chunks=1)
    first = json.loads(answer.frames[0].decode().removeprefix("data: "))
    first["choices"][0]["delta"]["made_up"] = 1
    recorded = set(chunk_shapes(recorded_frames(REFERENCE_DIR / "chat-text-usage.sse")))
    assert key_paths(first) not in recorded
