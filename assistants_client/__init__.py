"""assistants-client: a sync-first Python client for the Assistants API, with an async face.

The public surface is re-exported here; the modules behind it are private.
"""

from assistants_client import _exceptions, models
from assistants_client._async_base import AsyncAssistantsClientWithRawResponse
from assistants_client._async_client import AsyncAssistantsClient
from assistants_client._async_sse_relay import AsyncSSERelay
from assistants_client._async_streaming import AsyncAssistantStream
from assistants_client._citations import Citation, CitationFormat, CitedText
from assistants_client._client import (
    AssistantsClient,
    AssistantsClientWithRawResponse,
    CreateRunParams,
    CreateThreadAndRunParams,
    RunReply,
)
from assistants_client._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Timeout
from assistants_client._exceptions import *  # noqa: F403 - the whole error tree is public
from assistants_client._model_base import Model
from assistants_client._omit import OMIT, Omit
from assistants_client._pagination import AsyncPage, SyncPage
from assistants_client._response import RawResponse
from assistants_client._retry import DEFAULT_RETRY_POLICY, RetryPolicy
from assistants_client._runs import ToolCallError, ToolErrorPolicy
from assistants_client._streaming import AssistantEventHandler, AssistantStream, StreamSnapshot
from assistants_client._structured import json_schema_for, response_format_for
from assistants_client._transport import RequestOptions
from assistants_client._uploads import FileInput, FileUpload
from assistants_client._version import __version__

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "FileInput",
    "FileUpload",
    "OMIT",
    "AssistantEventHandler",
    "AssistantStream",
    "AssistantsClient",
    "AssistantsClientWithRawResponse",
    "AsyncAssistantStream",
    "AsyncAssistantsClient",
    "AsyncAssistantsClientWithRawResponse",
    "AsyncPage",
    "AsyncSSERelay",
    "Citation",
    "CitationFormat",
    "CitedText",
    "CreateRunParams",
    "CreateThreadAndRunParams",
    "RawResponse",
    "RequestOptions",
    "RetryPolicy",
    "RunReply",
    "StreamSnapshot",
    "SyncPage",
    "Timeout",
    "ToolCallError",
    "ToolErrorPolicy",
    "json_schema_for",
    "response_format_for",
    "Model",
    "Omit",
    "__version__",
    "models",
]
__all__ += _exceptions.__all__
