"""The store's behaviour, one suite run against each adapter: memory, SQLite and PostgreSQL.

What the engine relies on: objects and their order, list pages and cursors, transactions and
savepoints, runs with their claims and leases, idempotency keys unique in the store, and
projects that do not see each other's objects or keys. The PostgreSQL cases each get a database
of their own on the session's throwaway server (the ``store`` fixture is in ``conftest.py``).
"""

from __future__ import annotations

import inspect
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from assistants_client.server.projects import SHARED
from assistants_client.server.store import (
    SCHEMA_VERSION,
    JSONDict,
    SchemaError,
    Store,
    UnknownCursor,
)
from assistants_client.server.stores import PostgresStore, SqliteStore, open_store
from assistants_client.server.stores.sqlite import DIALECT as SQLITE_DIALECT
from tests.server.support import BOUND

P = "team-a"  # the project of the suite's objects (isolation: see the end of the module)


def message(number: int, run_id: str | None = None) -> JSONDict:
    return {"id": f"msg_{number}", "object": "thread.message", "run_id": run_id, "n": number}


def record(run_id: str, status: str, expires_at: int | None = None) -> JSONDict:
    return {
        "run": {"id": run_id, "status": status, "expires_at": expires_at, "metadata": {}},
        "state": {},
    }


def thread_of(store: Store, count: int, thread_id: str = "thread_1") -> list[str]:
    """A thread of ``count`` messages: ``msg_0``... (in thread_1), ``msg_<thread>_0``..."""
    prefix = "msg_" if thread_id == "thread_1" else f"msg_{thread_id}_"
    with store.transaction():
        store.insert("thread", thread_id, {"id": thread_id}, project=P)
        for number in range(count):
            obj_id = f"{prefix}{number}"
            store.insert("message", obj_id, {**message(number), "id": obj_id}, thread_id, project=P)
    return [f"{prefix}{number}" for number in range(count)]


def ids(items: list[JSONDict]) -> list[str]:
    return [item["id"] for item in items]


# -- objects --------------------------------------------------------------------------------------


def test_an_object_reads_back_as_written_and_a_read_is_a_copy(store: Store) -> None:
    store.insert("thread", "thread_1", {"id": "thread_1", "metadata": {"a": "1"}}, project=P)
    found = store.get("thread", "thread_1", project=P)
    assert found == {"id": "thread_1", "metadata": {"a": "1"}}
    assert found is not None
    found["metadata"]["a"] = "changed"
    assert store.get("thread", "thread_1", project=P) == {"id": "thread_1", "metadata": {"a": "1"}}


def test_a_written_object_keeps_its_key_order(store: Store) -> None:
    store.insert(
        "assistant", "asst_1", {"id": "asst_1", "zeta": 1, "alpha": 2, "object": "x"}, project=P
    )
    found = store.get("assistant", "asst_1", project=P)
    assert found is not None
    assert list(found) == ["id", "zeta", "alpha", "object"]


def test_get_under_another_parent_or_of_another_kind_finds_nothing(store: Store) -> None:
    thread_of(store, 1)
    assert store.get("message", "msg_0", "thread_1", project=P) is not None
    assert store.get("message", "msg_0", "thread_2", project=P) is None
    assert store.get("run", "msg_0", project=P) is None


def test_update_replaces_an_object_and_changes_nothing_that_is_gone(store: Store) -> None:
    thread_of(store, 1)
    assert store.update("message", "msg_0", {**message(0), "n": 99}, project=P)
    assert store.get("message", "msg_0", project=P) == {**message(0), "n": 99}
    assert not store.update("message", "msg_404", message(404), project=P)
    assert store.get("message", "msg_404", project=P) is None


def test_put_replaces_an_object_where_it_is_in_its_list(store: Store) -> None:
    thread_of(store, 3)
    store.put("message", "msg_0", {**message(0), "n": 10}, "thread_1", project=P)
    store.put("message", "msg_3", message(3), "thread_1", project=P)
    assert [m["n"] for m in store.children("message", "thread_1", project=P)] == [10, 1, 2, 3]


