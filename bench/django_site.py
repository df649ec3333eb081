"""The Django chat example (examples/django_chat) served by gunicorn or uvicorn, and users.

:class:`DjangoSite` starts the emulator's command line (``--stream-delay``) and gunicorn
(``-k gthread``) on the example's WSGI application, or uvicorn on its ASGI application (its
async views), each in a process of its own, on free loopback ports. :class:`User` is what one browser does: it loads the page (its session and
CSRF cookies), then asks through ``/chat`` (an answer with tools, in one response) or
``/send`` + ``/stream`` (the answer as server-sent events, a tool call included), timing
each.

Shared by ``tests/django/test_gunicorn.py`` (are all answers right?) and
``bench/bench_django.py`` (how long did each take?).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from bench.common import ROOT, first_answer, first_line, free_port, running

EXAMPLE = ROOT / "examples" / "django_chat"
START_TIMEOUT = 60.0
CITIES = ("Paris", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Dublin", "Lisbon")


def weather_reply(city: str) -> str:
    """What the example's chat view answers to :func:`weather_question` (its tool's output)."""
    return f'get_weather returned: {{"city":"{city}","temperature_c":18,"sky":"partly cloudy"}}'


def weather_question(city: str) -> str:
    return f"What is the weather in {city}? Use get_weather."


class DjangoSite:
    """The example site on an emulator; ``with DjangoSite() as site:``.

    ``server="gunicorn"`` serves the WSGI application (``threads`` threads per worker);
    ``server="uvicorn"`` the ASGI one, whose views are async (``threads`` unused).
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        threads: int = 24,
        stream_delay: float = 0.001,
        server: Literal["gunicorn", "uvicorn"] = "gunicorn",
    ) -> None:
        self.workers = workers
        self.threads = threads
        self.stream_delay = stream_delay
        self.server = server
        self.emulator: subprocess.Popen[str] | None = None
        self.web_server: subprocess.Popen[str] | None = None
        self._processes = ExitStack()
        self.api_url = ""
        self.url = ""

    def __enter__(self) -> DjangoSite:
        with ExitStack() as started:
            emulator = [
                sys.executable,
                "-m",
                "assistants_client.emulator",
                "--port",
                "0",
                "--stream-delay",
                str(self.stream_delay),
            ]
            self.emulator = started.enter_context(
                running(emulator, stop_within=15, stdout=subprocess.PIPE)
            )
            self.api_url = first_line(self.emulator, "the emulator")
            if not self.api_url.startswith("http"):
                raise RuntimeError(f"the emulator did not start: {self.api_url!r}")
            port = free_port()
            asgi = self.server == "uvicorn"
            env = dict(
                os.environ,
                OPENAI_BASE_URL=self.api_url,
                DJANGO_SETTINGS_MODULE="chat_site.settings_asgi" if asgi else "chat_site.settings",
                PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            )
            env.pop("OPENAI_API_KEY", None)
            command = self._uvicorn(port) if asgi else self._gunicorn(port)
            self.web_server = started.enter_context(
                running(
                    command,
                    stop_within=15,
                    cwd=EXAMPLE,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            self.url = f"http://127.0.0.1:{port}"
            page = first_answer(self.web_server, self.url + "/", within=START_TIMEOUT)
            if page.status_code != 200:
                raise RuntimeError(f"the site answered its page with {page.status_code}")
            # Both run until __exit__ (gunicorn stopped first); on a failure above, they stop now.
            self._processes = started.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._processes.close()

    def _gunicorn(self, port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "gunicorn", "-k", "gthread"),
            *("--workers", str(self.workers), "--threads", str(self.threads)),
            *("--bind", f"127.0.0.1:{port}", "--chdir", str(EXAMPLE)),
            *("--graceful-timeout", "2", "--log-level", "warning", "chat_site.wsgi"),
        ]

    def _uvicorn(self, port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "chat_site.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers)),
            *("--app-dir", str(EXAMPLE), "--timeout-graceful-shutdown", "2"),
            *("--log-level", "warning", "--no-access-log"),
        ]


@dataclass
class Answer:
    """One answer as a user saw it."""

    status: int
    text: str
    run_status: str | None
    seconds: float
    """From sending the request to the last byte of the answer."""
    first_text_seconds: float | None = None
    """Streams: from asking for the stream to its first text event."""
    frames: list[tuple[str, Any]] = field(default_factory=list)


class User:
    """One browser: its own cookies (session, CSRF), from loading the page."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        page = self.http.get(url + "/", timeout=30)
        page.raise_for_status()
        self.csrf = self.http.cookies["csrftoken"]

    def _post(self, path: str, message: str) -> requests.Response:
        return self.http.post(
            self.url + path,
            json={"message": message},
            headers={"X-CSRFToken": self.csrf},
            timeout=60,
        )

    def chat(self, message: str) -> Answer:
        started = time.perf_counter()
        response = self._post("/chat", message)
        seconds = time.perf_counter() - started
        body = response.json()
        return Answer(response.status_code, body.get("reply", ""), body.get("status"), seconds)

    def stream(self, message: str) -> Answer:
        """``/send``, then ``/stream`` as the page reads it: opened again while a stream ends
        with ``requires_action`` (the site then calls the tool and streams the rest)."""
        sent = self._post("/send", message)
        if sent.status_code != 202:
            return Answer(sent.status_code, sent.text, None, 0.0)
        started = time.perf_counter()
        first_text: float | None = None
        frames: list[tuple[str, Any]] = []
        while True:
            buffer = b""
            with self.http.get(self.url + "/stream", stream=True, timeout=60) as response:
                status = response.status_code
                for chunk in response.iter_content(chunk_size=None):
                    buffer += chunk
                    while b"\n\n" in buffer:
                        block, buffer = buffer.split(b"\n\n", 1)
                        frame = _frame(block.decode("utf-8"))
                        if frame is None:
                            continue
                        if frame[0] == "text" and first_text is None:
                            first_text = time.perf_counter() - started
                        frames.append(frame)
            name, data = frames[-1] if frames else ("", {})
            if status != 200 or name != "done" or data.get("status") != "requires_action":
                break
        seconds = time.perf_counter() - started
        text = "".join(data["text"] for name, data in frames if name == "text")
        ended = frames[-1] if frames else ("", {})
        run_status = ended[1].get("status") if ended[0] == "done" else ended[0] or None
        return Answer(status, text, run_status, seconds, first_text, frames)


def _frame(block: str) -> tuple[str, Any] | None:
    name, data = "message", []
    for line in block.split("\n"):
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
    if not data:
        return None  # a comment: the opening one, or a heartbeat
    return name, json.loads("\n".join(data))
