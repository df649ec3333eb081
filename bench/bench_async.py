"""9. The async client beside the sync one: per call, per stream, and what the event loop feels.

Every row compares the library's ``AsyncAssistantsClient`` (ours) with its own
``AssistantsClient`` (the "floor" column: the same work without an event loop) and with
openai-python's ``AsyncOpenAI`` (the peer, a native asyncio transport: httpx), in the same run.

* get_thread round trip, ms: awaited one after the other on one loop (ours: the call runs on a
  worker thread) against the emulator in its own process; the floor is the sync client. A bare
  ``httpx2.AsyncClient`` GET (+ ``json.loads``) shows what a native asyncio transport costs
  at the least.
* stream 10k deltas, events/s: one streamed run read to its end, from ``bench/sse_server.py``
  (as fast as loopback goes): ours reads the socket on one thread and hands the events to the
  loop in batches; the floor is the sync client's stream; bare httpx2 splits the bytes into
  events and decodes each, nothing more.
* 50 streams at once, events/s: 50 runs of 400 deltas, ``asyncio.gather`` on one loop; the floor
  is the sync client in 50 threads.
* loop lag during 50 streams, ms: the worst delay of a 10 ms ticker on the same loop while 50
  runs stream at a realistic pace (the emulator's command line, 4 ms between pieces, 42
  pieces each) and finish; the floor is what one blocking call of the sync client made in a
  coroutine costs the loop (one whole run of that stream).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import Row, emulator, first_line, helper_process, interleaved, running
from bench.payloads import ASSISTANT_ID, THREAD_ID, run_stream

warnings.filterwarnings("ignore", category=DeprecationWarning)

DELTAS = 10_000
CONCURRENT = 50
CONCURRENT_DELTAS = 400
CALLS_PER_SAMPLE = 50
TICK = 0.010
LAG_TARGET_MS = 100.0
PACED_QUESTION = " ".join(["please repeat these words"] * 8)


class Loop:
    """One event loop, in this thread, that the measured callables run coroutines on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(awaitable)

    def close(self) -> None:
        self.loop.close()


def _clients(base_url: str, loop: Loop) -> tuple[Any, Any, Any]:
    import openai

    from assistants_client import AssistantsClient, AsyncAssistantsClient

    return (
        AsyncAssistantsClient(base_url=base_url, api_key="sk-x"),
        AssistantsClient(base_url=base_url, api_key="sk-x"),
        loop.run(_made(lambda: openai.AsyncOpenAI(base_url=base_url, api_key="sk-x"))),
    )


async def _made(factory: Callable[[], Any]) -> Any:
    return factory()  # httpx's async client binds to the loop it is made on


def httpx_client() -> Any:
    import httpx2

    return httpx2.AsyncClient()


def round_trip(loop: Loop) -> Row:
    with emulator() as emu:
        base_url = emu["base_url"]
        ours, sync, theirs = _clients(base_url, loop)
        thread_id = sync.create_thread().id

        async def ours_batch() -> None:
            for _ in range(CALLS_PER_SAMPLE):
                await ours.get_thread(thread_id)

        async def theirs_batch() -> None:
            for _ in range(CALLS_PER_SAMPLE):
                await theirs.beta.threads.retrieve(thread_id)

        url = f"{base_url}/threads/{thread_id}"
        headers = {"Authorization": "Bearer sk-x", "OpenAI-Beta": "assistants=v2"}
        bare = loop.run(_made(httpx_client))

        async def bare_batch() -> None:
            for _ in range(CALLS_PER_SAMPLE):
                response = await bare.get(url, headers=headers)
                response.raise_for_status()
                json.loads(response.content)

        def sync_batch() -> None:
            for _ in range(CALLS_PER_SAMPLE):
                sync.get_thread(thread_id)

        seconds = interleaved(
            {
                "ours": lambda: loop.run(ours_batch()),
                "openai": lambda: loop.run(theirs_batch()),
                "bare": lambda: loop.run(bare_batch()),
                "floor": sync_batch,
            },
            repeats=7,
            warmup=2,
            number=1,
        )
        loop.run(ours.close())
        loop.run(theirs.close())
        loop.run(bare.aclose())
        sync.close()
    ms = {name: value * 1000 / CALLS_PER_SAMPLE for name, value in seconds.items()}
    extra_us = (ms["ours"] - ms["floor"]) * 1000
    return {
        "benchmark": "9. async get_thread round trip, ms",
        "unit": "ms",
        "ours": ms["ours"],
        "peers": {"openai": ms["openai"], "httpx2 bare": ms["bare"]},
        "floor": ms["floor"],
        "ratio": f"async/sync {ms['ours'] / ms['floor']:.2f}x (+{extra_us:.0f} us)",
        "ratio_value": ms["ours"] / ms["floor"],
        "target": "-",
        "met": None,
        "note": "openai: AsyncOpenAI; httpx2 bare: an httpx2.AsyncClient GET and json.loads, "
        "what a native asyncio transport costs at least; floor: our sync client, same calls",
    }


