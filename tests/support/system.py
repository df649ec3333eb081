"""System-level chores of the test infrastructure: Debian packages and leftover processes.

`make test` must work on a fresh machine, so suites install the servers they need with apt.
Several pytest processes (xdist workers) may ask for the same packages at once; apt itself
refuses concurrent runs, so installs are serialised through a lock file and each caller checks
again, under the lock, whether the work is still needed.

Throwaway servers live in run directories stamped with the pytest process that owns them. A run
that was killed (SIGKILL, a crashed CI job) cannot clean up after itself, so the next run removes
run directories whose owner is gone and ends any process still using them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import pytest

logger = logging.getLogger(__name__)

LOCK_PATH = Path("/tmp/assistants-client-tests-apt.lock")
INSTALL_TIMEOUT_SECONDS = 900.0
UPDATE_TIMEOUT_SECONDS = 300.0
# apt waits this long for a lock held by another apt/dpkg run instead of failing at once.
DPKG_LOCK_TIMEOUT_SECONDS = 300
OUTPUT_TAIL_CHARS = 2000
OWNER_FILE_NAME = "owner"
# A run directory without an owner file yet may be one that another process is creating.
OWNERLESS_GRACE_SECONDS = 60.0


class InstallError(RuntimeError):
    """A required system package is missing and could not be installed."""


def _privilege_prefix() -> list[str]:
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo is not None:
        probe = subprocess.run([sudo, "-n", "true"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return [sudo, "-n"]
    return []


def _run_apt(arguments: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    settings = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    apt_command = [
        "apt-get",
        "-q",
        "-o",
        f"DPkg::Lock::Timeout={DPKG_LOCK_TIMEOUT_SECONDS}",
        *arguments,
    ]
    prefix = _privilege_prefix()
    if prefix:
        # sudo resets the environment; `env` carries the settings across.
        prefix += ["env", *(f"{name}={value}" for name, value in settings.items())]
    logger.info("running %s", " ".join(apt_command))
    started = time.monotonic()
    try:
        result = subprocess.run(
            [*prefix, *apt_command],
            capture_output=True,
            text=True,
            env=dict(os.environ, **settings),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise InstallError(
            f"{' '.join(apt_command)} did not finish within {timeout:.0f} s"
        ) from error
    logger.info(
        "apt-get %s exited with %d after %.1f s",
        arguments[0],
        result.returncode,
        time.monotonic() - started,
    )
    logger.debug("apt-get output:\n%s%s", result.stdout, result.stderr)
    return result


def _has_candidates(packages: Sequence[str]) -> bool:
    """Whether the local package lists know every package (fresh images often ship none)."""
    result = subprocess.run(
        ["apt-cache", "policy", *packages],
        capture_output=True,
        text=True,
        env=dict(os.environ, LC_ALL="C"),
        timeout=60,
        check=False,
    )
    candidates = [
        line.split(":", 1)[1].strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith("Candidate:")
    ]
    return len(candidates) == len(packages) and "(none)" not in candidates


def _update_lists() -> None:
    result = _run_apt(["update"], UPDATE_TIMEOUT_SECONDS)
    # A source that cannot be reached makes `apt-get update` exit non-zero even though the
    # Debian lists were refreshed; the install that follows is the real test.
    if result.returncode != 0:
        logger.warning("apt-get update reported errors:\n%s", result.stderr[-OUTPUT_TAIL_CHARS:])


def _install_command(packages: Sequence[str]) -> list[str]:
    return ["install", "-y", "--no-install-recommends", *packages]


def ensure_packages(
    packages: Sequence[str], is_installed: Callable[[], bool], purpose: str
) -> None:
    """Install `packages` with apt-get unless `is_installed()` already holds.

    Raises InstallError (never skips) when apt is unusable or the install fails, so a machine
    that cannot run a suite fails loudly instead of quietly running fewer tests.
    """
    if is_installed():
        return
    manual = (
        f"DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
        f"{' '.join(packages)}"
    )
    if shutil.which("apt-get") is None or shutil.which("apt-cache") is None:
        raise InstallError(f"{purpose} needs {', '.join(packages)}, and apt-get is not available")
    if os.geteuid() != 0 and not _privilege_prefix():
        raise InstallError(
            f"{purpose} needs {', '.join(packages)}; installing them needs root "
            f"(or password-less sudo). Run as root: {manual}"
        )
    LOCK_PATH.touch(exist_ok=True)
    with LOCK_PATH.open("r") as lock:
        logger.info("waiting for the apt install lock %s", LOCK_PATH)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if is_installed():
                logger.info("%s: installed meanwhile by another process", purpose)
                return
            started = time.monotonic()
            lists_refreshed = not _has_candidates(packages)
            if lists_refreshed:
                _update_lists()
            result = _run_apt(_install_command(packages), INSTALL_TIMEOUT_SECONDS)
            if result.returncode != 0 and not lists_refreshed:
                # Stale lists name package files the mirror no longer has; refresh and retry once.
                logger.warning("install failed, refreshing package lists and retrying")
                _update_lists()
                result = _run_apt(_install_command(packages), INSTALL_TIMEOUT_SECONDS)
            if result.returncode != 0 or not is_installed():
                raise InstallError(
                    f"{purpose}: `{manual}` failed (exit {result.returncode}):\n"
                    f"{(result.stdout + result.stderr)[-OUTPUT_TAIL_CHARS:]}"
                )
            logger.info(
                "%s: installed %s in %.1f s",
                purpose,
                " ".join(packages),
                time.monotonic() - started,
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def install_when_requested(
    items: Iterable[pytest.Item], fixture_name: str, ensure_installed: Callable[[], object]
) -> None:
    """Run `ensure_installed` during collection when any collected test uses `fixture_name`.

    For a conftest's pytest_collection_modifyitems: pytest-timeout charges fixture set-up to the
    first test that needs it, and an apt install there could exceed that test's timeout, while
    collection is not timed. A failed install ends the session with the reason.
    """
    if not any(fixture_name in getattr(item, "fixturenames", ()) for item in items):
        return
    try:
        ensure_installed()
    except InstallError as error:
        pytest.exit(
            f"cannot set up what {fixture_name!r} needs: {error}",
            returncode=pytest.ExitCode.INTERNAL_ERROR,
        )


def _process_start_ticks(pid: int) -> str | None:
    """The start time of a live process (None when it is gone or a zombie): pid plus this
    identifies a process even after its pid is reused."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; the fields after it do not.
    fields = stat_line[stat_line.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], fields[19]
    return None if state in ("Z", "X") else start_ticks


