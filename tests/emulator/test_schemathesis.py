"""Property-based checks of every operation against the spec, with schemathesis."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from assistants_client.emulator import Emulator

from .spec_tools import converted_document

# The spec's nullable fields use the OpenAPI 3.0 keyword; schemathesis reads the converted,
# plain JSON Schema form. The spec documents only 200 (and 429) responses, so the status code
# check does not apply: 400/404 answers to generated ids and bodies are the API's semantics.


def _generatable(document: dict[str, Any]) -> dict[str, Any]:
    """The spec with its one recursive schema cut to one level (a compound filter of
    comparisons): schemathesis cannot generate from a schema that refers to itself."""
    document = copy.deepcopy(document)
    compound = document["components"]["schemas"]["CompoundFilter"]["properties"]["filters"]
    compound["items"] = {"$ref": "#/components/schemas/ComparisonFilter"}
    return document


SCHEMA = schemathesis.openapi.from_dict(_generatable(converted_document()))
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[Emulator, dict[str, str]]]:
    """One emulator shared by the module, holding an assistant, a thread, a run and its step,
    a file, a vector store holding it and a file batch."""
    with Emulator() as emu, requests.Session() as session:
        base = emu.base_url
        assistant = session.post(base + "/assistants", json={"model": "gpt-4o"}).json()
        thread = session.post(
            base + "/threads", json={"messages": [{"role": "user", "content": "hi"}]}
        ).json()
        run = session.post(
            f"{base}/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}
        ).json()
        import time

        time.sleep(0.05)
        steps = session.get(f"{base}/threads/{thread['id']}/runs/{run['id']}/steps").json()
        message = session.get(f"{base}/threads/{thread['id']}/messages").json()["data"][0]
        uploaded = session.post(
            base + "/files",
            files={"file": ("notes.md", b"# Notes\n\nERR-4411 means a full disk.")},
            data={"purpose": "assistants"},
        ).json()
        store = session.post(
            base + "/vector_stores", json={"name": "notes", "file_ids": [uploaded["id"]]}
        ).json()
        batch = session.post(
            f"{base}/vector_stores/{store['id']}/file_batches",
            json={"file_ids": [uploaded["id"]]},
        ).json()
        ids = {
            "assistant_id": assistant["id"],
            "thread_id": thread["id"],
            "run_id": run["id"],
            "message_id": message["id"],
            "step_id": steps["data"][0]["id"],
            "file_id": uploaded["id"],
            "vector_store_id": store["id"],
            "batch_id": batch["id"],
        }
        yield emu, ids


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_generated_requests_never_cause_server_errors_or_invalid_responses(
    seeded: tuple[Emulator, dict[str, str]], label: str
) -> None:
    emu, ids = seeded
    operation = OPERATIONS[label]
    session = requests.Session()
    calls: list[int] = []
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, use_known_ids=st.booleans())
    def check(case: schemathesis.Case, use_known_ids: bool) -> None:
        if use_known_ids and case.path_parameters:
            case.path_parameters = {
                name: ids.get(name, value) for name, value in case.path_parameters.items()
            }
        response = case.call_and_validate(base_url=emu.base_url, session=session, checks=CHECKS)
        calls.append(response.status_code)

    check()
    session.close()
    assert calls, "no request was generated"
    assert all(status < 500 for status in calls)