def one_stream(loop: Loop) -> Row:
    text, frames = run_stream(DELTAS)
    events = len(frames)
    with helper_process("bench.sse_server", str(DELTAS)) as server:
        ours, sync, theirs = _clients(server["base_url"], loop)

        async def ours_stream() -> str:
            async with ours.stream_run(THREAD_ID, ASSISTANT_ID) as stream:
                await stream.until_done()
            return str(stream.final_messages[-1].text)

        async def theirs_stream() -> str:
            async with theirs.beta.threads.runs.stream(
                thread_id=THREAD_ID, assistant_id=ASSISTANT_ID
            ) as stream:
                await stream.until_done()
                message = (await stream.get_final_messages())[-1]
            block = message.content[0]
            return block.text.value if block.type == "text" else ""

        def sync_stream() -> str:
            with sync.stream_run(THREAD_ID, ASSISTANT_ID) as stream:
                stream.until_done()
            return str(stream.final_messages[-1].text)

        bare = loop.run(_made(httpx_client))
        url = f"{server['base_url']}/threads/{THREAD_ID}/runs"

        async def bare_stream() -> int:
            count = 0
            async with bare.stream("POST", url, json={"assistant_id": ASSISTANT_ID}) as response:
                buffer = b""
                async for chunk in response.aiter_bytes():
                    buffer += chunk
                    *blocks, buffer = buffer.split(b"\n\n")
                    for block in blocks:
                        data = block.partition(b"data: ")[2]
                        if data != b"[DONE]":
                            json.loads(data)
                        count += 1
            return count

        contenders: dict[str, Callable[[], Any]] = {
            "ours": lambda: loop.run(ours_stream()),
            "openai": lambda: loop.run(theirs_stream()),
            "bare": lambda: loop.run(bare_stream()),
            "floor": sync_stream,
        }
        for name, fn in contenders.items():
            expected = events if name == "bare" else text
            assert fn() == expected, f"{name}: not the whole stream"
        seconds = interleaved(contenders, repeats=5, warmup=0, number=1)
        loop.run(ours.close())
        loop.run(theirs.close())
        loop.run(bare.aclose())
        sync.close()
    rate = {name: events / value for name, value in seconds.items()}
    return {
        "benchmark": f"9. async stream {DELTAS // 1000}k deltas, events/s",
        "unit": "events/s",
        "ours": rate["ours"],
        "peers": {"openai": rate["openai"], "httpx2 bare": rate["bare"]},
        "floor": rate["floor"],
        "ratio": f"async/sync {rate['ours'] / rate['floor']:.2f}x",
        "ratio_value": rate["ours"] / rate["floor"],
        "target": ">= 0.8x sync",
        "met": rate["ours"] >= 0.8 * rate["floor"],
        "note": "floor: our sync client's stream; openai: AsyncOpenAI's stream; httpx2 bare: "
        "the bytes through httpx2.AsyncClient, split into events, each json.loads'd",
    }