def test_children_and_iter_kind_are_in_insertion_order(store: Store) -> None:
    thread_of(store, 5)
    thread_of(store, 2, "thread_2")
    assert ids(store.children("message", "thread_1", project=P)) == [
        "msg_0",
        "msg_1",
        "msg_2",
        "msg_3",
        "msg_4",
    ]
    assert [parent for parent, _ in store.iter_kind("message", project=P)] == ["thread_1"] * 5 + [
        "thread_2"
    ] * 2
    assert store.children("message", "thread_404", project=P) == []


def test_delete_removes_an_object_once(store: Store) -> None:
    thread_of(store, 2)
    assert store.delete("message", "msg_0", project=P)
    assert not store.delete("message", "msg_0", project=P)
    assert ids(store.children("message", "thread_1", project=P)) == ["msg_1"]


def test_delete_children_removes_a_whole_collection(store: Store) -> None:
    thread_of(store, 4)
    thread_of(store, 1, "thread_2")
    assert store.delete_children("message", "thread_1", project=P) == 4
    assert store.children("message", "thread_1", project=P) == []
    assert ids(store.children("message", "thread_2", project=P)) == ["msg_thread_2_0"]


def test_clear_forgets_objects_and_keys(store: Store) -> None:
    thread_of(store, 2)
    with store.transaction():
        store.claim_key("POST /v1/threads k", "owner-a", 30, project=P)
        store.keep_key("POST /v1/threads k", 200, {}, "{}", project=P)
    store.clear()
    assert store.iter_kind("message", project=P) == []
    assert store.get("thread", "thread_1", project=P) is None
    with store.transaction():
        assert store.claim_key("POST /v1/threads k", "owner-a", 30, project=P) is None


# -- pages and cursors ----------------------------------------------------------------------------


def page(store: Store, **options: Any) -> tuple[list[str], bool]:
    options.setdefault("limit", 3)
    options.setdefault("ascending", True)
    found, more = store.page("message", "thread_1", **options, project=P)
    return ids(found), more


def test_a_page_is_in_the_order_asked_and_says_exactly_whether_more_follow(store: Store) -> None:
    thread_of(store, 6)
    assert page(store) == (["msg_0", "msg_1", "msg_2"], True)
    assert page(store, ascending=False) == (["msg_5", "msg_4", "msg_3"], True)
    assert page(store, limit=6) == ([f"msg_{n}" for n in range(6)], False)
    assert page(store, after="msg_2") == (["msg_3", "msg_4", "msg_5"], False)
    assert page(store, after="msg_1") == (["msg_2", "msg_3", "msg_4"], True)


def test_after_and_before_name_positions_in_the_listing_order(store: Store) -> None:
    thread_of(store, 6)
    assert page(store, ascending=False, after="msg_3") == (["msg_2", "msg_1", "msg_0"], False)
    # "before" alone: the page right before the cursor, still in the listing order.
    assert page(store, before="msg_5", limit=2) == (["msg_3", "msg_4"], True)
    assert page(store, ascending=False, before="msg_0", limit=2) == (["msg_2", "msg_1"], True)
    assert page(store, after="msg_0", before="msg_4", limit=2) == (["msg_1", "msg_2"], True)
    assert page(store, after="msg_0", before="msg_3", limit=2) == (["msg_1", "msg_2"], False)


def test_walking_every_page_sees_every_object_once(store: Store) -> None:
    thread_of(store, 25)
    seen: list[str] = []
    cursor = None
    while True:
        found, more = page(store, limit=4, ascending=False, after=cursor)
        seen += found
        if not more:
            break
        cursor = found[-1]
    assert seen == [f"msg_{n}" for n in reversed(range(25))]


def test_the_cursor_of_a_deleted_object_still_works(store: Store) -> None:
    thread_of(store, 5)
    store.delete("message", "msg_2", project=P)
    store.delete_children("message", "thread_2", project=P)
    assert page(store, after="msg_2") == (["msg_3", "msg_4"], False)
    store.delete_children("message", "thread_1", project=P)
    assert page(store, after="msg_4") == ([], False)


def test_an_unknown_cursor_is_refused_by_name(store: Store) -> None:
    thread_of(store, 2)
    with pytest.raises(UnknownCursor) as caught:
        page(store, before="msg_404")
    assert caught.value.name == "before"
    with pytest.raises(UnknownCursor):
        store.page("message", "thread_empty", limit=2, ascending=True, after="msg_404", project=P)
    with pytest.raises(UnknownCursor):  # an id of another kind names no message
        store.page("message", "thread_1", limit=2, ascending=True, after="thread_1", project=P)


