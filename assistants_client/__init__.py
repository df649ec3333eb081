"""assistants-client: a sync-first Python client for the Assistants API.

The public surface is re-exported here; the modules behind it are private.
"""

from assistants_client import models
from assistants_client._client import (
    AssistantsClient,
    AssistantsClientWithRawResponse,
    CreateRunParams,
    CreateThreadAndRunParams,
)
from assistants_client._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Timeout
from assistants_client._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AssistantsError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidArgumentError,
    ModelValidationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    StreamInterruptedError,
    UnprocessableEntityError,
)
from assistants_client._model_base import OMIT, Model, Omit
from assistants_client._pagination import SyncPage
from assistants_client._response import RawResponse
from assistants_client._streaming import AssistantEventHandler, AssistantStream, StreamSnapshot
from assistants_client._structured import json_schema_for, response_format_for
from assistants_client._version import __version__

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "OMIT",
    "AssistantEventHandler",
    "AssistantStream",
    "AssistantsClient",
    "AssistantsClientWithRawResponse",
    "CreateRunParams",
    "CreateThreadAndRunParams",
    "RawResponse",
    "StreamSnapshot",
    "SyncPage",
    "Timeout",
    "json_schema_for",
    "response_format_for",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AssistantsError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidArgumentError",
    "Model",
    "ModelValidationError",
    "NotFoundError",
    "Omit",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamError",
    "StreamInterruptedError",
    "UnprocessableEntityError",
    "__version__",
    "models",
]

# Configure the converter at import, once: every model's from_dict/to_dict goes through it.
from assistants_client import _converter as _converter
