"""The one cattrs converter for every generated model, configured once at import.

Rules it applies (each generated class says which apply to it through the ``_json_*`` class
attributes described in ``_model_base``; this module imports no generated code):

- Response classes keep JSON fields they do not know in ``extra_fields``; ``to_dict`` writes
  them back, so an unknown field survives a round trip.
- Request classes reject unknown fields (a typo must not be dropped silently).
- Tagged unions are structured by their tag (``type`` or ``event``): one dict lookup, never by
  trying each variant. An unknown tag in a response becomes the union's ``Unknown...`` class,
  which keeps the whole object in ``raw``. A field typed with a response union (an alias over
  the variant classes, ``A | B | UnknownX``) is read through the base class the variants
  share, which carries the union's markers.
- ``str | X`` unions ("auto" or an object, a string or a list) are told apart by JSON type, and
  so are unions of plain JSON kinds (``str | float | bool | list[str | float]``).
- A file to upload (``FileUpload``, the field of a multipart request model) is kept as it is.
- Request fields whose default is ``OMIT`` are left out of ``to_dict`` when omitted; ``None``
  is null.
- A response field that may be absent reads as ``None`` when it is, and the instance remembers
  which keys were absent (``_json_absent``): ``to_dict`` leaves exactly those out, so absent
  stays absent and null stays null. A response built in code (not read from JSON) leaves out
  its optional fields that are None.
- Primitives are strict: a number is not accepted for a string, nor a string for a boolean.

cattrs generates one structuring function per class and caches it, so the hot path is
cattrs' generated code plus one tag lookup per union member.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar, Union

import attrs
import cattrs
from attrs import fields
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from assistants_client._constraints import FieldConstraintError, describe_choices
from assistants_client._exceptions import ModelValidationError
from assistants_client._omit import OMIT, Omit
from assistants_client._uploads import FileUpload

__all__ = [
    "configure",
    "converter",
    "strict_converter",
    "structure",
    "structure_hook",
    "unstructure",
]

T = TypeVar("T")
Hook = Callable[[Any, Any], Any]


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


# -- strict primitives -----------------------------------------------------------------------


def _str(value: Any, _: Any) -> str:
    if value.__class__ is str:
        return value
    raise TypeError(f"expected a string, got {_kind(value)}")


def _int(value: Any, _: Any) -> int:
    if value.__class__ is int:
        return value
    raise TypeError(f"expected an integer, got {_kind(value)}")


def _float(value: Any, _: Any) -> float:
    if value.__class__ is float or value.__class__ is int:
        return value
    raise TypeError(f"expected a number, got {_kind(value)}")


def _bool(value: Any, _: Any) -> bool:
    if value.__class__ is bool:
        return value
    raise TypeError(f"expected a boolean, got {_kind(value)}")


def _is_list(t: Any) -> bool:
    origin: Any = typing.get_origin(t)
    return origin is list


def _string_map(value: Any, _: Any) -> dict[str, str]:
    if value.__class__ is dict and all(
        k.__class__ is str and v.__class__ is str for k, v in value.items()
    ):
        return dict(value)
    if value.__class__ is not dict:
        raise TypeError(f"expected an object, got {_kind(value)}")
    bad = next(k for k, v in value.items() if k.__class__ is not str or v.__class__ is not str)
    raise TypeError(f"expected string values, got {_kind(value[bad])} for {bad!r}")


def _free_object(value: Any, _: Any) -> dict[str, Any]:
    if value.__class__ is dict:
        return dict(value)
    raise TypeError(f"expected an object, got {_kind(value)}")


# What a strict primitive accepts, by JSON value class.
_PRIMITIVES: dict[Any, tuple[tuple[type[Any], ...], Hook]] = {
    str: ((str,), _str),
    int: ((int,), _int),
    float: ((float, int), _float),
    bool: ((bool,), _bool),
}


def _file_upload(value: Any, _: Any) -> FileUpload:
    if isinstance(value, FileUpload):
        return value
    raise TypeError(f"expected a file to upload (FileUpload), got {_kind(value)}")


# The Python classes of JSON scalars: a union of these (and of lists of them) is read by kind.
_SCALARS = (str, int, float, bool)


def _is_json_kind(t: Any) -> bool:
    if t in _SCALARS:
        return True
    if _is_list(t):
        args = typing.get_args(t)
        return bool(args) and all(_is_json_kind(a) for a in _members(args[0]))
    return False


def _members(t: Any) -> tuple[Any, ...]:
    return typing.get_args(t) if typing.get_origin(t) in (Union, types.UnionType) else (t,)


def _is_literal(t: Any) -> bool:
    origin: Any = typing.get_origin(t)
    return origin is Literal


def _literal_hook(t: Any) -> Hook:
    """A one-of check with a message that says what is allowed (``must be 'a' or 'b'``)."""
    allowed = typing.get_args(t)
    # (value, class) pairs, so that True is not taken for 1 nor 1 for 1.0.
    accepted = frozenset((v, v.__class__) for v in allowed)
    choices = describe_choices([str(v) for v in allowed])

    def structure_literal(value: Any, _: Any) -> Any:
        try:
            if (value, value.__class__) in accepted:
                return value
        except TypeError:  # an unhashable value (an object, an array) is never allowed
            pass
        raise ValueError(f"must be {choices}, got {value!r}")

    return structure_literal


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (Union, types.UnionType)


def _own(t: Any, name: str) -> Any:
    """A ``_json_*`` marker set on the class ``t`` itself (not inherited), or None."""
    return t.__dict__.get(name) if isinstance(t, type) else None


def _is_union_base(t: Any) -> bool:
    return _own(t, "_json_variants") is not None


def _is_unknown_variant(t: Any) -> bool:
    return _own(t, "_json_unknown_variant") is True


def _union_base_of(members: list[Any]) -> type[Any] | None:
    """The base class whose tagged union has exactly ``members`` as its variants, or None.

    A response union is a type alias over its variant classes; its markers are on the base
    class they share (a variant may belong to two unions: CodeInterpreterTool)."""
    wanted = set(members)
    first = members[0]
    if not isinstance(first, type):
        return None
    for candidate in first.__mro__:
        variants = _own(candidate, "_json_variants")
        if variants is None:
            continue
        found = set(variants.values())
        unknown = candidate.__dict__.get("_json_unknown")
        if unknown is not None:
            found.add(unknown)
        if found == wanted:
            return candidate
    return None


def _is_model(keeps_extra: bool) -> Callable[[Any], bool]:
    def predicate(t: Any) -> bool:
        return (
            isinstance(t, type)
            and attrs.has(t)
            and getattr(t, "_json_keeps_extra", None) is keeps_extra
            and not _is_unknown_variant(t)
        )

    return predicate


def _renames(cls: type[Any]) -> dict[str, str]:
    return dict(getattr(cls, "_json_renames", None) or {})


def _kind_name(t: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    return names.get(t, "an array")


class MissingFieldsError(Exception):
    """Strict reading: the spec requires these JSON keys, and the payload lacks them."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"required field(s) missing: {', '.join(names)}")
        self.names = names


