"""Re-pin the benchmark's peer: the newest openai-python that still has ``client.beta.threads``.

``python -m bench.pin_openai`` lists openai's versions (``pip index versions openai``),
downloads the wheels newest first (``pip download --no-deps``) until one contains
``openai/resources/beta/threads/``, resolves that version's dependencies
(``pip install --dry-run --report``) and rewrites ``bench/requirements.txt`` with ``==`` pins.
It is a maintenance command, not part of ``make bench``, which installs the committed pins.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.common import BENCH_DIR

MARKER = "openai/resources/beta/threads/"
PIP = [sys.executable, "-m", "pip"]


def versions() -> list[str]:
    out = subprocess.run(
        [*PIP, "index", "versions", "openai"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Available versions:\s*(.+)", out)
    if match is None:
        raise SystemExit("pip index versions openai: no versions listed")
    return [v.strip() for v in match.group(1).split(",")]


def has_threads(version: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                *PIP,
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                tmp,
                f"openai=={version}",
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            return any(name.startswith(MARKER) for name in archive.namelist())


def resolved(version: str) -> dict[str, str]:
    report = subprocess.run(
        [
            *PIP,
            "install",
            "--quiet",
            "--dry-run",
            "--ignore-installed",
            "--report",
            "-",
            f"openai=={version}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    items = json.loads(report)["install"]
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in items}


def main() -> None:
    for version in versions():
        if has_threads(version):
            break
        print(f"openai {version}: no {MARKER}", file=sys.stderr)
    else:
        raise SystemExit(f"no openai version has {MARKER}")
    pins = resolved(version)
    lines = [
        "# The benchmark's peer, openai-python, and what it needs, pinned.",
        f"# openai {version} is the newest release that still has client.beta.threads",
        "# (openai/resources/beta/threads/); re-derive with `python -m bench.pin_openai`.",
        *(f"{name}=={pins[name]}" for name in sorted(pins)),
    ]
    path = BENCH_DIR / "requirements.txt"
    path.write_text("\n".join(lines) + "\n")
    print(f"{path}: openai=={version}")


if __name__ == "__main__":
    main()
