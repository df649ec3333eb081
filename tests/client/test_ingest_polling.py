"""Waiting for files to be processed: the poll plan, its helpers, and concurrent uploads.

The plan is tested alone (it does no I/O of its own: a test carries its steps out by hand),
then through the client against a scripted loopback server. Time is a fake clock in the client's
RetryPolicy, so deadlines are exact and nothing really sleeps; one test uses real time for a
poll that the deadline cuts in the middle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from assistants_client import (
    APITimeoutError,
    AssistantsClient,
    BadRequestError,
    InvalidArgumentError,
    PollTimeoutError,
    RetryPolicy,
)
from assistants_client._exceptions import InternalServerError
from assistants_client._plan import Blocking, Plan, Sleep
from assistants_client._runs import Waiting, poll_plan
from assistants_client._transport import CallOptions
from assistants_client.models import VectorStoreFile, VectorStoreFileBatch
from tests import payloads
from tests.servers.scripted import RecordedRequest, Reply, ScriptedServer

from .conftest import API_KEY

VS_FILE_PATH = "/v1/vector_stores/vs_1/files/file-1"
BATCH_PATH = "/v1/vector_stores/vs_1/file_batches/vsfb_1"


class FakeClock:
    """Wall-clock seconds that move only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(server: ScriptedServer, clock: FakeClock) -> Iterator[AssistantsClient]:
    policy = RetryPolicy(sleep=clock.sleep, clock=clock.time, random=lambda: 0.0)
    with AssistantsClient(API_KEY, base_url=server.base_url, retry_policy=policy) as made:
        yield made


def vs_file(status: str, **extra: Any) -> dict[str, Any]:
    return payloads.vector_store_file(status=status, **extra)


def batch(status: str, **counts: int) -> dict[str, Any]:
    return payloads.file_batch(status=status, file_counts=payloads.file_counts(**counts))


def after(ms: int) -> dict[str, str]:
    return {"openai-poll-after-ms": str(ms)}


# -- the plan alone ------------------------------------------------------------------------------


@attrs.frozen
class Answer:
    """What a poll plan reads of an answer."""

    body: dict[str, Any]
    headers: dict[str, str] = attrs.field(factory=dict)
    url: str = "http://x/v1/y"
    status_code: int = 200
    request_id: str | None = None


class StubTransport:
    """A transport whose every request is one Blocking step: the test sends its answer."""

    def __init__(self, clock: FakeClock) -> None:
        self.policy = RetryPolicy(clock=clock.time)
        self.options: list[CallOptions] = []

    def request_plan(self, method: str, path: str, *, options: CallOptions) -> Plan[Answer]:
        self.options.append(options)
        answer: Answer = yield Blocking(lambda: None)
        return answer


def stub_plan(
    clock: FakeClock,
    *,
    done: bool = False,
    deadline: float = 10.0,
    first: Answer | None = None,
) -> tuple[StubTransport, Plan[dict[str, Any]]]:
    transport = StubTransport(clock)
    waiting: Waiting[dict[str, Any]] = Waiting(
        "file f", lambda o: str(o["status"]), deadline, clock.now + deadline
    )
    plan = poll_plan(
        transport,  # type: ignore[arg-type]
        "/y",
        parse=lambda answer: answer.body,
        is_done=lambda o: done or o["status"] != "in_progress",
        waiting=waiting,
        poll_interval=1.0,
        first=(first.body, first) if first is not None else None,  # type: ignore[arg-type]
    )
    return transport, plan


def test_the_poll_plan_waits_as_the_server_asks_and_returns_the_done_object(
    clock: FakeClock,
) -> None:
    created = Answer({"status": "in_progress"}, {"openai-poll-after-ms": "250"})
    transport, plan = stub_plan(clock, first=created)
    assert next(plan) == Sleep(0.25)  # the server's hint wins over poll_interval
    clock.now += 0.25
    assert isinstance(plan.send(None), Blocking)
    (options,) = transport.options
    assert options.timeout is not None and options.timeout.read == pytest.approx(9.75)
    assert plan.send(Answer({"status": "in_progress"})) == Sleep(1.0)
    clock.now += 1.0
    assert isinstance(plan.send(None), Blocking)
    with pytest.raises(StopIteration) as finished:
        plan.send(Answer({"status": "cancelled"}))
    assert finished.value.value == {"status": "cancelled"}