def test_a_page_can_keep_the_messages_of_one_run(store: Store) -> None:
    with store.transaction():
        store.insert("thread", "thread_1", {"id": "thread_1"}, project=P)
        for number in range(8):
            run_id = "run_a" if number % 2 else None
            store.insert("message", f"msg_{number}", message(number, run_id), "thread_1", project=P)
    assert page(store, run_id="run_a") == (["msg_1", "msg_3", "msg_5"], True)
    assert page(store, run_id="run_a", after="msg_5") == (["msg_7"], False)
    assert page(store, run_id="run_b") == ([], False)


# -- transactions ---------------------------------------------------------------------------------


class Refused(Exception):
    pass


def test_a_transaction_that_fails_leaves_nothing_behind(store: Store) -> None:
    thread_of(store, 1)
    with pytest.raises(Refused), store.transaction():
        store.insert("message", "msg_9", message(9), "thread_1", project=P)
        store.update("message", "msg_0", {**message(0), "n": 50}, project=P)
        store.delete("thread", "thread_1", project=P)
        raise Refused
    assert store.get("thread", "thread_1", project=P) is not None
    assert store.children("message", "thread_1", project=P) == [message(0)]


def test_a_nested_transaction_rolls_back_only_its_own_writes(store: Store) -> None:
    thread_of(store, 1)
    with store.transaction():
        store.insert("message", "msg_1", message(1), "thread_1", project=P)
        with pytest.raises(Refused), store.transaction():
            store.insert("message", "msg_2", message(2), "thread_1", project=P)
            store.delete("message", "msg_0", project=P)
            raise Refused
        with store.transaction():
            store.insert("message", "msg_3", message(3), "thread_1", project=P)
    assert ids(store.children("message", "thread_1", project=P)) == ["msg_0", "msg_1", "msg_3"]


def test_callbacks_wait_for_the_commit_and_are_dropped_by_a_rollback(store: Store) -> None:
    called: list[str] = []
    with store.transaction():
        store.on_commit(lambda: called.append("committed"))
        assert called == []
    assert called == ["committed"]
    with pytest.raises(Refused), store.transaction():
        store.on_commit(lambda: called.append("rolled back"))
        raise Refused
    store.on_commit(lambda: called.append("outside"))
    assert called == ["committed", "outside"]


def test_what_one_transaction_writes_another_sees_once_it_commits(store: Store) -> None:
    thread_of(store, 0)
    written = threading.Event()
    finish = threading.Event()

    def writer() -> None:
        with store.transaction():
            store.insert("message", "msg_0", message(0), "thread_1", project=P)
            written.set()
            finish.wait(BOUND)

    thread = threading.Thread(target=writer)
    thread.start()
    assert written.wait(BOUND)
    seen_during: list[list[str]] = []
    reader = threading.Thread(
        target=lambda: seen_during.append(ids(store.children("message", "thread_1", project=P)))
    )
    reader.start()
    finish.set()
    thread.join(BOUND)
    reader.join(BOUND)
    # The reader saw either nothing (PostgreSQL reads what is committed) or, having waited
    # for the writer (memory and SQLite run one transaction at a time), the message.
    assert seen_during in ([[]], [["msg_0"]])
    assert ids(store.children("message", "thread_1", project=P)) == ["msg_0"]


# -- runs -----------------------------------------------------------------------------------------


def runs(store: Store, *statuses: str, thread_id: str = "thread_1", project: str = P) -> list[str]:
    with store.transaction():
        if store.get("thread", thread_id, project=project) is None:
            store.insert("thread", thread_id, {"id": thread_id}, project=project)
        made = []
        for status in statuses:
            run_id = f"run_{project}_{len(store.iter_kind('run', project=project))}"
            store.insert("run", run_id, record(run_id, status), thread_id, project=project)
            made.append(run_id)
    return made


def test_a_run_reads_back_with_its_thread_and_claim(store: Store) -> None:
    (run_id,) = runs(store, "queued")
    store.claim(run_id, "owner-a", 30, project=P)
    found = store.get_run(run_id, lock=True, project=P)
    assert found is not None
    assert (found.thread_id, found.record, found.claimed_by) == (
        "thread_1",
        record(run_id, "queued"),
        "owner-a",
    )
    assert store.get_run("run_404", project=P) is None


