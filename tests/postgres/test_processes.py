"""Several ``assistants-server`` processes on one PostgreSQL database serve one API.

Each test starts real server processes (``python -m assistants_client.server --db
postgresql://...``) on a database of its own, with the fake Chat Completions backend of the
server's tests, and talks to them through this library's client: directly, or through a load
balancer that fails requests on purpose (``balancer.py``).
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from assistants_client import AssistantsClient
from tests.postgres.balancer import Balancer
from tests.postgres.support import start_cluster
from tests.server.support import BOUND, stream_events, wait_until
from tests.servers.fake_chat import FakeChatServer, echo_answer, stall_answer
from tests.servers.scripted import RecordedRequest, Reply

CLIENT_THREADS = 32
CREATES_EACH = 100
API_THREADS = 8


def all_messages(client: AssistantsClient, thread_id: str) -> list[Any]:
    """Every message of a thread, oldest first, page by page (100 at a time)."""
    return list(client.list_messages(thread_id, order="asc", limit=100))


def test_idempotent_creates_through_three_processes_and_injected_faults_store_each_once(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    with (
        start_cluster(3, database, backend.base_url, tmp_path) as servers,
        Balancer([s.url for s in servers], fault_rate=0.1, seed=16) as balancer,
        AssistantsClient(base_url=balancer.base_url, timeout=BOUND, max_retries=8) as client,
    ):
        thread_ids = [client.create_thread().id for _ in range(API_THREADS)]

        def create(worker: int) -> list[str]:
            thread_id = thread_ids[worker % API_THREADS]
            return [
                client.create_message(thread_id, "user", f"{worker}:{n}").id
                for n in range(CREATES_EACH)
            ]

        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            created = [pool.submit(create, worker) for worker in range(CLIENT_THREADS)]
            acknowledged = [message_id for future in created for message_id in future.result()]

        # Read through each process in turn: every one sees the same messages.
        stored: list[Any] = []
        for number, thread_id in enumerate(thread_ids):
            with AssistantsClient(base_url=servers[number % 3].base_url, timeout=BOUND) as reader:
                stored += all_messages(reader, thread_id)

    assert balancer.counts["failed before"] > 0
    assert balancer.counts["failed after"] > 0
    texts = [message.content[0].text.value for message in stored]
    assert len(stored) == CLIENT_THREADS * CREATES_EACH
    assert Counter(texts) == Counter(
        f"{worker}:{n}" for worker in range(CLIENT_THREADS) for n in range(CREATES_EACH)
    )
    assert sorted(message.id for message in stored) == sorted(acknowledged)
    # One client thread's messages are listed in the order it created them.
    for worker in range(CLIENT_THREADS):
        mine = [int(text.split(":")[1]) for text in texts if text.split(":")[0] == str(worker)]
        assert mine == list(range(CREATES_EACH))


def held_echo(gate: threading.Event, limit: float) -> Any:
    """Echo answers that wait for ``gate`` (at most ``limit`` seconds) before their first frame."""

    def answer(request: RecordedRequest) -> Reply:
        return echo_answer(request).held_before(0, gate, limit)

    return answer


RACES = 200


def test_two_processes_asked_to_start_a_run_on_one_thread_at_once_start_one(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    release = threading.Event()
    # The winner's run waits for the backend until the end: the thread stays busy meanwhile.
    backend.default_answer = held_echo(release, limit=120.0)
    with start_cluster(2, database, backend.base_url, tmp_path) as servers:
        urls = [server.base_url for server in servers]
        with AssistantsClient(base_url=urls[0], timeout=BOUND) as client:
            assistant_id = client.create_assistant("gpt-4o").id
            thread_ids = [client.create_thread().id for _ in range(RACES)]
        start = threading.Barrier(2)
        sessions = [requests.Session(), requests.Session()]

        def start_run(side: int, thread_id: str) -> requests.Response:
            start.wait(BOUND)
            return sessions[side].post(
                f"{urls[side]}/threads/{thread_id}/runs",
                json={"assistant_id": assistant_id},
                timeout=BOUND,
            )

        outcomes: list[list[requests.Response]] = []
        with ThreadPoolExecutor(2) as pool:
            for thread_id in thread_ids:
                both = [pool.submit(start_run, side, thread_id) for side in (0, 1)]
                outcomes.append([future.result() for future in both])
        release.set()

        for responses in outcomes:
            assert sorted(r.status_code for r in responses) == [200, 400]
            (refused,) = [r for r in responses if r.status_code == 400]
            assert "already has an active run" in refused.json()["error"]["message"]
        winners = [next(r for r in pair if r.status_code == 200).json() for pair in outcomes]
        # Both processes won some of the races.
        assert {pair.index(next(r for r in pair if r.status_code == 200)) for pair in outcomes} == {
            0,
            1,
        }
        with AssistantsClient(base_url=urls[1], timeout=BOUND) as reader:
            for thread_id, run in zip(thread_ids, winners, strict=True):
                assert [r.id for r in reader.list_runs(thread_id)] == [run["id"]]
            finals = [
                reader.wait_for_run(run["thread_id"], run["id"], timeout=BOUND * 3)
                for run in winners
            ]
        assert {final.status for final in finals} == {"completed"}
        for session in sessions:
            session.close()


def test_every_acknowledged_create_survives_a_process_killed_mid_burst(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    lease = 2.0
    release = threading.Event()
    backend.default_answer = held_echo(release, limit=120.0)
    with (
        start_cluster(
            3, database, backend.base_url, tmp_path, "--run-lease", str(lease)
        ) as servers,
        Balancer([s.url for s in servers]) as balancer,
        AssistantsClient(base_url=balancer.base_url, timeout=BOUND, max_retries=10) as client,
    ):
        assistant_id = client.create_assistant("gpt-4o").id
        acknowledged: list[tuple[str, str, str]] = []  # (thread, message, run)
        lock = threading.Lock()
        burst_after_kill = threading.Event()

        def burst(worker: int) -> None:
            for n in range(12):
                thread_id = client.create_thread().id
                message_id = client.create_message(thread_id, "user", f"{worker}:{n}").id
                run_id = client.create_run(thread_id, assistant_id).id
                with lock:
                    acknowledged.append((thread_id, message_id, run_id))
                if n == 6:
                    burst_after_kill.wait(BOUND)

        with ThreadPoolExecutor(8) as pool:
            workers = [pool.submit(burst, worker) for worker in range(8)]
            wait_until(lambda: len(acknowledged) >= 40, what="40 runs started")
            servers[2].kill()
            burst_after_kill.set()
            for future in workers:
                future.result()
        release.set()

        survivor = AssistantsClient(base_url=servers[0].base_url, timeout=BOUND)
        for thread_id, message_id, _ in acknowledged:
            assert survivor.get_message(thread_id, message_id).id == message_id

        def all_ended() -> bool:
            return all(
                survivor.get_run(thread_id, run_id).status in ("completed", "failed")
                for thread_id, _, run_id in acknowledged
            )

        # The killed process's runs fail once its claims lapse; nothing stays in progress.
        wait_until(all_ended, bound=lease + BOUND, what="every run ended")
        finals = [survivor.get_run(thread_id, run_id) for thread_id, _, run_id in acknowledged]
        survivor.close()

    assert len(acknowledged) == 8 * 12
    failed = [run for run in finals if run.status == "failed"]
    assert failed, "the killed process had runs under way"
    assert {run.last_error.code for run in failed if run.last_error is not None} == {"server_error"}
    assert len(failed) < len(finals)


def test_a_cancel_sent_through_one_process_stops_the_run_another_streams(
    database: str, backend: FakeChatServer, tmp_path: Path
) -> None:
    backend.script(stall_answer("Once upon a time", chunks=4))
    with (
        start_cluster(2, database, backend.base_url, tmp_path) as (streaming, other),
        AssistantsClient(base_url=other.base_url, timeout=BOUND) as client,
    ):
        assistant_id = client.create_assistant("gpt-4o").id
        thread_id = client.create_thread(messages=[{"role": "user", "content": "Tell me"}]).id
        run_ids: list[str] = []
        seen_elsewhere: list[str] = []

        def on_event(name: str, data: Any) -> None:
            if name == "thread.run.created":
                run_ids.append(data["id"])
            if name == "thread.message.delta" and not seen_elsewhere:
                # Through the other process: the run as this one streams it, then its cancel.
                seen_elsewhere.append(client.get_run(thread_id, run_ids[0]).status)
                seen_elsewhere.append(client.cancel_run(thread_id, run_ids[0]).status)

        found = stream_events(
            streaming.base_url,
            f"/threads/{thread_id}/runs",
            {"assistant_id": assistant_id},
            on_event=on_event,
        )
        exchange = backend.exchange(0)
        assert exchange.client_closed.wait(BOUND)
        run = client.get_run(thread_id, run_ids[0])
        (message,) = client.list_messages(thread_id, run_id=run.id)

    assert seen_elsewhere == ["in_progress", "cancelling"]
    assert [name for name, _ in found][-5:] == [
        "thread.run.cancelling",
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
        "done",
    ]
    assert run.status == "cancelled"
    (incomplete,) = [data for name, data in found if name == "thread.message.incomplete"]
    assert incomplete["incomplete_details"] == {"reason": "run_cancelled"}
    assert message.content[0].text.value == incomplete["content"][0]["text"]["value"]
    assert message.content[0].text.value.startswith("Once")
