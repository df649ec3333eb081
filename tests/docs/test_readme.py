"""The README is a front page: short, its first screen enough to get from a clone to a streamed
run, every Python block running as written (tests/docs/blocks.py), every link leading to a page
that exists, and every guide of the site reachable from it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from assistants_client.emulator import Emulator
from tests.docs.blocks import (
    ROOT,
    Block,
    fenced_blocks,
    overwritten_calls,
    python_blocks,
    run_blocks,
)

README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = python_blocks(TEXT)
MAX_BYTES = 15_000
# What a terminal or a browser shows before any scrolling.
FIRST_SCREEN = 40
LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def test_the_readme_is_a_front_page_of_at_most_15_kb() -> None:
    assert len(TEXT.encode("utf-8")) <= MAX_BYTES


def test_its_first_screen_goes_from_a_clone_to_a_streamed_run_on_the_emulator() -> None:
    def on_first_screen(block: Block) -> bool:
        return block.line + block.code.count("\n") <= FIRST_SCREEN

    first_screen = [block for block in fenced_blocks(TEXT) if on_first_screen(block)]
    commands = [block.code for block in first_screen if block.language == "sh"]
    assert any("git clone" in c and "make demo" in c for c in commands), commands
    (quick_start,) = [block for block in first_screen if block.language == "python"]
    for needed in ("Emulator()", "stream_run(", "text_deltas()", "print("):
        assert needed in quick_start.code, needed
    assert quick_start.skip_reason is None
    assert "`pip install .`" in "\n".join(TEXT.splitlines()[:FIRST_SCREEN])


def test_every_link_of_the_readme_leads_to_a_file_of_the_project() -> None:
    targets = {m["target"] for m in LINK.finditer(TEXT) if "://" not in m["target"]}
    assert targets
    assert {t for t in targets if not (ROOT / t).exists()} == set()


def test_the_readme_links_to_every_guide() -> None:
    guides = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md") if p.name != "index.md"}
    linked = {m["target"] for m in LINK.finditer(TEXT)}
    assert guides - linked == set()


def test_the_readme_has_python_blocks_and_marks_none_as_not_run() -> None:
    assert len(BLOCKS) >= 4
    assert [block.line for block in BLOCKS if block.skip_reason is not None] == []


def test_every_python_block_of_the_readme_runs_in_order(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme")

    reading = run_blocks("README.md", BLOCKS)

    assert reading.problems == []
    assert reading.ran == len(BLOCKS)
    printed = reading.printed
    assert "You said: Hello" in printed  # the first screen's streamed run
    assert 'completed get_weather returned: {"city":"Paris","celsius":18}' in printed, printed
    assert "You said: Thanks! Will it rain?\ncompleted" in printed, printed
    assert "You said: Hello from asyncio" in printed, printed
    # The file_search run: its answer cites the uploaded file, the citation rendered.
    assert "[1]\n['runbook.md']" in printed and "【" not in printed, printed


def test_no_block_shows_two_alternative_calls_as_consecutive_statements() -> None:
    assert overwritten_calls("run = f(1)\nrun = f(2)\n") == ["run = f(1)"]
    assert overwritten_calls("run = f(1)\nprint(run)\nrun = f(2)\n") == []
    problems = [
        f"line {block.line}: {statement}"
        for block in BLOCKS
        for statement in overwritten_calls(block.code)
    ]
    assert problems == []
