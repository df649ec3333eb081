"""What every generated model shares: the OMIT sentinel and the JSON helpers.

Generated classes (``assistants_client.models``) inherit from :class:`Model`. The conversions
themselves live in the one converter configured in ``assistants_client._converter``.
"""

from __future__ import annotations

import enum
import functools
import json
import reprlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, TypeVar, Union

import attrs

__all__ = ["NO_EXTRA_FIELDS", "OMIT", "JsonValue", "Model", "Omit", "dumps_compact"]

JsonValue = Union[str, int, float, bool, None, list[Any], dict[str, Any]]  # noqa: UP007

M = TypeVar("M", bound="Model")


class Omit(enum.Enum):
    """The type of :data:`OMIT`: a field that is absent from the JSON object.

    ``OMIT`` differs from ``None``: ``None`` is sent (or was received) as JSON ``null``, while an
    omitted field is not in the object at all. ``OMIT`` is falsy, so ``if model.field:`` reads
    naturally and narrows the type.
    """

    OMIT = "OMIT"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Literal[Omit.OMIT] = Omit.OMIT

# The ``extra_fields`` of a response that had none: one shared, read-only empty mapping, so
# that parsing does not allocate a dict per object. A response with unknown fields gets a dict.
NO_EXTRA_FIELDS: Mapping[str, Any] = MappingProxyType({})


@functools.cache
def _conversions() -> Any:
    """The converter module, imported on first use: it imports the generated models."""
    from assistants_client import _converter

    return _converter


class _ModelRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxstring = 80
        self.maxother = 200
        self.maxlist = 6
        self.maxdict = 8
        self.maxlevel = 4

    def repr_instance(self, obj: Any, level: int) -> str:
        # Nested models print through their own __repr__, cut to a readable length.
        text = repr(obj)
        return text if len(text) <= 300 else text[:297] + "..."


_REPR = _ModelRepr()


def dumps_compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Model:
    """Base of every generated model: JSON helpers over the shared converter."""

    __slots__ = ()

    @classmethod
    def from_dict(cls: type[M], data: Any) -> M:
        """Build an instance from decoded JSON; raises ModelValidationError naming the field."""
        result: M = _conversions().structure(data, cls)
        return result

    @classmethod
    def from_json(cls: type[M], text: str | bytes | bytearray) -> M:
        """Build an instance from JSON text (str or bytes)."""
        result: M = _conversions().structure(json.loads(text), cls)
        return result

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this instance: omitted fields are absent, None is null."""
        result: dict[str, Any] = _conversions().converter.unstructure(self)
        return result

    def __repr__(self) -> str:
        """Readable and short: omitted fields are left out, long text is truncated."""
        parts = []
        for a in attrs.fields(type(self)):  # type: ignore[arg-type]
            value = getattr(self, a.name)
            if value is OMIT or (a.name == "extra_fields" and not value):
                continue
            parts.append(f"{a.name}={_REPR.repr(value)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_json(self) -> str:
        """Compact JSON text for this instance."""
        return dumps_compact(self.to_dict())
