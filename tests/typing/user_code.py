"""Code as a user writes it: checking a union's tag narrows it, with no isinstance and no import
from ``models`` needed. Type-checked (never run) by tests/typing/test_type_checkers.py, with
``mypy --strict`` and pyright in strict mode; any error here fails that test."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type  # typing.assert_type from Python 3.11

from assistants_client import (
    AssistantEventHandler,
    AssistantsClient,
    AssistantStream,
    Citation,
    ErrorObject,
    NotFoundError,
    PollTimeoutError,
    RunFailedError,
)
from assistants_client.models import (
    AssistantStreamEvent,
    AssistantTool,
    AttachmentTool,
    CodeInterpreterImageOutput,
    CodeInterpreterImageOutputDelta,
    CodeInterpreterLogsOutput,
    CodeInterpreterLogsOutputDelta,
    CodeInterpreterOutput,
    CodeInterpreterOutputDelta,
    CodeInterpreterTool,
    CodeInterpreterToolCall,
    CodeInterpreterToolCallDelta,
    DoneEvent,
    ErrorDetail,
    ErrorEvent,
    FileChunkingStrategy,
    FileCitationAnnotation,
    FileCitationAnnotationDelta,
    FileObject,
    FilePathAnnotation,
    FilePathAnnotationDelta,
    FileSearchCallDelta,
    FileSearchCallRankingOptions,
    FileSearchResult,
    FileSearchTool,
    FileSearchToolCall,
    FileSearchToolCallDelta,
    FileSearchToolTypeOnly,
    FunctionTool,
    FunctionToolCall,
    FunctionToolCallDelta,
    MessageContent,
    MessageContentDelta,
    MessageContentImageFile,
    MessageContentImageFileDelta,
    MessageContentImageUrl,
    MessageContentImageUrlDelta,
    MessageContentRefusal,
    MessageContentRefusalDelta,
    MessageContentText,
    MessageContentTextDelta,
    MessageCreationStepDetails,
    MessageCreationStepDetailsDelta,
    MessageDelta,
    MessageStreamEvent,
    OtherFileChunkingStrategy,
    ResponseFormat,
    ResponseFormatJsonObject,
    ResponseFormatJsonSchema,
    ResponseFormatText,
    RunResponse,
    RunStep,
    RunStepDelta,
    RunStepDetails,
    RunStepDetailsDelta,
    RunStepStreamEvent,
    RunStreamEvent,
    StaticFileChunkingStrategy,
    TextAnnotation,
    TextAnnotationDelta,
    Thread,
    ThreadCreatedEvent,
    ThreadMessage,
    ThreadMessageCompletedEvent,
    ThreadMessageDeltaEvent,
    ThreadRunCompletedEvent,
    ThreadRunRequiresActionEvent,
    ThreadRunStepCompletedEvent,
    ThreadRunStepDeltaEvent,
    ThreadStreamEvent,
    ToolCall,
    ToolCallDelta,
    ToolCallsStepDetails,
    ToolCallsStepDetailsDelta,
    UnknownAssistantTool,
    UnknownAttachmentTool,
    UnknownCodeInterpreterOutput,
    UnknownCodeInterpreterOutputDelta,
    UnknownFileChunkingStrategy,
    UnknownMessageContent,
    UnknownMessageContentDelta,
    UnknownResponseFormat,
    UnknownRunStepDetails,
    UnknownRunStepDetailsDelta,
    UnknownTextAnnotation,
    UnknownTextAnnotationDelta,
    UnknownToolCall,
    UnknownToolCallDelta,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreSearchResults,
)


def first_text(client: AssistantsClient, thread_id: str) -> str:
    message = client.list_messages(thread_id, order="asc").data[0]
    part = message.content[0]
    if part.type == "text":
        return part.text.value
    return ""


def describe_content(message: ThreadMessage) -> list[str]:
    lines: list[str] = []
    for part in message.content:
        if part.type == "text":
            lines.append(part.text.value)
            for annotation in part.text.annotations:
                if annotation.type == "file_citation":
                    lines.append(annotation.file_citation.file_id)
                elif annotation.type == "file_path":
                    lines.append(annotation.file_path.file_id)
                else:
                    lines.append(str(annotation.raw))
        elif part.type == "image_file":
            lines.append(part.image_file.file_id)
        elif part.type == "image_url":
            lines.append(part.image_url.url)
        elif part.type == "refusal":
            lines.append(part.refusal)
        else:
            # Only the Unknown variant is left: a tag this version does not know.
            lines.append(f"{part.raw['type']}: {part.raw}")
    return lines


def content_by_match(part: MessageContent) -> str:
    match part:
        case MessageContentText():
            return part.text.value
        case UnknownMessageContent():
            return str(part.raw.get("type"))
        case _:
            return part.type


def tag_is_a_str(part: MessageContent) -> str:
    # The tag is a string for every variant, the Unknown one included.
    return part.type.upper()


def tools_of(client: AssistantsClient, assistant_id: str) -> list[str]:
    names: list[str] = []
    for tool in client.get_assistant(assistant_id).tools:
        if tool.type == "function":
            names.append(tool.function.name)
        elif tool.type == "file_search":
            names.append(str(tool.file_search))
        elif tool.type == "code_interpreter":
            names.append("code_interpreter")
    return names


def attachment_tools(message: ThreadMessage) -> list[str]:
    kinds: list[str] = []
    for attachment in message.attachments or []:
        for tool in attachment.tools or []:
            if tool.type == "file_search" or tool.type == "code_interpreter":
                kinds.append(tool.type)
    return kinds


def response_format_name(client: AssistantsClient, assistant_id: str) -> str | None:
    response_format = client.get_assistant(assistant_id).response_format
    if isinstance(response_format, str):
        return response_format
    if not response_format:  # None, or left out
        return None
    if response_format.type == "json_schema":
        return response_format.json_schema.name
    return response_format.type


def step_summary(step: RunStep) -> list[str]:
    details = step.step_details
    lines: list[str] = []
    if details.type == "message_creation":
        lines.append(details.message_creation.message_id)
    elif details.type == "tool_calls":
        for call in details.tool_calls:
            if call.type == "function":
                lines.append(
                    f"{call.function.name}({call.function.arguments}) -> {call.function.output}"
                )
            elif call.type == "code_interpreter":
                lines.append(call.code_interpreter.input)
                for output in call.code_interpreter.outputs:
                    if output.type == "logs":
                        lines.append(output.logs)
                    elif output.type == "image":
                        lines.append(output.image.file_id)
            elif call.type == "file_search":
                lines.append(call.id)
    return lines


def stream_text(client: AssistantsClient, thread_id: str, assistant_id: str) -> str:
    pieces: list[str] = []
    with client.stream_run(thread_id, assistant_id) as stream:
        for event in stream:
            if event.event == "thread.message.delta":
                for part in event.data.delta.content or []:
                    if part.type == "text" and part.text and part.text.value:
                        pieces.append(part.text.value)
            elif event.event == "thread.run.step.delta":
                details = event.data.delta.step_details
                if details and details.type == "tool_calls":
                    for call in details.tool_calls or []:
                        if call.type == "function" and call.function:
                            pieces.append(call.function.arguments or "")
                        elif call.type == "code_interpreter" and call.code_interpreter:
                            pieces.append(call.code_interpreter.input or "")
            elif event.event == "thread.run.requires_action":
                assert event.data.required_action is not None
                for required in event.data.required_action.submit_tool_outputs.tool_calls:
                    pieces.append(required.function.name)
            elif event.event == "thread.run.completed":
                pieces.append(event.data.status)
            elif event.event == "error":
                pieces.append(event.data.message or "")
    # After the stream has ended, the final state is the model itself, not Optional.
    assert_type(stream.final_run, RunResponse)
    assert_type(stream.final_messages, list[ThreadMessage])
    assert_type(stream.final_run_steps, list[RunStep])
    pieces.append(stream.final_run.status)
    pieces.extend(message.text for message in stream.final_messages)
    pieces.extend(step.type for step in stream.final_run_steps)
    return "".join(pieces)


def until_done(stream: AssistantStream) -> str:
    return stream.until_done().final_run.id


def show(event: AssistantStreamEvent) -> None:
    if event.event == "thread.message.completed":
        for part in event.data.content:
            if part.type == "text":
                print(part.text.value)


def show_named(name: str, event: AssistantStreamEvent) -> None:
    if event.event == "thread.run.step.completed":
        print(name, event.data.step_details.type)


def run_with_callbacks(client: AssistantsClient, thread_id: str, assistant_id: str) -> str:
    run = client.create_run(thread_id, assistant_id, on_event=show)
    client.create_run(thread_id, assistant_id, on_event=show_named)
    return run.status


class Printer(AssistantEventHandler):
    def on_text_delta(self, delta: str, snapshot: str) -> None:
        print(delta, end="")

    def on_event(self, event: AssistantStreamEvent) -> None:
        if event.event == "thread.run.failed" and event.data.last_error is not None:
            print(event.data.last_error.message)


def tools(client: AssistantsClient, thread_id: str, assistant_id: str) -> str:
    def get_weather(city: str) -> dict[str, Any]:
        return {"city": city, "celsius": 18}

    run = client.run_with_tools(thread_id, assistant_id, {"get_weather": get_weather})
    return run.status


# -- every tagged union narrows to exactly its variant ---------------------------------------
# assert_type fails under both checkers if a union stops narrowing, or turns into Any.
# tests/typing/test_type_checkers.py checks that every union of the models is named here.


def narrows_assistant_tool(tool: AssistantTool) -> None:
    if tool.type == "function":
        assert_type(tool, FunctionTool)
    elif tool.type == "file_search":
        assert_type(tool, FileSearchTool)
    elif tool.type == "code_interpreter":
        assert_type(tool, CodeInterpreterTool)
    else:
        assert_type(tool, UnknownAssistantTool)


def narrows_attachment_tool(tool: AttachmentTool) -> None:
    if tool.type == "file_search":
        assert_type(tool, FileSearchToolTypeOnly)
    elif tool.type == "code_interpreter":
        assert_type(tool, CodeInterpreterTool)
    else:
        assert_type(tool, UnknownAttachmentTool)


def narrows_response_format(response_format: ResponseFormat) -> None:
    if response_format.type == "json_schema":
        assert_type(response_format, ResponseFormatJsonSchema)
    elif response_format.type == "json_object":
        assert_type(response_format, ResponseFormatJsonObject)
    elif response_format.type == "text":
        assert_type(response_format, ResponseFormatText)
    else:
        assert_type(response_format, UnknownResponseFormat)


def narrows_message_content(part: MessageContent) -> None:
    if part.type == "text":
        assert_type(part, MessageContentText)
    elif part.type == "image_file":
        assert_type(part, MessageContentImageFile)
    elif part.type == "image_url":
        assert_type(part, MessageContentImageUrl)
    elif part.type == "refusal":
        assert_type(part, MessageContentRefusal)
    else:
        assert_type(part, UnknownMessageContent)


def narrows_text_annotation(annotation: TextAnnotation) -> None:
    if annotation.type == "file_citation":
        assert_type(annotation, FileCitationAnnotation)
    elif annotation.type == "file_path":
        assert_type(annotation, FilePathAnnotation)
    else:
        assert_type(annotation, UnknownTextAnnotation)


def narrows_message_content_delta(part: MessageContentDelta) -> None:
    if part.type == "text":
        assert_type(part, MessageContentTextDelta)
        for annotation in (part.text.annotations or []) if part.text else []:
            narrows_text_annotation_delta(annotation)
    elif part.type == "image_file":
        assert_type(part, MessageContentImageFileDelta)
    elif part.type == "image_url":
        assert_type(part, MessageContentImageUrlDelta)
    elif part.type == "refusal":
        assert_type(part, MessageContentRefusalDelta)
    else:
        assert_type(part, UnknownMessageContentDelta)


def narrows_text_annotation_delta(annotation: TextAnnotationDelta) -> None:
    if annotation.type == "file_citation":
        assert_type(annotation, FileCitationAnnotationDelta)
    elif annotation.type == "file_path":
        assert_type(annotation, FilePathAnnotationDelta)
    else:
        assert_type(annotation, UnknownTextAnnotationDelta)


def narrows_run_step_details(details: RunStepDetails) -> None:
    if details.type == "message_creation":
        assert_type(details, MessageCreationStepDetails)
    elif details.type == "tool_calls":
        assert_type(details, ToolCallsStepDetails)
    else:
        assert_type(details, UnknownRunStepDetails)


def narrows_tool_call(call: ToolCall) -> None:
    if call.type == "function":
        assert_type(call, FunctionToolCall)
    elif call.type == "code_interpreter":
        assert_type(call, CodeInterpreterToolCall)
        for output in call.code_interpreter.outputs:
            narrows_code_interpreter_output(output)
    elif call.type == "file_search":
        assert_type(call, FileSearchToolCall)
    else:
        assert_type(call, UnknownToolCall)


def narrows_code_interpreter_output(output: CodeInterpreterOutput) -> None:
    if output.type == "logs":
        assert_type(output, CodeInterpreterLogsOutput)
    elif output.type == "image":
        assert_type(output, CodeInterpreterImageOutput)
    else:
        assert_type(output, UnknownCodeInterpreterOutput)


def narrows_run_step_details_delta(details: RunStepDetailsDelta) -> None:
    if details.type == "message_creation":
        assert_type(details, MessageCreationStepDetailsDelta)
    elif details.type == "tool_calls":
        assert_type(details, ToolCallsStepDetailsDelta)
    else:
        assert_type(details, UnknownRunStepDetailsDelta)


def narrows_tool_call_delta(call: ToolCallDelta) -> None:
    if call.type == "function":
        assert_type(call, FunctionToolCallDelta)
    elif call.type == "code_interpreter":
        assert_type(call, CodeInterpreterToolCallDelta)
        outputs = call.code_interpreter.outputs if call.code_interpreter else None
        for output in outputs or []:
            narrows_code_interpreter_output_delta(output)
    elif call.type == "file_search":
        assert_type(call, FileSearchToolCallDelta)
    else:
        assert_type(call, UnknownToolCallDelta)


def reads_the_ranking_options_of_a_streamed_file_search(event: AssistantStreamEvent) -> float:
    """A streamed file_search call's ranking options and results are typed, not a dict."""
    if event.event != "thread.run.step.delta":
        return 0.0
    details = event.data.delta.step_details
    if details is None or details.type != "tool_calls" or not details.tool_calls:
        return 0.0
    call = details.tool_calls[0]
    if call.type != "file_search":
        return 0.0
    assert_type(call.file_search, FileSearchCallDelta)
    ranking = call.file_search.ranking_options
    if ranking is None:
        return 0.0
    assert_type(ranking, FileSearchCallRankingOptions)
    for result in call.file_search.results or []:
        assert_type(result, FileSearchResult)
        assert_type(result.score, float)
    return ranking.score_threshold