def _is_alive(pid: int) -> bool:
    return _process_start_ticks(pid) is not None


def run_base_dir() -> Path:
    """Where run directories live: the temp dir, if other users can reach into it.

    Servers may run as a different user than the tests (PostgreSQL refuses root), so the base
    must be traversable by everyone; /tmp always is.
    """
    base = Path(tempfile.gettempdir())
    current = base
    while current != current.parent:
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return Path("/tmp")
        current = current.parent
    return base


def create_run_dir(prefix: str) -> Path:
    """A new private directory stamped with the current process as its owner."""
    run_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=run_base_dir()))
    pid = os.getpid()
    (run_dir / OWNER_FILE_NAME).write_text(f"{pid} {_process_start_ticks(pid)}\n")
    return run_dir


def _owner_is_alive(run_dir: Path) -> bool:
    try:
        pid_text, start_ticks = (run_dir / OWNER_FILE_NAME).read_text().split()
    except (OSError, ValueError):
        try:
            age = time.time() - run_dir.stat().st_mtime
        except OSError:
            return False
        return age < OWNERLESS_GRACE_SECONDS
    return _process_start_ticks(int(pid_text)) == start_ticks


def processes_mentioning(text: str) -> list[int]:
    """Pids of processes (other than this one) whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in command_line and _is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_for_exit(pids: Sequence[int], timeout: float) -> bool:
    """Whether all `pids` ended within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while any(_is_alive(pid) for pid in pids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def terminate(pids: Sequence[int], first_signal: int, grace: float) -> None:
    """Send `first_signal`, and SIGKILL to whatever is still running after `grace` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, first_signal)
    if wait_for_exit(pids, grace):
        return
    for pid in pids:
        if _is_alive(pid):
            logger.warning("process %d ignored signal %d, killing it", pid, first_signal)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    wait_for_exit(pids, 5.0)


def leftover_run_dirs(prefix: str) -> Iterator[Path]:
    """Run directories with `prefix` whose owning process has ended."""
    base = run_base_dir()
    with contextlib.suppress(OSError):
        for candidate in sorted(base.glob(f"{prefix}*")):
            if candidate.is_dir() and not _owner_is_alive(candidate):
                yield candidate


def reap_leftovers(prefix: str, first_signal: int) -> None:
    """End the processes of run directories left by runs that were killed, and remove them."""
    for run_dir in leftover_run_dirs(prefix):
        pids = processes_mentioning(str(run_dir))
        logger.info("removing leftover %s (processes still using it: %s)", run_dir, pids or "none")
        terminate(pids, first_signal, grace=10.0)
        shutil.rmtree(run_dir, ignore_errors=True)