class NullFieldError(Exception):
    """Strict reading: the spec forbids null here (only observed servers send it)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: null is not allowed by the spec")
        self.name = name


# The absent keys of a response that had every key (shared: no set per object).
_NONE_ABSENT: frozenset[str] = frozenset()
_SHARED_ABSENT_SETS = 32  # per class: what any one server sends, not what a hostile one could
_BOOKKEEPING = ("extra_fields", "_json_absent")


def _reads_absence(cls: type[Any]) -> bool:
    """A response class: its fields that may be absent read as None, and absence is kept."""
    return getattr(cls, "_json_absent_reads_none", False) is True


def _defaulted_keys(cls: type[Any], renames: dict[str, str]) -> frozenset[str]:
    """The JSON keys that may be absent from a response (those with a default in ``cls``):
    its optional fields, and the required ones with a sensible absence."""
    if not _reads_absence(cls):
        return frozenset()
    return frozenset(
        renames.get(a.name, a.name)
        for a in fields(cls)
        if a.default is not attrs.NOTHING and a.name not in _BOOKKEEPING
    )


def configure(converter: cattrs.Converter, *, strict: bool = False) -> cattrs.Converter:
    """Install the hooks that structure and unstructure generated models.

    The default reading is tolerant: a required field that the server left out reads as
    ``None`` when it is nullable and ``[]`` when it is an array (and is left out again by
    ``to_dict``), an optional field may be null as well as absent, and a tag the spec does not
    know becomes the union's ``Unknown...`` variant. ``strict=True`` holds servers to the spec:
    every field it requires must be present, only the spec's own nulls are allowed, and only
    the spec's own tags.
    """

    converter.register_structure_hook(str, _str)
    converter.register_structure_hook(int, _int)
    converter.register_structure_hook(float, _float)
    converter.register_structure_hook(bool, _bool)
    converter.register_structure_hook(FileUpload, _file_upload)
    converter.register_unstructure_hook(FileUpload, lambda upload: upload)
    converter.register_structure_hook_factory(_is_literal, _literal_hook)
    converter.register_structure_hook_func(lambda t: t == dict[str, Any], _free_object)
    converter.register_structure_hook_func(lambda t: t == dict[str, str], _string_map)

    def list_hook(t: Any) -> Hook:
        args = typing.get_args(t)
        item = args[0] if args else Any
        # cattrs' own list hook gives the index of a failing element; it is the slow path here.
        indexed = list_structure_factory(t, converter)
        hook = None if item is Any else converter.get_structure_hook(item)

        def structure_list(value: Any, _: Any) -> Any:
            if value.__class__ is not list:
                raise TypeError(f"expected an array, got {_kind(value)}")
            if hook is None:
                return list(value)
            try:
                return [hook(element, item) for element in value]
            except Exception:
                return indexed(value, t)

        return structure_list

    converter.register_structure_hook_factory(_is_list, list_hook)

    # -- unions ------------------------------------------------------------------------------------

    def union_hook(t: Any) -> Hook:
        """Every union the generator emits: ``X | None``, ``str | X`` (told apart by JSON type),
        either with ``| Omit``, where X may be a tagged union (its variant classes, read
        through their base class). ``Omit`` is never structured: an omitted field is not in the
        payload. Any other union is refused here rather than structured by guessing."""
        args = [a for a in typing.get_args(t) if a is not Omit]
        nullable = type(None) in args
        rest = [a for a in args if a is not type(None)]
        strings = [a for a in rest if a is str or typing.get_origin(a) is Literal]
        others = [a for a in rest if a not in strings]
        if len(others) > 1 and all(_is_json_kind(a) for a in rest):
            return _by_kind(rest, nullable)
        if len(others) > 1:
            base = _union_base_of(others)
            if base is None:
                raise TypeError(f"no structuring rule for the union {t!r}")
            others = [base]
            rest = strings + others
        if len(rest) == 1:
            return _single(rest[0], nullable)
        if len(strings) == 1 and len(others) == 1:
            return _str_or(strings[0], others[0], nullable)
        raise TypeError(f"no structuring rule for the union {t!r}")

    def _single(inner: Any, nullable: bool) -> Hook:
        if inner in _PRIMITIVES:
            accepted, strict = _PRIMITIVES[inner]

            def structure_primitive(value: Any, _: Any) -> Any:
                if value.__class__ in accepted or (nullable and value is None):
                    return value
                return strict(value, inner)  # raises with the expected kind

            return structure_primitive
        hook = converter.get_structure_hook(inner)
        if not nullable:
            if _is_union_base(inner):
                return hook  # it reads by the tag and needs no type: no wrapper per element
            return lambda value, _: hook(value, inner)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else hook(value, inner)

        return structure_optional

    def _by_kind(members: list[Any], nullable: bool) -> Hook:
        """A value of one of several JSON kinds, read by its JSON type (an integer may stand
        for a number)."""
        by_class: dict[Any, tuple[Hook, Any]] = {}
        for member in members:
            hook = converter.get_structure_hook(member)
            by_class[list if _is_list(member) else member] = (hook, member)
        if int not in by_class and float in by_class:
            by_class[int] = by_class[float]
        expected = " or ".join(_kind_name(m) for m in members)

        def structure_by_kind(value: Any, _: Any) -> Any:
            if value is None and nullable:
                return None
            found = by_class.get(value.__class__)
            if found is None:
                raise TypeError(f"expected {expected}, got {_kind(value)}")
            hook, member = found
            return hook(value, member)

        return structure_by_kind

    def _str_or(string_type: Any, other: Any, nullable: bool) -> Hook:
        allowed = frozenset(typing.get_args(string_type)) if string_type is not str else None
        other_hook = converter.get_structure_hook(other)

        def structure_str_or(value: Any, _: Any) -> Any:
            if value is None and nullable:
                return None
            if value.__class__ is str:
                if allowed is not None and value not in allowed:
                    choices = ", ".join(sorted(allowed))
                    raise ValueError(f"expected one of {choices} or an object, got {value!r}")
                return value
            return other_hook(value, other)

        return structure_str_or

    def _tagged_union_hook(base: type[Any]) -> Hook:
        tag: str = base._json_tag
        variants: dict[str, type[Any]] = dict(base._json_variants)
        unknown: type[Any] | None = base.__dict__.get("_json_unknown")
        # tag -> (the variant's reader, class); filled on first use, as the variants' hooks may
        # not exist yet at configuration time.
        dispatch: dict[str, tuple[Hook, type[Any]]] = {}
        expected = ", ".join(sorted(variants))

        def entry(tag_value: str) -> tuple[Hook, type[Any]]:
            cls = variants[tag_value]
            hook = converter.get_structure_hook(cls)
            found = dispatch[tag_value] = (getattr(hook, "read", hook), cls)
            return found

        def structure_tagged(value: Any, _: Any) -> Any:
            if value.__class__ is not dict:
                raise TypeError(f"expected an object for {base.__name__}, got {_kind(value)}")
            tag_value = value.get(tag)
            found = dispatch.get(tag_value) if tag_value.__class__ is str else None
            if found is None:
                if tag_value in variants:
                    found = entry(tag_value)
                elif unknown is not None and tag_value.__class__ is str and not strict:
                    return unknown(**{tag: tag_value, "raw": dict(value)})
                else:
                    raise ValueError(
                        f"{base.__name__}: `{tag}` must be one of {expected}, got {tag_value!r}"
                    )
            read, cls = found
            return read(value, cls)

        return structure_tagged

    def _unstructure_by_class(obj: Any) -> Any:
        return converter.unstructure(obj, unstructure_as=obj.__class__)

    # -- classes -----------------------------------------------------------------------------------

    def _field_overrides(cls: type[Any], *, for_unstructure: bool) -> dict[str, Any]:
        renames = _renames(cls)
        result: dict[str, Any] = {}
        for a in fields(cls):
            if a.name in _BOOKKEEPING:
                result[a.name] = override(omit=True)
                continue
            omit_default = for_unstructure and a.default is OMIT
            rename = renames.get(a.name)
            if omit_default or rename:
                result[a.name] = override(omit_if_default=omit_default or None, rename=rename)
        return result

    def _json_keys(cls: type[Any]) -> frozenset[str]:
        renames = _renames(cls)
        return frozenset(
            renames.get(a.name, a.name) for a in fields(cls) if a.name not in _BOOKKEEPING
        )

    def _open_structure_hook(cls: type[Any]) -> Hook:
        generated = make_dict_structure_fn(
            cls,
            converter,
            _cattrs_forbid_extra_keys=False,
            **_field_overrides(cls, for_unstructure=False),
        )
        known = _json_keys(cls)
        defaulted = _defaulted_keys(cls, _renames(cls))
        required: frozenset[str] = getattr(cls, "_json_required", frozenset())
        non_null: frozenset[str] = getattr(cls, "_json_non_null", frozenset())

        # dict.keys() compares with a set without copying the dict: `keys <= known` is the
        # cheap form of "no unknown field", `keys >= defaulted` of "nothing left out".
        # A class without keys that may be absent has nothing to remember (and to_dict nothing
        # to leave out of what it built).
        absence = _reads_absence(cls) and bool(defaulted)
        # The sets of absent keys met so far, shared (a few): objects of a class read from one
        # server tend to leave out the same keys, and a set per object weighs on the collector.
        shared: dict[frozenset[str], frozenset[str]] = {}

        def read_tolerant(value: Any, _: Any) -> Any:
            instance = generated(value, cls)
            keys = value.keys()
            if not keys <= known:
                instance.extra_fields = {k: v for k, v in value.items() if k not in known}
            if absence:
                if keys >= defaulted:
                    instance._json_absent = _NONE_ABSENT
                else:
                    absent = defaulted.difference(value)
                    found = shared.get(absent)
                    if found is None and len(shared) < _SHARED_ABSENT_SETS:
                        found = shared[absent] = absent
                    instance._json_absent = found or absent
            return instance

        def read_strict(value: Any, _: Any) -> Any:
            keys = value.keys()
            if not keys >= required:
                raise MissingFieldsError(sorted(required - keys))
            for name in non_null:
                if name in value and value[name] is None:
                    raise NullFieldError(name)
            return read_tolerant(value, _)

        read = read_strict if strict else read_tolerant

        def structure_open(value: Any, _: Any) -> Any:
            if value.__class__ is not dict:
                raise TypeError(f"expected an object for {cls.__name__}, got {_kind(value)}")
            return read(value, cls)

        # For tagged unions, which check the object themselves and call the reader directly.
        structure_open.read = read  # type: ignore[attr-defined]
        return structure_open

    def _closed_structure_hook(cls: type[Any]) -> Hook:
        generated = make_dict_structure_fn(
            cls,
            converter,
            _cattrs_forbid_extra_keys=True,
            **_field_overrides(cls, for_unstructure=False),
        )

        def structure_closed(value: Any, _: Any) -> Any:
            if value.__class__ is not dict:
                raise TypeError(f"expected an object for {cls.__name__}, got {_kind(value)}")
            return generated(value, cls)

        return structure_closed

    def _unknown_structure_hook(cls: type[Any]) -> Hook:
        tag: str = cls._json_tag

        def structure_unknown(value: Any, _: Any) -> Any:
            if value.__class__ is not dict or value.get(tag).__class__ is not str:
                raise TypeError(f"expected an object with a string `{tag}` for {cls.__name__}")
            return cls(**{tag: value[tag], "raw": dict(value)})

        return structure_unknown

    def _model_unstructure_hook(cls: type[Any]) -> Callable[[Any], Any]:
        generated = make_dict_unstructure_fn(
            cls, converter, **_field_overrides(cls, for_unstructure=True)
        )
        if not cls._json_keeps_extra:
            return generated
        # A response built in code leaves out the optional fields it left None.
        renames = _renames(cls)
        required: frozenset[str] = getattr(cls, "_json_required", frozenset())
        optional = tuple(key for key in _defaulted_keys(cls, renames) if key not in required)

        def unstructure_open(instance: Any) -> dict[str, Any]:
            result: dict[str, Any] = generated(instance)
            absent = instance._json_absent
            if absent is not None:
                for key in absent:
                    del result[key]
            else:
                for key in optional:
                    if result[key] is None:
                        del result[key]
            if instance.extra_fields:
                for key, value in instance.extra_fields.items():
                    result.setdefault(key, value)
            return result

        return unstructure_open

    is_response, is_request = _is_model(True), _is_model(False)
    # Registered later wins: an Unknown... variant is also an attrs response class.
    converter.register_structure_hook_factory(_is_union, union_hook)
    converter.register_structure_hook_factory(is_response, _open_structure_hook)
    converter.register_structure_hook_factory(is_request, _closed_structure_hook)
    converter.register_structure_hook_factory(_is_unknown_variant, _unknown_structure_hook)
    converter.register_structure_hook_factory(_is_union_base, _tagged_union_hook)
    converter.register_unstructure_hook_factory(
        lambda t: is_response(t) or is_request(t), _model_unstructure_hook
    )
    converter.register_unstructure_hook_func(_is_unknown_variant, lambda obj: dict(obj.raw))
    converter.register_unstructure_hook_func(_is_union_base, _unstructure_by_class)

    return converter


converter = configure(cattrs.Converter(detailed_validation=True))
strict_converter = configure(cattrs.Converter(detailed_validation=True), strict=True)

# -- entry points ------------------------------------------------------------------------------


def structure_hook(cls: type[T], *, strict: bool = False) -> Callable[[Any], T]:
    """A fast parser for one class: cattrs' cached hook, with errors mapped to ours."""
    hook = (strict_converter if strict else converter).get_structure_hook(cls)

    def parse(data: Any) -> T:
        try:
            return hook(data, cls)  # type: ignore[no-any-return]
        except Exception as exc:
            raise _model_error(exc, cls) from exc

    return parse


