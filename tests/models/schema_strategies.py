"""Hypothesis strategies for the JSON Schema subset the Assistants spec uses.

Objects are open unless `additionalProperties: false`: generated objects then carry random
extra fields, as a newer server's would. Optional properties are present or absent at random.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

JSON_LEAVES = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
EXTRA_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10).map(
    lambda s: "x_" + s
)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    defs: dict[str, Any] = schema.get("$defs", {})
    cache: dict[str, st.SearchStrategy[Any]] = {}

    def build(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in cache:
                cache[name] = st.deferred(lambda: build(defs[name], depth + 1))
            return cache[name]
        if "enum" in node:
            return st.sampled_from(node["enum"])
        for key in ("anyOf", "oneOf"):
            if key in node and "properties" not in node:
                return st.one_of([build(v, depth) for v in node[key]])
        if "allOf" in node:
            (only,) = node["allOf"]
            return build(only, depth)
        kind = node.get("type")
        if kind == "string":
            return st.text(
                min_size=node.get("minLength", 0), max_size=min(node.get("maxLength", 20), 20)
            )
        if kind == "integer":
            return st.integers(node.get("minimum", -(2**40)), node.get("maximum", 2**40))
        if kind == "number":
            lo, hi = node.get("minimum", -1e9), node.get("maximum", 1e9)
            return st.floats(lo, hi, allow_nan=False, allow_infinity=False) | st.integers(
                int(lo), int(hi)
            ).filter(lambda v: lo <= v <= hi)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            items = build(node.get("items", {}), depth + 1)
            return st.lists(
                items, min_size=node.get("minItems", 0), max_size=min(node.get("maxItems", 3), 3)
            )
        if kind == "object" or "properties" in node:
            return objects(node, depth)
        return JSON_VALUES

    def objects(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        props: dict[str, Any] = node.get("properties", {})
        required = set(node.get("required", []))
        fixed = {name: build(props.get(name, {}), depth + 1) for name in props if name in required}
        fixed.update({name: JSON_VALUES for name in required if name not in props})
        optional = {
            name: build(sub, depth + 1) for name, sub in props.items() if name not in required
        }
        additional = node.get("additionalProperties", True)
        if isinstance(additional, dict):
            extra = st.dictionaries(EXTRA_KEYS, build(additional, depth + 1), max_size=3)
        elif additional is False:
            extra = st.just({})
        else:
            extra = st.dictionaries(EXTRA_KEYS, JSON_VALUES, max_size=2)
        base = st.fixed_dictionaries(fixed, optional=optional)
        return st.tuples(base, extra).map(lambda pair: {**pair[1], **pair[0]})

    return build(schema, 0)
