"""Fixtures for the emulator tests: a running emulator and a small HTTP helper around it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from assistants_client.emulator import Emulator

from .spec_tools import assert_response_valid


class Api:
    """Raw HTTP calls to an emulator with ``requests``; every 200 body is checked against the
    response schema of its operation."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.base = emulator.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer sk-test"

    def call(
        self,
        method: str,
        path: str,
        operation: str | None = None,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expect: int = 200,
        files: Any = None,
        data: Any = None,
    ) -> Any:
        response = self.session.request(
            method,
            self.base + path,
            json=json_body,
            params=params,
            headers=headers,
            timeout=10,
            files=files,
            data=data,
        )
        assert response.status_code == expect, response.text
        if response.headers.get("Content-Type") == "application/octet-stream":
            return response.content  # a file's bytes
        body = response.json()
        if expect == 200 and operation is not None:
            assert_response_valid(operation, body)
        return body

    def assistant(self, **fields: Any) -> dict[str, Any]:
        payload = {"model": "gpt-4o", **fields}
        return self.call("POST", "/assistants", "createAssistant", json_body=payload)  # type: ignore[no-any-return]

    def thread(self, *texts: str) -> dict[str, Any]:
        messages = [{"role": "user", "content": text} for text in texts]
        return self.call("POST", "/threads", "createThread", json_body={"messages": messages})  # type: ignore[no-any-return]

    def message(self, thread_id: str, text: str) -> dict[str, Any]:
        return self.call(  # type: ignore[no-any-return]
            "POST",
            f"/threads/{thread_id}/messages",
            "createMessage",
            json_body={"role": "user", "content": text},
        )

    def run(self, thread_id: str, assistant_id: str, **fields: Any) -> dict[str, Any]:
        return self.call(  # type: ignore[no-any-return]
            "POST",
            f"/threads/{thread_id}/runs",
            "createRun",
            json_body={"assistant_id": assistant_id, **fields},
        )

    def get_run(self, thread_id: str, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/threads/{thread_id}/runs/{run_id}", "getRun")  # type: ignore[no-any-return]

    def wait_run(
        self, thread_id: str, run_id: str, until: Callable[[str], bool] | None = None
    ) -> dict[str, Any]:
        done = until or (lambda status: status not in {"queued", "in_progress", "cancelling"})
        deadline = time.monotonic() + 5
        while True:
            run = self.get_run(thread_id, run_id)
            if done(run["status"]) or time.monotonic() > deadline:
                return run
            time.sleep(0.005)

    def messages(self, thread_id: str, **params: Any) -> dict[str, Any]:
        return self.call(  # type: ignore[no-any-return]
            "GET", f"/threads/{thread_id}/messages", "listMessages", params=params
        )

    def stream(self, path: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
        """POST with ``stream: true`` and parse the event stream into (event, data) pairs."""
        response = self.session.post(
            self.base + path, json={**body, "stream": True}, stream=True, timeout=10
        )
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/event-stream")
        return parse_events(b"".join(response.iter_content(chunk_size=None)).decode())


def parse_events(text: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        data = fields["data"]
        events.append((fields["event"], data if data == "[DONE]" else json.loads(data)))
    return events


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def api(emulator: Emulator) -> Iterator[Api]:
    client = Api(emulator)
    yield client
    client.session.close()
