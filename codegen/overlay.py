"""Apply ``openapi/overlay.yaml``: what real servers send that the spec denies.

Each entry of the overlay names a component schema, one of its properties, what servers do
with it and the evidence. The generator applies the entries to the trimmed spec before it
builds the models, so the generated types say what servers really send:

``nullable: true``
    The server sends ``null`` where the spec forbids it: the field's type gains ``| None``.
``optional: true``
    The server leaves out a property the spec requires: reading it tolerates its absence
    (``None``, or ``[]`` for an array).
``add: <schema>``
    The server sends a property the spec does not describe: it gets a typed, optional field.
``describe: <schema>``
    The spec leaves a property a free-form object (``type: object`` and nothing else) and the
    server fills it with a known shape: the property gets that schema in responses. Requests
    keep what the spec says (the original schema is kept under ``x-overlay-described``).

The changes are made to the schemas (``nullable: true``, the property dropped from
``required``), so that validators see the truth too, and leave a trace on the property
(``x-overlay-*`` keys), from which the generator tells the strict reading
(``strict_responses=True``) what the spec itself says, so that a server can still be tested
against the spec.

A second list, ``answers``, names an operation whose successful answer is not the JSON the spec
declares: ``media_type: application/octet-stream`` says the server sends the raw bytes (a
file's content), which the generated operation then returns as ``bytes``. The operation's 2xx
content becomes that media type with a binary schema, and keeps what the spec said under
``x-overlay-media-type``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

NULLABLE = "x-overlay-nullable"
OPTIONAL = "x-overlay-optional"
ADDED = "x-overlay-added"
DESCRIBED = "x-overlay-described"
MEDIA_TYPE = "x-overlay-media-type"
ALLOWED_KEYS = frozenset(
    {"schema", "property", "nullable", "optional", "add", "describe", "evidence"}
)
# What a property's schema may carry and still be a free-form object that `describe` fills in.
FREE_FORM_KEYS = frozenset(
    {"type", "description", "title", "nullable", "x-oaiTypeLabel", "x-stainless-const"}
)
# What `describe` keeps of the spec's own property schema.
KEPT_BY_DESCRIBE = ("description", "nullable")
ANSWER_KEYS = frozenset({"operation", "media_type", "evidence"})
# The media types an answer may be declared as, and the schema each gets.
BINARY_MEDIA_TYPES = frozenset({"application/octet-stream"})
BINARY_SCHEMA: dict[str, Any] = {"type": "string", "format": "binary"}


class OverlayError(Exception):
    """An overlay entry that cannot be applied, with the entry's position."""


@dataclass(frozen=True)
class Deviation:
    schema: str
    property: str
    nullable: bool
    optional: bool
    add: dict[str, Any] | None
    evidence: tuple[str, ...]
    describe: dict[str, Any] | None = None


@dataclass(frozen=True)
class AnswerDeviation:
    operation: str
    media_type: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Overlay:
    deviations: tuple[Deviation, ...] = ()
    answers: tuple[AnswerDeviation, ...] = ()


def load_overlay(path: Path) -> Overlay:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(document) - {"deviations", "answers"}
    if unknown:
        raise OverlayError(f"{path}: unknown top-level keys {sorted(unknown)}")
    entries = document.get("deviations", [])
    if not isinstance(entries, list):
        raise OverlayError(f"{path}: `deviations` must be a list")
    answers = document.get("answers", [])
    if not isinstance(answers, list):
        raise OverlayError(f"{path}: `answers` must be a list")
    return Overlay(
        deviations=tuple(
            _deviation(entry, f"{path}: deviations[{i}]") for i, entry in enumerate(entries)
        ),
        answers=tuple(_answer(entry, f"{path}: answers[{i}]") for i, entry in enumerate(answers)),
    )


def _evidence(entry: dict[str, Any], where: str) -> tuple[str, ...]:
    evidence = entry.get("evidence")
    if (
        not isinstance(evidence, list)
        or not evidence
        or not all(isinstance(e, str) and e.strip() for e in evidence)
    ):
        raise OverlayError(f"{where}: every deviation needs `evidence` (a list of sources)")
    return tuple(evidence)


def _answer(entry: Any, where: str) -> AnswerDeviation:
    if not isinstance(entry, dict):
        raise OverlayError(f"{where}: an entry must be a mapping")
    unknown = set(entry) - ANSWER_KEYS
    if unknown:
        raise OverlayError(f"{where}: unknown keys {sorted(unknown)}")
    if not isinstance(entry.get("operation"), str) or not entry["operation"]:
        raise OverlayError(f"{where}: `operation` must name an operationId")
    if entry.get("media_type") not in BINARY_MEDIA_TYPES:
        raise OverlayError(
            f"{where}: `media_type` must be one of {sorted(BINARY_MEDIA_TYPES)}, "
            f"got {entry.get('media_type')!r}"
        )
    return AnswerDeviation(entry["operation"], entry["media_type"], _evidence(entry, where))


