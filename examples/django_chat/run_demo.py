"""`make django-demo`: the chat example on Django's development server, on the emulator.

Starts the emulator's command line on a free loopback port, pacing its answers
(`--stream-delay 0.05`) so that the text visibly streams into the page, then serves the site
with `manage.py runserver` until stopped, and stops both. With OPENAI_BASE_URL (and
OPENAI_API_KEY) set, the site talks to that server instead.

It stops on Ctrl-C (SIGINT), on SIGTERM or SIGHUP, and when the process that started it goes
away: `make` does not pass a SIGTERM on to its recipe, so `kill <make's pid>` leaves this
script running with a new parent, which it notices within a fraction of a second. Either
way, the site and the emulator are stopped before it exits: nothing is left behind.

    DJANGO_DEMO_PORT=8001 python examples/django_chat/run_demo.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
STREAM_DELAY = "0.05"
WATCH_INTERVAL = 0.2  # seconds between looks at the site and at this script's parent
STOP_WITHIN = 10.0  # seconds a child gets to exit before it is killed


class Stopped(Exception):
    """A signal asked the demo to stop."""


def stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def stop(process: subprocess.Popen[str] | None, how: signal.Signals) -> None:
    """Ask a child to exit, then kill it if it has not within STOP_WITHIN seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(how)
    try:
        process.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_emulator() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            *("-m", "assistants_client.emulator", "--port", "0"),
            *("--stream-delay", STREAM_DELAY),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def main() -> int:
    env = dict(os.environ)
    port = env.get("DJANGO_DEMO_PORT", "8001")
    parent = os.getppid()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop_on_signal)
    emulator: subprocess.Popen[str] | None = None
    site: subprocess.Popen[str] | None = None
    try:
        if not env.get("OPENAI_BASE_URL"):
            emulator = start_emulator()
            assert emulator.stdout is not None
            base_url = emulator.stdout.readline().strip()
            if not base_url.startswith("http"):
                print(f"make django-demo: the emulator did not start ({base_url!r})")
                return 1
            env["OPENAI_BASE_URL"] = base_url
            print(f"make django-demo: emulator at {base_url}", flush=True)
        print(f"make django-demo: open http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
        site = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=HERE,
            env=env,
            text=True,
        )
        while site.poll() is None:
            if os.getppid() != parent:
                print("make django-demo: the process that started the demo is gone; stopping")
                return 0
            time.sleep(WATCH_INTERVAL)
        return site.returncode
    except (KeyboardInterrupt, Stopped):
        return 0
    finally:
        # No signal may cut the clean-up short: each child is stopped, then waited for.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stop(site, signal.SIGINT)
        stop(emulator, signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
