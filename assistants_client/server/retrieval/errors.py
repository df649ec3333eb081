"""What retrieval raises, and how the HTTP side answers each.

::

    RetrievalError
    ├── InvalidRequest (also ValueError)   400, names the parameter
    │   └── MalformedUpload                400, a multipart body that breaks the rules
    ├── FileTooLarge                       413, an upload over the size cap
    ├── NotFound                           404, names the object
    ├── DocumentError                      a file that cannot be indexed: its vector store
    │   ├── UnsupportedFile                file fails with last_error.code unsupported_file
    │   └── InvalidFile                    ... or invalid_file
    └── EmbeddingUnavailable               the embeddings endpoint failed in a way worth
                                           retrying later (rate limit, 5xx, down)
"""

from __future__ import annotations

__all__ = [
    "DocumentError",
    "EmbeddingUnavailable",
    "FileTooLarge",
    "InvalidFile",
    "InvalidRequest",
    "MalformedUpload",
    "NotFound",
    "RetrievalError",
    "UnsupportedFile",
]


class RetrievalError(Exception):
    """The root of retrieval's errors."""


class InvalidRequest(RetrievalError, ValueError):
    """A request's parameter is refused (400); ``param`` names it."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class MalformedUpload(InvalidRequest):
    """A ``multipart/form-data`` body that breaks the rules, or ends before it should (400)."""


class FileTooLarge(RetrievalError):
    """An upload is larger than the server's cap (413); nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the file is larger than this server accepts ({limit:,} bytes); nothing was stored"
        )
        self.limit = limit


class NotFound(RetrievalError):
    """No such object in this project (404)."""

    def __init__(self, kind: str, obj_id: str, param: str | None = None) -> None:
        super().__init__(f"No {kind} found with id '{obj_id}'.")
        self.kind = kind
        self.obj_id = obj_id
        self.param = param


class DocumentError(RetrievalError):
    """A file that cannot be indexed; ``code`` is its ``last_error.code``."""

    code = "invalid_file"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedFile(DocumentError):
    """A kind of file this server does not read (or only with an extra installed)."""

    code = "unsupported_file"


class InvalidFile(DocumentError):
    """A file of a kind this server reads, whose content is broken or empty."""

    code = "invalid_file"


class EmbeddingUnavailable(RetrievalError):
    """The embeddings endpoint failed after the retries of one call (429, 5xx, unreachable):
    the ingestion is tried again later, not failed. ``retry_after``: seconds it asked for."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
