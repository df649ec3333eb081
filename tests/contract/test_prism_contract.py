"""Contract tests: AssistantsClient against Prism mocking openapi/assistants.yaml.

Prism validates every request against the spec: an invalid one is answered 422 with the
problems listed in the body, and lesser problems (and any problem with the response Prism
generated itself) come back in the ``sl-violations`` header. So for each operation:

* the client's request with every parameter filled must draw no violation at all;
* Prism's dynamic answers (``Prefer: dynamic=true``: random data from the schemas, with random
  extra properties) must parse into the method's model, several times over.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml

from assistants_client import AssistantsClient
from assistants_client._exceptions import AssistantsError, InvalidArgumentError
from assistants_client._pagination import SyncPage
from assistants_client.models.operations import OPERATIONS
from tests.client.calls import CALLS as CLIENT_CALLS
from tests.contract.calls import (
    CALL_OPTIONS,
    EXCLUSIVE_CALLS,
    FILE_PART,
    FULL_CALLS,
    STREAM_OPTION,
    STREAMING_CALLS,
    Call,
)
from tests.contract.conftest import AS_IS, SPEC, Exchanges, Prism
from tests.contract.documents import nullable_as_31, unvalidated_by_prism

DYNAMIC = {"Prefer": "dynamic=true"}
DYNAMIC_ROUNDS = 5
# Body fields no regular call sends: ``stream`` is set by the streaming form of a call
# (``on_event``), checked in test_streaming_request_draws_no_violation.
STREAM_FIELD = "stream"
HTTP_METHODS = ("get", "post", "delete")

METHODS = sorted(FULL_CALLS)


@cache
def spec() -> dict[str, Any]:
    with SPEC.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


@cache
def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (HTTP method, path template, operation)."""
    found = {}
    for path, item in spec()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                found[item[method]["operationId"]] = (method.upper(), path, item[method])
    return found


def operation_of(method: str, path: str) -> str | None:
    """The operationId whose method and path template match a request, if any."""
    for operation_id, (op_method, template, _) in operations().items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if op_method == method and re.match(pattern, path):
            return operation_id
    return None


def query_parameters(operation_id: str) -> set[str]:
    _, _, operation = operations()[operation_id]
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def body_properties(operation_id: str) -> set[str]:
    """The top-level properties of an operation's request body schema (JSON or a form)."""
    _, _, operation = operations()[operation_id]
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return set()
    ref = next(iter(content.values()))["schema"]["$ref"]
    schema = spec()["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return set(schema.get("properties", {}))


def api_parameters(method: str) -> set[str]:
    """The arguments of a client method that are API parameters (not per-call options)."""
    parameters = inspect.signature(getattr(AssistantsClient, method)).parameters.values()
    named = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD}
    return named - {"self", STREAM_OPTION} - CALL_OPTIONS - FILE_PART


def violations(response: requests.Response, body: bytes | str | None = None) -> list[Any]:
    """What Prism found wrong: the ``sl-violations`` header, and the list in a 4xx problem
    ``body`` (the client reads bodies itself: pass ``raw.content`` or the error's ``body``)."""
    found: list[Any] = []
    header = response.headers.get("sl-violations")
    if header:
        try:
            found.extend(json.loads(header))
        except ValueError:  # "Too many violations! ..." (cut at 8 kB)
            found.append(header)
    if response.status_code >= 400:
        try:
            problem = json.loads(body or "")
        except ValueError:
            problem = body
        if isinstance(problem, dict):
            found.extend(problem.get("validation") or [problem])
        else:
            found.append(problem or f"status {response.status_code}")
    return found


def without_prisms_own_maps(found: list[Any]) -> list[Any]:
    """What Prism found wrong with its own answer, less what its generator gets wrong: a map
    whose values have a schema (a file's ``attributes``) gets more keys than
    ``maxProperties`` allows, and then matches neither branch of its ``anyOf`` with null."""
    crowded = {
        tuple(v["location"])
        for v in found
        if isinstance(v, dict) and v.get("code") == "maxProperties"
    }
    return [
        v for v in found if not (isinstance(v, dict) and tuple(v.get("location", ())) in crowded)
    ]


def describe(response: requests.Response, body: bytes | str | None = None) -> str:
    request = response.request
    sent = request.body.decode() if isinstance(request.body, bytes) else request.body
    return (
        f"{request.method} {request.url} -> {response.status_code}\n"
        f"request body: {sent}\nviolations: {json.dumps(violations(response, body), indent=1)}"
    )


def failure(exc: AssistantsError, exchanges: Exchanges) -> str:
    body = getattr(exc, "body", None)
    return f"{exc!r}\n" + "\n".join(describe(r, body) for r in exchanges)


