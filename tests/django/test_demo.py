"""`make django-demo` (examples/django_chat/run_demo.py): the site on Django's development
server and the emulator, answering a chat and a stream, and stopping both on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests

from bench.common import first_answer, first_line, free_port, running
from bench.django_site import User, weather_question, weather_reply
from tests.django.conftest import EXAMPLE, ROOT

WAIT = 30.0  # seconds: a bound on a hang, not a speed claim


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

        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=WAIT)

    assert emulator_line.startswith("make django-demo: emulator at http://127.0.0.1:")
    assert page.status_code == 200
    assert "EventSource" in page.text
    assert (chat.status, chat.text) == (200, weather_reply("Oslo"))
    assert (streamed.text, streamed.run_status) == ("You said: show me the stream", "completed")
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
