"""What every generated model shares: the OMIT sentinel and the JSON helpers.

Generated classes (``assistants_client.models``) inherit from :class:`Model`. The conversions
themselves live in the one converter configured in ``assistants_client._converter``.
"""

from __future__ import annotations

import enum
import json
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union

if TYPE_CHECKING:
    from cattrs import Converter

__all__ = ["OMIT", "JsonValue", "Model", "Omit", "dumps_compact"]

JsonValue = Union[str, int, float, bool, None, list[Any], dict[str, Any]]

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

_converter: Converter | None = None


def _conv() -> Converter:
    global _converter
    if _converter is None:
        from assistants_client._converter import converter

        _converter = converter
    return _converter


def dumps_compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Model:
    """Base of every generated model: JSON helpers over the shared converter."""

    __slots__ = ()

    @classmethod
    def from_dict(cls: type[M], data: Any) -> M:
        """Build an instance from decoded JSON; raises ModelValidationError naming the field."""
        from assistants_client._converter import structure

        return structure(data, cls)

    @classmethod
    def from_json(cls: type[M], text: str | bytes | bytearray) -> M:
        """Build an instance from JSON text (str or bytes)."""
        from assistants_client._converter import structure

        return structure(json.loads(text), cls)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this instance: omitted fields are absent, None is null."""
        result: dict[str, Any] = _conv().unstructure(self)
        return result

    def to_json(self) -> str:
        """Compact JSON text for this instance."""
        return dumps_compact(self.to_dict())
