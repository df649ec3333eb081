"""The Python blocks of a Markdown page, and running them as a reader would.

A page's ```python blocks run in order in one namespace, as in a notebook: a later block may use
the ``client``, ``assistant`` or ``thread`` an earlier one made, but must import what it uses
(a block copied on its own then needs only those objects). A block right after
``<!-- not run: reason -->`` is skipped; the reason says what it needs (a real service, another
project). ``AssistantsClient()`` reads ``OPENAI_BASE_URL``, which the tests point at an emulator.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import itertools
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistants_client import AssistantsClient

ROOT = Path(__file__).resolve().parents[2]
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.+?)\s*-->")
FENCE = re.compile(r"^```(?P<language>\S*)\s*$")
NAMESPACE = "readme"


@dataclass
class Block:
    line: int  # of the first line of code, 1-based
    code: str
    skip_reason: str | None
    language: str = "python"


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced block of a page, with its language (`""` when it has none)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index].strip())
        if opening:
            start = index + 1
            end = start
            while lines[end].strip() != "```":
                end += 1
            previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = NOT_RUN.search(previous)
            code = "\n".join(lines[start:end]) + "\n"
            reason = marker["reason"] if marker else None
            blocks.append(Block(start + 1, code, reason, opening["language"]))
            index = end
        index += 1
    return blocks


def python_blocks(text: str) -> list[Block]:
    return [block for block in fenced_blocks(text) if block.language == "python"]


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
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
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


def overwritten_calls(code: str) -> list[str]:
    """Statements whose result the next statement throws away by binding the same name to the
    same call again: alternatives written one after the other, which run both."""
    found = []
    for first, second in itertools.pairwise(ast.parse(code).body):
        if (
            isinstance(first, ast.Assign)
            and isinstance(second, ast.Assign)
            and isinstance(first.value, ast.Call)
            and isinstance(second.value, ast.Call)
            and ast.dump(first.value.func) == ast.dump(second.value.func)
            and [ast.dump(t) for t in first.targets] == [ast.dump(t) for t in second.targets]
        ):
            found.append(ast.unparse(first))
    return found


@dataclass
class Reading:
    """What running a page's blocks gave: what they printed, and what went wrong."""

    ran: int
    printed: str
    problems: list[str]


def run_blocks(name: str, blocks: list[Block]) -> Reading:
    """Run the blocks not marked as not run, in order, in one namespace.

    A problem is a block that raised, or one that uses a name it neither binds nor got from an
    earlier block as an object (a module, class or function it forgot to import).
    """
    namespace: dict[str, Any] = {"__name__": NAMESPACE}
    output = io.StringIO()
    problems: list[str] = []
    ran = 0
    try:
        for block in blocks:
            if block.skip_reason is not None:
                continue
            tree = ast.parse(block.code)
            used = {
                node.id
                for node in ast.walk(tree)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            }
            for missing in sorted(used - bound_names(tree) - set(dir(builtins))):
                if missing not in namespace:
                    problems.append(f"{name}:{block.line}: {missing} is not defined")
                elif imported_from_elsewhere(namespace[missing]):
                    problems.append(f"{name}:{block.line}: {missing} is used without an import")
            code = compile(block.code, f"{name}:{block.line}", "exec")
            with contextlib.redirect_stdout(output):
                try:
                    exec(code, namespace)
                except Exception as exc:
                    problems.append(f"{name}:{block.line} raised {exc!r}:\n{block.code}")
                    break
            ran += 1
    finally:
        for value in namespace.values():
            if isinstance(value, AssistantsClient):
                value.close()
    return Reading(ran, output.getvalue(), problems)
