"""docs/django.md's walk-through, followed in a new project: `django-admin startproject`, its
settings, views and URLs pasted where the page says, then driven with Django's test client.

A settings block that replaced MIDDLEWARE instead of adding to it would lose the sessions the
views use, and the first request would fail. Nothing is adapted: each file block of the section "In a new project" starts with a comment
naming its file and whether it goes at the end of it, in a new file or in place of it, and the
shell lines run as written (the `pip install` line excepted: this environment has the extra).
The project runs in a process of its own, against an emulator of this process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistants_client.emulator import Emulator
from tests.django.conftest import ROOT

GUIDE = ROOT / "docs" / "django.md"
TIMEOUT = 120  # seconds: a bound on a hang, not a speed claim
FILE_COMMENT = re.compile(r"# (?P<path>\S+), (?P<where>at the end|a new file|in place of .+)")

# Run in the project, as a user's own check would: Django's test client (no CSRF checks).
DRIVE = """
import json, django
from django.test import Client
from django.test.utils import setup_test_environment

django.setup()
setup_test_environment()
web = Client()
result = {}
answer = web.post("/chat", {"message": "What is the weather in Paris? Use get_weather."})
result["chat"] = [answer.status_code, answer.json()]
result["stream_first"] = [web.get("/stream").status_code]
result["send"] = [web.post("/send", {"message": "What is the weather in Oslo? Use get_weather."}).status_code]
streams = []
for _ in range(2):
    response = web.get("/stream")
    streams.append([response.status_code, response["Content-Type"],
                    b"".join(response.streaming_content).decode()])
result["streams"] = streams
result["empty"] = [web.post("/chat", {"message": ""}).status_code]
print(json.dumps(result))
"""


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def sse_events(body: str) -> list[tuple[str, str]]:
    events = []
    for block in body.split("\n\n"):
        name = re.search(r"^event: (.+)$", block, flags=re.MULTILINE)
        data = re.search(r"^data: (.+)$", block, flags=re.MULTILINE)
        if name and data:
            events.append((name[1], data[1]))
    return events


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def plain_emulator() -> Iterator[Emulator]:
    """An emulator that takes any key, or none: the new project's settings give none."""
    with Emulator() as emu:
        yield emu


def test_the_guides_views_work_as_pasted_into_a_new_project(
    tmp_path: Path, plain_emulator: Emulator
) -> None:
    emulator = plain_emulator
    walkthrough = section(GUIDE.read_text(encoding="utf-8"), "In a new project")
    (shell,) = fenced(walkthrough, "sh")
    files = fenced(walkthrough, "python")
    assert len(files) == 3

    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ["PATH"]]))
    env.update(OPENAI_BASE_URL=emulator.base_url, DJANGO_SETTINGS_MODULE="mysite.settings")
    env.pop("OPENAI_API_KEY", None)
    project = tmp_path
    commands = [line.split("#")[0].strip() for line in shell.splitlines()]
    for command in filter(None, commands):
        words = shlex.split(command)
        if words[:2] == ["pip", "install"]:
            continue
        if words[0] == "cd":
            project = project / words[1]
            continue
        run(words, project, env)

    for block in files:
        comment = FILE_COMMENT.fullmatch(block.splitlines()[0])
        assert comment is not None, block.splitlines()[0]
        target = project / comment["path"]
        if comment["where"] == "at the end":
            target.write_text(target.read_text(encoding="utf-8") + "\n" + block, encoding="utf-8")
        else:
            assert target.exists() == (comment["where"] != "a new file"), target
            target.write_text(block, encoding="utf-8")

    result = json.loads(run([sys.executable, "-c", DRIVE], project, env).splitlines()[-1])

    status, chat = result["chat"]
    assert status == 200
    assert chat == {
        "reply": 'get_weather returned: {"city":"Paris","celsius":18}',
        "status": "completed",
    }
    assert result["stream_first"] == [409]  # no message sent for it
    assert result["send"] == [202]
    (first_status, first_type, asked), (second_status, _, answered) = result["streams"]
    assert (first_status, first_type, second_status) == (200, "text/event-stream", 200)
    assert json.loads(sse_events(asked)[-1][1])["status"] == "requires_action"
    text = "".join(
        json.loads(data)["text"] for name, data in sse_events(answered) if name == "text"
    )
    assert text == 'get_weather returned: {"city":"Oslo","celsius":18}'
    assert json.loads(sse_events(answered)[-1][1])["status"] == "completed"
    assert result["empty"] == [400]  # the middleware answers the library's error