def test_the_active_run_of_a_thread_is_found_by_its_status(store: Store) -> None:
    _, second = runs(store, "completed", "requires_action")
    active = store.active_run("thread_1", project=P)
    assert active is not None and active["run"]["id"] == second
    store.update("run", second, record(second, "expired"), project=P)
    assert store.active_run("thread_1", project=P) is None
    assert store.active_run("thread_404", project=P) is None


def test_queued_runs_nobody_drives_are_claimed_oldest_first_and_once(store: Store) -> None:
    ids_ = runs(store, "queued", "in_progress", "queued", "queued", "completed")
    store.claim(ids_[3], "owner-b", 30, project=P)
    with store.transaction():
        claimed = store.claim_queued("owner-a", 5, 30)
    assert [row.record["run"]["id"] for row in claimed] == [ids_[0], ids_[2]]
    assert {row.claimed_by for row in claimed} == {"owner-a"}
    with store.transaction():
        assert store.claim_queued("owner-c", 5, 30) == []


def other_process(store: Store) -> Store:
    """The store as a second process sees it: for PostgreSQL, a store of its own on the same
    database; the others belong to one process, whose threads share them."""
    if isinstance(store, PostgresStore):
        return PostgresStore(store.location, pool_size=4, timeout=BOUND)
    return store


def test_two_processes_claiming_at_once_never_claim_the_same_run(store: Store) -> None:
    queued = runs(store, *["queued"] * 40)
    stores = [store, other_process(store)]
    claimed: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def claim(side: int) -> None:
        start.wait(BOUND)
        while True:
            with stores[side].transaction():
                rows = stores[side].claim_queued(f"owner-{side}", 3, 30)
                claimed[side] += [row.record["run"]["id"] for row in rows]
            if not rows:
                return

    threads = [threading.Thread(target=claim, args=(side,)) for side in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND)
    if stores[1] is not store:
        stores[1].close()
    assert sorted(claimed[0] + claimed[1]) == sorted(queued)
    assert not set(claimed[0]) & set(claimed[1])
    for side in (0, 1):
        for run_id in claimed[side]:
            found = store.get_run(run_id, project=P)
            assert found is not None and found.claimed_by == f"owner-{side}"


def test_claim_queued_takes_at_most_its_limit(store: Store) -> None:
    ids_ = runs(store, "queued", "queued", "queued")
    with store.transaction():
        claimed = store.claim_queued("owner-a", 2, 30)
    assert [row.record["run"]["id"] for row in claimed] == ids_[:2]


def test_a_run_that_leaves_the_driven_statuses_loses_its_claim(store: Store) -> None:
    (run_id,) = runs(store, "in_progress")
    store.claim(run_id, "owner-a", 30, project=P)
    store.update("run", run_id, record(run_id, "cancelling"), project=P)
    found = store.get_run(run_id, project=P)
    assert found is not None and found.claimed_by == "owner-a"
    store.update("run", run_id, record(run_id, "cancelled"), project=P)
    found = store.get_run(run_id, project=P)
    assert found is not None and found.claimed_by is None


def test_renew_keeps_only_the_owners_claims_and_reports_their_status(store: Store) -> None:
    mine, cancelled, others, ended = runs(store, "in_progress", "in_progress", "queued", "queued")
    store.claim(mine, "owner-a", 30, project=P)
    store.claim(cancelled, "owner-a", 30, project=P)
    store.update("run", cancelled, record(cancelled, "cancelling"), project=P)
    store.claim(others, "owner-b", 30, project=P)
    store.claim(ended, "owner-a", 30, project=P)
    store.update("run", ended, record(ended, "completed"), project=P)
    held = store.renew("owner-a", [mine, cancelled, others, ended, "run_gone"], 30)
    assert held == {mine: "in_progress", cancelled: "cancelling"}


