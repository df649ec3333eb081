"""SQLite persistence across restarts, and the command line server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from assistants_client.emulator import Emulator


def test_state_survives_a_restart_with_a_database(tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    with Emulator(db_path=db) as emu, requests.Session() as session:
        assistant = session.post(emu.base_url + "/assistants", json={"model": "gpt-4o"}).json()
        thread = session.post(
            emu.base_url + "/threads", json={"messages": [{"role": "user", "content": "a"}]}
        ).json()
        session.post(
            f"{emu.base_url}/threads/{thread['id']}/messages", json={"role": "user", "content": "b"}
        )
        deleted = session.post(
            f"{emu.base_url}/threads/{thread['id']}/messages", json={"role": "user", "content": "c"}
        ).json()
        session.delete(f"{emu.base_url}/threads/{thread['id']}/messages/{deleted['id']}")
        session.post(emu.base_url + "/threads", json={}, headers={"Idempotency-Key": "k"})
    with Emulator(db_path=db) as emu, requests.Session() as session:
        again = session.get(f"{emu.base_url}/assistants/{assistant['id']}").json()
        assert again == assistant
        page = session.get(
            f"{emu.base_url}/threads/{thread['id']}/messages", params={"order": "asc"}
        ).json()
        assert [m["content"][0]["text"]["value"] for m in page["data"]] == ["a", "b"]
        after_deleted = session.get(
            f"{emu.base_url}/threads/{thread['id']}/messages",
            params={"order": "asc", "after": deleted["id"]},
        )
        assert after_deleted.status_code == 200
        replay = session.post(emu.base_url + "/threads", json={}, headers={"Idempotency-Key": "k"})
        assert replay.status_code == 200
        assert len(emu.store.children("thread", project="")) == 2
        newer = session.post(
            f"{emu.base_url}/threads/{thread['id']}/messages", json={"role": "user", "content": "d"}
        ).json()
        latest = session.get(
            f"{emu.base_url}/threads/{thread['id']}/messages", params={"limit": 1}
        ).json()
        assert latest["data"][0]["id"] == newer["id"]


def test_a_run_in_flight_at_shutdown_finishes_after_the_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    with Emulator(db_path=db) as emu, requests.Session() as session:
        emu.script.queue_delay(0.2)
        assistant = session.post(emu.base_url + "/assistants", json={"model": "gpt-4o"}).json()
        thread = session.post(
            emu.base_url + "/threads", json={"messages": [{"role": "user", "content": "hi"}]}
        ).json()
        run = session.post(
            f"{emu.base_url}/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}
        ).json()
    with Emulator(db_path=db) as emu, requests.Session() as session:
        import time

        time.sleep(0.3)
        status = session.get(f"{emu.base_url}/threads/{thread['id']}/runs/{run['id']}").json()
        assert status["status"] == "completed"


def _start_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "assistants_client.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_the_cli_prints_its_base_url_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = _start_cli("--api-key", "sk-cli", "--db", str(tmp_path / "cli.db"))
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        denied = requests.get(base_url + "/assistants", timeout=5)
        assert denied.status_code == 401
        made = requests.post(
            base_url + "/threads", json={}, headers={"Authorization": "Bearer sk-cli"}, timeout=5
        )
        assert made.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "cli.db").exists()


def test_the_cli_stops_cleanly_on_sigint_in_azure_mode() -> None:
    process = _start_cli("--azure")
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.endswith("/openai")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
