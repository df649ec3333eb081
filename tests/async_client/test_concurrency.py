"""Many streams on one loop, and one client on several loops.

The emulator runs in a process of its own here (its command line), as a real server would:
what the loop's lag measures is then the client's own work, not the server's. Its answers come
at a model's pace (a piece every 20 ms, 26 pieces), and 50 of them stream at once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from assistants_client import AsyncAssistantsClient
from bench.common import first_line, running
from tests.support.aio import run

STREAMS = 50
TICK = 0.010
MAX_LAG = 0.100  # the promise: a 10 ms ticker is never more than 100 ms late meanwhile
QUESTION = " ".join(["please repeat these words"] * 6)


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    argv = [sys.executable, "-m", "assistants_client.emulator", "--port", "0"]
    with running([*argv, "--stream-delay", "0.02"], stdout=subprocess.PIPE) as proc:
        yield first_line(proc, "the emulator")


async def new_thread(client: AsyncAssistantsClient) -> str:
    return (await client.create_thread(messages=[{"role": "user", "content": QUESTION}])).id


async def stream_answer(
    client: AsyncAssistantsClient, thread_id: str, assistant_id: str
) -> tuple[str, str]:
    async with client.stream_run(thread_id, assistant_id) as stream:
        text = "".join([piece async for piece in stream.text_deltas()])
    return text, stream.final_run.status


async def ask(client: AsyncAssistantsClient, assistant_id: str) -> tuple[str, str]:
    return await stream_answer(client, await new_thread(client), assistant_id)


def test_fifty_concurrent_streams_complete_while_a_10ms_ticker_never_lags_100ms(
    emulator_url: str,
) -> None:
    lags: list[float] = []

    async def scenario() -> list[tuple[str, str]]:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                before = loop.time()
                await asyncio.sleep(TICK)
                lags.append(loop.time() - before - TICK)

        async with AsyncAssistantsClient(base_url=emulator_url) as client:
            assistant = await client.create_assistant("gpt-4o")
            threads = await asyncio.gather(*(new_thread(client) for _ in range(STREAMS)))
            ticking = asyncio.create_task(ticker())
            await asyncio.sleep(0.05)
            answers = await asyncio.gather(
                *(stream_answer(client, thread_id, assistant.id) for thread_id in threads)
            )
            stop.set()
            await ticking
        return answers

    answers = run(scenario())
    assert answers == [(f"You said: {QUESTION}", "completed")] * STREAMS
    assert len(lags) > 20
    assert max(lags) < MAX_LAG, f"the loop was {max(lags) * 1000:.0f} ms late"


def test_a_client_made_under_one_loop_works_under_another(emulator_url: str) -> None:
    async def make() -> tuple[AsyncAssistantsClient, str]:
        client = AsyncAssistantsClient(base_url=emulator_url)
        return client, (await client.create_assistant("gpt-4o")).id

    client, assistant_id = run(make())

    async def use() -> tuple[str, str]:
        async with client:
            return await ask(client, assistant_id)

    assert run(use())[1] == "completed"


def test_one_client_serves_loops_in_several_threads_at_once(emulator_url: str) -> None:
    client = AsyncAssistantsClient(base_url=emulator_url)
    assistant_id = run(client.create_assistant("gpt-4o")).id
    results: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        async def several() -> list[tuple[str, str]]:
            return await asyncio.gather(*(ask(client, assistant_id) for _ in range(3)))

        try:
            results.extend(run(several()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    run(client.close())
    assert not errors
    assert [status for _, status in results] == ["completed"] * 12
