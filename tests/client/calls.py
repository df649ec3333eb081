"""One valid call per client method, and the endpoint and answer it maps to."""

from __future__ import annotations

from typing import Any

from tests import payloads
from tests.servers.scripted import Reply

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
VS = {"vector_store_id": "vs_1"}
VS_FILE = {"vector_store_id": "vs_1", "file_id": "file-1"}
VS_BATCH = {"vector_store_id": "vs_1", "batch_id": "vsfb_1"}
FILE_BYTES = b"Filip Carola: cake\n"

# method -> (valid keyword arguments, HTTP method, path under /v1, answer)
CALLS: dict[str, tuple[dict[str, Any], str, str, Any]] = {
    "create_assistant": ({"model": "gpt-4o"}, "POST", "/assistants", payloads.assistant()),
    "list_assistants": ({}, "GET", "/assistants", payloads.listing([payloads.assistant()])),
    "get_assistant": (
        {"assistant_id": "asst_1"},
        "GET",
        "/assistants/asst_1",
        payloads.assistant(),
    ),
    "update_assistant": (
        {"assistant_id": "asst_1"},
        "POST",
        "/assistants/asst_1",
        payloads.assistant(),
    ),
    "delete_assistant": (
        {"assistant_id": "asst_1"},
        "DELETE",
        "/assistants/asst_1",
        payloads.deleted("asst_1", "assistant.deleted"),
    ),
    "create_thread": ({}, "POST", "/threads", payloads.thread()),
    "get_thread": ({"thread_id": "thread_1"}, "GET", "/threads/thread_1", payloads.thread()),
    "update_thread": ({"thread_id": "thread_1"}, "POST", "/threads/thread_1", payloads.thread()),
    "delete_thread": (
        {"thread_id": "thread_1"},
        "DELETE",
        "/threads/thread_1",
        payloads.deleted("thread_1", "thread.deleted"),
    ),
    "create_message": (
        {"thread_id": "thread_1", "role": "user", "content": "Hello"},
        "POST",
        "/threads/thread_1/messages",
        payloads.message(),
    ),
    "list_messages": (
        {"thread_id": "thread_1"},
        "GET",
        "/threads/thread_1/messages",
        payloads.listing([payloads.message()]),
    ),
    "get_message": (
        {"thread_id": "thread_1", "message_id": "msg_1"},
        "GET",
        "/threads/thread_1/messages/msg_1",
        payloads.message(),
    ),
    "update_message": (
        {"thread_id": "thread_1", "message_id": "msg_1"},
        "POST",
        "/threads/thread_1/messages/msg_1",
        payloads.message(),
    ),
    "delete_message": (
        {"thread_id": "thread_1", "message_id": "msg_1"},
        "DELETE",
        "/threads/thread_1/messages/msg_1",
        payloads.deleted("msg_1", "thread.message.deleted"),
    ),
    "create_run": (
        {"thread_id": "thread_1", "assistant_id": "asst_1"},
        "POST",
        "/threads/thread_1/runs",
        payloads.run(),
    ),
    "create_thread_and_run": ({"assistant_id": "asst_1"}, "POST", "/threads/runs", payloads.run()),
    "list_runs": (
        {"thread_id": "thread_1"},
        "GET",
        "/threads/thread_1/runs",
        payloads.listing([payloads.run()]),
    ),
    "get_run": (
        {"thread_id": "thread_1", "run_id": "run_1"},
        "GET",
        "/threads/thread_1/runs/run_1",
        payloads.run(),
    ),
    "update_run": (
        {"thread_id": "thread_1", "run_id": "run_1"},
        "POST",
        "/threads/thread_1/runs/run_1",
        payloads.run(),
    ),
    "cancel_run": (
        {"thread_id": "thread_1", "run_id": "run_1"},
        "POST",
        "/threads/thread_1/runs/run_1/cancel",
        payloads.run(status="cancelling"),
    ),
    "submit_tool_outputs": (
        {
            "thread_id": "thread_1",
            "run_id": "run_1",
            "tool_outputs": [{"tool_call_id": "call_1", "output": "42"}],
        },
        "POST",
        "/threads/thread_1/runs/run_1/submit_tool_outputs",
        payloads.run(),
    ),
    "list_run_steps": (
        {"thread_id": "thread_1", "run_id": "run_1"},
        "GET",
        "/threads/thread_1/runs/run_1/steps",
        payloads.listing([payloads.run_step()]),
    ),
    "get_run_step": (
        {"thread_id": "thread_1", "run_id": "run_1", "step_id": "step_1"},
        "GET",
        "/threads/thread_1/runs/run_1/steps/step_1",
        payloads.run_step(),
    ),
    # -- files and vector stores --
    "upload_file": (
        {"file": FILE_BYTES, "purpose": "assistants", "filename": "notes.txt"},
        "POST",
        "/files",
        payloads.file(),
    ),
    "list_files": ({}, "GET", "/files", payloads.listing([payloads.file()])),
    "get_file": ({"file_id": "file-1"}, "GET", "/files/file-1", payloads.file()),
    "delete_file": (
        {"file_id": "file-1"},
        "DELETE",
        "/files/file-1",
        payloads.deleted("file-1", "file"),
    ),
    "get_file_content": ({"file_id": "file-1"}, "GET", "/files/file-1/content", FILE_BYTES),
    "list_vector_stores": (
        {},
        "GET",
        "/vector_stores",
        payloads.listing([payloads.vector_store()]),
    ),
    "create_vector_store": ({}, "POST", "/vector_stores", payloads.vector_store()),
    "get_vector_store": (VS, "GET", "/vector_stores/vs_1", payloads.vector_store()),
    "update_vector_store": (VS, "POST", "/vector_stores/vs_1", payloads.vector_store()),
    "delete_vector_store": (
        VS,
        "DELETE",
        "/vector_stores/vs_1",
        payloads.deleted("vs_1", "vector_store.deleted"),
    ),
    "create_vector_store_file_batch": (
        {**VS, "file_ids": ["file-1", "file-2"]},
        "POST",
        "/vector_stores/vs_1/file_batches",
        payloads.file_batch(),
    ),
    "get_vector_store_file_batch": (
        VS_BATCH,
        "GET",
        "/vector_stores/vs_1/file_batches/vsfb_1",
        payloads.file_batch(),
    ),
    "cancel_vector_store_file_batch": (
        VS_BATCH,
        "POST",
        "/vector_stores/vs_1/file_batches/vsfb_1/cancel",
        payloads.file_batch(status="cancelled"),
    ),
    "list_vector_store_file_batch_files": (
        VS_BATCH,
        "GET",
        "/vector_stores/vs_1/file_batches/vsfb_1/files",
        payloads.listing([payloads.vector_store_file()]),
    ),
    "list_vector_store_files": (
        VS,
        "GET",
        "/vector_stores/vs_1/files",
        payloads.listing([payloads.vector_store_file()]),
    ),
    "create_vector_store_file": (
        VS_FILE,
        "POST",
        "/vector_stores/vs_1/files",
        payloads.vector_store_file(),
    ),
    "get_vector_store_file": (
        VS_FILE,
        "GET",
        "/vector_stores/vs_1/files/file-1",
        payloads.vector_store_file(),
    ),
    "update_vector_store_file": (
        {**VS_FILE, "attributes": {"team": "ops"}},
        "POST",
        "/vector_stores/vs_1/files/file-1",
        payloads.vector_store_file(attributes={"team": "ops"}),
    ),
    "delete_vector_store_file": (
        VS_FILE,
        "DELETE",
        "/vector_stores/vs_1/files/file-1",
        payloads.deleted("file-1", "vector_store.file.deleted"),
    ),
    "get_vector_store_file_content": (
        VS_FILE,
        "GET",
        "/vector_stores/vs_1/files/file-1/content",
        payloads.file_content_page(),
    ),
    "search_vector_store": (
        {**VS, "query": "cake"},
        "POST",
        "/vector_stores/vs_1/search",
        payloads.search_results(),
    ),
}


def reply_for(answer: Any) -> Reply:
    """The scripted answer of a call: JSON, or the raw bytes of a file's content."""
    if isinstance(answer, bytes):
        return Reply(headers={"Content-Type": "application/octet-stream"}, body=answer)
    return Reply.json(answer)


ID_CASES = [
    (name, param) for name, (kwargs, *_) in CALLS.items() for param in kwargs if param in ID_PARAMS
]