def test_a_claim_not_renewed_lapses(store: Store) -> None:
    live, stopped, queued = runs(store, "in_progress", "in_progress", "queued")
    store.claim(live, "owner-a", 60, project=P)
    store.claim(stopped, "owner-b", 60, project=P)
    store.claim(queued, "owner-b", 60, project=P)
    with store.transaction():
        assert store.lapsed() == []
    store.lapse("owner-b")
    with store.transaction():
        lapsed = store.lapsed()
    assert [(row.record["run"]["id"], row.claimed_by) for row in lapsed] == [
        (stopped, "owner-b"),
        (queued, "owner-b"),
    ]
    store.renew("owner-a", [live], 0.0)
    with store.transaction():
        assert [row.record["run"]["id"] for row in store.lapsed()] == [live, stopped, queued]


def test_at_a_restart_every_run_under_way_counts_as_lapsed(store: Store) -> None:
    claimed, unclaimed, _, _ = runs(
        store, "in_progress", "in_progress", "requires_action", "queued"
    )
    store.claim(claimed, "owner-a", 60, project=P)
    with store.transaction():
        lapsed = store.lapsed(everyone=True)
    assert [row.record["run"]["id"] for row in lapsed] == [claimed, unclaimed]


def test_runs_past_their_expiry_are_due(store: Store) -> None:
    runs(store)
    with store.transaction():
        store.insert(
            "run", "run_late", record("run_late", "requires_action", 100), "thread_1", project=P
        )
        store.insert(
            "run", "run_early", record("run_early", "requires_action", 300), "thread_1", project=P
        )
        store.insert("run", "run_done", record("run_done", "completed", 100), "thread_1", project=P)
    with store.transaction():
        assert [row.record["run"]["id"] for row in store.due(200)] == ["run_late"]


# -- idempotency keys -----------------------------------------------------------------------------

KEY = "POST /v1/threads key-1"


def test_a_key_is_taken_once_and_then_holds_its_answer(store: Store) -> None:
    with store.transaction():
        assert store.claim_key(KEY, "owner-a", 30, project=P) is None
    with store.transaction():
        pending = store.claim_key(KEY, "owner-b", 30, project=P)
    assert pending is not None and pending.pending and pending.owner == "owner-a"
    assert not pending.lapsed
    store.keep_key(KEY, 200, {"Content-Type": "application/json"}, '{"id": "thread_1"}', project=P)
    with store.transaction():
        kept = store.claim_key(KEY, "owner-b", 30, project=P)
    assert kept is not None and not kept.pending
    assert (kept.status, kept.headers, kept.body) == (
        200,
        {"Content-Type": "application/json"},
        '{"id": "thread_1"}',
    )


def test_a_key_taken_in_a_transaction_that_fails_is_free_again(store: Store) -> None:
    with pytest.raises(Refused), store.transaction():
        store.claim_key(KEY, "owner-a", 30, project=P)
        raise Refused
    with store.transaction():
        assert store.claim_key(KEY, "owner-b", 30, project=P) is None


def test_a_pending_key_is_dropped_only_by_its_holder_and_lapses_unless_renewed(
    store: Store,
) -> None:
    with store.transaction():
        store.claim_key(KEY, "owner-a", 0.0, project=P)
    assert not store.drop_key(KEY, "owner-b", project=P)
    with store.transaction():
        lapsed = store.claim_key(KEY, "owner-b", 30, project=P)
    assert lapsed is not None and lapsed.pending and lapsed.lapsed
    store.renew_keys("owner-a", [KEY], 60, project=P)
    with store.transaction():
        held = store.claim_key(KEY, "owner-b", 30, project=P)
    assert held is not None and not held.lapsed
    assert store.drop_key(KEY, "owner-a", project=P)
    with store.transaction():
        assert store.claim_key(KEY, "owner-b", 30, project=P) is None


def test_a_duplicate_waits_for_the_first_transaction_and_gets_its_answer(store: Store) -> None:
    taken = threading.Event()
    answer = threading.Event()
    seen: list[Any] = []

    def first() -> None:
        with store.transaction():
            store.claim_key(KEY, "owner-a", 30, project=P)
            taken.set()
            answer.wait(BOUND)
            store.keep_key(KEY, 200, {}, "first", project=P)

    def duplicate() -> None:
        with store.transaction():
            seen.append(store.claim_key(KEY, "owner-b", 30, project=P))

    one = threading.Thread(target=first)
    one.start()
    assert taken.wait(BOUND)
    two = threading.Thread(target=duplicate)
    two.start()
    two.join(0.2)  # give the duplicate time to reach the key (it must then wait)
    answer.set()
    one.join(BOUND)
    two.join(BOUND)
    (kept,) = seen
    assert kept is not None and (kept.status, kept.body) == (200, "first")


