"""Every ```python block of README.md runs as written, against an in-process emulator.

The blocks run in order in one namespace, as in a notebook: later blocks use the ``client``,
``assistant`` and ``thread`` that the quick start creates. Each block still imports what it uses
(checked below), so that a block copied on its own needs only those objects. The quick start's
``AssistantsClient()`` reads ``OPENAI_BASE_URL``, which points at the emulator here. A block
right after ``<!-- not run: reason -->`` needs a real service and is skipped.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assistants_client import AssistantsClient
from assistants_client.emulator import Emulator

README = Path(__file__).resolve().parents[2] / "README.md"
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.+?)\s*-->")
NAMESPACE = "readme"


@dataclass
class Block:
    line: int  # of the first line of code, 1-based
    code: str
    skip_reason: str | None


def python_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```python":
            start = index + 1
            end = start
            while lines[end].strip() != "```":
                end += 1
            previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = NOT_RUN.search(previous)
            blocks.append(
                Block(start + 1, "\n".join(lines[start:end]) + "\n", marker and marker["reason"])
            )
            index = end
        index += 1
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def bound_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def imported_from_elsewhere(value: Any) -> bool:
    """A module, or a class or function that some module defines (not an earlier block)."""
    if isinstance(value, types.ModuleType):
        return True
    module = getattr(value, "__module__", None)
    return isinstance(value, (type, types.FunctionType)) and module not in (
        None,
        NAMESPACE,
        "builtins",
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def test_the_readme_has_python_blocks_and_marks_few_as_not_run() -> None:
    assert len(BLOCKS) >= 8
    assert sum(block.skip_reason is not None for block in BLOCKS) <= 2


def test_every_python_block_of_the_readme_runs_in_order(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme")
    namespace: dict[str, Any] = {"__name__": NAMESPACE}
    output = io.StringIO()
    ran = 0
    try:
        for block in BLOCKS:
            if block.skip_reason is not None:
                continue
            code = compile(block.code, f"README.md:{block.line}", "exec")
            with contextlib.redirect_stdout(output):
                try:
                    exec(code, namespace)
                except Exception as exc:
                    pytest.fail(
                        f"the README block at line {block.line} raised {exc!r}:\n{block.code}"
                    )
            ran += 1
    finally:
        for value in namespace.values():
            if isinstance(value, AssistantsClient):
                value.close()
    printed = output.getvalue()
    assert ran == sum(block.skip_reason is None for block in BLOCKS)
    # The quick start's call names the city of the question; the structured output too.
    assert 'get_weather returned: {"city":"Paris"' in printed, printed
    assert "Forecast(city='Paris', celsius=18.0" in printed, printed


def test_every_block_imports_what_it_takes_from_the_library(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names a block uses but does not bind must be objects made by earlier blocks (a client, a
    thread), never a module, class or function that it forgot to import."""
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme")
    namespace: dict[str, Any] = {"__name__": NAMESPACE}
    problems: list[str] = []
    for block in BLOCKS:
        tree = ast.parse(block.code)
        if block.skip_reason is None:
            used = {
                node.id
                for node in ast.walk(tree)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            }
            for name in sorted(used - bound_names(tree) - set(dir(builtins))):
                if name not in namespace:
                    problems.append(f"line {block.line}: {name} is not defined")
                elif imported_from_elsewhere(namespace[name]):
                    problems.append(f"line {block.line}: {name} is used without an import")
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
    assert not problems, "\n".join(problems)
