"""What the async client's tests share: the API key, and a look at every thread's stack."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable

API_KEY = "sk-async-0123456789abcdef"


def threads_inside(function: str, module: str) -> list[str]:
    """The threads whose stack holds a call of ``function`` defined in a file ``module``."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    found = []
    for ident, frame in sys._current_frames().items():
        for summary in traceback.extract_stack(frame):
            if summary.name == function and summary.filename.endswith(module):
                found.append(names.get(ident, str(ident)))
                break
    return found


def blocked_client_threads() -> list[str]:
    """Threads inside an HTTP attempt of the client, or reading a stream for the loop."""
    return threads_inside("_attempt", "_transport.py") + threads_inside(
        "_read", "_async_streaming.py"
    )


def eventually(condition: Callable[[], bool], within: float = 1.0) -> bool:
    """Whether ``condition()`` holds within ``within`` seconds (polled every 10 ms)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