# -- projects -------------------------------------------------------------------------------------

OTHER = "team-b"


def test_every_method_of_the_port_that_reaches_objects_or_keys_requires_a_project(
    store: Store,
) -> None:
    for name in PROJECT_SCOPED:
        method = getattr(type(store), name)
        parameter = inspect.signature(method).parameters.get("project")
        assert parameter is not None, f"{type(store).__name__}.{name} takes no project"
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameter.default is inspect.Parameter.empty, f"{name} has a default project"
    with pytest.raises(TypeError, match="project"):
        store.get("thread", "thread_1")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="project"):
        store.page("message", "thread_1", limit=1, ascending=True)  # type: ignore[call-arg]


# What reaches objects or idempotency keys by id, parent, cursor or key takes a project; the
# claims machinery (claim_queued, renew, lapse, lapsed, due) serves every project's runs.
PROJECT_SCOPED = [
    "get",
    "insert",
    "update",
    "put",
    "delete",
    "delete_children",
    "children",
    "iter_kind",
    "page",
    "get_run",
    "active_run",
    "claim",
    "claim_key",
    "keep_key",
    "drop_key",
    "renew_keys",
]


def test_the_port_names_every_public_method_as_scoped_or_as_the_machinery_of_runs() -> None:
    machinery = {"claim_queued", "renew", "lapse", "lapsed", "due", "notify_cancel"}
    lifecycle = {"transaction", "on_commit", "close", "clear", "listen_cancels"}
    # The hooks through which tables kept beside the store's (files and vector stores) take
    # part in its transactions; those tables scope their rows by project themselves.
    extensions = {"joined", "in_transaction"}
    public = {name for name in vars(Store) if not name.startswith("_")} - {"shared"}
    assert public == set(PROJECT_SCOPED) | machinery | lifecycle | extensions


def test_an_object_of_another_project_is_not_found_changed_or_deleted(store: Store) -> None:
    thread_of(store, 2)
    assert store.get("thread", "thread_1", project=OTHER) is None
    assert store.get("message", "msg_0", "thread_1", project=OTHER) is None
    assert store.get("message", "msg_0", project=SHARED) is None
    assert not store.update("message", "msg_0", {**message(0), "n": 99}, project=OTHER)
    assert not store.delete("message", "msg_1", project=OTHER)
    assert store.delete_children("message", "thread_1", project=OTHER) == 0
    assert ids(store.children("message", "thread_1", project=P)) == ["msg_0", "msg_1"]
    assert store.get("message", "msg_0", project=P) == message(0)


def test_a_project_never_takes_the_id_of_another_projects_object(store: Store) -> None:
    thread_of(store, 1)
    with pytest.raises(Exception), store.transaction():  # noqa: B017 - each adapter's own
        store.put("thread", "thread_1", {"id": "thread_1", "taken": True}, project=OTHER)
    assert store.get("thread", "thread_1", project=P) == {"id": "thread_1"}
    assert store.get("thread", "thread_1", project=OTHER) is None


def test_lists_show_only_the_callers_project(store: Store) -> None:
    with store.transaction():
        for number in range(4):
            project = P if number % 2 == 0 else OTHER
            store.insert("assistant", f"asst_{number}", {"id": f"asst_{number}"}, project=project)
    mine, more = store.page("assistant", "", project=P, limit=10, ascending=True)
    theirs, _ = store.page("assistant", "", project=OTHER, limit=1, ascending=False)
    assert (ids(mine), more) == (["asst_0", "asst_2"], False)
    assert ids(theirs) == ["asst_3"]
    assert ids(store.children("assistant", project=OTHER)) == ["asst_1", "asst_3"]
    assert [data["id"] for _, data in store.iter_kind("assistant", project=P)] == [
        "asst_0",
        "asst_2",
    ]
    assert store.page("assistant", "", project="team-c", limit=10, ascending=True) == ([], False)


