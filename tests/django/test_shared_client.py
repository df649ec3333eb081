"""One client shared by every thread of a web process: nothing of one user's call reaches
another's (cookies, tokens), the connection pool holds under more callers than connections,
and errors say what a view should answer.

Loopback servers only: a scripted server that records every request (and the client port it
came from, so the connections opened can be counted), and the emulator.
"""

from __future__ import annotations

import dataclasses
import itertools
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from assistants_client import (
    ActiveRunError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AssistantsClient,
    BadRequestError,
    InvalidArgumentError,
    RetryPolicy,
)
from assistants_client.emulator import Emulator, Timing
from tests import payloads
from tests.servers.scripted import RecordedRequest, Reply, ScriptedServer

WAIT = 10.0  # seconds: a bound on a hang, not a speed claim
NO_SLEEP = RetryPolicy(sleep=lambda seconds: None, random=lambda: 0.0)


def run_threads(count: int, work: Any) -> list[Any]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count)))


# -- cookies ---------------------------------------------------------------------------------


def test_a_cookie_set_on_one_users_call_is_never_sent_on_another() -> None:
    with ScriptedServer() as server:
        server.route(
            "GET",
            "/v1/threads/thread_a",
            Reply.json(
                payloads.thread("thread_a"),
                headers={"Set-Cookie": "session=user-a-private; Path=/; Max-Age=3600"},
            ),
        )
        server.route("GET", r"/v1/threads/thread_\d+", lambda r: Reply.json(payloads.thread()))
        client = AssistantsClient(base_url=server.base_url)
        client.get_thread("thread_a")

        def user(number: int) -> None:
            for _ in range(10):
                client.get_thread(f"thread_{number}")
            client.get_thread("thread_a")

        run_threads(16, user)
        requests = list(server.requests)

    assert len(requests) == 1 + 16 * 11
    carrying = [r.path for r in requests if r.headers.get("Cookie")]
    assert carrying == []


# -- redaction of rotating tokens ------------------------------------------------------------


def test_every_token_of_a_provider_rotating_on_each_call_is_redacted_under_many_threads() -> None:
    counter = itertools.count()
    counter_lock = threading.Lock()

    def provider() -> str:
        with counter_lock:
            return f"tok-{next(counter):06d}-secret"

    def echo_token(request: RecordedRequest) -> Reply:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        # Every tenth answer is slow, so that the other threads rotate through many more
        # tokens than the provider's record of recent tokens holds before it is read.
        slow = int(token[4:10]) % 10 == 0
        answer = Reply.error(400, f"token {token} is not valid here", param=token)
        return dataclasses.replace(answer, delay=0.2 if slow else 0.0)

    with ScriptedServer() as server:
        server.default = echo_token
        client = AssistantsClient.for_foundry(
            server.url + "/api/projects/demo", token_provider=provider, max_retries=0
        )

        def user(number: int) -> list[str]:
            seen = []
            for _ in range(20):
                with pytest.raises(BadRequestError) as caught:
                    client.get_thread(f"thread_{number}")
                error = caught.value
                seen.append(
                    " ".join(
                        [
                            str(error),
                            repr(error),
                            error.body or "",
                            str(error.error),
                            str(error.safe_body()),
                        ]
                    )
                )
            return seen

        texts = [text for texts in run_threads(48, user) for text in texts]

    assert len(texts) == 48 * 20
    assert next(counter) == 48 * 20  # one token per call: every call rotated it
    leaked = [text for text in texts if "-secret" in text]
    assert leaked == []
    assert all("<redacted>" in text for text in texts)


# -- the connection pool ---------------------------------------------------------------------


def test_more_callers_than_the_pool_holds_reuse_its_connections() -> None:
    with ScriptedServer() as server:
        server.route(
            "GET", r"/v1/threads/\w+", lambda r: Reply.json(payloads.thread(), delay=0.005)
        )
        client = AssistantsClient(base_url=server.base_url, pool_maxsize=4)

        def user(number: int) -> int:
            for _ in range(20):
                client.get_thread(f"thread_{number}")
            return 20

        done = sum(run_threads(32, user))
        connections = {request.client_port for request in server.requests}

    assert done == 32 * 20
    assert len(connections) <= 4


