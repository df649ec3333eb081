"""Property-based checks of every public method of AssistantsClient against bad input.

- Any invalid id (None, not a str, empty, blank, ``.``, ``..``, or holding ``/ ? # % \\``,
  whitespace or control characters), as a path id or as a cursor (``after``, ``before``,
  ``run_id`` filters), raises InvalidArgumentError naming the parameter, and nothing is sent.
- Any invalid argument (role, content, limit, order, include, tool outputs, metadata over the
  API's limits or not str to str, temperature / top_p outside the spec's bounds, per-call
  timeout, max_retries or extra headers, wait and tool-loop settings) does the same.
- Any valid id (letters, digits, ``_`` and ``-``) gives one request whose path has exactly the
  expected segments.

The server counts requests: a bad call must leave the count where it was. Run with
``--hypothesis-show-statistics`` to see how many examples each property tried.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistants_client import FileUpload, InvalidArgumentError
from assistants_client._arguments import MAX_ID_CHARS
from assistants_client._client import AssistantsClient
from assistants_client.models import RunResponse
from tests import payloads
from tests.client.calls import CALLS, reply_for
from tests.servers.misbehaving import MisbehavingServer, event_stream, sse_bytes
from tests.servers.scripted import Reply
from tests.streaming import recorded

from .conftest import API_KEY

TOOL_OUTPUTS = [{"tool_call_id": "call_1", "output": "42"}]

# method -> valid keyword arguments; the plain methods come from the client tests' table.
METHODS: dict[str, dict[str, Any]] = {name: dict(kwargs) for name, (kwargs, *_) in CALLS.items()}
METHODS.update(
    {
        "stream_run": {"thread_id": "thread_1", "assistant_id": "asst_1"},
        "stream_thread_and_run": {"assistant_id": "asst_1"},
        "stream_tool_outputs": {
            "thread_id": "thread_1",
            "run_id": "run_1",
            "tool_outputs": TOOL_OUTPUTS,
        },
        "wait_for_run": {"thread_id": "thread_1", "run_id": "run_1"},
        "create_run_and_wait": {"thread_id": "thread_1", "assistant_id": "asst_1"},
        "run_with_tools": {
            "thread_id": "thread_1",
            "assistant_id": "asst_1",
            "functions": {"noop": lambda: "ok"},
        },
        "run_and_get_reply": {
            "thread_id": "thread_1",
            "assistant_id": "asst_1",
            "functions": {"noop": lambda: "ok"},
        },
        "create_vector_store_file_and_poll": {"vector_store_id": "vs_1", "file_id": "file_1"},
        "wait_for_vector_store_file": {"vector_store_id": "vs_1", "file_id": "file_1"},
        "create_file_batch_and_poll": {"vector_store_id": "vs_1", "file_ids": ["file_1"]},
        "wait_for_file_batch": {"vector_store_id": "vs_1", "batch_id": "vsfb_1"},
        "upload_files_and_poll": {
            "vector_store_id": "vs_1",
            "files": [FileUpload.of(b"x", filename="x.txt")],
        },
        "call_functions": {
            "run": RunResponse.from_dict(
                dict(recorded.tool_call_events(['{"city": "Oslo"}']))["thread.run.requires_action"]
            ),
            "functions": {"noop": lambda: "ok"},
        },
    }
)
# Polling helpers for files: a deadline of their own, no per-call options.
INGEST_HELPERS = {
    "create_vector_store_file_and_poll",
    "wait_for_vector_store_file",
    "create_file_batch_and_poll",
    "wait_for_file_batch",
    "upload_files_and_poll",
}

# method -> (HTTP method, path under /v1) of the first request it sends.
ENDPOINTS: dict[str, tuple[str, str]] = {name: (m, p) for name, (_, m, p, _) in CALLS.items()}
ENDPOINTS.update(
    {
        "stream_run": ("POST", "/threads/thread_1/runs"),
        "stream_thread_and_run": ("POST", "/threads/runs"),
        "stream_tool_outputs": ("POST", "/threads/thread_1/runs/run_1/submit_tool_outputs"),
        "wait_for_run": ("GET", "/threads/thread_1/runs/run_1"),
        "create_run_and_wait": ("POST", "/threads/thread_1/runs"),
        "create_vector_store_file_and_poll": ("POST", "/vector_stores/vs_1/files"),
        "wait_for_vector_store_file": ("GET", "/vector_stores/vs_1/files/file_1"),
        "create_file_batch_and_poll": ("POST", "/vector_stores/vs_1/file_batches"),
        "wait_for_file_batch": ("GET", "/vector_stores/vs_1/file_batches/vsfb_1"),
    }
)
STREAMING = {"stream_run", "stream_thread_and_run", "stream_tool_outputs"}

ID_PARAMS = (
    "thread_id",
    "message_id",
    "run_id",
    "step_id",
    "assistant_id",
    "file_id",
    "vector_store_id",
    "batch_id",
)
CURSORS = {
    "list_assistants": ("after", "before"),
    "list_messages": ("after", "before", "run_id"),
    "list_runs": ("after", "before"),
    "list_run_steps": ("after", "before"),
    "list_files": ("after",),
    "list_vector_stores": ("after", "before"),
    "list_vector_store_files": ("after", "before"),
    "list_vector_store_file_batch_files": ("after", "before"),
}
ID_CASES = sorted(
    {(name, p) for name, kwargs in METHODS.items() for p in kwargs if p in ID_PARAMS}
    | {(name, p) for name, params in CURSORS.items() for p in params}
)

# Methods that take the per-call options (directly or through **params).
WITH_OPTIONS = sorted(set(METHODS) - {"wait_for_run", "call_functions"} - INGEST_HELPERS)
WITH_METADATA = sorted(
    {
        "create_assistant",
        "update_assistant",
        "create_thread",
        "update_thread",
        "create_message",
        "update_message",
        "create_run",
        "update_run",
        "create_thread_and_run",
        "stream_run",
        "stream_thread_and_run",
        "create_run_and_wait",
        "run_with_tools",
        "run_and_get_reply",
    }
)
WITH_SAMPLING = sorted(
    {
        "create_assistant",
        "update_assistant",
        "create_run",
        "create_thread_and_run",
        "stream_run",
        "stream_thread_and_run",
        "create_run_and_wait",
        "run_with_tools",
        "run_and_get_reply",
    }
)
LISTS = sorted(set(CURSORS) - {"list_files"})  # files are listed up to 10,000 a page
WITH_INCLUDE = ["create_run", "get_run_step", "list_run_steps", "stream_run"]

# -- strategies -------------------------------------------------------------------------------

SAFE_ALPHABET = string.ascii_letters + string.digits + "_-"
valid_ids = st.text(alphabet=SAFE_ALPHABET, min_size=1, max_size=48)

breaking_characters = st.one_of(
    st.sampled_from(list("/?#%\\")),
    st.sampled_from(list(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000")),
    st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]),
)
invalid_ids = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=8),
    st.lists(valid_ids, max_size=2),
    st.dictionaries(valid_ids, valid_ids, max_size=1),
    st.just(""),
    st.text(alphabet=" \t\n\r\x0b\x0c\u3000\xa0", min_size=1, max_size=6),
    st.sampled_from([".", ".."]),
    # Longer than any id (MAX_ID_CHARS): a pasted body or URL, refused like the rest.
    st.text(alphabet=SAFE_ALPHABET, min_size=MAX_ID_CHARS + 1, max_size=MAX_ID_CHARS + 64),
    st.builds(
        lambda head, bad, tail: head + bad + tail,
        st.text(max_size=12),
        breaking_characters,
        st.text(max_size=12),
    ),
)

not_str = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.binary(max_size=4))
short_str = st.text(max_size=8)
bad_metadata = st.one_of(
    st.dictionaries(st.text(max_size=4), st.just("v"), min_size=17, max_size=24),
    st.builds(lambda k: {k: "v"}, st.text(min_size=65, max_size=90)),
    st.builds(lambda v: {"k": v}, st.text(min_size=513, max_size=600)),
    st.builds(lambda v: {"k": v}, st.one_of(st.integers(), st.floats(), st.booleans())),
    st.builds(lambda k: {k: "v"}, st.integers()),
    st.one_of(st.lists(short_str, min_size=1, max_size=2), st.text(min_size=1), st.integers()),
)


def finite_floats(**bounds: Any) -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False, allow_infinity=False, **bounds)


bad_temperature = st.one_of(
    finite_floats(min_value=2, exclude_min=True),
    finite_floats(max_value=0, exclude_max=True),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
bad_top_p = st.one_of(
    finite_floats(min_value=1, exclude_min=True),
    finite_floats(max_value=0, exclude_max=True),
    st.just(math.nan),
)
bad_limit = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=101),
    st.booleans(),
    st.floats(),
    st.text(max_size=4),
)
bad_order = st.one_of(st.text(max_size=8).filter(lambda s: s not in ("asc", "desc")), not_str)
bad_role = st.one_of(st.text(max_size=12).filter(lambda s: s not in ("user", "assistant")), not_str)
bad_content = st.one_of(
    st.none(),
    st.just(""),
    st.text(alphabet=" \t\n", min_size=1, max_size=4),
    st.just([]),
    st.integers(),
    st.dictionaries(short_str, short_str, max_size=2),
)
bad_include = st.one_of(
    st.text(min_size=1, max_size=8),
    st.lists(st.one_of(st.just(""), st.just("  "), st.integers()), min_size=1, max_size=2),
    st.integers(),
)
bad_tool_outputs = st.one_of(
    st.text(max_size=8),
    st.dictionaries(short_str, short_str, max_size=2),
    st.integers(),
    st.lists(st.integers(), min_size=1, max_size=2),
    st.just([{"tool_call_id": 1, "output": "x"}]),
)
bad_timeout = st.one_of(
    finite_floats(max_value=0),
    st.sampled_from([math.nan, math.inf, -math.inf, True, "1", (1.0,), (1.0, 2.0, 3.0)]),
    st.tuples(finite_floats(max_value=0), st.floats(min_value=0.1, max_value=5)),
)
bad_max_retries = st.one_of(
    st.integers(max_value=-1), st.booleans(), st.floats(), st.text(max_size=3)
)
bad_extra_headers = st.one_of(
    st.builds(
        lambda v, brk: {"X-Test": v + brk + v}, short_str, st.sampled_from(["\r", "\n", "\0"])
    ),
    st.builds(lambda v: {"X-Test": v}, st.integers()),
    st.builds(lambda k: {k: "v"}, st.integers()),
    st.text(min_size=1, max_size=4),
)
bad_wait = st.one_of(
    finite_floats(max_value=0, exclude_max=True), st.booleans(), st.text(max_size=3)
)

# (methods, parameter, strategy of bad values)
ARGUMENT_CASES: list[tuple[list[str], str, st.SearchStrategy[Any]]] = [
    (["create_message"], "role", bad_role),
    (["create_message"], "content", bad_content),
    (LISTS, "limit", bad_limit),
    (LISTS, "order", bad_order),
    (WITH_INCLUDE, "include", bad_include),
    (["submit_tool_outputs", "stream_tool_outputs"], "tool_outputs", bad_tool_outputs),
    (WITH_METADATA, "metadata", bad_metadata),
    (WITH_SAMPLING, "temperature", bad_temperature),
    (WITH_SAMPLING, "top_p", bad_top_p),
    (WITH_OPTIONS, "timeout", bad_timeout),
    (WITH_OPTIONS, "max_retries", bad_max_retries),
    (WITH_OPTIONS, "extra_headers", bad_extra_headers),
    (["wait_for_run", *sorted(INGEST_HELPERS)], "timeout", bad_wait),
    (sorted(INGEST_HELPERS), "poll_interval", bad_wait),
    (["list_files"], "limit", st.one_of(st.integers(max_value=0), st.integers(min_value=10_001))),
    (["wait_for_run", "create_run_and_wait"], "poll_interval", bad_wait),
    (["create_run_and_wait"], "wait_timeout", bad_wait),
    (["run_with_tools:polling"], "poll_interval", bad_wait),
    (["run_with_tools:polling"], "wait_timeout", bad_wait),
    (["run_with_tools"], "max_rounds", st.one_of(st.integers(max_value=0), st.booleans())),
    (
        ["run_with_tools", "call_functions"],
        "functions",
        st.one_of(st.none(), st.text(max_size=3), st.just({"f": 42}), st.just({1: print})),
    ),
    (["run_with_tools", "call_functions"], "on_tool_error", st.sampled_from(["ignore", None, 1])),
    (["call_functions"], "run", st.one_of(st.none(), st.just({"id": "run_1"}), st.text())),
]
ARGUMENT_PAIRS = [
    (name, param, strategy) for names, param, strategy in ARGUMENT_CASES for name in names
]

# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as misbehaving:
        yield misbehaving


@pytest.fixture(scope="module")
def client(server: MisbehavingServer) -> Iterator[AssistantsClient]:
    with AssistantsClient(API_KEY, base_url=server.base_url, timeout=5, max_retries=0) as made:
        yield made


def call(client: AssistantsClient, method: str, **overrides: Any) -> Any:
    """``client.<method>(valid arguments, **overrides)``; ``name:polling`` adds stream=False."""
    method, _, variant = method.partition(":")
    kwargs = {**METHODS[method], **({"stream": False} if variant == "polling" else {}), **overrides}
    result = getattr(client, method)(**kwargs)
    if method in STREAMING:
        with result as stream:
            stream.until_done()
    return result


def assert_refused(
    client: AssistantsClient, server: MisbehavingServer, method: str, param: str, value: Any
) -> InvalidArgumentError:
    before = server.request_count
    with pytest.raises(InvalidArgumentError) as caught:
        call(client, method, **{param: value})
    assert isinstance(caught.value, ValueError)
    assert server.request_count == before, f"{method}({param}={value!r}) sent a request"
    return caught.value


# -- properties -------------------------------------------------------------------------------

PROPERTY = settings(
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


def test_every_public_method_is_covered() -> None:
    public = {
        name
        for name in dir(AssistantsClient)
        if not name.startswith("_") and callable(getattr(AssistantsClient, name))
    }
    assert public - {"close", "for_azure", "for_foundry"} == set(METHODS)


@PROPERTY
@given(case=st.sampled_from(ID_CASES), bad=invalid_ids)
def test_an_invalid_id_raises_before_any_request(
    client: AssistantsClient, server: MisbehavingServer, case: tuple[str, str], bad: Any
) -> None:
    method, param = case
    error = assert_refused(client, server, method, param, bad)
    assert error.param == param


@PROPERTY
@given(data=st.data(), case=st.sampled_from(ARGUMENT_PAIRS))
def test_an_invalid_argument_raises_before_any_request(
    client: AssistantsClient,
    server: MisbehavingServer,
    data: st.DataObject,
    case: tuple[str, str, st.SearchStrategy[Any]],
) -> None:
    method, param, strategy = case
    assert_refused(client, server, method, param, data.draw(strategy, label=param))


@pytest.mark.parametrize("param", ["wait_timeout", "poll_interval"])
def test_run_with_tools_refuses_bad_wait_settings_even_when_streaming(
    client: AssistantsClient, server: MisbehavingServer, param: str
) -> None:
    # Were the value ignored, a request would go out and the count would show it.
    assert_refused(client, server, "run_with_tools", param, -1.0)


def answer_for(method: str) -> Reply:
    if method in STREAMING:
        events = [("thread.run.completed", recorded.run("completed"))]
        return event_stream(sse_bytes(events))
    if method == "wait_for_run" or method == "create_run_and_wait":
        return Reply.json(payloads.run(status="completed"))
    if method in ("create_vector_store_file_and_poll", "wait_for_vector_store_file"):
        return Reply.json(payloads.vector_store_file(status="completed"))
    if method in ("create_file_batch_and_poll", "wait_for_file_batch"):
        return Reply.json(payloads.file_batch(status="completed"))
    return reply_for(CALLS[method][3])


@settings(max_examples=400, deadline=None, database=None)
@given(
    method=st.sampled_from(sorted(ENDPOINTS)),
    ids=st.fixed_dictionaries({p: valid_ids for p in ID_PARAMS}),
)
def test_a_valid_id_is_one_path_segment_of_exactly_one_request(
    client: AssistantsClient, server: MisbehavingServer, method: str, ids: dict[str, str]
) -> None:
    kwargs = {p: ids[p] for p in METHODS[method] if p in ID_PARAMS}
    verb, path = ENDPOINTS[method]
    originals = {METHODS[method][p]: ids[p] for p in kwargs}
    expected = ["", "v1", *(originals.get(seg, seg) for seg in path.split("/")[1:])]
    before = server.request_count
    server.enqueue(answer_for(method))
    call(client, method, **kwargs)
    assert server.request_count == before + 1
    sent = server.requests[-1]
    assert sent.method == verb
    assert sent.path.split("/") == expected
    if "assistant_id" in kwargs and verb == "POST" and "/assistants" not in path:
        assert sent.json()["assistant_id"] == ids["assistant_id"]
