"""Trim the upstream OpenAI spec down to the Assistants API.

Keeps the operations under ``/assistants``, ``/threads``, ``/files`` and ``/vector_stores``, the
transitive closure of the schemas they reference, ``AssistantStreamEvent`` with its closure
(streamed runs are described only there), the ``TooManyRequests`` response, and the security
scheme. Documentation-only ``x-oaiMeta`` blocks (long multi-language examples) are dropped. The
output is deterministic: paths keep the upstream order, schemas are sorted by name.

One rewrite makes the output plain OpenAPI 3.1 that every validator and the generator read: a
component that declares ``$recursiveAnchor: true`` and refers to itself with
``$recursiveRef: '#'`` (``CompoundFilter``, whose filters nest) gets an ordinary ``$ref`` to
itself instead. With a single anchor in the document that is what the draft 2019-09 keywords
resolve to; a ``$recursiveRef`` anywhere else is refused.

Usage: python -m codegen.trim UPSTREAM.yaml OUTPUT.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

PATH_PREFIXES = ("/assistants", "/threads", "/files", "/vector_stores")
EXTRA_SCHEMAS = ("AssistantStreamEvent",)
EXTRA_RESPONSES = ("TooManyRequests",)
DROPPED_KEYS = frozenset({"x-oaiMeta"})
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SCHEMA_PREFIX = "#/components/schemas/"
RESPONSE_PREFIX = "#/components/responses/"


class TrimError(Exception):
    """The upstream document does not have the shape the trim step relies on."""


def _without_dropped(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_dropped(v) for k, v in node.items() if k not in DROPPED_KEYS}
    if isinstance(node, list):
        return [_without_dropped(v) for v in node]
    return node


def _plain_recursion(node: Any, name: str) -> Any:
    """``node`` (component ``name``) with ``$recursiveRef: '#'`` made a ``$ref`` to ``name``."""
    if isinstance(node, dict):
        if "$recursiveRef" in node:
            if node["$recursiveRef"] != "#" or len(node) != 1:
                raise TrimError(f"{name}: only a bare $recursiveRef '#' is supported")
            return {"$ref": SCHEMA_PREFIX + name}
        return {k: _plain_recursion(v, name) for k, v in node.items() if k != "$recursiveAnchor"}
    if isinstance(node, list):
        return [_plain_recursion(v, name) for v in node]
    return node


def _recursive_refs(node: Any) -> bool:
    if isinstance(node, dict):
        return "$recursiveRef" in node or any(_recursive_refs(v) for v in node.values())
    if isinstance(node, list):
        return any(_recursive_refs(v) for v in node)
    return False


def _component(name: str, schema: Any) -> Any:
    """A kept component schema, documentation dropped and self-recursion made a plain $ref."""
    if _recursive_refs(schema):
        if not (isinstance(schema, dict) and schema.get("$recursiveAnchor") is True):
            raise TrimError(f"{name}: $recursiveRef without a $recursiveAnchor on the component")
        schema = _plain_recursion(schema, name)
    return _without_dropped(schema)


def _refs(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _schema_closure(seeds: set[str], schemas: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    stack = [ref for ref in seeds if ref.startswith(SCHEMA_PREFIX)]
    while stack:
        ref = stack.pop()
        name = ref[len(SCHEMA_PREFIX) :]
        if name in seen:
            continue
        if name not in schemas:
            raise TrimError(f"{ref} is referenced but not defined upstream")
        seen.add(name)
        stack.extend(r for r in _refs(schemas[name], set()) if r.startswith(SCHEMA_PREFIX))
    return seen


def trim(upstream: dict[str, Any]) -> dict[str, Any]:
    """Return the trimmed document for an upstream OpenAPI document."""
    components = upstream.get("components", {})
    schemas: dict[str, Any] = components.get("schemas", {})
    responses: dict[str, Any] = components.get("responses", {})

    paths = {
        path: _without_dropped(item)
        for path, item in upstream["paths"].items()
        if path.startswith(PATH_PREFIXES)
    }
    operations = [op for item in paths.values() for m, op in item.items() if m in HTTP_METHODS]
    if not operations:
        raise TrimError(f"no operation under {', '.join(PATH_PREFIXES)}")

    refs = _refs(paths, set())
    for name in EXTRA_RESPONSES:
        refs.add(RESPONSE_PREFIX + name)
    kept_responses = sorted(
        r[len(RESPONSE_PREFIX) :] for r in refs if r.startswith(RESPONSE_PREFIX)
    )
    for name in kept_responses:
        if name not in responses:
            raise TrimError(f"response {name!r} is referenced but not defined upstream")
        _refs(responses[name], refs)
    for name in EXTRA_SCHEMAS:
        refs.add(SCHEMA_PREFIX + name)
    unknown = sorted(r for r in refs if not r.startswith((SCHEMA_PREFIX, RESPONSE_PREFIX)))
    if unknown:
        raise TrimError(f"unsupported references: {unknown}")

    kept_schemas = _schema_closure(refs, schemas)
    used_tags = {tag for op in operations for tag in op.get("tags", [])}

    document: dict[str, Any] = {
        "openapi": upstream["openapi"],
        "info": {
            "title": "OpenAI Assistants API (trimmed)",
            "description": (
                "The Assistants API operations of the OpenAI REST API description, with the "
                "files and vector stores they use, trimmed by assistants-client "
                "(codegen/trim.py)."
            ),
            "version": upstream["info"]["version"],
            "license": upstream["info"].get("license", {"name": "MIT"}),
        },
        "servers": upstream.get("servers", []),
        "security": upstream.get("security", []),
        "tags": [t for t in upstream.get("tags", []) if t.get("name") in used_tags],
        "paths": paths,
        "components": {
            "schemas": {name: _component(name, schemas[name]) for name in sorted(kept_schemas)},
            "responses": {name: responses[name] for name in kept_responses},
            "securitySchemes": components.get("securitySchemes", {}),
        },
    }
    return document


def render(document: dict[str, Any], upstream_sha256: str) -> str:
    header = (
        "# Generated by `make trim` (python -m codegen.trim) from the upstream OpenAI spec\n"
        f"# (sha256 {upstream_sha256}). Do not edit by hand: re-run the trim step.\n"
    )
    body = yaml.dump(
        document,
        Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return header + body


def load_yaml(path: Path) -> Any:
    with path.open("rb") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def trim_file(upstream_path: Path) -> str:
    raw = upstream_path.read_bytes()
    upstream = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return render(trim(upstream), hashlib.sha256(raw).hexdigest())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    try:
        text = trim_file(args.upstream)
    except (TrimError, KeyError, OSError) as exc:
        print(f"trim failed: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.output)
    document = yaml.safe_load(text)
    ops = sum(1 for item in document["paths"].values() for m in item if m in HTTP_METHODS)
    print(
        f"wrote {args.output}: {ops} operations, {len(document['components']['schemas'])} schemas"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
