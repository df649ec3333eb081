"""End-to-end: AssistantsClient against the emulator over real loopback sockets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from assistants_client import AssistantsClient
from assistants_client.emulator import Emulator
from tests.emulator.spec_tools import assert_response_valid


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[AssistantsClient]:
    emulator.reset()
    with AssistantsClient("sk-e2e", base_url=emulator.base_url) as c:
        yield c


@pytest.fixture
def raw_call(client: AssistantsClient) -> Callable[..., Any]:
    """Call a method through with_raw_response, check the body against the spec, return it parsed."""

    def call(operation_id: str, method: str, *args: Any, **kwargs: Any) -> Any:
        raw = getattr(client.with_raw_response, method)(*args, **kwargs)
        assert raw.status_code == 200
        assert raw.request_id and raw.request_id.startswith("req_")
        assert_response_valid(operation_id, json.loads(raw.content))
        return raw.parse()

    return call