def _deviation(entry: Any, where: str) -> Deviation:
    if not isinstance(entry, dict):
        raise OverlayError(f"{where}: an entry must be a mapping")
    unknown = set(entry) - ALLOWED_KEYS
    if unknown:
        raise OverlayError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("schema", "property"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise OverlayError(f"{where}: `{key}` must name a schema and one of its properties")
    evidence = _evidence(entry, where)
    add = entry.get("add")
    describe = entry.get("describe")
    changes = [
        bool(entry.get("nullable")),
        bool(entry.get("optional")),
        add is not None,
        describe is not None,
    ]
    if not any(changes):
        raise OverlayError(
            f"{where}: say what the server does (nullable, optional, add or describe)"
        )
    for key, schema in (("add", add), ("describe", describe)):
        if schema is not None and (not isinstance(schema, dict) or sum(changes) > 1):
            raise OverlayError(f"{where}: `{key}` is a schema, and goes alone")
    if describe is not None and not (
        describe.get("type") == "object" and isinstance(describe.get("properties"), dict)
    ):
        raise OverlayError(f"{where}: `describe` is an object schema with properties")
    return Deviation(
        schema=entry["schema"],
        property=entry["property"],
        nullable=bool(entry.get("nullable")),
        optional=bool(entry.get("optional")),
        add=add,
        evidence=evidence,
        describe=describe,
    )


def apply_overlay(document: dict[str, Any], overlay: Overlay) -> dict[str, Any]:
    """A copy of ``document`` with the overlay applied (the input is left unchanged)."""
    result = copy.deepcopy(document)
    schemas: dict[str, Any] = result["components"]["schemas"]
    for answer in overlay.answers:
        _apply_answer(result, answer)
    for deviation in overlay.deviations:
        where = f"{deviation.schema}.{deviation.property}"
        schema = schemas.get(deviation.schema)
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            raise OverlayError(f"{where}: no object schema {deviation.schema} in the spec")
        properties: dict[str, Any] = schema["properties"]
        if deviation.add is not None:
            if deviation.property in properties:
                raise OverlayError(f"{where}: the spec already has this property")
            properties[deviation.property] = {**copy.deepcopy(deviation.add), ADDED: True}
            continue
        prop = properties.get(deviation.property)
        if not isinstance(prop, dict):
            raise OverlayError(f"{where}: the spec has no such property")
        if deviation.describe is not None:
            if prop.get("type") != "object" or set(prop) - FREE_FORM_KEYS:
                raise OverlayError(
                    f"{where}: the spec already says what this property holds; "
                    "only a free-form object can be described"
                )
            kept = {key: prop[key] for key in KEPT_BY_DESCRIBE if key in prop}
            properties[deviation.property] = {
                **kept,
                **copy.deepcopy(deviation.describe),
                DESCRIBED: copy.deepcopy(prop),
            }
            continue
        if deviation.nullable:
            prop["nullable"] = True
            prop[NULLABLE] = True
        if deviation.optional:
            required = schema.get("required", [])
            if deviation.property not in required:
                raise OverlayError(f"{where}: the spec does not require it; nothing to relax")
            schema["required"] = [name for name in required if name != deviation.property]
            prop[OPTIONAL] = True
    return result


def _apply_answer(document: dict[str, Any], answer: AnswerDeviation) -> None:
    found = [
        op
        for item in document.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict) and op.get("operationId") == answer.operation
    ]
    if len(found) != 1:
        raise OverlayError(f"answers: no single operation {answer.operation!r} in the spec")
    answered = False
    for status, response in found[0].get("responses", {}).items():
        if not str(status).startswith("2") or not isinstance(response.get("content"), dict):
            continue
        declared = sorted(response["content"])
        if declared == [answer.media_type]:
            raise OverlayError(f"answers: {answer.operation} already answers {answer.media_type}")
        response["content"] = {
            answer.media_type: {"schema": dict(BINARY_SCHEMA)},
        }
        response[MEDIA_TYPE] = ", ".join(declared)
        answered = True
    if not answered:
        raise OverlayError(f"answers: {answer.operation} has no successful answer with content")


def overlay_beside(spec_path: Path) -> Path:
    """Where the overlay of a spec lives: ``overlay.yaml`` in the spec's folder."""
    return spec_path.parent / "overlay.yaml"
