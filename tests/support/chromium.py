"""Headless Chromium for tests that need a real browser, driven through selenium.

Debian's `chromium` and `chromium-driver` packages are installed when missing: the two come from
the same source package at the same version, so the driver always speaks to a browser it was
built for. In a conftest:

    from tests.support.chromium import browser_fixture, install_when_requested

    browser = browser_fixture()

    def pytest_collection_modifyitems(items):
        install_when_requested(items)  # an apt install must not count against a test's timeout

Every browser gets a new run directory holding an empty profile and the chromedriver log; both
processes are ended and the directory removed when the browser closes, and a later run removes
what a killed run left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest

from tests.support import system
from tests.support.system import (
    create_run_dir,
    ensure_packages,
    processes_mentioning,
    reap_leftovers,
    terminate,
)

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

logger = logging.getLogger(__name__)

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMEDRIVER_PATH = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
RUN_DIR_PREFIX = "assistants-client-chromium-"
FIXTURE_NAME = "browser"
PAGE_LOAD_TIMEOUT_SECONDS = 30.0
SCRIPT_TIMEOUT_SECONDS = 30.0
EXIT_GRACE_SECONDS = 10.0
HEADLESS_FLAGS = (
    "--headless",
    # Root cannot use Chromium's sandbox; the pages under test are our own.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No traffic beyond the page under test: the machine has no network besides registries.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Containers often have a 64 MB /dev/shm, too small for Chromium's shared memory.
    "--disable-dev-shm-usage",
)

FixtureScope = Literal["session", "package", "module", "class", "function"]


def _chromium_is_installed() -> bool:
    return os.access(CHROMIUM_PATH, os.X_OK) and os.access(CHROMEDRIVER_PATH, os.X_OK)


def ensure_chromium_installed() -> None:
    """Install Debian's chromium and chromium-driver when either program is missing."""
    ensure_packages(PACKAGES, _chromium_is_installed, "browser tests")


def install_when_requested(items: Iterable[pytest.Item], fixture_name: str = FIXTURE_NAME) -> None:
    """Install during collection, outside any test's timeout, if a collected test uses the fixture."""
    system.install_when_requested(items, fixture_name, ensure_chromium_installed)


def _end_processes_of(run_dir: Path) -> None:
    # The browser's command line names its profile and chromedriver's names its log file, both
    # inside the run directory; driver.quit() returns before the browser has fully exited.
    pids = processes_mentioning(str(run_dir))
    if pids:
        terminate(pids, signal.SIGTERM, EXIT_GRACE_SECONDS)


@contextlib.contextmanager
def headless_chromium() -> Iterator[WebDriver]:
    """A selenium WebDriver for a new headless Chromium with an empty profile."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise RuntimeError(
            "browser tests need selenium: install the project's dev extra (pip install -e '.[dev]')"
        ) from error
    ensure_chromium_installed()
    reap_leftovers(RUN_DIR_PREFIX, signal.SIGTERM)
    run_dir = create_run_dir(RUN_DIR_PREFIX)
    try:
        profile_dir = run_dir / "profile"
        profile_dir.mkdir()
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM_PATH)
        for flag in (*HEADLESS_FLAGS, f"--user-data-dir={profile_dir}"):
            options.add_argument(flag)
        # An explicit driver path keeps Selenium Manager, which would try to download one, out.
        service = Service(
            executable_path=str(CHROMEDRIVER_PATH),
            log_output=str(run_dir / "chromedriver.log"),
        )
        started = time.monotonic()
        driver = webdriver.Chrome(options=options, service=service)
        logger.info(
            "headless Chromium %s ready in %.2f s, run dir %s",
            driver.capabilities.get("browserVersion"),
            time.monotonic() - started,
            run_dir,
        )
        try:
            driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_SECONDS)
            driver.set_script_timeout(SCRIPT_TIMEOUT_SECONDS)
            yield driver
        finally:
            closing = time.monotonic()
            driver.quit()
            _end_processes_of(run_dir)
            logger.info("headless Chromium closed in %.2f s", time.monotonic() - closing)
    finally:
        _end_processes_of(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


def browser_fixture(
    *, name: str = FIXTURE_NAME, scope: FixtureScope = "function"
) -> Callable[[], Iterator[WebDriver]]:
    """A pytest fixture (assign it to a name in a conftest) yielding a headless Chromium.

    The default scope gives every test a fresh browser (about a second to start and close); a
    wider scope shares one, cookies and storage included.
    """

    @pytest.fixture(scope=scope, name=name)
    def browser() -> Iterator[WebDriver]:
        with headless_chromium() as driver:
            yield driver

    return browser