def only_exchange(exchanges: Exchanges) -> requests.Response:
    assert len(exchanges) == 1, [describe(r) for r in exchanges]
    return exchanges[0]


def assert_parsed(call: Call, parsed: Any, response: requests.Response) -> None:
    if call.is_list:
        assert isinstance(parsed, SyncPage), describe(response)
        for item in parsed.data:
            assert isinstance(item, call.model), describe(response)
    else:
        assert isinstance(parsed, call.model), describe(response)


# -- coverage of the calls themselves ------------------------------------------------------


def test_every_operation_and_method_is_covered() -> None:
    assert len(FULL_CALLS) == 44
    assert set(FULL_CALLS) == set(CLIENT_CALLS)
    assert set(FULL_CALLS) == {operation.name for operation in OPERATIONS}
    assert {call.operation_id for call in FULL_CALLS.values()} == set(operations())


@pytest.mark.parametrize("method", METHODS)
def test_every_parameter_is_filled(method: str) -> None:
    call = FULL_CALLS[method]
    exclusive = EXCLUSIVE_CALLS.get(method)
    other = set(exclusive.kwargs) - set(call.kwargs) if exclusive else set()
    assert set(call.kwargs) | other == api_parameters(method)
    # ... and the client's parameters are the spec's: path ids, query (``include`` is sent as
    # ``include[]``), and body fields except ``stream``.
    _, template, _ = operations()[call.operation_id]
    path_ids = set(re.findall(r"\{([^}]+)\}", template))
    query = {name.removesuffix("[]") for name in query_parameters(call.operation_id)}
    body = body_properties(call.operation_id) - {STREAM_FIELD}
    assert api_parameters(method) == path_ids | query | body


# -- the documents Prism serves ------------------------------------------------------------

# What Prism cannot check in openapi/assistants.yaml as is (see documents.py): the schemas
# keep OpenAPI 3.0 ``nullable: true`` flags without ``type``, which Ajv refuses to compile.
RUN_ANSWERS = (
    "cancelRun",
    "createRun",
    "createThreadAndRun",
    "getRun",
    "listRuns",
    "modifyRun",
    "submitToolOuputsToRun",
)
UNVALIDATED_AS_IS = {"createRun request", "createThreadAndRun request"} | {
    f"{operation_id} response" for operation_id in RUN_ANSWERS
}


def test_where_prism_cannot_validate_the_spec_as_is() -> None:
    assert unvalidated_by_prism(spec()) == UNVALIDATED_AS_IS


def test_rewritten_document_is_fully_validated() -> None:
    rewritten = nullable_as_31(spec())
    assert "nullable" not in json.dumps(rewritten)
    assert unvalidated_by_prism(rewritten) == set()
    # Only schemas changed: the same operations, parameters and request bodies.
    assert rewritten["paths"].keys() == spec()["paths"].keys()
    assert rewritten["components"]["schemas"].keys() == spec()["components"]["schemas"].keys()


def test_prism_serves_the_paths_without_v1(prism: Prism) -> None:
    """The spec's server is https://api.openai.com/v1; Prism serves its paths bare, so the
    client's base URL is Prism's root."""
    assert spec()["servers"] == [{"url": "https://api.openai.com/v1"}]
    auth = {"Authorization": "Bearer sk-test"}
    assert requests.get(f"{prism.url}/assistants", headers=auth, timeout=10).status_code == 200
    assert requests.get(f"{prism.url}/v1/assistants", headers=auth, timeout=10).status_code == 404


BODY_METHODS = [m for m in METHODS if body_properties(FULL_CALLS[m].operation_id)]


@pytest.mark.parametrize("method", BODY_METHODS)
def test_prism_rejects_an_unknown_body_field(
    method: str,
    prism: Prism,
    prism_client: AssistantsClient,
    exchanges: Exchanges,
    request: pytest.FixtureRequest,
) -> None:
    """A canary: every request body schema is closed, so Prism must refuse an extra field.

    This shows Prism really validates the bodies the other tests send."""
    call = FULL_CALLS[method]
    if prism.document == AS_IS and f"{call.operation_id} request" in UNVALIDATED_AS_IS:
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="Prism skips this body schema: nullable without type (documents.py)",
            )
        )
    if FULL_CALLS[method].kwargs.get("file") is not None:
        request.applymarker(
            pytest.mark.xfail(strict=True, reason="Prism lets unknown fields of a form through")
        )
    with pytest.raises(AssistantsError) as raised:
        getattr(prism_client, method)(**call.kwargs, extra_body={"contract_canary": True})
    response = only_exchange(exchanges)
    found = violations(response, getattr(raised.value, "body", None))
    assert response.status_code == 422, describe(response)
    assert any("contract_canary" in str(v) for v in found), found