def test_the_poll_plan_raises_at_the_deadline_with_the_last_object(clock: FakeClock) -> None:
    _, plan = stub_plan(clock, deadline=1.5, first=Answer({"status": "in_progress", "n": 1}))
    assert next(plan) == Sleep(1.0)
    clock.now += 1.0
    assert isinstance(plan.send(None), Blocking)
    # The next wait would end past the deadline: it is not waited for.
    with pytest.raises(PollTimeoutError) as caught:
        plan.send(Answer({"status": "in_progress", "n": 2}))
    assert caught.value.last == {"status": "in_progress", "n": 2}
    assert "file f is still in_progress after 1.5s" in str(caught.value)


def test_a_poll_cut_by_the_deadline_becomes_the_plans_timeout(clock: FakeClock) -> None:
    _, plan = stub_plan(clock, deadline=5)
    assert isinstance(next(plan), Blocking)
    clock.now += 5
    with pytest.raises(PollTimeoutError) as caught:
        plan.throw(APITimeoutError("read timed out", url="http://x/v1/y"))
    assert caught.value.last is None and caught.value.url == "http://x/v1/y"
    assert "not yet seen" in str(caught.value)
    assert isinstance(caught.value.__cause__, APITimeoutError)


def test_a_poll_that_times_out_before_the_deadline_is_not_the_plans_to_hide(
    clock: FakeClock,
) -> None:
    _, plan = stub_plan(clock, done=True, deadline=5)
    next(plan)
    with pytest.raises(APITimeoutError) as caught:
        plan.throw(APITimeoutError("connect timed out"))
    assert not isinstance(caught.value, PollTimeoutError)


# -- vector store files -----------------------------------------------------------------------


def test_a_vector_store_file_is_polled_as_the_server_asks_until_it_is_processed(
    client: AssistantsClient, server: ScriptedServer, clock: FakeClock
) -> None:
    server.enqueue(
        Reply.json(vs_file("in_progress"), headers=after(250)),
        Reply.json(vs_file("in_progress"), headers=after(100)),
        Reply.json(vs_file("in_progress")),
        Reply.json(vs_file("completed", usage_bytes=1045)),
    )
    done = client.create_vector_store_file_and_poll(
        "vs_1", "file-1", attributes={"team": "ops"}, poll_interval=0.7
    )
    assert isinstance(done, VectorStoreFile)
    assert (done.status, done.usage_bytes) == ("completed", 1045)
    assert clock.sleeps == [0.25, 0.1, 0.7]
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", "/v1/vector_stores/vs_1/files"),
        ("GET", VS_FILE_PATH),
        ("GET", VS_FILE_PATH),
        ("GET", VS_FILE_PATH),
    ]
    assert server.requests[0].json() == {"file_id": "file-1", "attributes": {"team": "ops"}}


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "a_future_status"])
def test_polling_stops_at_any_status_but_in_progress(
    client: AssistantsClient, server: ScriptedServer, status: str
) -> None:
    error = {"code": "unsupported_file", "message": "no parser for .bin"}
    last = vs_file(status, last_error=error if status == "failed" else None)
    server.enqueue(Reply.json(vs_file("in_progress")), Reply.json(last))
    done = client.create_vector_store_file_and_poll("vs_1", "file-1")
    assert done.status == status
    assert server.request_count == 2
    if status == "failed":
        assert done.last_error is not None and done.last_error.code == "unsupported_file"


def test_a_file_done_at_once_is_not_polled(
    client: AssistantsClient, server: ScriptedServer, clock: FakeClock
) -> None:
    server.enqueue(Reply.json(vs_file("completed")))
    assert client.create_vector_store_file_and_poll("vs_1", "file-1").status == "completed"
    assert server.request_count == 1 and clock.sleeps == []


def test_a_stuck_file_ends_at_the_deadline_with_the_file_as_last_seen(
    client: AssistantsClient, server: ScriptedServer, clock: FakeClock
) -> None:
    server.default = lambda request: Reply.json(vs_file("in_progress", usage_bytes=7))
    started = clock.now
    with pytest.raises(PollTimeoutError) as caught:
        client.create_vector_store_file_and_poll("vs_1", "file-1", timeout=3, poll_interval=1)
    error = caught.value
    assert isinstance(error, APITimeoutError)
    assert isinstance(error.last, VectorStoreFile) and error.last.usage_bytes == 7
    assert "vector store file file-1 is still in_progress after 3s" in str(error)
    assert clock.now - started < 3  # no wait that would overrun the deadline was begun
    assert server.request_count == 3  # the create, then a poll after each of two waits


def test_wait_for_vector_store_file_polls_an_existing_file(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(vs_file("in_progress")), Reply.json(vs_file("cancelled")))
    assert client.wait_for_vector_store_file("vs_1", "file-1").status == "cancelled"
    assert [r.path for r in server.requests] == [VS_FILE_PATH, VS_FILE_PATH]


