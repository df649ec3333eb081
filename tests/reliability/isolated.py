"""Run a piece of client code in a fresh interpreter and report what it raised and its memory.

Memory is the point of some attacks (an endless body, a gzip bomb, a huge event): they are run
where nothing else shares the process, and the child reports its own peak resident memory
(``VmHWM``), before (``base_mb``, after importing the library) and after the code ran
(``peak_mb``). The loopback servers stay in the test process, so their memory is not counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["run_isolated"]

ROOT = Path(__file__).resolve().parents[2]

_TEMPLATE = """
import json, sys, time
import assistants_client

def _mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0

ARGS = sys.argv[1:]
out = {"error": None, "mro": [], "message": None}
out["base_mb"] = _mb("VmHWM:")
started = time.monotonic()
try:
    exec(compile(sys.stdin.read(), "<isolated>", "exec"), {"ARGS": ARGS, "out": out})
except BaseException as exc:
    out["error"] = type(exc).__name__
    out["mro"] = [cls.__name__ for cls in type(exc).__mro__]
    out["message"] = str(exc)[:1000]
out["seconds"] = time.monotonic() - started
out["peak_mb"] = _mb("VmHWM:")
print("RESULT " + json.dumps(out))
"""


def run_isolated(code: str, *args: str, timeout: float = 30.0) -> dict[str, Any]:
    """Run ``code`` (it sees ``ARGS``, and may add to the dict ``out``) in a new interpreter.

    Returns ``out`` with ``error`` (the class name of what it raised, or None), ``mro`` (that
    class's ancestry, names only), ``message``, ``seconds`` (the code's own run time),
    ``base_mb`` and ``peak_mb``.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", _TEMPLATE, *args],
        input=code,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise AssertionError(
        f"the child reported nothing (exit {done.returncode}): {done.stderr[-2000:]}"
    )
