"""`make demo`: run the quick start and the file_search example on the embedded emulator, or on a
real server if configured.

With OPENAI_BASE_URL/OPENAI_API_KEY or the Azure variables set, the examples talk to that
server. Otherwise this starts the emulator's command line on a free loopback port, runs the
examples against it, and stops the emulator with SIGTERM (checking that it exits cleanly).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REAL_SERVER_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT")


EXAMPLES = ("quickstart.py", "file_search.py")


def run_examples(env: dict[str, str]) -> int:
    """Each example in turn; the status of the first that fails (the rest are not run)."""
    for example in EXAMPLES:
        status = subprocess.call([sys.executable, str(HERE / example)], env=env)
        if status != 0:
            return status
    return 0


def main() -> int:
    env = dict(os.environ)
    if any(env.get(name) for name in REAL_SERVER_VARIABLES):
        print("make demo: using the configured server")
        return run_examples(env)

    emulator = subprocess.Popen(
        [sys.executable, "-m", "assistants_client.emulator", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        first_line = emulator.stdout.readline().strip()
        base_url = next((word for word in first_line.split() if word.startswith("http")), "")
        if not base_url:
            print(f"make demo: the emulator did not print its URL ({first_line!r})")
            return 1
        print(f"make demo: emulator at {base_url}")
        env["OPENAI_BASE_URL"] = base_url
        status = run_examples(env)
    finally:
        emulator.send_signal(signal.SIGTERM)
        try:
            code = emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.kill()
            code = -1
    if code != 0:
        print(f"make demo: the emulator exited with {code}")
        return status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