# -- requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "call"),
    [*((m, FULL_CALLS[m]) for m in METHODS), *EXCLUSIVE_CALLS.items()],
    ids=[*METHODS, *(f"{m}-other-form" for m in EXCLUSIVE_CALLS)],
)
def test_request_with_every_parameter_draws_no_violation(
    method: str, call: Call, prism_client: AssistantsClient, exchanges: Exchanges
) -> None:
    try:
        raw = getattr(prism_client.with_raw_response, method)(**call.kwargs)
    except AssistantsError as exc:
        pytest.fail(failure(exc, exchanges))
    response = only_exchange(exchanges)
    assert raw.status_code == 200, describe(response)
    assert not violations(response), describe(response)
    assert "sl-violations" not in raw.headers

    # The request reached the intended operation, with every query parameter and body field.
    url = urlsplit(response.request.url or "")
    assert operation_of(response.request.method or "", url.path) == call.operation_id
    assert set(parse_qs(url.query)) == query_parameters(call.operation_id)
    if response.request.headers.get("Content-Type", "").startswith("multipart/form-data"):
        # A form was streamed (its body is no longer at hand): Prism checked its fields.
        assert method == "upload_file"
    else:
        body = json.loads(response.request.body) if response.request.body else {}
        assert set(body) == set(call.kwargs) & body_properties(call.operation_id) - {STREAM_FIELD}

    # Prism's static answer (the spec's examples) parses too.
    assert_parsed(call, raw.parse(), response)


@pytest.mark.parametrize("method", STREAMING_CALLS)
def test_streaming_request_draws_no_violation(
    method: str, prism_client: AssistantsClient, exchanges: Exchanges
) -> None:
    """``on_event`` sends the same call with ``"stream": true``.

    The spec declares no ``text/event-stream`` answer, so Prism answers JSON and the client
    cannot read an event stream from it: only the request is checked here.
    """
    call = FULL_CALLS[method]
    with contextlib.suppress(AssistantsError):
        getattr(prism_client, method)(**call.kwargs, on_event=lambda event: None)
    response = only_exchange(exchanges)
    assert response.status_code == 200, describe(response)
    assert not violations(response), describe(response)
    body = json.loads(response.request.body or b"{}")
    assert body[STREAM_FIELD] is True
    assert set(body) == body_properties(call.operation_id)


def _required_arguments(method: str) -> dict[str, Any]:
    signature = inspect.signature(getattr(AssistantsClient, method))
    required = {
        name
        for name, parameter in signature.parameters.items()
        if name != "self" and parameter.default is inspect.Parameter.empty
    }
    return {name: value for name, value in FULL_CALLS[method].kwargs.items() if name in required}


NULLABLE_CASES = [
    (method, field)
    for method in METHODS
    for field in sorted(body_properties(FULL_CALLS[method].operation_id) & api_parameters(method))
    if field not in _required_arguments(method)
]


@pytest.mark.parametrize(("method", "field"), NULLABLE_CASES)
def test_null_the_client_sends_draws_no_violation(
    method: str, field: str, prism_client: AssistantsClient, exchanges: Exchanges
) -> None:
    """``field=None`` is sent as JSON null (to clear a field): Prism must accept every null
    the client lets through; the client refuses the others before sending anything."""
    try:
        getattr(prism_client.with_raw_response, method)(
            **_required_arguments(method), **{field: None}
        )
    except InvalidArgumentError:
        assert not exchanges  # refused locally: nothing was sent
        return
    except AssistantsError as exc:
        pytest.fail(failure(exc, exchanges))
    response = only_exchange(exchanges)
    assert json.loads(response.request.body or b"{}")[field] is None
    assert response.status_code == 200, describe(response)
    assert not violations(response), describe(response)


# -- responses ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_dynamic_responses_parse(
    method: str, prism_client: AssistantsClient, exchanges: Exchanges
) -> None:
    call = FULL_CALLS[method]
    for _ in range(DYNAMIC_ROUNDS):
        exchanges.clear()
        raw = getattr(prism_client.with_raw_response, method)(**call.kwargs, extra_headers=DYNAMIC)
        response = only_exchange(exchanges)
        answer = f"{describe(response)}\nresponse body: {raw.content.decode()}"
        assert raw.status_code == 200, answer
        # Prism checks its own generated answer against the spec too ("response" violations).
        assert not without_prisms_own_maps(violations(response)), answer
        try:
            parsed = raw.parse()
        except AssistantsError as exc:
            pytest.fail(f"{exc}\n{answer}")
        assert_parsed(call, parsed, response)
