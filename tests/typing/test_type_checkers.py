"""The typing promises of the models, checked by mypy --strict and by pyright in strict mode.

``user_code.py`` is code as a user writes it (checking a union's tag narrows it; a finished
stream's ``final_run`` is a run, not Optional), and ``async_user_code.py`` the same with the
async client: both checkers must accept both. ``user_code.py`` names every union of the models, and ``assert_type`` pins each narrowed variant, so that a union that no
longer narrows, or has become ``Any``, fails there. In
``narrowing_errors.py`` every line marked ``# expected-error`` (and no other) must be reported by
both: so this test also fails if the unions stopped narrowing because they had become ``Any``.
pyright is the npm package pinned in package.json (``make test`` installs it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistants_client.models import responses

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ACCEPTED = HERE / "user_code.py"
ASYNC_ACCEPTED = HERE / "async_user_code.py"
REJECTED = HERE / "narrowing_errors.py"
PYRIGHT = ROOT / "node_modules" / ".bin" / "pyright"
MARK = "# expected-error"
TIMEOUT = 300


def marked_lines(path: Path) -> set[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {number for number, line in enumerate(lines, start=1) if line.rstrip().endswith(MARK)}


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@pytest.fixture(scope="module")
def mypy_errors() -> Iterator[tuple[dict[str, set[int]], str]]:
    """Lines with an error, by file name, and the whole report."""
    result = run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-pretty",
            "--no-error-summary",
            str(ACCEPTED.relative_to(ROOT)),
            str(ASYNC_ACCEPTED.relative_to(ROOT)),
            str(REJECTED.relative_to(ROOT)),
        ]
    )
    found: dict[str, set[int]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"(?P<file>[^:]+):(?P<line>\d+): error:", line)
        if match:
            found.setdefault(Path(match["file"]).name, set()).add(int(match["line"]))
    assert result.returncode in (0, 1), result.stdout + result.stderr
    yield found, result.stdout + result.stderr


@pytest.fixture(scope="module")
def pyright_errors() -> Iterator[tuple[dict[str, set[int]], str]]:
    if not PYRIGHT.exists():
        pytest.fail(f"{PYRIGHT} is missing: run `npm ci` (make test does)")
    result = run([str(PYRIGHT), "-p", str(HERE), "--outputjson", "--pythonpath", sys.executable])
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = json.loads(result.stdout)
    found: dict[str, set[int]] = {}
    lines = []
    for diagnostic in report["generalDiagnostics"]:
        line = diagnostic["range"]["start"]["line"] + 1
        name = Path(diagnostic["file"]).name
        lines.append(f"{name}:{line}: {diagnostic['severity']}: {diagnostic['message']}")
        if diagnostic["severity"] == "error":
            found.setdefault(name, set()).add(line)
    yield found, "\n".join(lines)


def test_mypy_strict_accepts_user_code_that_narrows_unions_by_their_tag(
    mypy_errors: tuple[dict[str, set[int]], str],
) -> None:
    found, report = mypy_errors
    assert ACCEPTED.name not in found, report


def test_pyright_strict_accepts_user_code_that_narrows_unions_by_their_tag(
    pyright_errors: tuple[dict[str, set[int]], str],
) -> None:
    found, report = pyright_errors
    assert ACCEPTED.name not in found, report


def test_mypy_strict_accepts_a_user_script_of_the_async_client(
    mypy_errors: tuple[dict[str, set[int]], str],
) -> None:
    found, report = mypy_errors
    assert ASYNC_ACCEPTED.name not in found, report


def test_pyright_strict_accepts_a_user_script_of_the_async_client(
    pyright_errors: tuple[dict[str, set[int]], str],
) -> None:
    found, report = pyright_errors
    assert ASYNC_ACCEPTED.name not in found, report


def test_mypy_strict_reports_each_read_that_the_tag_does_not_allow(
    mypy_errors: tuple[dict[str, set[int]], str],
) -> None:
    found, report = mypy_errors
    assert found.get(REJECTED.name, set()) == marked_lines(REJECTED), report


def test_pyright_strict_reports_each_read_that_the_tag_does_not_allow(
    pyright_errors: tuple[dict[str, set[int]], str],
) -> None:
    found, report = pyright_errors
    assert found.get(REJECTED.name, set()) == marked_lines(REJECTED), report


def test_the_rejected_file_marks_some_lines() -> None:
    assert len(marked_lines(REJECTED)) >= 6


def tagged_unions() -> set[str]:
    """The names of the unions of the response models (``Name: TypeAlias = A | B | ...``)."""
    source = Path(responses.__file__).read_text(encoding="utf-8")
    return set(re.findall(r"^(\w+): TypeAlias = ", source, flags=re.MULTILINE))


def test_the_accepted_file_narrows_every_tagged_union_of_the_models() -> None:
    unions = tagged_unions()
    assert {"MessageContent", "ToolCallDelta", "AssistantStreamEvent"} <= unions
    code = ACCEPTED.read_text(encoding="utf-8")
    annotated = set(re.findall(r"\w+: (\w+)[,)]", code))
    assert unions - annotated == set(), "unions no function of user_code.py takes"