def many_streams(loop: Loop) -> Row:
    text, frames = run_stream(CONCURRENT_DELTAS)
    events = len(frames) * CONCURRENT
    with helper_process("bench.sse_server", str(CONCURRENT_DELTAS)) as server:
        ours, sync, theirs = _clients(server["base_url"], loop)

        async def ours_one() -> None:
            async with ours.stream_run(THREAD_ID, ASSISTANT_ID) as stream:
                await stream.until_done()
            assert stream.final_messages[-1].text == text

        async def theirs_one() -> None:
            async with theirs.beta.threads.runs.stream(
                thread_id=THREAD_ID, assistant_id=ASSISTANT_ID
            ) as stream:
                await stream.until_done()

        def sync_one(_: int) -> None:
            with sync.stream_run(THREAD_ID, ASSISTANT_ID) as stream:
                stream.until_done()
            assert stream.final_messages[-1].text == text

        async def gather(one: Callable[[], Awaitable[None]]) -> None:
            await asyncio.gather(*(one() for _ in range(CONCURRENT)))

        pool = ThreadPoolExecutor(max_workers=CONCURRENT)
        seconds = interleaved(
            {
                "ours": lambda: loop.run(gather(ours_one)),
                "openai": lambda: loop.run(gather(theirs_one)),
                "floor": lambda: list(pool.map(sync_one, range(CONCURRENT))),
            },
            repeats=5,
            warmup=1,
            number=1,
        )
        pool.shutdown()
        loop.run(ours.close())
        loop.run(theirs.close())
        sync.close()
    rate = {name: events / value for name, value in seconds.items()}
    return {
        "benchmark": f"9. async {CONCURRENT} streams at once, events/s",
        "unit": "events/s",
        "ours": rate["ours"],
        "peers": {"openai": rate["openai"]},
        "floor": rate["floor"],
        "ratio": f"async/sync {rate['ours'] / rate['floor']:.2f}x",
        "ratio_value": rate["ours"] / rate["floor"],
        "target": "-",
        "met": None,
        "note": f"{CONCURRENT} runs of {CONCURRENT_DELTAS} deltas; floor: sync client, "
        f"{CONCURRENT} threads",
    }


async def _lags_while(work: Callable[[], Awaitable[Any]]) -> list[float]:
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(TICK)
            lags.append(loop.time() - before - TICK)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    await work()
    stop.set()
    await ticking
    return lags


def loop_lag(loop: Loop) -> Row:
    argv = [sys.executable, "-m", "assistants_client.emulator", "--port", "0"]
    with running([*argv, "--stream-delay", "0.004"], stdout=subprocess.PIPE) as proc:
        base_url = first_line(proc, "the emulator")
        ours, sync, theirs = _clients(base_url, loop)
        ours_assistant = sync.create_assistant("gpt-4o").id

        async def ours_one() -> None:
            thread = await ours.create_thread(
                messages=[{"role": "user", "content": PACED_QUESTION}]
            )
            async with ours.stream_run(thread.id, ours_assistant) as stream:
                await stream.until_done()

        async def theirs_one() -> None:
            thread = await theirs.beta.threads.create(
                messages=[{"role": "user", "content": PACED_QUESTION}]
            )
            async with theirs.beta.threads.runs.stream(
                thread_id=thread.id, assistant_id=ours_assistant
            ) as stream:
                await stream.until_done()

        def worst(one: Callable[[], Awaitable[None]]) -> float:
            async def work() -> None:
                await asyncio.gather(*(one() for _ in range(CONCURRENT)))

            return max(loop.run(_lags_while(work)))

        samples: dict[str, list[float]] = {"ours": [], "openai": []}
        for _ in range(5):
            samples["ours"].append(worst(ours_one))
            samples["openai"].append(worst(theirs_one))
        blocking = []
        for _ in range(5):
            thread = sync.create_thread(messages=[{"role": "user", "content": PACED_QUESTION}])
            started = time.perf_counter()
            with sync.stream_run(thread.id, ours_assistant) as stream:
                stream.until_done()
            blocking.append(time.perf_counter() - started)
        loop.run(ours.close())
        loop.run(theirs.close())
        sync.close()
    ms = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    floor = statistics.median(blocking) * 1000
    return {
        "benchmark": f"9. async loop lag, {CONCURRENT} streams, worst ms",
        "unit": "ms",
        "ours": ms["ours"],
        "peers": {"openai": ms["openai"]},
        "floor": floor,
        "ratio": f"openai/ours {ms['openai'] / ms['ours']:.1f}x",
        "ratio_value": ms["openai"] / ms["ours"],
        "target": f"< {LAG_TARGET_MS:.0f} ms",
        "met": ms["ours"] < LAG_TARGET_MS,
        "note": "worst delay of a 10 ms ticker (median of 5 rounds); floor: one sync stream "
        "called in a coroutine blocks the loop that long",
    }


def run() -> list[Row]:
    loop = Loop()
    try:
        rows = [round_trip(loop), one_stream(loop), many_streams(loop), loop_lag(loop)]
    finally:
        loop.close()
    assert threading.active_count() < 400  # nothing piled up
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