def unstructure(obj: Any) -> Any:
    """The plain JSON data of a model (or of any value the converter knows)."""
    return converter.unstructure(obj)


def structure(data: Any, cls: type[T], *, strict: bool = False) -> T:
    """Parse decoded JSON into ``cls``; raises ModelValidationError naming the field path.

    ``strict`` holds the payload to the spec (see :func:`configure`).
    """
    try:
        return (strict_converter if strict else converter).structure(data, cls)
    except Exception as exc:
        raise _model_error(exc, cls) from exc


def _model_error(exc: Exception, cls: type[Any]) -> ModelValidationError:
    if isinstance(exc, ModelValidationError):
        return exc
    name = getattr(cls, "__name__", str(cls))
    leaves = _leaf_errors(exc, name)
    errors = [f"{message} @ {path}" for path, message in leaves]
    first_path = leaves[0][0]
    message = f"{name} does not fit the payload: " + "; ".join(errors[:5])
    if len(errors) > 5:
        message += f" (and {len(errors) - 5} more)"
    return ModelValidationError(message, model=name, path=first_path, errors=errors)


def _leaf_errors(exc: BaseException, path: str) -> list[tuple[str, str]]:
    """(field path, message) for every leaf error, walking cattrs' nested exception groups."""
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return [(path, f"unknown field(s) {sorted(exc.extra_fields)}")]
    if isinstance(exc, cattrs.BaseValidationError):
        found: list[tuple[str, str]] = []
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", []):
                if isinstance(note, cattrs.AttributeValidationNote):
                    sub_path = f"{path}.{note.name}"
                elif isinstance(note, cattrs.IterableValidationNote):
                    sub_path = f"{path}[{note.index!r}]"
            found.extend(_leaf_errors(sub, sub_path))
        return found or [(path, "invalid value")]
    if isinstance(exc, FieldConstraintError):
        return [(f"{path}.{exc.field}", str(exc))]
    if isinstance(exc, MissingFieldsError):
        return [(f"{path}.{name}", "required field missing") for name in exc.names]
    if isinstance(exc, NullFieldError):
        return [(f"{path}.{exc.name}", "null is not allowed by the spec")]
    if isinstance(exc, KeyError):
        return [(path, "required field missing")]
    if isinstance(exc, (TypeError, ValueError)) and str(exc):
        return [(path, str(exc))]
    return [(path, f"invalid value ({type(exc).__name__})")]
