"""7. The server's streaming overhead: 2,000 tokens from a backend paced at 2 ms per chunk.

The fake Chat Completions backend (``bench/bench_server_backend.py``) and ``assistants-server``
each run in their own process. The same reader (``requests`` + ``sseclient.SSEClient`` +
``json.loads`` of every event) reads the answer two ways, turn about:

* ours: a streamed run through the server (``POST /threads/{id}/runs`` with ``stream: true``),
  its text taken from the ``thread.message.delta`` events;
* floor: the backend directly (``POST /chat/completions`` with ``stream: true``), its text
  taken from the chunks' ``delta.content``.

Time to first token is from the POST to the first piece of text, over short answers (256
tokens); throughput is tokens per second from the POST to the last piece, over 2,000 tokens.
Both sides wait on the same paced backend, so the difference is what the server adds.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import requests
from sseclient import SSEClient

from bench.bench_server_backend import backend, expected_text, server
from bench.common import Row

PACING = 0.002
TOKENS = 2_000
SHORT = 256  # the server's smallest max_completion_tokens
TTFT_ROUNDS = 12
THROUGHPUT_ROUNDS = 4

Reader = Callable[[int], tuple[float, float, str]]


def direct_reader(backend_url: str, headers: dict[str, str] | None = None) -> Reader:
    """Reads ``{backend_url}/chat/completions`` (a backend, or a proxy in front of one)."""
    session = requests.Session()
    session.headers.update(headers or {})
    url = f"{backend_url}/chat/completions"

    def read(tokens: int) -> tuple[float, float, str]:
        body = {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Count."}],
            "stream": True,
            "max_completion_tokens": tokens,
        }
        started = time.perf_counter()
        first = 0.0
        parts: list[str] = []
        with session.post(url, json=body, stream=True) as response:
            for event in SSEClient(response.iter_content(chunk_size=None)).events():
                if event.data == "[DONE]":
                    break
                for choice in json.loads(event.data)["choices"]:
                    piece = choice["delta"].get("content")
                    if piece:
                        first = first or time.perf_counter()
                        parts.append(piece)
            last = time.perf_counter()
        return first - started, last - started, "".join(parts)

    return read


def server_reader(base_url: str) -> Reader:
    session = requests.Session()
    assistant_id = session.post(f"{base_url}/assistants", json={"model": "gpt-4o"}).json()["id"]

    def read(tokens: int) -> tuple[float, float, str]:
        thread = {"messages": [{"role": "user", "content": "Count."}]}
        thread_id = session.post(f"{base_url}/threads", json=thread).json()["id"]
        body = {"assistant_id": assistant_id, "stream": True, "max_completion_tokens": tokens}
        started = time.perf_counter()
        first = last = 0.0
        parts: list[str] = []
        with session.post(
            f"{base_url}/threads/{thread_id}/runs", json=body, stream=True
        ) as response:
            for event in SSEClient(response.iter_content(chunk_size=None)).events():
                if event.event == "done":
                    break
                data = json.loads(event.data)
                if event.event == "thread.message.delta":
                    first = first or time.perf_counter()
                    parts.append(data["delta"]["content"][0]["text"]["value"])
                elif event.event == "thread.run.completed":
                    last = time.perf_counter()
        return first - started, last - started, "".join(parts)

    return read


def measure(readers: dict[str, Reader]) -> tuple[dict[str, float], dict[str, float]]:
    """Median time to first token (s) and throughput (tokens/s) of each reader, interleaved."""
    for read in readers.values():
        _, _, text = read(SHORT)
        assert text == expected_text(SHORT)
    ttft: dict[str, list[float]] = {name: [] for name in readers}
    rate: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(TTFT_ROUNDS):
        for name, read in readers.items():
            first, _, text = read(SHORT)
            assert text == expected_text(SHORT), name
            ttft[name].append(first)
    for _ in range(THROUGHPUT_ROUNDS):
        for name, read in readers.items():
            _, total, text = read(TOKENS)
            assert text == expected_text(TOKENS), name
            rate[name].append(TOKENS / total)
    return (
        {name: statistics.median(values) for name, values in ttft.items()},
        {name: statistics.median(values) for name, values in rate.items()},
    )


def run() -> list[Row]:
    with backend(PACING, TOKENS) as backend_url, server(backend_url) as base_url:
        ttft, rate = measure({"ours": server_reader(base_url), "floor": direct_reader(backend_url)})
    ms = {name: value * 1000 for name, value in ttft.items()}
    added = ms["ours"] - ms["floor"]
    share = rate["ours"] / rate["floor"]
    return [
        {
            "benchmark": f"7. server stream: time to first token ({PACING * 1000:g} ms/chunk), ms",
            "unit": "ms",
            "ours": ms["ours"],
            "peers": {},
            "floor": ms["floor"],
            "ratio": f"ours-direct {added:+.2f} ms",
            "ratio_value": added,
            "target": "<= +3 ms vs direct",
            "met": added <= 3.0,
            "note": "ours: a streamed run through assistants-server; floor: the backend read "
            "directly (requests + sseclient-py, both)",
        },
        {
            "benchmark": f"7. server stream: {TOKENS:,} tokens, tokens/s",
            "unit": "items/s",
            "ours": rate["ours"],
            "peers": {},
            "floor": rate["floor"],
            "ratio": f"ours/direct {share:.3f}x",
            "ratio_value": share,
            "target": ">= 0.95x direct",
            "met": share >= 0.95,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