def narrows_code_interpreter_output_delta(output: CodeInterpreterOutputDelta) -> None:
    if output.type == "logs":
        assert_type(output, CodeInterpreterLogsOutputDelta)
    elif output.type == "image":
        assert_type(output, CodeInterpreterImageOutputDelta)
    else:
        assert_type(output, UnknownCodeInterpreterOutputDelta)


def narrows_stream_events(
    event: AssistantStreamEvent,
    message_event: MessageStreamEvent,
    step_event: RunStepStreamEvent,
    run_event: RunStreamEvent,
    thread_event: ThreadStreamEvent,
) -> None:
    if event.event == "thread.message.delta":
        assert_type(event, ThreadMessageDeltaEvent)
        assert_type(event.data, MessageDelta)
    elif event.event == "thread.run.step.delta":
        assert_type(event, ThreadRunStepDeltaEvent)
        assert_type(event.data, RunStepDelta)
    elif event.event == "thread.run.completed":
        assert_type(event, ThreadRunCompletedEvent)
        assert_type(event.data, RunResponse)
    elif event.event == "error":
        assert_type(event, ErrorEvent)
        assert_type(event.data, ErrorDetail)
    elif event.event == "done":
        assert_type(event, DoneEvent)
    if message_event.event == "thread.message.completed":
        assert_type(message_event, ThreadMessageCompletedEvent)
        assert_type(message_event.data, ThreadMessage)
    if step_event.event == "thread.run.step.completed":
        assert_type(step_event, ThreadRunStepCompletedEvent)
        assert_type(step_event.data, RunStep)
    if run_event.event == "thread.run.requires_action":
        assert_type(run_event, ThreadRunRequiresActionEvent)
        assert_type(run_event.data, RunResponse)
    assert_type(thread_event, ThreadCreatedEvent)
    assert_type(thread_event.data, Thread)


