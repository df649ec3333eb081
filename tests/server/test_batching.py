"""A streamed run's events that are ready together go out in one write, and none waits.

The WSGI application is called directly, with responders that say which increments they have
at hand (``Increments``), so that each piece of the body is one write of the server.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from assistants_client.server.engine import Engine
from assistants_client.server.http import ApiApp
from assistants_client.server.responders import (
    Finish,
    Increment,
    Increments,
    TextDelta,
    Turn,
)
from assistants_client.server.runs import MAX_BATCH
from assistants_client.server.stores.memory import MemoryStore


class Bursts:
    """Answers with bursts of text: the pieces of one burst are at hand together."""

    def __init__(self, bursts: Sequence[Sequence[str]], *, says_ready: bool = True) -> None:
        self.bursts = bursts
        self.says_ready = says_ready
        self.after_burst = threading.Event()

    def check(self, turn: Turn) -> None:
        pass

    def prepare(self, turn: Turn) -> None:
        return None

    def respond(self, turn: Turn, cancelled: threading.Event) -> Iterator[Increment]:
        left = [0]

        def source() -> Iterator[Increment]:
            for burst in self.bursts:
                left[0] = len(burst)
                for piece in burst:
                    left[0] -= 1
                    yield TextDelta(piece)
            yield Finish("stop")

        if not self.says_ready:
            return source()
        return Increments(source(), lambda: left[0] > 0)


def body_pieces(responder: Any) -> list[bytes]:
    """The pieces of a streamed run's body, each one write of the server."""
    engine = Engine(MemoryStore(), responder)
    app = ApiApp(engine)
    try:
        assistant = call(app, "POST", "/v1/assistants", {"model": "gpt-4o"})
        thread = call(app, "POST", "/v1/threads", {"messages": [{"role": "user", "content": "Hi"}]})
        body = {"assistant_id": assistant["id"], "stream": True}
        answer = app(environ("POST", f"/v1/threads/{thread['id']}/runs", body), lambda *_: None)
        try:
            return list(answer)
        finally:
            getattr(answer, "close", lambda: None)()
    finally:
        engine.close()


def environ(method: str, path: str, body: Any) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }


def call(app: ApiApp, method: str, path: str, body: Any) -> Any:
    return json.loads(b"".join(app(environ(method, path, body), lambda *_: None)))


def deltas_per_piece(pieces: list[bytes]) -> list[int]:
    counts = [piece.count(b"event: thread.message.delta\n") for piece in pieces]
    return [count for count in counts if count]


def test_the_increments_at_hand_together_go_out_in_one_write_but_the_first_token() -> None:
    bursts = [["a"] * 5, ["b"] * 3, ["c"]]

    pieces = body_pieces(Bursts(bursts))

    assert deltas_per_piece(pieces) == [1, 4, 3, 1]
    text = b"".join(pieces).decode()
    assert text.count("event: thread.message.delta") == 9
    assert text.endswith("event: done\ndata: [DONE]\n\n")


def test_increments_of_a_responder_that_says_nothing_go_out_one_by_one() -> None:
    pieces = body_pieces(Bursts([["a"] * 5, ["b"] * 3], says_ready=False))

    assert deltas_per_piece(pieces) == [1] * 8


@pytest.mark.parametrize("size", [MAX_BATCH + 1, 2 * MAX_BATCH + 10])
def test_a_long_burst_goes_out_in_writes_of_at_most_max_batch_events(size: int) -> None:
    pieces = body_pieces(Bursts([["x"] * size]))

    counts = deltas_per_piece(pieces)
    assert sum(counts) == size
    assert max(counts) <= MAX_BATCH
    # The first token goes out at once, with the message's opening events.
    assert counts[0] == 1
    assert len(counts) == 1 + -(-(size - 1) // MAX_BATCH)
