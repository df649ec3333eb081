"""Every client method called with every parameter it has, for the Prism contract tests.

``ARGUMENTS`` gives, for each API method of ``AssistantsClient``, keyword arguments that fill
every parameter of its operation: path ids, every query parameter and every optional body
field. Where a field takes alternatives (a ``oneOf``), different calls use different
alternatives so that all of them reach Prism at least once. ``FULL_CALLS`` adds what the
generated operations table says of each method: its operationId and the model its answer parses
into (the item model for list methods).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from assistants_client import FileUpload
from assistants_client._operation import ListOperation
from assistants_client.models.operations import OPERATIONS

INCLUDE_FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"

# Arguments of every method that are per-call options, not API parameters; and those that say
# how the file part of an upload is named and typed (not fields of the form).
CALL_OPTIONS = frozenset({"timeout", "max_retries", "extra_headers", "extra_query", "extra_body"})
FILE_PART = frozenset({"filename", "content_type"})
# ``on_event`` switches create_run, create_thread_and_run and submit_tool_outputs to streaming
# (``"stream": true`` in the body); test_prism_contract.py covers that separately.
STREAM_OPTION = "on_event"


def _function_tool() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }


def _tools() -> list[dict[str, Any]]:
    return [
        {"type": "code_interpreter"},
        {
            "type": "file_search",
            "file_search": {
                "max_num_results": 8,
                "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.25},
            },
        },
        _function_tool(),
    ]


def _tool_resources() -> dict[str, Any]:
    return {
        "code_interpreter": {"file_ids": ["file_code_1", "file_code_2"]},
        "file_search": {"vector_store_ids": ["vs_1"]},
    }


def _thread_tool_resources(chunking: str) -> dict[str, Any]:
    """Thread tool resources that create a vector store (the other ``oneOf`` alternative)."""
    strategy: dict[str, Any] = {"type": "auto"}
    if chunking == "static":
        strategy = {
            "type": "static",
            "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
        }
    return {
        "code_interpreter": {"file_ids": ["file_code_1"]},
        "file_search": {
            "vector_stores": [
                {
                    "file_ids": ["file_doc_1", "file_doc_2"],
                    "chunking_strategy": strategy,
                    "metadata": {"source": "contract-test"},
                }
            ]
        },
    }


def _static_chunking() -> dict[str, Any]:
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": 1200, "chunk_overlap_tokens": 600},
    }


def _json_schema_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "weather_report",
            "description": "A short weather report.",
            "schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
                "required": ["city", "celsius"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }


def _attachments() -> list[dict[str, Any]]:
    return [
        {"file_id": "file_att_1", "tools": [{"type": "code_interpreter"}]},
        {"file_id": "file_att_2", "tools": [{"type": "file_search"}]},
    ]


def _content_parts() -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": "What is in these pictures?"},
        {"type": "image_file", "image_file": {"file_id": "file_img_1", "detail": "high"}},
        {
            "type": "image_url",
            "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
        },
    ]


def _messages() -> list[dict[str, Any]]:
    """Messages with every field, covering both forms of ``content`` and both roles."""
    return [
        {
            "role": "user",
            "content": "Hello",
            "attachments": _attachments(),
            "metadata": {"turn": "1"},
        },
        {
            "role": "assistant",
            "content": _content_parts(),
            "attachments": None,
            "metadata": None,
        },
    ]


class Call(NamedTuple):
    operation_id: str
    model: type[Any]
    is_list: bool
    kwargs: dict[str, Any]


def _list_query() -> dict[str, Any]:
    return {"limit": 7, "order": "asc", "after": "cursor_after", "before": "cursor_before"}


ARGUMENTS: dict[str, dict[str, Any]] = {
    "create_assistant": {
        "model": "gpt-4o",
        "name": "Contract assistant",
        "description": "Answers weather questions.",
        "instructions": "Answer in one sentence.",
        "reasoning_effort": "low",
        "tools": _tools(),
        "tool_resources": _tool_resources(),
        "metadata": {"team": "contract", "env": "test"},
        "temperature": 0.7,
        "top_p": 0.9,
        "response_format": _json_schema_format(),
    },
    "list_assistants": _list_query(),
    "get_assistant": {"assistant_id": "asst_1"},
    "update_assistant": {
        "assistant_id": "asst_1",
        "model": "gpt-4o-mini",
        "reasoning_effort": "high",
        "name": "Renamed assistant",
        "description": "Still answers weather questions.",
        "instructions": "Answer in two sentences.",
        "tools": [{"type": "file_search"}],
        "tool_resources": _tool_resources(),
        "metadata": {"team": "contract"},
        "temperature": 0.0,
        "top_p": 1.0,
        "response_format": "auto",
    },
    "delete_assistant": {"assistant_id": "asst_1"},
    "create_thread": {
        "messages": _messages(),
        "tool_resources": _thread_tool_resources("static"),
        "metadata": {"topic": "weather"},
    },
    "get_thread": {"thread_id": "thread_1"},
    "update_thread": {
        "thread_id": "thread_1",
        "tool_resources": _tool_resources(),
        "metadata": {"topic": "climate"},
    },
    "delete_thread": {"thread_id": "thread_1"},
    "create_message": {
        "thread_id": "thread_1",
        "role": "user",
        "content": _content_parts(),
        "attachments": _attachments(),
        "metadata": {"turn": "2"},
    },
    "list_messages": {"thread_id": "thread_1", **_list_query(), "run_id": "run_1"},
    "get_message": {"thread_id": "thread_1", "message_id": "msg_1"},
    "update_message": {
        "thread_id": "thread_1",
        "message_id": "msg_1",
        "metadata": {"reviewed": "yes"},
    },
    "delete_message": {"thread_id": "thread_1", "message_id": "msg_1"},
    "create_run": {
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "model": "gpt-4.1",
        "reasoning_effort": "medium",
        "instructions": "Override the instructions.",
        "additional_instructions": "Mention the date.",
        "additional_messages": _messages(),
        "tools": _tools(),
        "metadata": {"run": "1"},
        "temperature": 1.5,
        "top_p": 0.5,
        "max_prompt_tokens": 2048,
        "max_completion_tokens": 512,
        "truncation_strategy": {"type": "last_messages", "last_messages": 10},
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "include": [INCLUDE_FILE_SEARCH_CONTENT],
    },
    "create_thread_and_run": {
        "assistant_id": "asst_1",
        "thread": {
            "messages": _messages(),
            "tool_resources": _thread_tool_resources("auto"),
            "metadata": {"topic": "weather"},
        },
        "model": "gpt-4o",
        "instructions": "Be precise.",
        "tools": _tools(),
        "tool_resources": _tool_resources(),
        "metadata": {"run": "2"},
        "temperature": 0.2,
        "top_p": 0.3,
        "max_prompt_tokens": 256,
        "max_completion_tokens": 256,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "tool_choice": "required",
        "parallel_tool_calls": True,
        "response_format": {"type": "text"},
    },
    "list_runs": ({"thread_id": "thread_1", **_list_query()}),
    "get_run": {"thread_id": "thread_1", "run_id": "run_1"},
    "update_run": {"thread_id": "thread_1", "run_id": "run_1", "metadata": {"checked": "true"}},
    "cancel_run": {"thread_id": "thread_1", "run_id": "run_1"},
    "submit_tool_outputs": {
        "thread_id": "thread_1",
        "run_id": "run_1",
        "tool_outputs": [
            {"tool_call_id": "call_1", "output": '{"celsius": 21}'},
            {"tool_call_id": "call_2", "output": "done"},
        ],
    },
    "list_run_steps": {
        "thread_id": "thread_1",
        "run_id": "run_1",
        **_list_query(),
        "include": [INCLUDE_FILE_SEARCH_CONTENT],
    },
    "get_run_step": {
        "thread_id": "thread_1",
        "run_id": "run_1",
        "step_id": "step_1",
        "include": [INCLUDE_FILE_SEARCH_CONTENT],
    },
    # -- files and vector stores --
    "upload_file": {
        "file": FileUpload.of(b"Filip Carola: cake\n", filename="notes.txt"),
        "purpose": "assistants",
        "expires_after": {"anchor": "created_at", "seconds": 86400},
    },
    "list_files": {"purpose": "assistants", "limit": 100, "order": "desc", "after": "file_0"},
    "get_file": {"file_id": "file_1"},
    "delete_file": {"file_id": "file_1"},
    "get_file_content": {"file_id": "file_1"},
    "list_vector_stores": _list_query(),
    "create_vector_store": {
        "name": "Handbook",
        "description": "The team handbook.",
        "file_ids": ["file_doc_1", "file_doc_2"],
        "expires_after": {"anchor": "last_active_at", "days": 30},
        "chunking_strategy": _static_chunking(),
        "metadata": {"team": "contract"},
    },
    "get_vector_store": {"vector_store_id": "vs_1"},
    "update_vector_store": {
        "vector_store_id": "vs_1",
        "name": "Renamed handbook",
        "expires_after": {"anchor": "last_active_at", "days": 1},
        "metadata": {"team": "contract"},
    },
    "delete_vector_store": {"vector_store_id": "vs_1"},
    "create_vector_store_file_batch": {
        "vector_store_id": "vs_1",
        "file_ids": ["file_doc_1", "file_doc_2"],
        "attributes": {"team": "ops", "year": 2024, "draft": False},
        "chunking_strategy": {"type": "auto"},
    },
    "get_vector_store_file_batch": {"vector_store_id": "vs_1", "batch_id": "vsfb_1"},
    "cancel_vector_store_file_batch": {"vector_store_id": "vs_1", "batch_id": "vsfb_1"},
    "list_vector_store_file_batch_files": {
        "vector_store_id": "vs_1",
        "batch_id": "vsfb_1",
        **_list_query(),
        "filter": "failed",
    },
    "list_vector_store_files": {"vector_store_id": "vs_1", **_list_query(), "filter": "completed"},
    "create_vector_store_file": {
        "vector_store_id": "vs_1",
        "file_id": "file_doc_3",
        "attributes": {"lang": "fr", "pages": 12.5},
        "chunking_strategy": _static_chunking(),
    },
    "get_vector_store_file": {"vector_store_id": "vs_1", "file_id": "file_doc_1"},
    "update_vector_store_file": {
        "vector_store_id": "vs_1",
        "file_id": "file_doc_1",
        "attributes": {"reviewed": True},
    },
    "delete_vector_store_file": {"vector_store_id": "vs_1", "file_id": "file_doc_1"},
    "get_vector_store_file_content": {"vector_store_id": "vs_1", "file_id": "file_doc_1"},
    "search_vector_store": {
        "vector_store_id": "vs_1",
        "query": ["favorite food", "Filip"],
        "rewrite_query": True,
        "max_num_results": 5,
        "filters": {
            "type": "or",
            "filters": [
                {"type": "in", "key": "team", "value": ["ops", "sre"]},
                {
                    "type": "and",
                    "filters": [
                        {"type": "gte", "key": "year", "value": 2024},
                        {"type": "eq", "key": "draft", "value": False},
                    ],
                },
            ],
        },
        "ranking_options": {"ranker": "default-2024-11-15", "score_threshold": 0.2},
    },
}


def _call(name: str, arguments: dict[str, Any]) -> Call:
    operation = next(op for op in OPERATIONS if op.name == name)
    if isinstance(operation, ListOperation):
        return Call(operation.id, operation.item, True, arguments)
    return Call(operation.id, operation.response, False, arguments)


FULL_CALLS: dict[str, Call] = {name: _call(name, args) for name, args in ARGUMENTS.items()}

# Parameters the API makes mutually exclusive: the other form of the call, sent separately.
EXCLUSIVE_CALLS: dict[str, Call] = {
    "create_vector_store_file_batch": _call(
        "create_vector_store_file_batch",
        {
            "vector_store_id": "vs_1",
            "files": [
                {"file_id": "file_doc_1", "attributes": {"lang": "en"}},
                {"file_id": "file_doc_2", "chunking_strategy": _static_chunking()},
            ],
        },
    )
}

# The methods that can stream (``on_event``), with the arguments they are streamed with.
STREAMING_CALLS = ("create_run", "create_thread_and_run", "submit_tool_outputs")