def narrows_file_chunking_strategy(item: VectorStoreFile) -> int | None:
    strategy = item.chunking_strategy
    if strategy is None:  # a file listed in a batch may come without it
        return None
    return narrows_chunking(strategy)


def error_message(client: AssistantsClient, thread_id: str) -> str:
    # The server's error object is typed: its message is a str, its code a str or None.
    try:
        client.get_thread(thread_id)
    except NotFoundError as err:
        assert_type(err.error, ErrorObject | None)
        if err.error is not None:
            assert_type(err.error.code, str | None)
            return err.error.message
        return str(err)
    return ""


def reply_or_why_not(client: AssistantsClient, thread_id: str, assistant_id: str) -> str:
    try:
        return client.run_and_get_reply(thread_id, assistant_id).text
    except RunFailedError as err:
        assert_type(err.run, RunResponse)
        if err.run.last_error is not None:
            return f"{err.run.status}: {err.run.last_error.message}"
        return err.reply.text


def tool_call_names(client: AssistantsClient, thread_id: str, assistant_id: str) -> list[str]:
    # A field that may be absent is Optional: `is not None`, then its tag, narrows it.
    names: list[str] = []
    with client.stream_run(thread_id, assistant_id) as stream:
        for event in stream:
            if event.event == "thread.run.step.delta":
                delta = event.data.delta
                if delta.step_details is not None and delta.step_details.type == "tool_calls":
                    assert_type(delta.step_details, ToolCallsStepDetailsDelta)
                    for call in delta.step_details.tool_calls or []:
                        if call.type == "function" and call.function is not None:
                            names.append(call.function.name or "")
            elif event.event == "thread.message.delta":
                content = event.data.delta.content
                assert_type(content, list[MessageContentDelta] | None)
    return names


