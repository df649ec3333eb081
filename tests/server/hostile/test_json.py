"""Request bodies that JSON cannot carry, against the built-in server and gunicorn.

Python's json module reads ``NaN``, ``Infinity`` and ``-Infinity``, and reads ``1e999`` as
infinity; RFC 8259 allows none of them, and no strict parser reads them back. Stored as they
came, one such value made ``GET /v1/assistants`` answer invalid JSON to every client from then
on, and failed every run of the assistant. Each is a 400 naming the parameter, and so is a
string holding half of a UTF-16 surrogate pair (no character: RFC 7493 section 2.1). Nothing
is stored, and every answer stays standard JSON. A SQLite file written by an earlier server,
which stored such values, is read with them as null.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server.support import BOUND, start_server

from .conftest import CLIENT_KEY, Target

AUTH = {"Authorization": f"Bearer {CLIENT_KEY}", "Content-Type": "application/json"}


def strict_json(text: str | bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def post(target: Target, path: str, raw: str) -> requests.Response:
    return requests.post(f"{target.base_url}{path}", data=raw.encode(), headers=AUTH, timeout=BOUND)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "-1E400"])
def test_a_number_json_cannot_carry_is_a_400_naming_the_parameter(
    target: Target, value: str
) -> None:
    answer = post(target, "/assistants", f'{{"model": "gpt-4o", "temperature": {value}}}')

    assert answer.status_code == 400
    error = strict_json(answer.text)["error"]
    assert error["param"] == "body.temperature"
    assert error["code"] == "invalid_json"
    assert error["message"] == (
        f"body.temperature: {value} is not a JSON number; send a finite number."
    )


def test_a_nested_nan_is_named_by_its_path(target: Target) -> None:
    raw = (
        '{"model": "gpt-4o", "tools": [{"type": "code_interpreter"}, {"type": "function", '
        '"function": {"name": "f", "parameters": {"type": "object", "default": [1, NaN]}}}]}'
    )

    answer = post(target, "/assistants", raw)

    assert answer.status_code == 400
    assert strict_json(answer.text)["error"]["param"] == (
        "body.tools[1].function.parameters.default[1]"
    )


def test_half_of_a_surrogate_pair_is_a_400_and_a_whole_pair_is_a_character(
    target: Target,
) -> None:
    half = post(target, "/assistants", '{"model": "gpt-4o", "name": "bad \\ud83d"}')
    whole = post(target, "/assistants", '{"model": "gpt-4o", "name": "ok \\ud83d\\ude00"}')
    raw_half = requests.post(
        f"{target.base_url}/assistants",
        data=b'{"model": "gpt-4o", "name": "bad \xed\xa0\xbd"}',  # the same half, as UTF-8
        headers=AUTH,
        timeout=BOUND,
    )

    assert half.status_code == 400
    assert strict_json(half.text)["error"]["param"] == "body.name"
    assert whole.status_code == 200
    assert whole.json()["name"] == "ok \U0001f600"
    assert raw_half.status_code == 400
    assert strict_json(raw_half.text)["error"]["code"] == "invalid_json"


def test_nothing_refused_is_stored_and_every_list_stays_standard_json(target: Target) -> None:
    made = post(target, "/assistants", '{"model": "gpt-4o", "metadata": {"k": "v"}}').json()
    thread = post(target, "/threads", "{}").json()
    refused = [
        post(target, "/assistants", '{"model": "gpt-4o", "top_p": NaN, "name": "refused"}'),
        post(target, f"/assistants/{made['id']}", '{"temperature": Infinity}'),
        post(
            target,
            f"/threads/{thread['id']}/runs",
            f'{{"assistant_id": "{made["id"]}", "temperature": NaN}}',
        ),
    ]

    assert [answer.status_code for answer in refused] == [400, 400, 400]
    listed = requests.get(f"{target.base_url}/assistants?limit=100", headers=AUTH, timeout=BOUND)
    assert listed.status_code == 200
    assistants = strict_json(listed.text)["data"]
    assert "refused" not in [a["name"] for a in assistants]
    (mine,) = [a for a in assistants if a["id"] == made["id"]]
    assert mine["temperature"] == 1.0
    runs = requests.get(
        f"{target.base_url}/threads/{thread['id']}/runs", headers=AUTH, timeout=BOUND
    )
    assert strict_json(runs.text)["data"] == []


def test_a_file_of_an_earlier_server_holding_nan_answers_it_as_null(tmp_path: Path) -> None:
    db = tmp_path / "earlier.db"
    server = start_server("http://127.0.0.1:9/v1", "--db", str(db))
    try:
        base = server.base_url
        made = requests.post(
            f"{base}/assistants", json={"model": "gpt-4o", "temperature": 0.5}, timeout=BOUND
        ).json()
    finally:
        server.stop()
    with sqlite3.connect(db) as connection:  # as an earlier server wrote it
        connection.execute(
            "UPDATE objects SET data = replace(data, '\"temperature\":0.5', '\"temperature\":NaN')"
        )
    server = start_server("http://127.0.0.1:9/v1", "--db", str(db))
    try:
        listed = requests.get(f"{server.base_url}/assistants", timeout=BOUND)
        one = requests.get(f"{server.base_url}/assistants/{made['id']}", timeout=BOUND)
    finally:
        server.stop()

    assert strict_json(listed.text)["data"][0]["temperature"] is None
    assert strict_json(one.text)["temperature"] is None
