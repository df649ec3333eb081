"""The one naming table: which Python class name each schema of the spec gets.

Rules, applied in this order:

1. A component schema listed in ``SCHEMA_NAMES`` takes that name; any other component takes its
   own name with a trailing ``Object`` removed (``MessageContentTextObject`` ->
   ``MessageContentText``).
2. An inline object schema takes the name listed for its path in ``INLINE_NAMES``; otherwise its
   parent's class name followed by the property name in CamelCase (``Item`` added for array
   items). Structurally identical inline schemas share one class, named at their first path.
3. A ``oneOf`` of tagged objects is named in ``UNION_NAMES`` (keyed by its variants); its
   fallback for unknown tags is ``Unknown`` + that name. In responses the name is a type alias,
   the union of the variant classes (so that checking the tag narrows it), and the variants
   share a base class named with ``Base`` added (``MessageContent`` is the union,
   ``MessageContentBase`` the base class); in requests the name is the base class itself.
4. A stream event class is named from its event (``thread.run.step.delta`` ->
   ``ThreadRunStepDeltaEvent``).
5. Request bodies get their own classes (validated, strict). A schema used both in responses and
   in request bodies gets two classes: the response class, and the request class with a
   ``Param`` suffix (``FunctionTool`` and ``FunctionToolParam``).
6. Classes listed in ``MIXINS`` also derive from a hand-written mixin (``ThreadMessage.parse``).
7. An operation's client method (and emulator handler) is its operationId in snake case, with
   the verbs ``modify`` read as ``update`` and ``retrieve`` as ``get`` (``modifyThread`` ->
   ``update_thread``, ``retrieveFile`` -> ``get_file``), unless ``OPERATION_NAMES`` names it
   (the spec misspells ``submitToolOuputsToRun``; a few names would break the verbs'
   pattern).

The generator fails when two schemas would get the same name.
"""

from __future__ import annotations

import re

