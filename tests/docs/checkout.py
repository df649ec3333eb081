"""A fresh checkout of the project, for the tests that follow the README from the start.

:func:`fresh_checkout` copies what a clone of the current tree would hold (the tracked files
and the new ones, nothing git ignores: no .venv, no node_modules) into a git repository of its
own, so that a test can run `make demo` there, or install from it as a path or a `git+file`
URL, without touching this working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds: a bound on a hang, not a speed claim


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=tests", "-c", "user.email=tests@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return result.stdout


def fresh_checkout(destination: Path) -> Path:
    """The project as a new clone of this tree has it, committed, at ``destination``."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    destination.mkdir(parents=True)
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree, not yet committed
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    git("init", "-q", cwd=destination)
    git("add", "-A", cwd=destination)
    git("commit", "-q", "-m", "snapshot", cwd=destination)
    return destination


def user_environment() -> dict[str, str]:
    """This process's environment as a user's shell has it: no virtualenv active, no make
    variables from a `make test` around the test run."""
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env