def test_a_call_waits_for_a_pooled_connection_at_most_its_connect_timeout() -> None:
    with ScriptedServer() as server:
        server.route("GET", "/v1/threads/slow", Reply.json(payloads.thread(), delay=3.0))
        server.route("GET", "/v1/threads/quick", Reply.json(payloads.thread()))
        client = AssistantsClient(
            base_url=server.base_url, pool_maxsize=1, max_retries=0, retry_policy=NO_SLEEP
        )
        holder = threading.Thread(target=client.get_thread, args=("slow",))
        holder.start()
        while server.request_count == 0:
            time.sleep(0.01)

        with pytest.raises(APITimeoutError) as caught:
            client.get_thread("quick", timeout=(0.2, 30.0))
        still_holding = holder.is_alive()
        holder.join(WAIT)

    assert "pool" in str(caught.value)
    assert still_holding  # it gave up before the connection came free
    assert [r.path for r in server.requests] == ["/v1/threads/slow"]


@pytest.mark.parametrize("size", [0, -1, True, 2.5, "8"])
def test_a_bad_pool_size_is_refused_before_anything_is_sent(size: Any) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        AssistantsClient(base_url="http://127.0.0.1:9/v1", pool_maxsize=size)

    assert caught.value.param == "pool_maxsize"


# -- the emulator's listen queue -------------------------------------------------------------


