"""The guides in docs/ that this project writes run as written, and `make docs` builds them.

Each ```python block of a guide runs on its own (a guide's blocks do not share names), except a
block right after ``<!-- not run: reason -->``. A block that defines pytest tests (the pytest
plugin example of docs/emulator.md) is written to a file and run by pytest, as a user's own test
suite would run it. The build is `make docs`: mkdocs in strict mode, where any warning (a broken
link, a docstring that does not render) fails.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.test_readme import Block, python_blocks

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [
    ROOT / "docs" / name
    for name in (
        "emulator.md",
        "migrating.md",
        "foundry.md",
        "async.md",
        "files-and-vector-stores.md",
        "retrieval.md",
        "server-projects.md",
    )
]
TIMEOUT = 120


def blocks_of(path: Path) -> list[Block]:
    return python_blocks(path.read_text(encoding="utf-8"))


RUNNABLE = [
    pytest.param(block, id=f"{path.name}:{block.line}")
    for path in GUIDES
    for block in blocks_of(path)
    if block.skip_reason is None and "def test_" not in block.code
]
PYTEST_EXAMPLES = [
    pytest.param(block, id=f"{path.name}:{block.line}")
    for path in GUIDES
    for block in blocks_of(path)
    if block.skip_reason is None and "def test_" in block.code
]


@pytest.mark.parametrize("block", RUNNABLE)
def test_a_guide_block_runs_on_its_own(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(block.code, f"docs:{block.line}", "exec"), {"__name__": "guide"})


@pytest.mark.parametrize("block", PYTEST_EXAMPLES)
def test_the_pytest_plugin_example_passes_as_a_users_test_suite(
    block: Block, tmp_path: Path
) -> None:
    (tmp_path / "test_example.py").write_text(block.code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = len(re.findall(r"^def test_", block.code, flags=re.MULTILINE))
    assert f"{tests} passed" in result.stdout, result.stdout


def test_the_emulator_guide_has_a_pytest_plugin_example() -> None:
    assert len(PYTEST_EXAMPLES) == 1
    assert "assistants_emulator" in PYTEST_EXAMPLES[0].values[0].code


def make_docs_command() -> list[str]:
    """The command of `make docs`, as the Makefile says it (its one recipe line)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs:.*\n\t(?P<command>.+)$", makefile, flags=re.MULTILINE)
    assert recipe is not None, "the Makefile has no `docs` target"
    command = recipe["command"].split()
    assert command[:1] == ["$(PY)"] and "--strict" in command, command
    return [sys.executable, *command[1:]]


def test_make_docs_builds_the_site_without_warnings(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [*make_docs_command(), "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    models = (site / "reference" / "models" / "index.html").read_text(encoding="utf-8")
    assert "MessageContentBase" in models and "UnknownMessageContent" in models
    client = (site / "reference" / "client" / "index.html").read_text(encoding="utf-8")
    assert "run_with_tools" in client
    for guide in ("emulator", "migrating"):
        assert (site / guide / "index.html").exists()