SCHEMA_NAMES: dict[str, str] = {
    "AssistantObject": "Assistant",
    "ThreadObject": "Thread",
    "MessageObject": "ThreadMessage",
    "RunObject": "RunResponse",
    "RunStepObject": "RunStep",
    "MessageDeltaObject": "MessageDelta",
    "RunStepDeltaObject": "RunStepDelta",
    "ListAssistantsResponse": "AssistantList",
    "ListMessagesResponse": "MessageList",
    "ListRunsResponse": "RunList",
    "ListRunStepsResponse": "RunStepList",
    "DeleteAssistantResponse": "AssistantDeleted",
    "DeleteThreadResponse": "ThreadDeleted",
    "DeleteMessageResponse": "MessageDeleted",
    "Error": "ErrorDetail",
    "ErrorResponse": "ErrorResponse",
    "SubmitToolOutputsRunRequest": "SubmitToolOutputsRequest",
    "AssistantToolsCode": "CodeInterpreterTool",
    "AssistantToolsFileSearch": "FileSearchTool",
    "AssistantToolsFileSearchTypeOnly": "FileSearchToolTypeOnly",
    "AssistantToolsFunction": "FunctionTool",
    "FunctionObject": "FunctionDefinition",
    "AssistantsNamedToolChoice": "NamedToolChoice",
    "TruncationObject": "TruncationStrategy",
    "RunToolCallObject": "RequiredToolCall",
    "RunCompletionUsage": "RunUsage",
    "RunStepCompletionUsage": "RunStepUsage",
    "FileSearchRankingOptions": "FileSearchRankingOptions",
    "MessageRequestContentTextObject": "MessageRequestContentText",
    "RunStepDetailsMessageCreationObject": "MessageCreationStepDetails",
    "RunStepDetailsToolCallsObject": "ToolCallsStepDetails",
    "RunStepDetailsToolCallsCodeObject": "CodeInterpreterToolCall",
    "RunStepDetailsToolCallsFileSearchObject": "FileSearchToolCall",
    "RunStepDetailsToolCallsFunctionObject": "FunctionToolCall",
    "RunStepDetailsToolCallsCodeOutputLogsObject": "CodeInterpreterLogsOutput",
    "RunStepDetailsToolCallsCodeOutputImageObject": "CodeInterpreterImageOutput",
    "RunStepDetailsToolCallsFileSearchRankingOptionsObject": "FileSearchCallRankingOptions",
    "RunStepDetailsToolCallsFileSearchResultObject": "FileSearchResult",
    "RunStepDeltaStepDetailsMessageCreationObject": "MessageCreationStepDetailsDelta",
    "RunStepDeltaStepDetailsToolCallsObject": "ToolCallsStepDetailsDelta",
    "RunStepDeltaStepDetailsToolCallsCodeObject": "CodeInterpreterToolCallDelta",
    "RunStepDeltaStepDetailsToolCallsFileSearchObject": "FileSearchToolCallDelta",
    "RunStepDeltaStepDetailsToolCallsFunctionObject": "FunctionToolCallDelta",
    "RunStepDeltaStepDetailsToolCallsCodeOutputLogsObject": "CodeInterpreterLogsOutputDelta",
    "RunStepDeltaStepDetailsToolCallsCodeOutputImageObject": "CodeInterpreterImageOutputDelta",
    "MessageContentTextAnnotationsFileCitationObject": "FileCitationAnnotation",
    "MessageContentTextAnnotationsFilePathObject": "FilePathAnnotation",
    "MessageDeltaContentTextAnnotationsFileCitationObject": "FileCitationAnnotationDelta",
    "MessageDeltaContentTextAnnotationsFilePathObject": "FilePathAnnotationDelta",
    "MessageDeltaContentImageFileObject": "MessageContentImageFileDelta",
    "MessageDeltaContentImageUrlObject": "MessageContentImageUrlDelta",
    "MessageDeltaContentRefusalObject": "MessageContentRefusalDelta",
    "MessageDeltaContentTextObject": "MessageContentTextDelta",
    "ResponseFormatJsonObject": "ResponseFormatJsonObject",
    "ResponseFormatJsonSchema": "ResponseFormatJsonSchema",
    "ResponseFormatText": "ResponseFormatText",
    "ThreadStreamEvent": "ThreadStreamEvent",
    "RunStreamEvent": "RunStreamEvent",
    "RunStepStreamEvent": "RunStepStreamEvent",
    "MessageStreamEvent": "MessageStreamEvent",
    "AssistantStreamEvent": "AssistantStreamEvent",
    # Files and vector stores
    "OpenAIFile": "FileObject",
    "ListFilesResponse": "FileList",
    "DeleteFileResponse": "FileDeleted",
    "FileExpirationAfter": "FileExpiresAfter",
    "VectorStoreObject": "VectorStore",
    "ListVectorStoresResponse": "VectorStoreList",
    "DeleteVectorStoreResponse": "VectorStoreDeleted",
    "VectorStoreExpirationAfter": "VectorStoreExpiresAfter",
    "VectorStoreFileObject": "VectorStoreFile",
    "ListVectorStoreFilesResponse": "VectorStoreFileList",
    "DeleteVectorStoreFileResponse": "VectorStoreFileDeleted",
    "VectorStoreFileContentResponse": "VectorStoreFileContent",
    "VectorStoreFileBatchObject": "VectorStoreFileBatch",
    "VectorStoreFileAttributes": "VectorStoreFileAttributes",
    "VectorStoreSearchRequest": "SearchVectorStoreRequest",
    "VectorStoreSearchResultsPage": "VectorStoreSearchResults",
    "VectorStoreSearchResultItem": "VectorStoreSearchResult",
    "VectorStoreSearchResultContentObject": "VectorStoreSearchResultContent",
    "StaticChunkingStrategy": "StaticChunkingSettings",
    "AutoChunkingStrategyRequestParam": "AutoFileChunkingStrategyParam",
    "StaticChunkingStrategyRequestParam": "StaticFileChunkingStrategyParam",
    "ChunkingStrategyRequestParam": "FileChunkingStrategyParam",
    "StaticChunkingStrategyResponseParam": "StaticFileChunkingStrategy",
    "OtherChunkingStrategyResponseParam": "OtherFileChunkingStrategy",
}

