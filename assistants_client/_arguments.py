"""Argument checks: what the client checks in a method's arguments before any network I/O.

These are the checks the spec does not express (an id that is safe as one path segment, a
``limit`` in range, metadata limits that the spec states only in prose) and the turning of
arguments into a request body. What the spec does express (enums, lengths, minimums) is
checked by the generated request model of the operation, through ``_constraints``, and is not
repeated here. Every failure raises :class:`~assistants_client.InvalidArgumentError` naming the
parameter, so that ``get_thread("")`` never turns into ``GET /threads/`` (a different endpoint)
and a bad body never costs a round trip.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from assistants_client._exceptions import InvalidArgumentError, ModelValidationError
from assistants_client._model_base import Model
from assistants_client._omit import Omit

__all__ = [
    "METADATA_KEY_MAX_CHARS",
    "METADATA_MAX_KEYS",
    "METADATA_VALUE_MAX_CHARS",
    "MAX_ID_CHARS",
    "build_body",
    "request_body",
    "to_jsonable",
    "validate_content",
    "validate_cursor",
    "validate_id",
    "validate_include",
    "validate_limit",
    "validate_metadata",
    "validate_order",
]

MAX_ID_CHARS = 256
"""The longest id taken. The spec bounds no id; the live API's are 27 to 31 characters
(``thread_`` and 24 more), Azure's file ids 32 (``assistant-`` and 22); proxies that encode a
route in an id (LiteLLM's managed files, in base64) make longer ones. Past 256 it is a
mistake (a pasted body, a URL), not an id."""
METADATA_MAX_KEYS = 16
METADATA_KEY_MAX_CHARS = 64
METADATA_VALUE_MAX_CHARS = 512

# Characters that would change the addressed endpoint or the meaning of the URL.
_FORBIDDEN_IN_ID = re.compile(r"[/?#%\\\s]")


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_id(value: object, param: str) -> str:
    """An id that is safe as one URL path segment, or InvalidArgumentError naming ``param``."""
    if value is None:
        raise InvalidArgumentError(f"{param} is required, got None", param=param)
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{param} must be a str, got {type(value).__name__}", param=param
        )
    if not value or not value.strip():
        raise InvalidArgumentError(f"{param} must not be empty or blank", param=param)
    if value in (".", ".."):
        raise InvalidArgumentError(f"{param} must not be {value!r}", param=param)
    if len(value) > MAX_ID_CHARS:
        raise InvalidArgumentError(
            f"{param} has {len(value)} characters; an id has at most {MAX_ID_CHARS}", param=param
        )
    match = _FORBIDDEN_IN_ID.search(value)
    if match is not None:
        raise InvalidArgumentError(
            f"{param} must not contain {match.group()!r} (got {_describe(value)})", param=param
        )
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            raise InvalidArgumentError(
                f"{param} must not contain control or surrogate characters "
                f"(got {_describe(value)})",
                param=param,
            )
    return value


def validate_cursor(value: str | Omit, param: str) -> str | Omit:
    """``after``/``before``/``run_id`` filters: omitted, or an id."""
    if isinstance(value, Omit):
        return value
    return validate_id(value, param)


def validate_limit(value: int | Omit, most: int = 100) -> int | Omit:
    """A page size from 1 to ``most`` (100 for most lists; files are listed 10,000 at a time)."""
    if isinstance(value, Omit):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise InvalidArgumentError(
            f"limit must be an int from 1 to {most:,}, got {_describe(value)}", param="limit"
        )
    return value


def validate_order(value: str | Omit) -> str | Omit:
    if isinstance(value, Omit):
        return value
    if value not in ("asc", "desc"):
        raise InvalidArgumentError(
            f"order must be 'asc' or 'desc', got {_describe(value)}", param="order"
        )
    return value


def validate_include(value: list[str] | Omit) -> list[str] | Omit:
    if isinstance(value, Omit):
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidArgumentError(
            f"include must be a list of str, got {_describe(value)}", param="include"
        )
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise InvalidArgumentError(
                f"include must hold non-empty str values, got {_describe(item)}",
                param="include",
            )
    return list(value)


def validate_content(value: object, param: str = "content") -> object:
    if value is None:
        raise InvalidArgumentError(f"{param} is required, got None", param=param)
    if isinstance(value, str):
        if not value.strip():
            raise InvalidArgumentError(f"{param} must not be empty or blank", param=param)
        return value
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidArgumentError(f"{param} must not be an empty list", param=param)
        return value
    raise InvalidArgumentError(
        f"{param} must be a str or a list of content parts, got {type(value).__name__}",
        param=param,
    )


def validate_metadata(value: object, param: str = "metadata") -> object:
    """At most 16 str keys of at most 64 characters, str values of at most 512 characters.

    ``None`` is allowed (sent as null, to clear the metadata); omitted values are left alone.
    """
    if isinstance(value, Omit) or value is None:
        return value
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f"{param} must be a dict of str to str, got {type(value).__name__}", param=param
        )
    if len(value) > METADATA_MAX_KEYS:
        raise InvalidArgumentError(
            f"{param} has {len(value)} keys; at most {METADATA_MAX_KEYS} are allowed",
            param=param,
        )
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidArgumentError(
                f"{param} keys must be str, got {type(key).__name__}", param=param
            )
        if len(key) > METADATA_KEY_MAX_CHARS:
            raise InvalidArgumentError(
                f"{param} key {_describe(key)} has {len(key)} characters; "
                f"at most {METADATA_KEY_MAX_CHARS} are allowed",
                param=param,
            )
        if not isinstance(item, str):
            raise InvalidArgumentError(
                f"{param}[{key!r}] must be a str, got {type(item).__name__}", param=param
            )
        if len(item) > METADATA_VALUE_MAX_CHARS:
            raise InvalidArgumentError(
                f"{param}[{key!r}] has {len(item)} characters; "
                f"at most {METADATA_VALUE_MAX_CHARS} are allowed",
                param=param,
            )
    return value


def to_jsonable(value: Any, param: str) -> Any:
    """``value`` as plain JSON data: generated models become dicts via ``to_dict()``."""
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, Omit):
        raise InvalidArgumentError(f"{param} must not hold OMIT inside a value", param=param)
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError(f"{param} must not hold NaN or infinity", param=param)
        return value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgumentError(
                    f"{param} must have str keys, got {type(key).__name__}", param=param
                )
            result[key] = to_jsonable(item, param)
        return result
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, param) for item in value]
    raise InvalidArgumentError(
        f"{param} holds a {type(value).__name__}, which is not JSON data", param=param
    )


def build_body(**fields: Any) -> dict[str, Any]:
    """The JSON body: omitted fields left out, None kept (JSON null), models turned into dicts."""
    return {
        name.rstrip("_"): to_jsonable(value, name)
        for name, value in fields.items()
        if not isinstance(value, Omit)
    }


def _param_from_path(path: str, model: str, body: Mapping[str, Any]) -> str | None:
    """The top-level body field a ModelValidationError path points at, if any."""
    rest = path
    if rest.startswith(model):
        rest = rest[len(model) :]
    rest = rest.lstrip(".")
    head = re.split(r"[.\[]", rest, maxsplit=1)[0] if rest else ""
    if head in body:
        return head
    return None


def request_body(
    cls: type[Model], body: Mapping[str, Any], *, param_names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``body`` as the generated request model of the operation sends it.

    Building the model checks the spec's constraints and refuses unknown fields; a
    ModelValidationError becomes InvalidArgumentError naming the parameter (``param_names``
    maps a body field to the method parameter where they differ).
    """
    try:
        model = cls.from_dict(dict(body))
    except ModelValidationError as exc:
        field = _param_from_path(exc.path, cls.__name__, body)
        param = (param_names or {}).get(field, field) if field else None
        where = f"{param}: " if param else ""
        raise InvalidArgumentError(f"{where}{exc}", param=param) from exc
    return model.to_dict()
