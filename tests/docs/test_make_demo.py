"""`make demo` on a fresh clone, as the README's first screen says to run it.

It sets everything up (a .venv with the package), starts the emulator, streams a run and a
tool call, then runs a file_search over an uploaded document and prints the answer with its
citation rendered and the file it cites, printing one line about the set-up and none of pip's or
setuptools' chatter (which goes to a log, shown only when the install fails), and no line of
JSON cut short. A second run sets nothing up again.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.docs.checkout import TIMEOUT, fresh_checkout, user_environment

INSTALL_LINE = "make: installing the package into .venv (once; pip's output in .venv/pip.log)"


def make_demo(checkout: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "demo"],
        cwd=checkout,
        env=user_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_make_demo_on_a_fresh_clone_sets_up_quietly_and_streams_a_run(tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path / "assistants-client")

    first = make_demo(checkout)
    again = make_demo(checkout)

    assert first.returncode == 0, first.stdout
    lines = first.stdout.splitlines()
    # One line about the set-up, then the demo's own lines: nothing from pip or setuptools.
    assert lines[0] == INSTALL_LINE, first.stdout
    assert lines[1].startswith("make demo: emulator at http://127.0.0.1:"), first.stdout
    assert "You said: Hello! Who are you?" in lines
    assert '[tool call get_weather({"city": "Paris"})]' in lines
    assert (checkout / ".venv" / "pip.log").read_text().count("Successfully installed") == 2

    # The run steps, each with its details as a whole line of JSON, up to the file_search run.
    searching = lines.index("-- file_search run --")
    steps = lines[lines.index("-- run steps --") + 1 : searching - 1]
    assert lines[searching - 1] == ""
    assert [line.split()[1] for line in steps] == ["tool_calls", "message_creation"]
    for line in steps:
        match = re.fullmatch(r"step_\w+ (?P<type>\w+) completed: (?P<details>.+)", line)
        assert match is not None, line
        assert json.loads(match["details"])["type"] == match["type"]

    # The file_search run: the question, the answer quoting the runbook with its citation
    # rendered (no raw marker left), and the cited file.
    question, *answer, cited = lines[searching + 1 :]
    assert question == "What does ERR-4411 mean?"
    assert "ERR-4411 means the data volume is full" in "\n".join(answer), first.stdout
    assert "[1]" in "\n".join(answer) and "【" not in first.stdout, first.stdout
    assert cited == "[1] runbook.md", first.stdout

    assert again.returncode == 0, again.stdout
    assert INSTALL_LINE not in again.stdout
    assert again.stdout.startswith("make demo: emulator at http://127.0.0.1:"), again.stdout


def test_a_failed_install_shows_pips_output_and_stops(tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path / "assistants-client")
    pyproject = checkout / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('requires-python = ">=3.10"', 'requires-python = ">=99"'))

    result = make_demo(checkout)

    assert result.returncode != 0
    assert result.stdout.startswith(INSTALL_LINE + "\n"), result.stdout
    assert "requires a different Python" in result.stdout  # pip's own words, from its log
    assert "make: the install failed (above)" in result.stdout
    assert "make demo: emulator" not in result.stdout
    assert not (checkout / ".venv" / ".installed-base").exists()