def test_a_cursor_naming_another_projects_object_is_unknown_present_or_deleted(
    store: Store,
) -> None:
    thread_of(store, 3)
    with store.transaction():
        store.insert("thread", "thread_b", {"id": "thread_b"}, project=OTHER)
        store.insert("message", "msg_b", message(7), "thread_b", project=OTHER)
    store.delete("message", "msg_1", project=P)
    for cursor in ("msg_0", "msg_1"):
        for name in ("after", "before"):
            with pytest.raises(UnknownCursor) as caught:
                store.page(
                    "message", "thread_b", project=OTHER, limit=5, ascending=True, **{name: cursor}
                )
            assert (caught.value.name, caught.value.cursor) == (name, cursor)
    # The caller's own deleted object still names a position.
    found, _ = store.page("message", "thread_1", project=P, limit=5, ascending=True, after="msg_1")
    assert ids(found) == ["msg_2"]


def test_runs_of_another_project_are_not_found_claimed_or_active(store: Store) -> None:
    (run_id,) = runs(store, "requires_action")
    assert store.get_run(run_id, project=OTHER, lock=True) is None
    assert store.active_run("thread_1", project=OTHER) is None
    store.claim(run_id, "owner-b", 30, project=OTHER)
    found = store.get_run(run_id, project=P)
    assert found is not None and (found.project, found.claimed_by) == (P, None)
    assert store.active_run("thread_1", project=P) is not None


def test_the_machinery_of_runs_serves_every_project_and_says_each_runs_project(
    store: Store,
) -> None:
    (mine,) = runs(store, "queued")
    (theirs,) = runs(store, "queued", thread_id="thread_b", project=OTHER)
    with store.transaction():
        claimed = store.claim_queued("owner-a", 5, 30)
    assert [(row.project, row.record["run"]["id"]) for row in claimed] == [
        (P, mine),
        (OTHER, theirs),
    ]
    assert store.renew("owner-a", [mine, theirs], 30) == {mine: "queued", theirs: "queued"}
    store.lapse("owner-a")
    with store.transaction():
        assert [(row.project, row.thread_id) for row in store.lapsed()] == [
            (P, "thread_1"),
            (OTHER, "thread_b"),
        ]
    with store.transaction():
        store.insert(
            "run", "run_due", record("run_due", "requires_action", 100), "thread_b", project=OTHER
        )
        assert [(row.project, row.record["run"]["id"]) for row in store.due(200)] == [
            (OTHER, "run_due")
        ]


def test_an_idempotency_key_of_one_project_is_another_key_in_another(store: Store) -> None:
    with store.transaction():
        assert store.claim_key(KEY, "owner-a", 30, project=P) is None
    store.keep_key(KEY, 200, {}, '{"id": "thread_a"}', project=P)
    with store.transaction():
        assert store.claim_key(KEY, "owner-b", 0.0, project=OTHER) is None
    # Another project's hold is neither renewed, dropped nor answered by this one.
    store.renew_keys("owner-b", [KEY], 60, project=P)
    assert not store.drop_key(KEY, "owner-b", project=P)
    with store.transaction():
        pending = store.claim_key(KEY, "owner-c", 30, project=OTHER)
    assert pending is not None and pending.pending and pending.lapsed
    store.keep_key(KEY, 201, {}, '{"id": "thread_b"}', project=OTHER)
    with store.transaction():
        mine = store.claim_key(KEY, "owner-c", 30, project=P)
        theirs = store.claim_key(KEY, "owner-c", 30, project=OTHER)
    assert mine is not None and (mine.status, mine.body) == (200, '{"id": "thread_a"}')
    assert theirs is not None and (theirs.status, theirs.body) == (201, '{"id": "thread_b"}')


# -- schema versions ------------------------------------------------------------------------------


def test_a_new_database_gets_the_current_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore(str(path)).close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_a_schema_of_a_newer_server_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaError, match=f"schema version {SCHEMA_VERSION + 1}.*newer server"):
        open_store(str(path))


