"""Fixtures of the end-to-end tests of files and vector stores (see ``support.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.files.support import Documents, Target, documents, emulator_target, server_target


@pytest.fixture(params=["emulator", "server"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """The API served by the emulator, then by ``assistants-server`` on a fake backend; every
    answer either sends is checked against the spec."""
    made = emulator_target() if request.param == "emulator" else server_target(tmp_path)
    try:
        yield made
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()


@pytest.fixture
def docs(tmp_path: Path) -> Documents:
    return documents(tmp_path / "docs")
