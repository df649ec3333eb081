"""`make django-demo` (examples/django_chat/run_demo.py): the site on Django's development
server and the emulator, answering a chat and a stream, and stopping both on Ctrl-C, on
SIGTERM, and when `make` is stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bench.common import first_answer, first_line, free_port, running
from bench.django_site import User, weather_question, weather_reply
from tests.django.conftest import EXAMPLE, ROOT

WAIT = 30.0  # seconds: a bound on a hang, not a speed claim


def session_members(session: int) -> list[str]:
    """The command lines of the live processes of a session (a zombie has exited: not one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:  # ended meanwhile
            continue
        # After the command's name in parentheses: state, ppid, pgrp, session...
        state, _, _, sid = stat.rsplit(")", 1)[1].split()[:4]
        if int(sid) == session and state != "Z":
            found.append(command)
    return found


@pytest.mark.parametrize(
    "started_by", ["make", "python"], ids=["make django-demo", "run_demo.py on its own"]
)
def test_the_demo_stopped_with_sigterm_leaves_no_process_behind(started_by: str) -> None:
    port = free_port()
    env = dict(os.environ, DJANGO_DEMO_PORT=str(port), PYTHONPATH=str(ROOT))
    env.pop("OPENAI_BASE_URL", None)
    command = (
        ["make", "--no-print-directory", "django-demo"]
        if started_by == "make"
        else [sys.executable, str(EXAMPLE / "run_demo.py")]
    )
    # A session of its own: every process the demo starts is in it, and nothing else is.
    demo = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert first_line(demo, "make django-demo").startswith("make django-demo: emulator at")
        assert first_answer(demo, f"http://127.0.0.1:{port}/", within=WAIT).status_code == 200
        started = session_members(demo.pid)
        assert any("assistants_client.emulator" in c for c in started), started
        assert any("runserver" in c for c in started), started

        demo.send_signal(signal.SIGTERM)  # to make, or to the script: to that process only
        deadline = time.monotonic() + WAIT
        while session_members(demo.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = session_members(demo.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(timeout=WAIT)
        assert demo.stdout is not None
        demo.stdout.close()
    assert left == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_the_demo_serves_the_chat_page_and_stops_on_ctrl_c() -> None:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEMO_PORT": str(port), "PYTHONPATH": str(ROOT)}
    with running(
        [sys.executable, str(EXAMPLE / "run_demo.py")],
        stop_within=WAIT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as demo:
        emulator_line = first_line(demo, "make django-demo")
        url = f"http://127.0.0.1:{port}"
        page = first_answer(demo, url + "/", within=WAIT)
        user = User(url)
        chat = user.chat(weather_question("Oslo"))
        streamed = user.stream("show me the stream")
        streamed_tool = user.stream(weather_question("Lyon"))

        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=WAIT)

    assert emulator_line.startswith("make django-demo: emulator at http://127.0.0.1:")
    assert page.status_code == 200
    assert "EventSource" in page.text
    assert (chat.status, chat.text) == (200, weather_reply("Oslo"))
    assert (streamed.text, streamed.run_status) == ("You said: show me the stream", "completed")
    # The page's streamed answer calls the tool: the call is shown, then the answer streams.
    (asked,) = [data for name, data in streamed_tool.frames if name == "thread.run.requires_action"]
    (call,) = asked["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Lyon"}'}
    assert (streamed_tool.text, streamed_tool.run_status) == (weather_reply("Lyon"), "completed")
    assert code == 0
    emulator_url = emulator_line.rsplit(" ", 1)[1].strip()
    try:
        requests.get(emulator_url + "/assistants", timeout=2)
        emulator_stopped = False
    except requests.ConnectionError:
        emulator_stopped = True
    assert emulator_stopped


def test_the_emulator_refuses_a_stream_delay_that_is_not_a_sane_number_of_seconds() -> None:
    for value in ("-0.1", "61", "soon"):
        result = subprocess.run(
            [sys.executable, "-m", "assistants_client.emulator", "--stream-delay", value],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert result.returncode == 2
        assert "--stream-delay" in result.stderr
