"""Many runs at once: streamed runs each get their own answer, background runs are bounded by
the worker pool, and a slow answer holds up nothing else.

Overlap is made certain rather than hoped for: the fake backend holds its answers until the
test releases them (``ChatAnswer.held_before``) and counts the answers it streams at once.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from assistants_client import AssistantsClient
from tests.server.support import BOUND, RunningServer, stream_events, wait_until
from tests.servers.fake_chat import FakeChatServer, echo_answer, text_answer
from tests.servers.scripted import RecordedRequest, Reply


def held_echo(gate: threading.Event, pacing: float = 0.0) -> Any:
    def answer(request: RecordedRequest) -> Reply:
        return echo_answer(request).paced(pacing).held_before(0, gate)

    return answer


def test_sixteen_streamed_runs_at_once_each_get_their_own_answer(
    server: RunningServer, backend: FakeChatServer
):
    everyone_asked = threading.Event()
    backend.default_answer = held_echo(everyone_asked)
    setup = server.client()
    assistant_id = setup.create_assistant("gpt-4o").id
    questions = [f"Question number {n}: what is {n} squared?" for n in range(16)]
    thread_ids = [
        setup.create_thread(messages=[{"role": "user", "content": q}]).id for q in questions
    ]

    def stream(thread_id: str) -> tuple[str, str]:
        client = server.client()
        with client.stream_run(thread_id, assistant_id) as running:
            text = "".join(running.text_deltas())
        assert running.final_run is not None
        return text, running.final_run.status

    with ThreadPoolExecutor(16) as pool:
        results = [pool.submit(stream, thread_id) for thread_id in thread_ids]
        wait_until(lambda: len(backend.exchanges) == 16, what="16 backend requests at once")
        everyone_asked.set()
        outcomes = [result.result(timeout=BOUND) for result in results]

    assert outcomes == [(q, "completed") for q in questions]
    assert backend.peak_in_flight == 16


def test_background_runs_go_through_a_bounded_pool_of_workers(make_server, backend):
    server = make_server("--workers", "2")
    two_asked = threading.Event()
    backend.default_answer = held_echo(two_asked, pacing=0.01)
    client = server.client()
    assistant_id = client.create_assistant("gpt-4o").id
    thread_ids = [
        client.create_thread(messages=[{"role": "user", "content": f"run {n}"}]).id
        for n in range(6)
    ]

    runs = [client.create_run(thread_id, assistant_id) for thread_id in thread_ids]
    wait_until(lambda: len(backend.exchanges) == 2, what="two backend requests")
    statuses = [client.get_run(r.thread_id, r.id).status for r in runs]
    two_asked.set()
    finals = [
        client.wait_for_run(r.thread_id, r.id, timeout=BOUND, poll_interval=0.01) for r in runs
    ]

    # Both workers are held by the backend: the four other runs wait their turn.
    assert sorted(statuses) == ["in_progress"] * 2 + ["queued"] * 4
    assert [f.status for f in finals] == ["completed"] * 6
    for run, thread_id, n in zip(runs, thread_ids, range(6), strict=True):
        (message,) = client.list_messages(thread_id, run_id=run.id)
        assert message.content[0].text.value == f"run {n}"
    assert backend.peak_in_flight == 2


def test_a_slow_answer_blocks_no_other_request(server: RunningServer, backend, client):
    rest_of_answer = threading.Event()
    backend.script(text_answer("", pieces=["Slow", " answer"]).held_before(2, rest_of_answer))
    assistant_id = client.create_assistant("gpt-4o").id
    thread_id = client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id
    other_thread = client.create_thread().id
    meanwhile: dict[str, Any] = {}

    def other_requests() -> None:
        other = server.client()
        meanwhile["thread"] = other.get_thread(thread_id).id
        meanwhile["other"] = other.get_thread(other_thread).id
        meanwhile["runs"] = [r.status for r in other.list_runs(thread_id)]
        meanwhile["new"] = other.create_thread().object
        with other.stream_run(other_thread, assistant_id) as running:
            meanwhile["other_run"] = "".join(running.text_deltas())
        meanwhile["held"] = backend.exchange(0).frames_sent == 2 and not rest_of_answer.is_set()

    def on_event(name: str, data: Any) -> None:
        if name == "thread.message.delta" and "held" not in meanwhile:
            worker = threading.Thread(target=other_requests, daemon=True)
            worker.start()
            worker.join(BOUND)
            rest_of_answer.set()

    backend.script(text_answer("Quick one."))
    found = stream_events(
        server.base_url,
        f"/threads/{thread_id}/runs",
        {"assistant_id": assistant_id},
        on_event=on_event,
    )

    assert meanwhile == {
        "thread": thread_id,
        "other": other_thread,
        "runs": ["in_progress"],
        "new": "thread",
        "other_run": "Quick one.",
        "held": True,
    }
    assert found[-2][1]["status"] == "completed"


def test_a_client_that_leaves_mid_stream_leaves_the_run_to_finish(
    server: RunningServer, backend, client: AssistantsClient
):
    rest_of_answer = threading.Event()
    backend.script(
        text_answer("", pieces=["Still ", "going ", "on."]).held_before(2, rest_of_answer)
    )
    assistant_id = client.create_assistant("gpt-4o").id
    thread_id = client.create_thread(messages=[{"role": "user", "content": "Hi"}]).id

    with client.stream_run(thread_id, assistant_id) as running:
        first = next(iter(running.text_deltas()))
        run_id = client.list_runs(thread_id).data[0].id
    rest_of_answer.set()
    final = client.wait_for_run(thread_id, run_id, timeout=BOUND, poll_interval=0.01)

    assert first == "Still "
    assert final.status == "completed"
    (message,) = client.list_messages(thread_id, run_id=run_id)
    assert message.content[0].text.value == "Still going on."
    assert not backend.exchange(0).client_closed.is_set()


def test_as_many_streams_as_connections_served_keep_their_backend_connections(
    make_server, backend: FakeChatServer, caplog
):
    caplog.set_level(logging.WARNING)
    server = make_server("--workers", "1", "--max-connections", "20")
    setup = server.client()
    assistant_id = setup.create_assistant("gpt-4o").id
    thread_ids = [setup.create_thread().id for _ in range(19)]  # and one connection for setup
    setup.close()

    def one_round() -> set[int]:
        everyone_asked = threading.Event()
        backend.default_answer = held_echo(everyone_asked)
        asked_before = len(backend.exchanges)
        with ThreadPoolExecutor(len(thread_ids)) as pool:
            results = [
                pool.submit(
                    stream_events,
                    server.base_url,
                    f"/threads/{thread_id}/runs",
                    {
                        "assistant_id": assistant_id,
                        "additional_messages": [{"role": "user", "content": "Hi"}],
                    },
                )
                for thread_id in thread_ids
            ]
            wait_until(lambda: len(backend.exchanges) == asked_before + len(thread_ids))
            everyone_asked.set()
            assert all(r.result(timeout=BOUND)[-2][0] == "thread.run.completed" for r in results)
        return {e.request.client_port for e in backend.exchanges[asked_before:]}

    first, second = one_round(), one_round()

    assert len(first) == len(thread_ids)
    assert second == first  # every connection was kept for the next runs, none discarded
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