# Unions keyed by their variants: component names, or "#tag" for inline variants.
UNION_NAMES: dict[frozenset[str], str] = {
    frozenset({"AssistantToolsCode", "AssistantToolsFileSearch", "AssistantToolsFunction"}): (
        "AssistantTool"
    ),
    frozenset({"AssistantToolsCode", "AssistantToolsFileSearchTypeOnly"}): "AttachmentTool",
    frozenset(
        {
            "MessageContentImageFileObject",
            "MessageContentImageUrlObject",
            "MessageContentTextObject",
            "MessageContentRefusalObject",
        }
    ): "MessageContent",
    frozenset(
        {
            "MessageContentImageFileObject",
            "MessageContentImageUrlObject",
            "MessageRequestContentTextObject",
        }
    ): "MessageRequestContent",
    frozenset(
        {
            "MessageContentTextAnnotationsFileCitationObject",
            "MessageContentTextAnnotationsFilePathObject",
        }
    ): "TextAnnotation",
    frozenset(
        {
            "MessageDeltaContentTextAnnotationsFileCitationObject",
            "MessageDeltaContentTextAnnotationsFilePathObject",
        }
    ): "TextAnnotationDelta",
    frozenset(
        {
            "MessageDeltaContentImageFileObject",
            "MessageDeltaContentImageUrlObject",
            "MessageDeltaContentTextObject",
            "MessageDeltaContentRefusalObject",
        }
    ): "MessageContentDelta",
    frozenset({"RunStepDetailsMessageCreationObject", "RunStepDetailsToolCallsObject"}): (
        "RunStepDetails"
    ),
    frozenset(
        {"RunStepDeltaStepDetailsMessageCreationObject", "RunStepDeltaStepDetailsToolCallsObject"}
    ): "RunStepDetailsDelta",
    frozenset(
        {
            "RunStepDetailsToolCallsCodeObject",
            "RunStepDetailsToolCallsFileSearchObject",
            "RunStepDetailsToolCallsFunctionObject",
        }
    ): "ToolCall",
    frozenset(
        {
            "RunStepDeltaStepDetailsToolCallsCodeObject",
            "RunStepDeltaStepDetailsToolCallsFileSearchObject",
            "RunStepDeltaStepDetailsToolCallsFunctionObject",
        }
    ): "ToolCallDelta",
    frozenset(
        {
            "RunStepDetailsToolCallsCodeOutputLogsObject",
            "RunStepDetailsToolCallsCodeOutputImageObject",
        }
    ): "CodeInterpreterOutput",
    frozenset(
        {
            "RunStepDeltaStepDetailsToolCallsCodeOutputLogsObject",
            "RunStepDeltaStepDetailsToolCallsCodeOutputImageObject",
        }
    ): "CodeInterpreterOutputDelta",
    frozenset({"ResponseFormatText", "ResponseFormatJsonObject", "ResponseFormatJsonSchema"}): (
        "ResponseFormat"
    ),
    frozenset({"#auto", "#static"}): "ChunkingStrategy",
    frozenset({"AutoChunkingStrategyRequestParam", "StaticChunkingStrategyRequestParam"}): (
        "FileChunkingStrategyParam"
    ),
    frozenset({"StaticChunkingStrategyResponseParam", "OtherChunkingStrategyResponseParam"}): (
        "FileChunkingStrategy"
    ),
    frozenset({"ComparisonFilter", "CompoundFilter"}): "SearchFilter",
}

# Inline object schemas, keyed by the path where they first occur.
INLINE_NAMES: dict[str, str] = {
    "AssistantObject.tool_resources": "ToolResources",
    "AssistantObject.tool_resources.code_interpreter": "CodeInterpreterResources",
    "AssistantObject.tool_resources.file_search": "FileSearchResources",
    "AssistantToolsFileSearch.file_search": "FileSearchToolOptions",
    "AssistantsNamedToolChoice.function": "NamedToolChoiceFunction",
    "CreateAssistantRequest.tool_resources": "ToolResourcesCreate",
    "CreateAssistantRequest.tool_resources.file_search": "FileSearchResourcesCreate",
    "CreateAssistantRequest.tool_resources.file_search.vector_stores[]": "VectorStoreCreate",
    "CreateAssistantRequest.tool_resources.file_search.vector_stores[].chunking_strategy#auto": (
        "AutoChunkingStrategy"
    ),
    "CreateAssistantRequest.tool_resources.file_search.vector_stores[].chunking_strategy#static": (
        "StaticChunkingStrategy"
    ),
    "CreateAssistantRequest.tool_resources.file_search.vector_stores[].chunking_strategy#static.static": (
        "StaticChunkingOptions"
    ),
    "MessageObject.attachments[]": "MessageAttachment",
    "MessageObject.incomplete_details": "MessageIncompleteDetails",
    "MessageContentImageFileObject.image_file": "ImageFile",
    "MessageContentImageUrlObject.image_url": "ImageUrl",
    "MessageContentTextObject.text": "MessageText",
    "MessageContentTextAnnotationsFileCitationObject.file_citation": "FileCitation",
    "MessageContentTextAnnotationsFilePathObject.file_path": "FilePath",
    "MessageDeltaObject.delta": "MessageDeltaBody",
    "MessageDeltaContentImageFileObject.image_file": "ImageFileDelta",
    "MessageDeltaContentImageUrlObject.image_url": "ImageUrlDelta",
    "MessageDeltaContentTextObject.text": "MessageTextDelta",
    "MessageDeltaContentTextAnnotationsFileCitationObject.file_citation": "FileCitationDelta",
    "MessageDeltaContentTextAnnotationsFilePathObject.file_path": "FilePathDelta",
    "ResponseFormatJsonSchema.json_schema": "JsonSchemaFormat",
    "RunObject.required_action": "RequiredAction",
    "RunObject.required_action.submit_tool_outputs": "SubmitToolOutputsAction",
    "RunObject.last_error": "RunLastError",
    "RunObject.incomplete_details": "RunIncompleteDetails",
    "RunStepObject.last_error": "RunStepLastError",
    "RunStepDeltaObject.delta": "RunStepDeltaBody",
    "RunStepDetailsMessageCreationObject.message_creation": "MessageCreation",
    "RunStepDeltaStepDetailsMessageCreationObject.message_creation": "MessageCreationDelta",
    "RunStepDetailsToolCallsCodeObject.code_interpreter": "CodeInterpreterCall",
    "RunStepDeltaStepDetailsToolCallsCodeObject.code_interpreter": "CodeInterpreterCallDelta",
    "RunStepDetailsToolCallsCodeOutputImageObject.image": "CodeInterpreterImage",
    "RunStepDeltaStepDetailsToolCallsCodeOutputImageObject.image": "CodeInterpreterImageDelta",
    "RunStepDetailsToolCallsFileSearchObject.file_search": "FileSearchCall",
    "RunStepDeltaStepDetailsToolCallsFileSearchObject.file_search": "FileSearchCallDelta",
    "RunStepDetailsToolCallsFileSearchResultObject.content[]": "FileSearchResultContent",
    "RunStepDetailsToolCallsFunctionObject.function": "FunctionCall",
    "RunStepDeltaStepDetailsToolCallsFunctionObject.function": "FunctionCallDelta",
    "RunToolCallObject.function": "RequiredToolCallFunction",
    "SubmitToolOutputsRunRequest.tool_outputs[]": "ToolOutput",
    "CreateMessageRequest.attachments[]": "MessageAttachment",
    "VectorStoreObject.file_counts": "VectorStoreFileCounts",
    "VectorStoreFileBatchObject.file_counts": "FileBatchFileCounts",
    "VectorStoreFileObject.last_error": "VectorStoreFileLastError",
    "VectorStoreFileContentResponse.data[]": "VectorStoreFileContentPart",
    "VectorStoreSearchRequest.ranking_options": "SearchRankingOptions",
}

