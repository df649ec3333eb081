"""`make django-demo`: the chat example on Django's development server, on the emulator.

Starts the emulator's command line on a free loopback port, pacing its answers
(`--stream-delay 0.05`) so that the text visibly streams into the page, then serves the site
with `manage.py runserver` until interrupted (Ctrl-C), and stops both. With OPENAI_BASE_URL (and
OPENAI_API_KEY) set, the site talks to that server instead.

    DJANGO_DEMO_PORT=8001 python examples/django_chat/run_demo.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STREAM_DELAY = "0.05"


def main() -> int:
    env = dict(os.environ)
    port = env.get("DJANGO_DEMO_PORT", "8001")
    emulator = None
    if not env.get("OPENAI_BASE_URL"):
        emulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "assistants_client.emulator",
                "--port",
                "0",
                "--stream-delay",
                STREAM_DELAY,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
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
    )
    try:
        return site.wait()
    except KeyboardInterrupt:
        site.send_signal(signal.SIGINT)
        site.wait(timeout=10)
        return 0
    finally:
        if site.poll() is None:
            site.kill()
        if emulator is not None:
            emulator.send_signal(signal.SIGTERM)
            try:
                emulator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                emulator.kill()


if __name__ == "__main__":
    sys.exit(main())