LEGACY_SCHEMA = """
CREATE TABLE objects (
    kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL, seq INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (kind, id)
);
CREATE TABLE sequence (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def test_a_file_of_the_servers_before_versions_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    waiting = {"run": {"id": "run_1", "status": "requires_action", "expires_at": 100}, "state": {}}
    kept = {"status": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
    with sqlite3.connect(path) as db:
        db.executescript(LEGACY_SCHEMA)
        rows = [
            ("thread", "thread_1", "", 1, '{"id": "thread_1"}'),
            ("message", "msg_1", "thread_1", 2, '{"id": "msg_1"}'),
            ("message", "msg_2", "thread_1", 4, '{"id": "msg_2"}'),
            ("tombstone", "msg_gone", "", 3, "{}"),
            ("run", "run_1", "thread_1", 5, json.dumps(waiting)),
            ("idempotency", "POST /v1/threads k", "", 6, json.dumps(kept)),
        ]
        db.executemany("INSERT INTO objects VALUES (?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO sequence VALUES ('seq', 6)")
    store = SqliteStore(str(path))
    try:
        assert ids(store.children("message", "thread_1", project=SHARED)) == ["msg_1", "msg_2"]
        found, _ = store.page(
            "message", "thread_1", limit=5, ascending=True, after="msg_gone", project=SHARED
        )
        assert ids(found) == ["msg_2"]
        with store.transaction():
            assert [row.record["run"]["id"] for row in store.due(200)] == ["run_1"]
            answer = store.claim_key("POST /v1/threads k", "owner-a", 30, project=SHARED)
        assert answer is not None and (answer.status, answer.body) == (200, "{}")
        store.insert("message", "msg_3", {"id": "msg_3"}, "thread_1", project=SHARED)
        assert ids(store.children("message", "thread_1", project=SHARED)) == [
            "msg_1",
            "msg_2",
            "msg_3",
        ]
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    store = SqliteStore(str(path))
    try:
        # What was stored before projects is the shared namespace's.
        assert store.get("thread", "thread_1", project=P) is None
        with store.transaction():
            assert store.claim_key("POST /v1/threads k", "owner-a", 30, project=P) is None
    finally:
        store.close()


def test_a_file_of_the_servers_before_projects_is_upgraded_into_the_shared_namespace(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        for version in (1, 2):
            for statement in SQLITE_DIALECT.migrations[version]:
                db.execute(statement)
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (2)")
        db.executemany(
            "INSERT INTO objects (kind, id, parent, seq, data) VALUES (?, ?, ?, ?, ?)",
            [
                ("assistant", "asst_1", "", 1, '{"id": "asst_1"}'),
                ("thread", "thread_1", "", 2, '{"id": "thread_1"}'),
                ("message", "msg_1", "thread_1", 3, '{"id": "msg_1"}'),
                ("tombstone", "msg_gone", "", 4, "{}"),
                ("message", "msg_2", "thread_1", 5, '{"id": "msg_2"}'),
            ],
        )
        db.execute("UPDATE sequence SET value = 5")
        db.execute(
            "INSERT INTO idempotency_keys (key, status, headers, body) VALUES (?, ?, ?, ?)",
            ("POST /v1/threads k", 200, "{}", '{"id": "thread_1"}'),
        )
    store = SqliteStore(str(path))
    try:
        found, _ = store.page(
            "message", "thread_1", project=SHARED, limit=5, ascending=True, after="msg_gone"
        )
        assert ids(found) == ["msg_2"]
        assert ids(store.children("assistant", project=SHARED)) == ["asst_1"]
        assert store.children("assistant", project=P) == []
        assert store.get("thread", "thread_1", project=P) is None
        with pytest.raises(UnknownCursor):
            store.page("message", "thread_1", project=P, limit=5, ascending=True, after="msg_gone")
        with store.transaction():
            kept = store.claim_key("POST /v1/threads k", "owner-a", 30, project=SHARED)
            assert store.claim_key("POST /v1/threads k", "owner-a", 30, project=P) is None
        assert kept is not None and kept.body == '{"id": "thread_1"}'
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_sqlite_syncs_every_commit_under_wal(tmp_path: Path) -> None:
    """``synchronous=FULL``: what the server answered for survives a power loss (``NORMAL``
    may roll the last transactions back; ``make bench`` row 19 measures the cost)."""
    made = SqliteStore(str(tmp_path / "state.db"))
    try:
        with made.transaction():
            made.insert("thread", "thread_1", {"id": "thread_1"}, project="")
        connection = made._connection()
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        made.close()
