"""Timing helpers and the helper processes (emulator, SSE server) shared by the benchmarks."""

from __future__ import annotations

import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from subprocess import Popen
from typing import Any

import requests

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
FIXTURES = BENCH_DIR / "fixtures"
RESULTS = BENCH_DIR / "results"

Row = dict[str, Any]


def floor_row(benchmark: str, unit: str, values: dict[str, float], **extra: Any) -> Row:
    """A table row comparing ours, openai-python and the floor, as a ratio to the floor."""
    return {
        "benchmark": benchmark,
        "unit": unit,
        "ours": values["ours"],
        "peers": {"openai": values["openai"]},
        "floor": values["floor"],
        "ratio": f"ours/floor {values['ours'] / values['floor']:.2f}x",
        "ratio_value": values["ours"] / values["floor"],
        "target": "-",
        "met": None,
        **extra,
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def time_per_call(fn: Callable[[], Any], *, number: int) -> float:
    """Seconds per call of ``fn``, over ``number`` calls (GC left on, as in real use)."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calibrate(fn: Callable[[], Any], *, target: float = 0.2, cap: int = 10_000) -> int:
    """How many calls of ``fn`` take about ``target`` seconds (at least 1)."""
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-7)
    return max(1, min(cap, int(target / one)))


def interleaved(
    contenders: dict[str, Callable[[], Any]],
    *,
    repeats: int = 7,
    target: float = 0.2,
    warmup: int = 2,
    number: int | None = None,
) -> dict[str, float]:
    """Median seconds per call of each contender.

    The contenders take turns within each repetition, so a slow moment of the machine hits
    them all alike; each repetition runs a contender for about ``target`` seconds, or
    ``number`` times when that is given.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    numbers = {
        name: number if number is not None else calibrate(fn, target=target)
        for name, fn in contenders.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            gc.collect()
            samples[name].append(time_per_call(fn, number=numbers[name]))
    return {name: median(values) for name, values in samples.items()}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "implementation": sys.implementation.name,
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("assistants-client", "openai", "requests", "cattrs", "attrs", "sseclient-py"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


# -- helper processes ----------------------------------------------------------------------------


@contextmanager
def running(
    argv: Sequence[str], *, stop_within: float = 10.0, **popen: Any
) -> Iterator[Popen[str]]:
    """``argv`` in a process of its own, in text mode and the project root unless ``popen`` (the
    other arguments of :class:`subprocess.Popen`) says otherwise; stopped on exit.

    Stopping closes its standard input when that is a pipe (a helper's cue to end, see
    :func:`wait_for_stdin_close`), else sends SIGTERM; it kills the process when it has not ended
    within ``stop_within`` seconds, and closes its pipes.
    """
    proc: Popen[str] = subprocess.Popen(argv, **{"cwd": ROOT, "text": True, **popen})
    try:
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=stop_within)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=stop_within)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) spent so far by process ``pid`` and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        spent[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family = {pid}
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    return sum(spent.get(member, 0.0) for member in family)


def free_port() -> int:
    """A loopback TCP port free at the moment, for a server that cannot be told to pick one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_line(proc: Popen[str], what: str) -> str:
    """The first line ``proc`` prints (where a helper says it is ready), without its newline."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"{what} exited before it was ready (code {proc.wait()})")
    return line.strip()


def first_answer(proc: Popen[str], url: str, *, within: float) -> requests.Response:
    """The first answer to ``GET url`` from the server ``proc`` starts, once it listens.

    Raises, with what the process wrote to a piped standard error, when it exits first, and
    when it does not answer within ``within`` seconds.
    """
    deadline = time.monotonic() + within
    while True:
        if proc.poll() is not None:
            errors = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"{proc.args!r} exited (code {proc.returncode}): {errors}")
        try:
            return requests.get(url, timeout=1)
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args!r} did not answer {url} within {within} s")
        time.sleep(0.1)


@contextmanager
def helper_process(module: str, *args: str) -> Iterator[dict[str, Any]]:
    """Run ``python -m <module> <args>``; yield the JSON object it prints on its first line.

    The helper serves until its standard input closes, so it never outlives the benchmark.
    """
    argv = [sys.executable, "-m", module, *args]
    with running(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        yield json.loads(first_line(proc, module))


def wait_for_stdin_close() -> None:
    """Block until the parent closes our standard input (or dies)."""
    with suppress(OSError, ValueError):
        sys.stdin.read()


def emulator(*seed: str) -> Any:
    """An emulator in its own process; ``seed`` is ``["5000", "20000"]``-like message counts."""
    return helper_process("bench.emulator_process", *seed)


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def client_class() -> Any:
    """``assistants_client.AssistantsClient`` (from its module while the package lacks it)."""
    import assistants_client

    cls = getattr(assistants_client, "AssistantsClient", None)
    if cls is None:
        from assistants_client._client import AssistantsClient as cls
    return cls