def narrows_chunking(strategy: FileChunkingStrategy) -> int | None:
    if strategy.type == "static":
        assert_type(strategy, StaticFileChunkingStrategy)
        return strategy.static.max_chunk_size_tokens
    if strategy.type == "other":
        assert_type(strategy, OtherFileChunkingStrategy)
        return None
    assert_type(strategy, UnknownFileChunkingStrategy)
    return None


def build_and_search(client: AssistantsClient, paths: list[str]) -> list[str]:
    uploaded = client.upload_file(paths[0], "assistants")
    assert_type(uploaded, FileObject)
    store = client.create_vector_store(name="Handbook", file_ids=[uploaded.id])
    try:
        batch = client.upload_files_and_poll(store.id, paths[1:], max_concurrency=4, timeout=120)
        assert_type(batch, VectorStoreFileBatch)
    except PollTimeoutError as stuck:
        print_status(stuck.last)
    results = client.search_vector_store(
        store.id, "holiday policy", filters={"type": "eq", "key": "team", "value": "ops"}
    )
    assert_type(results, VectorStoreSearchResults)
    content = client.get_file_content(uploaded.id)
    assert_type(content, bytes)
    return [f"{hit.filename} {hit.score:.2f}" for hit in results.data]


def print_status(last: object) -> str:
    return repr(last)


def cite(message: ThreadMessage) -> tuple[str, list[str], str]:
    text, citations = message.text_with_citations(lambda n, annotation: f"[^{n}]")
    assert_type(citations, list[Citation])
    files = [f"[^{c.number}]: {c.file_id}" for c in citations]
    return text, files, message.plain_text()