def test_a_poll_cut_in_the_middle_by_the_deadline_raises_within_it(
    server: ScriptedServer,
) -> None:
    server.enqueue(
        Reply.json(vs_file("in_progress")),
        Reply.json(vs_file("completed"), delay=3.0),  # answers after the deadline
    )
    with AssistantsClient(API_KEY, base_url=server.base_url) as client:
        started = time.monotonic()
        with pytest.raises(PollTimeoutError) as caught:
            client.create_vector_store_file_and_poll(
                "vs_1", "file-1", timeout=0.6, poll_interval=0.05
            )
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert isinstance(caught.value.last, VectorStoreFile)
    assert caught.value.last.status == "in_progress"


@pytest.mark.parametrize(("name", "value"), [("timeout", -1), ("poll_interval", float("nan"))])
def test_bad_wait_settings_are_refused_before_anything_is_sent(
    client: AssistantsClient, server: ScriptedServer, name: str, value: float
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_vector_store_file_and_poll("vs_1", "file-1", **{name: value})
    assert caught.value.param == name and server.request_count == 0


# -- file batches -------------------------------------------------------------------------------


def test_a_file_batch_is_polled_until_done_and_says_how_many_failed(
    client: AssistantsClient, server: ScriptedServer, clock: FakeClock
) -> None:
    server.enqueue(
        Reply.json(batch("in_progress", in_progress=4)),
        Reply.json(batch("in_progress", in_progress=1, completed=3), headers=after(50)),
        Reply.json(batch("completed", completed=3, failed=1)),
    )
    done = client.create_file_batch_and_poll("vs_1", file_ids=["f1", "f2", "f3", "f4"])
    assert isinstance(done, VectorStoreFileBatch)
    counts = done.file_counts
    assert (done.status, counts.completed, counts.failed, counts.total) == ("completed", 3, 1, 4)
    assert clock.sleeps == [0.5, 0.05]
    assert [r.path for r in server.requests[1:]] == [BATCH_PATH, BATCH_PATH]


def test_a_cancelled_batch_is_done(client: AssistantsClient, server: ScriptedServer) -> None:
    server.enqueue(
        Reply.json(batch("in_progress", in_progress=2)),
        Reply.json(batch("cancelled", cancelled=1, completed=1)),
    )
    done = client.create_file_batch_and_poll("vs_1", files=[{"file_id": "f1"}, {"file_id": "f2"}])
    assert done.status == "cancelled" and server.request_count == 2


def test_a_stuck_batch_ends_at_the_deadline_with_its_counts(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.default = lambda request: Reply.json(batch("in_progress", in_progress=1, completed=2))
    with pytest.raises(PollTimeoutError) as caught:
        client.create_file_batch_and_poll("vs_1", file_ids=["f1", "f2", "f3"], timeout=2)
    assert isinstance(caught.value.last, VectorStoreFileBatch)
    message = str(caught.value)
    assert (
        "file batch vsfb_1 is still in_progress (2 completed, 0 failed, 1 in progress of 3 "
        "files) after 2s"
    ) in message


def test_wait_for_file_batch_polls_an_existing_batch(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.enqueue(Reply.json(batch("completed", completed=2)))
    assert client.wait_for_file_batch("vs_1", "vsfb_1").status == "completed"
    assert server.requests[0].path == BATCH_PATH


def test_wait_for_run_raises_the_same_deadline_error_with_the_run_as_last_seen(
    client: AssistantsClient, server: ScriptedServer
) -> None:
    server.default = lambda request: Reply.json(payloads.run(status="in_progress"))
    with pytest.raises(PollTimeoutError) as caught:
        client.wait_for_run("thread_1", "run_1", timeout=1.2, poll_interval=0.5)
    assert caught.value.last is not None and caught.value.last.status == "in_progress"
    assert "run run_1 is still in_progress after 1.2s" in str(caught.value)


# -- uploading many files -----------------------------------------------------------------------


class UploadServer:
    """Answers uploads with increasing ids, counting how many are in flight at once."""

    def __init__(self, server: ScriptedServer, fail_at: int | None = None) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.count = 0
        self.fail_at = fail_at
        server.route("POST", r"/v1/files", self.upload)
        server.route("DELETE", r"/v1/files/[^/]+", self.delete)

    def upload(self, request: RecordedRequest) -> Reply:
        with self.lock:
            self.count += 1
            number = self.count
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(0.05)
        with self.lock:
            self.in_flight -= 1
        if number == self.fail_at:
            return Reply.error(400, "File is not valid UTF-8", param="file")
        name = request.body.split(b'filename="')[1].split(b'"')[0].decode()
        return Reply.json(payloads.file(f"file-{name}", filename=name))

    def delete(self, request: RecordedRequest) -> Reply:
        file_id = request.path.rsplit("/", 1)[1]
        return Reply.json(payloads.deleted(file_id, "file"))


def paths(tmp_path: Path, count: int) -> list[Path]:
    found = []
    for index in range(count):
        path = tmp_path / f"doc{index}.txt"
        path.write_text(f"document {index}\n", encoding="utf-8")
        found.append(path)
    return found


def test_files_are_uploaded_at_most_max_concurrency_at_a_time_then_batched_in_order(
    client: AssistantsClient, server: ScriptedServer, tmp_path: Path
) -> None:
    uploads = UploadServer(server)
    server.route(
        "POST",
        r"/v1/vector_stores/vs_1/file_batches",
        Reply.json(batch("in_progress", in_progress=6)),
    )
    server.route("GET", BATCH_PATH, Reply.json(batch("completed", completed=6)))
    done = client.upload_files_and_poll(
        "vs_1", paths(tmp_path, 6), max_concurrency=2, attributes={"team": "ops"}
    )
    assert done.status == "completed"
    assert uploads.count == 6 and uploads.most == 2
    (created,) = [r for r in server.requests if r.path.endswith("/file_batches")]
    assert created.json() == {
        "file_ids": [f"file-doc{i}.txt" for i in range(6)],
        "attributes": {"team": "ops"},
    }
    sent = [r for r in server.requests if r.path == "/v1/files"]
    assert all(b'name="purpose"\r\n\r\nassistants\r\n' in r.body for r in sent)


def test_when_an_upload_fails_the_uploaded_files_are_deleted_and_no_batch_is_made(
    client: AssistantsClient, server: ScriptedServer, tmp_path: Path
) -> None:
    uploads = UploadServer(server, fail_at=3)
    with pytest.raises(BadRequestError, match="not valid UTF-8"):
        client.upload_files_and_poll("vs_1", paths(tmp_path, 8), max_concurrency=1)
    assert uploads.count == 3  # none was started after the failure
    deleted = sorted(r.path for r in server.requests if r.method == "DELETE")
    assert deleted == ["/v1/files/file-doc0.txt", "/v1/files/file-doc1.txt"]
    assert not any("file_batches" in r.path for r in server.requests)


def test_when_the_batch_cannot_be_made_the_uploaded_files_are_deleted(
    client: AssistantsClient, server: ScriptedServer, tmp_path: Path
) -> None:
    UploadServer(server)
    server.route("POST", r"/v1/vector_stores/vs_1/file_batches", Reply.error(500, "down"))
    with pytest.raises(InternalServerError):
        client.upload_files_and_poll("vs_1", paths(tmp_path, 2))
    deleted = sorted(r.path for r in server.requests if r.method == "DELETE")
    assert deleted == ["/v1/files/file-doc0.txt", "/v1/files/file-doc1.txt"]


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"files": []}, "files"),
        ({"files": "doc.txt"}, "files"),
        ({"files": ["missing.txt"]}, "files[0]"),
        ({"files": [b"bytes without a name"]}, "filename"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 65}, "max_concurrency"),
        ({"attributes": {f"k{i}": 1 for i in range(17)}}, "attributes"),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 51},
                }
            },
            "chunking_strategy",
        ),
        ({"vector_store_id": "../vs"}, "vector_store_id"),
        ({"timeout": "soon"}, "timeout"),
    ],
)
def test_bad_upload_arguments_are_refused_before_any_upload(
    client: AssistantsClient,
    server: ScriptedServer,
    tmp_path: Path,
    arguments: dict[str, Any],
    param: str,
) -> None:
    call: dict[str, Any] = {"vector_store_id": "vs_1", "files": paths(tmp_path, 2), **arguments}
    if call["files"] and isinstance(call["files"], list) and call["files"][0] == "missing.txt":
        call["files"] = [str(tmp_path / "missing.txt")]
    with pytest.raises(InvalidArgumentError) as caught:
        client.upload_files_and_poll(**call)
    assert caught.value.param == param, caught.value
    assert server.request_count == 0


def test_more_files_than_a_batch_takes_are_refused_before_any_upload(
    client: AssistantsClient, server: ScriptedServer, tmp_path: Path
) -> None:
    one = paths(tmp_path, 1)[0]
    with pytest.raises(InvalidArgumentError, match="at most 2000 files"):
        client.upload_files_and_poll("vs_1", [one] * 2001)
    assert server.request_count == 0
