"""openai-node (the release package.json pins) uploads, batches and searches, on the server.

``tests/compat/node/files.mjs`` runs an openai-node user's files flow against
``assistants-server`` on a fake backend serving ``/embeddings``, and prints what the SDK handed
back; every answer the server sent is checked against the spec as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.files.support import server_target

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "compat" / "node" / "files.mjs"

pytestmark = pytest.mark.timeout(90)


def test_openai_node_uploads_batches_searches_and_deletes(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; the openai-node compatibility tests need Node.js")
    if not (ROOT / "node_modules" / "openai" / "package.json").is_file():
        pytest.fail("node_modules/openai is missing at the repository root: run `npm ci`")
    made = server_target(tmp_path)
    try:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        environment["OPENAI_BASE_URL"] = made.base_url
        done = subprocess.run(
            [node, str(SCRIPT)],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert done.returncode == 0, summary.get("error") or done.stderr
        made.assert_all_answers_fit_the_spec()
    finally:
        made.stop()
    assert [f["filename"] for f in summary["files"]] == [
        "runbook.md",
        "billing.txt",
        "garden.txt",
        "firmware.bin",
    ]
    assert all("expires_at" in f["keys"] and "status" in f["keys"] for f in summary["files"])
    assert summary["binary_back"] is True and summary["listed"] == 4
    assert summary["batch"]["status"] == "completed"
    assert summary["batch"]["counts"] == {
        "in_progress": 0,
        "completed": 3,
        "failed": 1,
        "cancelled": 0,
        "total": 4,
    }
    assert [hit["filename"] for hit in summary["search"]] == ["runbook.md"]
    assert "ERR-4411" in summary["search"][0]["text"]
    assert summary["deleted_store"] is True and summary["deleted_file"] is True
