"""Recorded requests can be inspected and reset; the whole state can be reset."""

from __future__ import annotations

from .conftest import Api


def test_requests_are_recorded_with_method_path_query_headers_and_body(api: Api) -> None:
    api.session.post(
        api.base + "/threads", json={"metadata": {"a": "b"}}, headers={"X-Trace": "t1"}
    )
    api.session.get(api.base + "/assistants", params={"limit": "3"})
    first, second = api.emulator.requests
    assert (first.method, first.path, first.body) == (
        "POST",
        "/v1/threads",
        {"metadata": {"a": "b"}},
    )
    assert first.headers["x-trace"] == "t1"
    assert first.headers["Authorization"] == "Bearer sk-test"
    assert first.request_id.startswith("req_")
    assert (second.method, second.query) == ("GET", {"limit": ["3"]})
    assert api.emulator.request_count == 2


def test_resetting_requests_empties_the_record(api: Api) -> None:
    api.session.get(api.base + "/assistants")
    api.emulator.reset_requests()
    assert api.emulator.request_count == 0
    assert api.emulator.requests == []


def test_reset_forgets_objects_scripts_and_faults(api: Api) -> None:
    assistant = api.assistant()
    api.emulator.script.queue_text("later")
    api.emulator.faults.fail_posts(rate=1.0)
    api.emulator.reset()
    api.call("GET", f"/assistants/{assistant['id']}", expect=404)
    assert api.emulator.script.pending == 0
    assert api.session.post(api.base + "/threads", json={}).status_code == 200


def test_each_response_carries_a_request_id_matching_the_record(api: Api) -> None:
    response = api.session.get(api.base + "/assistants")
    assert response.headers["x-request-id"] == api.emulator.requests[-1].request_id
