"""What every generated model shares: its base classes and the JSON helpers.

Generated classes (``assistants_client.models``) derive from :class:`ResponseModel` (what the
server sends: unknown fields are kept) or :class:`RequestModel` (what the client sends: unknown
fields are refused). The conversions live in the one converter of ``_converter``; a class tells
the converter how to treat it through class attributes that the generator writes:

``_json_keeps_extra``
    True for response classes (unknown JSON fields go to ``extra_fields`` and round-trip),
    False for request classes.
``_json_renames``
    Attribute name -> JSON key, where they differ (a Python keyword).
``_json_tag``, ``_json_variants``, ``_json_unknown``
    On the base class of a tagged union: the tag field (``type`` or ``event``), tag value ->
    variant class, and the variant that keeps an unknown tag (or None for request unions).
``_json_unknown_variant``
    True on that ``Unknown...`` variant.

A response union is a type alias over its variant classes (``MessageContent`` is
``MessageContentImageFile | ... | UnknownMessageContent``); the markers above sit on the base
class the variants share (``MessageContentBase``). Each known variant types its tag as one
literal, and the ``Unknown...`` variant types it as :data:`UnknownTag`, a literal no server
sends, so that comparing the tag with a known value narrows the union to that variant, under
mypy and pyright alike. At runtime the ``Unknown...`` variant holds the tag as sent.
``_json_required``, ``_json_non_null``
    On response classes: the JSON keys the spec requires, and those whose ``null`` only the
    overlay of observed server behaviour allows (``openapi/overlay.yaml``). The default, tolerant
    reading accepts an absent required field that has a sensible absence (``None`` for a
    nullable field, ``[]`` for an array); the strict reading (``strict_responses=True``) holds
    servers to the spec.

``_json_absent_reads_none``
    True on response classes: a field the spec does not require is typed ``X | None`` and reads
    as ``None`` when absent (so ``if x.field is not None`` narrows it), as a required field with
    a sensible absence does. Request classes keep ``OMIT`` for what is not sent.

A response read from JSON remembers which of those keys were absent (``_json_absent``), so
that ``to_dict()`` leaves them out again, and keeps a null as null: a round trip gives back
exactly what was received. A response built in code (``_json_absent`` is None) leaves out its
optional fields that are None.

So the converter needs no list of the generated classes, and nothing here imports them.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, Union

import attrs

from assistants_client._converter import structure, unstructure
from assistants_client._omit import OMIT

__all__ = [
    "NO_EXTRA_FIELDS",
    "JsonValue",
    "Model",
    "RequestModel",
    "ResponseModel",
    "UnknownTag",
    "dumps_compact",
    "json_keys",
]

JsonValue = Union[str, int, float, bool, None, list[Any], dict[str, Any]]  # noqa: UP007

if TYPE_CHECKING:
    # The tag of an Unknown... response variant, as type checkers see it: a literal that is none
    # of the known tags, so that `part.type == "text"` leaves the Unknown variant out. At
    # runtime the attribute is the tag the server sent (a str, also in `raw`), never this value:
    # test for an Unknown variant with isinstance, not by comparing its tag.
    UnknownTag = Literal["<unknown>"]
else:
    UnknownTag = str

M = TypeVar("M", bound="Model")

# The ``extra_fields`` of a response that had none: one shared, read-only empty mapping, so
# that parsing does not allocate a dict per object. A response with unknown fields gets a dict.
NO_EXTRA_FIELDS: Mapping[str, Any] = MappingProxyType({})


class _ModelRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxstring = 160
        self.maxother = 200
        self.maxlist = 6
        self.maxdict = 8
        self.maxlevel = 4

    def repr_str(self, x: str, level: int) -> str:
        # The start of a long text, cut at the end: what an error says first is its reason,
        # and a cut in the middle would hide it.
        if len(x) <= self.maxstring:
            return repr(x)
        text = repr(x[: self.maxstring - 3])
        return text[:-1] + "..." + text[-1]

    def repr_instance(self, obj: Any, level: int) -> str:
        # Nested models print through their own __repr__, cut to a readable length.
        text = repr(obj)
        return text if len(text) <= 300 else text[:297] + "..."


_REPR = _ModelRepr()


def json_keys(names: str) -> frozenset[str]:
    """``"a b c"`` -> ``frozenset({"a", "b", "c"})``: compact key sets in generated code."""
    return frozenset(names.split())


def dumps_compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Model:
    """Base of every generated model: JSON helpers over the shared converter."""

    __slots__ = ()
    _json_keeps_extra: ClassVar[bool]
    _json_renames: ClassVar[Mapping[str, str]]
    _json_tag: ClassVar[str]
    _json_variants: ClassVar[Mapping[str, type[Any]]]
    _json_unknown: ClassVar[type[Any] | None]
    _json_unknown_variant: ClassVar[bool]
    _json_required: ClassVar[frozenset[str]]
    _json_non_null: ClassVar[frozenset[str]]
    _json_absent_reads_none: ClassVar[bool] = False

    @classmethod
    def from_dict(cls: type[M], data: Any) -> M:
        """Build an instance from decoded JSON; raises ModelValidationError naming the field."""
        return structure(data, cls)

    @classmethod
    def from_json(cls: type[M], text: str | bytes | bytearray) -> M:
        """Build an instance from JSON text (str or bytes)."""
        return structure(json.loads(text), cls)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this instance: omitted fields are absent, None is null."""
        result: dict[str, Any] = unstructure(self)
        return result

    def to_json(self) -> str:
        """Compact JSON text for this instance."""
        return dumps_compact(self.to_dict())

    def __repr__(self) -> str:
        """Readable and short: what ``to_dict`` leaves out is left out, long text is cut."""
        cls = type(self)
        absent: frozenset[str] | None = getattr(self, "_json_absent", None)
        renames = getattr(cls, "_json_renames", None) or {}
        required: frozenset[str] = getattr(cls, "_json_required", frozenset())
        parts = []
        for a in attrs.fields(cls):  # type: ignore[arg-type]
            if a.name.startswith("_"):
                continue
            value = getattr(self, a.name)
            key = renames.get(a.name, a.name)
            if (
                value is OMIT
                or (a.name == "extra_fields" and not value)
                or (absent is not None and key in absent)
                or (
                    absent is None
                    and value is None
                    and cls._json_absent_reads_none
                    and key not in required
                    and a.default is None
                )
            ):
                continue
            parts.append(f"{a.name}={_REPR.repr(value)}")
        return f"{cls.__name__}({', '.join(parts)})"


class ResponseModel(Model):
    """A model of what the server sends: unknown fields are kept in ``extra_fields``."""

    __slots__ = ()
    _json_keeps_extra = True
    _json_absent_reads_none = True


class RequestModel(Model):
    """A model of what the client sends: unknown fields are refused."""

    __slots__ = ()
    _json_keeps_extra = False
