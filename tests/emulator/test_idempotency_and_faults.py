"""Idempotency-Key replays the first response; injected faults never create duplicates."""

from __future__ import annotations

import threading

import pytest
import requests

from assistants_client.emulator import Emulator

from .conftest import Api


def test_a_repeated_post_with_the_same_key_returns_the_first_response(api: Api) -> None:
    headers = {"Idempotency-Key": "key-1"}
    first = api.session.post(api.base + "/threads", json={"metadata": {"n": "1"}}, headers=headers)
    again = api.session.post(api.base + "/threads", json={"metadata": {"n": "1"}}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = api.session.post(api.base + "/threads", json={}, headers={"Idempotency-Key": "key-2"})
    assert other.json()["id"] != first.json()["id"]
    assert len(api.emulator.store.children("thread", project="")) == 2


def test_the_same_key_on_another_path_is_a_separate_request(api: Api) -> None:
    headers = {"Idempotency-Key": "shared"}
    thread = api.session.post(api.base + "/threads", json={}, headers=headers).json()
    assistant = api.session.post(
        api.base + "/assistants", json={"model": "gpt-4o"}, headers=headers
    ).json()
    assert thread["object"] == "thread" and assistant["object"] == "assistant"


def test_an_error_response_is_replayed_too(api: Api) -> None:
    headers = {"Idempotency-Key": "bad"}
    first = api.session.post(api.base + "/assistants", json={}, headers=headers)
    again = api.session.post(api.base + "/assistants", json={"model": "gpt-4o"}, headers=headers)
    assert first.status_code == again.status_code == 400
    assert api.emulator.store.children("assistant", project="") == []


def test_concurrent_identical_requests_create_exactly_one_object(api: Api) -> None:
    results: list[dict[str, object]] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        with requests.Session() as session:
            barrier.wait()
            response = session.post(
                api.base + "/assistants",
                json={"model": "gpt-4o"},
                headers={"Idempotency-Key": "race"},
                timeout=10,
            )
            results.append(response.json())

    workers = [threading.Thread(target=post) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len({result["id"] for result in results}) == 1
    assert len(api.emulator.store.children("assistant", project="")) == 1


def test_a_repeated_streamed_run_replays_its_events_without_a_second_run(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("hi")
    headers = {"Idempotency-Key": "stream-1"}
    body = {"assistant_id": assistant["id"], "stream": True}
    path = f"{api.base}/threads/{thread['id']}/runs"
    first = api.session.post(path, json=body, headers=headers, timeout=10)
    again = api.session.post(path, json=body, headers=headers, timeout=10)
    assert first.text == again.text
    assert "event: thread.run.completed" in first.text
    assert len(api.call("GET", f"/threads/{thread['id']}/runs", "listRuns")["data"]) == 1


def test_faults_before_the_side_effect_store_nothing(api: Api) -> None:
    api.emulator.faults.fail_posts(rate=1.0, when="before", seed=1)
    response = api.session.post(api.base + "/threads", json={})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "0"
    assert response.json()["error"]["type"] == "server_error"
    assert api.emulator.store.children("thread", project="") == []
    assert api.session.get(api.base + "/assistants").status_code == 200


def test_faults_after_the_side_effect_are_healed_by_retrying_with_the_same_key(api: Api) -> None:
    api.emulator.faults.fail_posts(rate=1.0, when="after", seed=1)
    headers = {"Idempotency-Key": "after-1"}
    failed = api.session.post(api.base + "/threads", json={}, headers=headers)
    assert failed.status_code == 503
    assert len(api.emulator.store.children("thread", project="")) == 1
    api.emulator.faults.clear()
    retried = api.session.post(api.base + "/threads", json={}, headers=headers)
    assert retried.status_code == 200
    assert retried.json()["id"] == api.emulator.store.children("thread", project="")[0]["id"]
    assert len(api.emulator.store.children("thread", project="")) == 1


def _outcomes(seed: int) -> list[int]:
    with Emulator() as emu:
        emu.faults.fail_posts(rate=0.5, seed=seed, when="random")
        with requests.Session() as session:
            return [
                session.post(emu.base_url + "/threads", json={}, timeout=5).status_code
                for _ in range(20)
            ]


def test_a_seeded_fault_rate_is_deterministic_and_roughly_the_requested_fraction() -> None:
    first = _outcomes(7)
    assert first == _outcomes(7)
    assert 3 <= first.count(503) <= 17
    assert set(first) == {200, 503}


def test_retrying_with_keys_under_random_faults_never_duplicates(api: Api) -> None:
    api.emulator.faults.fail_posts(rate=0.4, when="random", seed=3)
    made = set()
    for index in range(15):
        headers = {"Idempotency-Key": f"k{index}"}
        for _ in range(30):
            response = api.session.post(api.base + "/threads", json={}, headers=headers)
            if response.status_code == 200:
                made.add(response.json()["id"])
                break
    assert len(made) == 15
    assert len(api.emulator.store.children("thread", project="")) == 15


def test_faults_spare_reads(api: Api) -> None:
    api.emulator.faults.fail_posts(rate=1.0)
    assert api.session.get(api.base + "/assistants").status_code == 200


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_fault_rates_outside_zero_to_one_are_refused(api: Api, rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        api.emulator.faults.fail_posts(rate=rate)


def test_faults_limited_in_number_stop_after_that_many(api: Api) -> None:
    api.emulator.faults.fail_posts(rate=1.0, times=2)
    statuses = [
        api.session.post(api.base + "/threads", json={}, timeout=5).status_code for _ in range(4)
    ]
    assert statuses == [503, 503, 200, 200]
    assert api.emulator.faults.injected == 2
