"""The Django tests run the example project (examples/django_chat) on a fresh emulator each.

Django is set up once, at collection, with the example's settings; each test's emulator is
put in ``ASSISTANTS_CLIENT`` with ``override_settings``, which also drops the process's client
so that the next ``get_client()`` builds one for it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import django
import pytest
from django.test import Client, override_settings

from assistants_client.emulator import Emulator, Timing
from tests.support import chromium

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "django_chat"
API_KEY = "sk-django-test-0123456789-DO-NOT-LEAK"
# Slow enough that a test can act in the middle of a stream (20 ms between pieces).
STREAM_INTERVAL = 0.02

if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_site.settings")
django.setup()
# Django's set-up sends Python's warnings into logging; the rest of the suite (one process)
# expects them as Python issues them.
logging.captureWarnings(False)

browser = chromium.browser_fixture()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    chromium.install_when_requested(items)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator (requiring ``API_KEY``) that ``get_client()`` points at."""
    timing = Timing(stream_interval=STREAM_INTERVAL)
    with (
        Emulator(api_key=API_KEY, timing=timing) as emu,
        override_settings(ASSISTANTS_CLIENT={"base_url": emu.base_url, "api_key": API_KEY}),
    ):
        yield emu


@pytest.fixture
def web(emulator: Emulator) -> Client:
    """Django's test client for the example site (a user with a session of its own)."""
    return Client()
