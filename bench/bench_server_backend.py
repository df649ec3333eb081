"""The processes of the server benchmarks: a paced Chat Completions backend, and the server.

``python -m bench.bench_server_backend PACING TOKENS`` serves the fake Chat Completions backend
of the test suite (``tests/servers/fake_chat.py``) on a free loopback port: every chat request
is answered with a stream of ``TOKENS`` content chunks (the request's
``max_completion_tokens``, when it gives one), each sent ``PACING`` seconds after the one
before, shaped as OpenAI sends them. It prints ``{"base_url": ...}`` and serves until its
standard input closes (see :func:`bench.common.helper_process`).

:func:`backend` starts it; :func:`server` starts ``python -m assistants_client.server`` in front
of a backend. Each runs in its own process, so neither takes CPU time from the measuring
process but what a real deployment would take from the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from subprocess import Popen
from typing import Any

from bench.common import first_line, helper_process, running, wait_for_stdin_close

TOKEN = " tok"


def expected_text(tokens: int) -> str:
    return TOKEN * tokens


@contextmanager
def backend(pacing: float, tokens: int) -> Iterator[str]:
    """The base URL of a paced fake backend in its own process."""
    with helper_process("bench.bench_server_backend", str(pacing), str(tokens)) as info:
        yield str(info["base_url"])


@contextmanager
def server(backend_url: str, *flags: str) -> Iterator[str]:
    """The base URL (``.../v1``) of ``assistants-server`` in front of ``backend_url``."""
    with server_process(backend_url, *flags) as (base_url, _):
        yield base_url


@contextmanager
def server_process(backend_url: str, *flags: str) -> Iterator[tuple[str, Popen[str]]]:
    """:func:`server`, with its process (to read the CPU time it spent)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANTS_")}
    env["ASSISTANTS_LOG_LEVEL"] = "ERROR"
    argv = [
        sys.executable,
        "-m",
        "assistants_client.server",
        "--backend-url",
        backend_url,
        "--port",
        "0",
        *flags,
    ]
    with running(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        line = first_line(proc, "assistants-server")
        if not line.startswith("http://"):
            raise RuntimeError(f"assistants-server did not start: {line!r}")
        yield line, proc


def main() -> None:
    import json

    from tests.servers.fake_chat import FakeChatServer, text_answer
    from tests.servers.scripted import RecordedRequest, Reply

    pacing = float(sys.argv[1])
    default_tokens = int(sys.argv[2])

    def answer(request: RecordedRequest) -> Reply:
        body: Any = request.json() or {}
        tokens = int(body.get("max_completion_tokens") or default_tokens)
        return text_answer(expected_text(tokens), pieces=[TOKEN] * tokens, pacing=pacing)

    with FakeChatServer() as fake:
        fake.default_answer = answer
        print(json.dumps({"base_url": fake.base_url}))
        sys.stdout.flush()
        wait_for_stdin_close()


if __name__ == "__main__":
    main()
