"""Spec constraints: the attrs validators that generated request models attach to fields.

These say what the *API description* forbids (``maxLength``, ``maxItems``, ``minimum``, enums),
and travel with the generated models, so a changed spec changes validation when the models are
regenerated. Checks on the arguments of client methods that the spec does not express (a safe
id, a sane ``limit``) live in ``_arguments``. Every failure raises ``ValueError`` (or
``TypeError`` for a wrong kind of value) whose message names the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Sized
from typing import Any

import attrs

from assistants_client._omit import OMIT

__all__ = [
    "FieldConstraintError",
    "FieldKindError",
    "at_least_one_of",
    "describe_choices",
    "exactly_one_of",
    "for_keys",
    "for_lists",
    "for_strings",
    "for_values",
    "max_items",
    "max_keys",
    "max_length",
    "maximum",
    "min_items",
    "min_keys",
    "min_length",
    "minimum",
    "one_of",
    "one_of_or_object",
    "when_present",
]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


class FieldConstraintError(ValueError):
    """A request field breaks a spec constraint; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class FieldKindError(FieldConstraintError, TypeError):
    """A request field holds the wrong kind of value."""


def _as_list(validators: Validator | Sequence[Validator]) -> list[Validator]:
    if callable(validators):
        return [validators]
    return list(validators)


def when_present(validators: Validator | Sequence[Validator]) -> Validator:
    """Run the validators unless the value is OMIT (not sent) or None (sent as null)."""
    chain = _as_list(validators)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is OMIT or value is None:
            return
        for validator in chain:
            validator(instance, attribute, value)

    return check


def _sized(attribute: attrs.Attribute[Any], value: Any) -> Sized:
    if not isinstance(value, Sized):
        raise FieldKindError(attribute.name, f"expected a sized value, got {type(value).__name__}")
    return value


def _size(limit: int, *, at_most: bool, noun: str) -> Validator:
    """A bound on ``len(value)``: at most (or at least) ``limit`` characters or items."""
    bound = "at most" if at_most else "at least"
    verb = "allowed" if at_most else "required"
    if limit == 1:
        noun = noun.removesuffix("s")  # "at most 1 item", "at least 1 character"

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        size = len(_sized(attribute, value))
        if (size > limit) if at_most else (size < limit):
            raise FieldConstraintError(attribute.name, f"{bound} {limit} {noun} {verb}, got {size}")

    return check


def max_length(limit: int) -> Validator:
    return _size(limit, at_most=True, noun="characters")


def min_length(limit: int) -> Validator:
    return _size(limit, at_most=False, noun="characters")


def max_items(limit: int) -> Validator:
    return _size(limit, at_most=True, noun="items")


def min_items(limit: int) -> Validator:
    return _size(limit, at_most=False, noun="items")


def _number(attribute: attrs.Attribute[Any], value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldKindError(attribute.name, f"expected a number, got {type(value).__name__}")
    return value


def minimum(limit: float) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if _number(attribute, value) < limit:
            raise FieldConstraintError(attribute.name, f"must be >= {limit}, got {value}")

    return check


def maximum(limit: float) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if _number(attribute, value) > limit:
            raise FieldConstraintError(attribute.name, f"must be <= {limit}, got {value}")

    return check


def describe_choices(values: Sequence[str]) -> str:
    """``'a'``, ``'a' or 'b'``, ``'a', 'b' or 'c'``."""
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def one_of(values: Sequence[str]) -> Validator:
    allowed = frozenset(values)
    choices = describe_choices(values)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value.__class__ is not str or value not in allowed:
            raise FieldConstraintError(attribute.name, f"must be {choices}, got {value!r}")

    return check


def one_of_or_object(values: Sequence[str]) -> Validator:
    """For "auto"-or-object options: a string must be one of the values; objects pass."""
    strings = one_of(values)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, str):
            strings(instance, attribute, value)

    return check


def for_lists(validators: Validator | Sequence[Validator]) -> Validator:
    """Run the validators only when the value is a list (the array branch of `str | list`)."""
    chain = _as_list(validators)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, list):
            for validator in chain:
                validator(instance, attribute, value)

    return check


def for_strings(validators: Validator | Sequence[Validator]) -> Validator:
    """Run the validators only when the value is a string (the string kind of `str | float`)."""
    chain = _as_list(validators)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, str):
            for validator in chain:
                validator(instance, attribute, value)

    return check


@attrs.frozen
class _Entry:
    """Stands for the attribute when a validator checks one key or value of a map."""

    name: str


def _mapping(attribute: attrs.Attribute[Any], value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise FieldKindError(attribute.name, f"expected an object, got {type(value).__name__}")
    return value


def max_keys(limit: int) -> Validator:
    return _size(limit, at_most=True, noun="keys")


def min_keys(limit: int) -> Validator:
    return _size(limit, at_most=False, noun="keys")


def for_keys(validators: Validator | Sequence[Validator]) -> Validator:
    """Run the validators on each key of a map (a message names the key)."""
    chain = _as_list(validators)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        for key in _mapping(attribute, value):
            if not isinstance(key, str):
                raise FieldKindError(attribute.name, f"keys must be str, got {key!r}")
            entry: Any = _Entry(f"{attribute.name}[key {key[:40]!r}]")
            for validator in chain:
                validator(instance, entry, key)

    return check


def for_values(validators: Validator | Sequence[Validator]) -> Validator:
    """Run the validators on each value of a map (a message names its key)."""
    chain = _as_list(validators)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        for key, item in _mapping(attribute, value).items():
            entry: Any = _Entry(f"{attribute.name}[{str(key)[:40]!r}]")
            for validator in chain:
                validator(instance, entry, item)

    return check


def at_least_one_of(instance: Any, names: Sequence[str]) -> None:
    if all(getattr(instance, n) is OMIT for n in names):
        listed = " or ".join(names)
        raise ValueError(f"{type(instance).__name__}: {listed} must be given")


def exactly_one_of(instance: Any, names: Sequence[str]) -> None:
    present = [n for n in names if getattr(instance, n) is not OMIT]
    if len(present) != 1:
        listed = " or ".join(names)
        raise ValueError(
            f"{type(instance).__name__}: exactly one of {listed} must be given, got "
            f"{len(present)} ({', '.join(present) or 'none'})"
        )