# Hand-written behaviour for some generated classes: class name -> (module, mixin class).
MIXINS: dict[str, tuple[str, str]] = {
    "ThreadMessage": ("assistants_client._mixins", "ThreadMessageMixin"),
    "RunResponse": ("assistants_client._mixins", "RunResponseMixin"),
}

# Request unions and classes that let through what the spec does not know, sent verbatim: a
# tool of another type (a vendor's own, or one added later) and its `tool_resources` entry.
# Every variant the spec does describe is still checked. Any other request class refuses
# unknown fields, so that a typo never goes unnoticed.
OPEN_REQUEST_UNIONS: frozenset[str] = frozenset({"AssistantToolParam", "AttachmentToolParam"})
OPEN_REQUEST_CLASSES: frozenset[str] = frozenset({"ToolResourcesCreate", "ToolResourcesParam"})

# Client method names that the rule (snake case, modify -> update) would get wrong.
OPERATION_NAMES: dict[str, str] = {
    "submitToolOuputsToRun": "submit_tool_outputs",
    "createFile": "upload_file",
    "downloadFile": "get_file_content",
    "listFilesInVectorStoreBatch": "list_vector_store_file_batch_files",
    "updateVectorStoreFileAttributes": "update_vector_store_file",
}
VERB_NAMES: dict[str, str] = {"modify": "update", "retrieve": "get"}

REQUEST_SUFFIX = "Param"
UNKNOWN_PREFIX = "Unknown"
OBJECT_SUFFIX = "Object"
UNION_BASE_SUFFIX = "Base"


def schema_class_name(component: str) -> str:
    if component in SCHEMA_NAMES:
        return SCHEMA_NAMES[component]
    if component.endswith(OBJECT_SUFFIX) and len(component) > len(OBJECT_SUFFIX):
        return component[: -len(OBJECT_SUFFIX)]
    return component


def union_base_name(union: str) -> str:
    """The base class shared by the variants of a response union (see rule 3 above)."""
    return union + UNION_BASE_SUFFIX


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace(".", "_").split("_"))


def event_class_name(event: str) -> str:
    return camel(event) + "Event"


def operation_method_name(operation_id: str) -> str:
    """``modifyThread`` -> ``update_thread``; see rule 7 above."""
    if operation_id in OPERATION_NAMES:
        return OPERATION_NAMES[operation_id]
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", operation_id)]
    if words:
        words[0] = VERB_NAMES.get(words[0], words[0])
    return "_".join(words)
