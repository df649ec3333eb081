"""List endpoints: limit, order, cursors, exact has_more, stable order, run_id filter."""

from __future__ import annotations

import pytest

from .conftest import Api


def _ids(page: dict[str, object]) -> list[str]:
    return [item["id"] for item in page["data"]]  # type: ignore[attr-defined,index]


@pytest.fixture
def five_messages(api: Api) -> tuple[str, list[str]]:
    thread = api.thread()
    ids = [api.message(thread["id"], f"message {index}")["id"] for index in range(5)]
    return thread["id"], ids


def test_lists_default_to_newest_first_and_keep_creation_order_within_a_second(
    api: Api, five_messages: tuple[str, list[str]]
) -> None:
    thread_id, ids = five_messages
    page = api.messages(thread_id)
    assert page["object"] == "list"
    assert _ids(page) == ids[::-1]
    assert page["first_id"] == ids[-1]
    assert page["last_id"] == ids[0]
    assert page["has_more"] is False


def test_ascending_order_returns_oldest_first(
    api: Api, five_messages: tuple[str, list[str]]
) -> None:
    thread_id, ids = five_messages
    assert _ids(api.messages(thread_id, order="asc")) == ids


def test_paging_with_after_walks_every_item_once_and_has_more_is_exact(
    api: Api, five_messages: tuple[str, list[str]]
) -> None:
    thread_id, ids = five_messages
    first = api.messages(thread_id, order="asc", limit=2)
    assert _ids(first) == ids[:2] and first["has_more"] is True
    second = api.messages(thread_id, order="asc", limit=2, after=first["last_id"])
    assert _ids(second) == ids[2:4] and second["has_more"] is True
    third = api.messages(thread_id, order="asc", limit=2, after=second["last_id"])
    assert _ids(third) == ids[4:] and third["has_more"] is False
    exact = api.messages(thread_id, order="asc", limit=5)
    assert exact["has_more"] is False


def test_before_returns_the_items_just_before_the_cursor(
    api: Api, five_messages: tuple[str, list[str]]
) -> None:
    thread_id, ids = five_messages
    page = api.messages(thread_id, order="asc", limit=2, before=ids[3])
    assert _ids(page) == ids[1:3]
    assert page["has_more"] is True
    descending = api.messages(thread_id, limit=10, before=ids[3])
    assert _ids(descending) == [ids[4]]
    assert descending["has_more"] is False


def test_after_and_before_together_bound_the_page(
    api: Api, five_messages: tuple[str, list[str]]
) -> None:
    thread_id, ids = five_messages
    page = api.messages(thread_id, order="asc", after=ids[0], before=ids[4])
    assert _ids(page) == ids[1:4]


def test_a_deleted_items_id_still_works_as_a_cursor(
    api: Api, five_messages: tuple[str, list[str]]
) -> None:
    thread_id, ids = five_messages
    api.call("DELETE", f"/threads/{thread_id}/messages/{ids[1]}", "deleteMessage")
    assert _ids(api.messages(thread_id, order="asc", after=ids[1])) == ids[2:]


def test_an_empty_list_reports_null_ids_and_no_more_as_recorded(api: Api) -> None:
    thread = api.thread()
    page = api.messages(thread["id"])
    assert page == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"after": "msg_unknown"}, "after"),
    ],
)
def test_invalid_list_parameters_are_rejected_with_400_naming_the_parameter(
    api: Api, params: dict[str, object], param: str
) -> None:
    thread = api.thread()
    body = api.call("GET", f"/threads/{thread['id']}/messages", params=params, expect=400)
    assert body["error"]["param"] == param
    assert body["error"]["type"] == "invalid_request_error"


def test_limit_bounds_one_and_one_hundred_are_accepted(
    api: Api, five_messages: tuple[str, list[str]]
) -> None:
    thread_id, ids = five_messages
    assert _ids(api.messages(thread_id, limit=1)) == [ids[-1]]
    assert len(api.messages(thread_id, limit=100)["data"]) == 5


def test_limit_defaults_to_twenty(api: Api) -> None:
    thread = api.thread(*[f"m{index}" for index in range(25)])
    page = api.messages(thread["id"])
    assert len(page["data"]) == 20
    assert page["has_more"] is True


def test_messages_can_be_filtered_by_run(api: Api) -> None:
    assistant = api.assistant()
    thread = api.thread("first")
    run = api.run(thread["id"], assistant["id"])
    api.wait_run(thread["id"], run["id"])
    only = api.messages(thread["id"], run_id=run["id"])
    assert len(only["data"]) == 1
    assert only["data"][0]["run_id"] == run["id"]
    assert only["data"][0]["assistant_id"] == assistant["id"]
    assert only["data"][0]["role"] == "assistant"


def test_assistants_and_runs_lists_page_the_same_way(api: Api) -> None:
    made = [api.assistant(name=f"a{index}")["id"] for index in range(3)]
    page = api.call("GET", "/assistants", "listAssistants", params={"limit": 2})
    assert _ids(page) == made[::-1][:2]
    assert page["has_more"] is True
    rest = api.call(
        "GET", "/assistants", "listAssistants", params={"limit": 2, "after": page["last_id"]}
    )
    assert _ids(rest) == [made[0]]
    assert rest["has_more"] is False
