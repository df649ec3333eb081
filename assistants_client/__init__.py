"""assistants-client: a sync-first Python client for the Assistants API.

The public surface is re-exported here; the modules behind it are private.
"""

from assistants_client import models
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
from assistants_client._version import __version__

__all__ = [
    "OMIT",
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
