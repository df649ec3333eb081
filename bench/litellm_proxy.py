"""The peer of the relay benchmark: the LiteLLM proxy in front of the same fake backend.

LiteLLM's proxy is what a user would otherwise put in front of a model: an OpenAI-compatible
server that passes Chat Completions chunks through. :func:`litellm_proxy` runs it (pinned in
``bench/requirements.txt``, with the proxy's own dependencies) under uvicorn, one worker, on a
free loopback port, routing the model ``gpt-4o`` to ``backend_url`` as an OpenAI-compatible
endpoint.

It runs offline: ``LITELLM_OFFLINE_MODE=true`` makes it use the model cost map and the other
catalogs bundled in the package instead of fetching them (the switch must be in the
environment: the cost map loads before the configuration is read). Its usage telemetry is gone
from this release (the ``--telemetry`` flag is a no-op). It refuses to start without a master
key, so one is set, and the readers send it as their bearer token. It also ends a stream whose
model repeats one chunk 100 times (a model stuck in a loop), which the fake backend's
identical pieces would trip: ``REPEATED_STREAMING_CHUNK_LIMIT`` moves that past the answer.

The ``litellm[proxy]`` extra itself cannot be installed from the package index this project
uses: it pins ``litellm-proxy``, ``litellm-proxy-extras`` and ``litellm-enterprise`` releases
that the index does not have. ``bench/requirements.txt`` lists what the proxy imports instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen

import requests

from bench.common import free_port, running

MASTER_KEY = "sk-bench-0123456789abcdef0123456789abcdef"
STARTUP = 90.0  # seconds: the proxy imports a great deal before it listens

CONFIG = """\
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: {backend_url}
      api_key: sk-unused
"""


def available() -> str | None:
    """None when the proxy can run here, else why not."""
    script = Path(sys.executable).with_name("litellm")
    if not script.exists():
        return "litellm is not installed in this environment (bench/requirements.txt)"
    return None


@contextmanager
def litellm_proxy(backend_url: str) -> Iterator[tuple[str, Popen[str]]]:
    """The base URL of a LiteLLM proxy in front of ``backend_url``, and its process."""
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(CONFIG.format(backend_url=backend_url))
        port = free_port()
        env = {
            **os.environ,
            "LITELLM_OFFLINE_MODE": "true",
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "LITELLM_LOG": "ERROR",
            "REPEATED_STREAMING_CHUNK_LIMIT": str(10**9),
            "HOME": folder,  # nothing it writes outlives the benchmark
        }
        argv = [
            str(Path(sys.executable).with_name("litellm")),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ]
        log = Path(folder) / "proxy.log"
        with (
            log.open("w") as output,
            running(argv, env=env, cwd=folder, stdout=output, stderr=subprocess.STDOUT) as proc,
        ):
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_ready(proc, base_url, log)
            yield base_url, proc


def _wait_until_ready(proc: Popen[str], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"the LiteLLM proxy exited (code {proc.returncode}): {tail}")
        try:
            if requests.get(f"{base_url}/health/liveliness", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the LiteLLM proxy did not answer within {STARTUP:g} s")
        time.sleep(0.25)