def test_the_emulator_queues_48_connections_it_has_not_accepted_yet() -> None:
    """With the emulator stopped (SIGSTOP), the kernel completes only as many handshakes as
    its listen queue holds; Python's default of 5 leaves the others retrying SYN for seconds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "assistants_client.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    sockets: list[socket.socket] = []
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        port = int(base_url.rsplit(":", 1)[1].split("/", 1)[0])
        process.send_signal(signal.SIGSTOP)
        with selectors.DefaultSelector() as selector:
            for _ in range(48):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", port))
                selector.register(sock, selectors.EVENT_WRITE)
                sockets.append(sock)
            connected = set()
            deadline = time.monotonic() + 3.0
            while len(connected) < len(sockets) and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        connected.add(sock)
                    selector.unregister(key.fileobj)
        process.send_signal(signal.SIGCONT)
        for sock in sockets:
            sock.setblocking(True)
            sock.settimeout(WAIT)
            sock.sendall(b"GET /v1/assistants HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = [sock.recv(9) for sock in sockets]
    finally:
        process.send_signal(signal.SIGCONT)
        for sock in sockets:
            sock.close()
        process.terminate()
        process.wait(WAIT)

    assert len(connected) == 48
    assert answers == [b"HTTP/1.1 "] * 48


# -- a thread with an active run ---------------------------------------------------------------


def test_a_busy_thread_is_an_active_run_error_naming_the_run_and_waiting_frees_it() -> None:
    with Emulator(timing=Timing(stream_interval=0.01)) as emu:
        client = AssistantsClient(base_url=emu.base_url)
        assistant = client.create_assistant("gpt-4o")
        thread = client.create_thread()
        emu.script.queue_delay(0.5)
        run = client.create_run(thread.id, assistant.id)

        with pytest.raises(ActiveRunError) as on_message:
            client.create_message(thread.id, "user", "am I too early?")
        with pytest.raises(ActiveRunError) as on_run:
            client.create_run(thread.id, assistant.id)
        error = on_message.value
        cancelled = client.cancel_run(error.thread_id or "", error.run_id or "")
        ended = client.wait_for_run(thread.id, run.id, timeout=WAIT, poll_interval=0.02)
        client.create_message(thread.id, "user", "now?")

    assert isinstance(error, BadRequestError)
    assert (error.thread_id, error.run_id) == (thread.id, run.id)
    assert (on_run.value.thread_id, on_run.value.run_id) == (thread.id, run.id)
    assert cancelled.id == run.id
    assert ended.status == "cancelled"
    assert error.http_status == 409
    assert error.safe_body()["error"]["code"] == "thread_has_active_run"


@pytest.mark.parametrize(
    ("message", "thread_id", "run_id"),
    [
        (
            "Thread thread_CPVZx74fS5K632dyhbeFDXGr already has an active run "
            "run_nuUSpZ5d4fwV7GAPR2Khrcv6.",
            "thread_CPVZx74fS5K632dyhbeFDXGr",
            "run_nuUSpZ5d4fwV7GAPR2Khrcv6",
        ),
        (
            "Can't add messages to thread_jD1dj44APTovq48PCBZACOGV while a run "
            "run_KfVG8fSJg882VHYeewFQ2BHk is active.",
            "thread_jD1dj44APTovq48PCBZACOGV",
            "run_KfVG8fSJg882VHYeewFQ2BHk",
        ),
    ],
)
def test_the_live_apis_wording_of_a_busy_thread_is_an_active_run_error(
    message: str, thread_id: str, run_id: str
) -> None:
    with ScriptedServer() as server:
        server.enqueue(Reply.error(400, message, type="invalid_request_error"))
        client = AssistantsClient(base_url=server.base_url)
        with pytest.raises(ActiveRunError) as caught:
            client.create_message(thread_id, "user", "hello")

    assert (caught.value.thread_id, caught.value.run_id) == (thread_id, run_id)


def test_another_400_stays_a_plain_bad_request() -> None:
    with ScriptedServer() as server:
        server.enqueue(Reply.error(400, "Invalid value for 'role'.", param="role"))
        client = AssistantsClient(base_url=server.base_url)
        with pytest.raises(BadRequestError) as caught:
            client.create_message("thread_1", "user", "hello")

    assert type(caught.value) is BadRequestError
    assert caught.value.http_status == 400
    assert caught.value.safe_body()["error"]["param"] == "role"


# -- what a view answers -----------------------------------------------------------------------

SECRET = "sk-view-test-0123456789-DO-NOT-LEAK"


@pytest.mark.parametrize(
    ("status", "view_status", "passed_on"),
    [
        (400, 400, True),
        (401, 502, False),
        (403, 502, False),
        (404, 404, True),
        (409, 409, True),
        (422, 422, True),
        (429, 503, False),
        (500, 502, False),
        (503, 502, False),
    ],
)
def test_each_status_error_says_what_a_view_answers(
    status: int, view_status: int, passed_on: bool
) -> None:
    message = f"the service says no (key {SECRET})"
    with ScriptedServer() as server:
        server.enqueue(Reply.error(status, message, code="some_code"))
        client = AssistantsClient(
            base_url=server.base_url, api_key=SECRET, max_retries=0, retry_policy=NO_SLEEP
        )
        with pytest.raises(APIError) as caught:
            client.get_thread("thread_1")

    body = caught.value.safe_body()
    assert caught.value.http_status == view_status
    assert SECRET not in str(body)
    assert ("the service says no" in body["error"]["message"]) is passed_on
    assert body["error"]["type"] == ("invalid_request_error" if passed_on else "upstream_error")


def test_connection_failures_and_timeouts_are_502_and_504() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    refused = AssistantsClient(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(APIConnectionError) as caught_refused:
        refused.get_thread("thread_1")
    with ScriptedServer() as server:
        server.enqueue(Reply.json(payloads.thread(), delay=2.0))
        slow = AssistantsClient(base_url=server.base_url, max_retries=0, timeout=(1.0, 0.2))
        with pytest.raises(APITimeoutError) as caught_slow:
            slow.get_thread("thread_1")

    assert caught_refused.value.http_status == 502
    assert caught_slow.value.http_status == 504
    for error in (caught_refused.value, caught_slow.value):
        assert "127.0.0.1" not in str(error.safe_body())


def test_a_bad_argument_is_a_400_naming_the_parameter() -> None:
    client = AssistantsClient(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(InvalidArgumentError) as caught:
        client.get_thread("../assistants")

    assert caught.value.http_status == 400
    assert caught.value.safe_body()["error"]["param"] == "thread_id"


# -- Django stays out of the core ------------------------------------------------------------


def test_importing_the_library_does_not_import_django() -> None:
    code = (
        "import sys, assistants_client, assistants_client.emulator\n"
        "from assistants_client import AssistantsClient\n"
        "AssistantsClient(base_url='http://127.0.0.1:9/v1')\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"


# -- the reply with the run ------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_a_run_comes_back_with_its_reply_streamed_or_polled(stream: bool) -> None:
    def get_weather(city: str) -> dict[str, Any]:
        return {"city": city, "sky": "clear"}

    with Emulator() as emu:
        client = AssistantsClient(base_url=emu.base_url)
        assistant = client.create_assistant("gpt-4o", tools=[payloads.WEATHER_TOOL])
        thread = client.create_thread()
        client.create_message(thread.id, "user", "What is the weather in Oslo? Use get_weather.")
        emu.reset_requests()

        reply = client.run_and_get_reply(
            thread.id, assistant.id, {"get_weather": get_weather}, stream=stream, poll_interval=0.02
        )
        listings = [r for r in emu.requests if r.method == "GET" and r.path.endswith("/messages")]
        client.create_message(thread.id, "user", "Thanks, that is all.")
        plain = client.run_and_get_reply(thread.id, assistant.id, stream=stream, poll_interval=0.02)

    assert reply.run.status == "completed"
    assert reply.text == 'get_weather returned: {"city":"Oslo","sky":"clear"}'
    assert [m.role for m in reply.messages] == ["assistant"]
    assert reply.messages[0].run_id == reply.run.id
    assert len(listings) == (0 if stream else 1)
    assert plain.run.status == "completed" and plain.run.id != reply.run.id
    assert plain.text == "You said: Thanks, that is all."
