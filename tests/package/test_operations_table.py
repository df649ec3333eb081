"""The generated operations table is the one list of operations, and everything reads it.

A new operation in the spec appears in the table when the models are regenerated; then each
test below that is parametrized by the table fails, naming it, until the client, its raw view
and the emulator serve it.
"""

from __future__ import annotations

import json
import re

import attrs
import pytest

from assistants_client import AssistantsClient
from assistants_client._operation import ListOperation
from assistants_client.emulator.replies import default_reply
from assistants_client.models import operations as ops
from assistants_client.server.engine import Engine
from assistants_client.server.http import ApiApp
from assistants_client.server.responders.script import Script
from assistants_client.server.responders.scripted import ScriptedResponder
from assistants_client.server.stores.memory import MemoryStore
from assistants_client.server.validation import load_document

SCHEMA_PREFIX = "#/components/schemas/"
OPERATION_IDS = [operation.id for operation in ops.OPERATIONS]


def _spec_operations() -> dict[str, tuple[str, str, dict[str, object]]]:
    found = {}
    for path, item in load_document()["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "delete"):
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


def _component(node: dict[str, object] | None) -> str | None:
    if not node:
        return None
    ref = node["schema"]["$ref"]  # type: ignore[index]
    return str(ref).removeprefix(SCHEMA_PREFIX)


def test_the_table_has_every_operation_of_the_spec_once() -> None:
    assert sorted(OPERATION_IDS) == sorted(_spec_operations())
    assert len({operation.name for operation in ops.OPERATIONS}) == len(ops.OPERATIONS)


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_each_entry_says_how_the_spec_calls_the_operation(operation_id: str) -> None:
    operation = next(op for op in ops.OPERATIONS if op.id == operation_id)
    method, path, spec = _spec_operations()[operation_id]
    assert (operation.method, operation.path) == (method, path)
    assert operation.path_params == tuple(re.findall(r"{(\w+)}", path))
    query = [p["name"] for p in spec.get("parameters", []) if p["in"] == "query"]  # type: ignore[attr-defined, index]
    assert list(operation.query_params) == query
    bodies: dict[str, object] = spec.get("requestBody", {}).get("content", {})  # type: ignore[attr-defined]
    assert [operation.request_media_type] == (list(bodies) or [None])
    request = _component(next(iter(bodies.values()), None))  # type: ignore[arg-type]
    assert (operation.request is None) == (request is None)
    schemas = load_document()["components"]["schemas"]
    assert operation.streamable == bool(
        request and "stream" in schemas[request]["properties"] and bodies.get("application/json")
    )
    answers = spec["responses"]["200"]["content"]  # type: ignore[index]
    assert [operation.response_media_type] == list(answers)
    if operation.response_media_type != "application/json":
        # Only a file's raw content is read as bytes (openapi/overlay.yaml says why).
        assert (operation.name, operation.response) == ("get_file_content", bytes)
        return
    answer = _component(answers["application/json"])
    assert answer is not None
    # A list pages by cursor (its schema is named List...); a search's page does not.
    assert isinstance(operation, ListOperation) == answer.startswith("List")


def test_uploads_are_multipart_and_only_uploads() -> None:
    multipart = {op.name for op in ops.OPERATIONS if op.request_media_type == "multipart/form-data"}
    assert multipart == {"upload_file"}
    assert ops.UPLOAD_FILE.request is not None
    assert "file" in {f.name for f in attrs.fields(ops.UPLOAD_FILE.request)}


def test_the_three_streamable_operations_are_the_run_starters() -> None:
    streamable = {op.name for op in ops.OPERATIONS if op.streamable}
    assert streamable == {"create_run", "create_thread_and_run", "submit_tool_outputs"}


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_the_client_has_a_method_and_a_raw_method_for_each_operation(operation_id: str) -> None:
    operation = next(op for op in ops.OPERATIONS if op.id == operation_id)
    client = AssistantsClient(base_url="http://127.0.0.1:1")
    assert callable(getattr(client, operation.name, None)), f"no client method {operation.name}"
    assert callable(getattr(client.with_raw_response, operation.name, None))


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_the_engine_has_a_handler_for_each_operation(operation_id: str) -> None:
    operation = next(op for op in ops.OPERATIONS if op.id == operation_id)
    assert callable(getattr(Engine, operation.name, None)), f"no engine handler {operation.name}"


def test_the_emulator_answers_501_naming_an_operation_it_does_not_serve() -> None:
    class Partial(Engine):
        get_thread = None  # as if getThread were new in the spec

    engine = Partial(MemoryStore(), ScriptedResponder(Script(), default_reply=default_reply))
    try:
        status: list[str] = []
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v1/threads/thread_1"}
        answer = ApiApp(engine)(environ, lambda line, headers: status.append(line))
        error = json.loads(b"".join(answer))["error"]
    finally:
        engine.close()
    assert status[0].startswith("501")
    assert "getThread" in error["message"]


def test_a_path_is_built_only_from_checked_ids() -> None:
    assert (
        ops.GET_RUN.path_for(thread_id="thread_1", run_id="run_2") == "/threads/thread_1/runs/run_2"
    )
    with pytest.raises(ValueError, match="run_id"):
        ops.GET_RUN.path_for(thread_id="thread_1", run_id="../x")
    with pytest.raises(ValueError, match="thread_id"):
        ops.GET_RUN.path_for(run_id="run_2")
