"""Helpers to generate a tiny spec into a temporary package and import it."""

from __future__ import annotations

import importlib
import itertools
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cattrs
import pytest
import yaml

from assistants_client._converter import configure
from codegen.generate import generate_into

_counter = itertools.count()


class Generated:
    """A generated package and a converter configured for it."""

    def __init__(self, package: types.ModuleType, converter: cattrs.Converter) -> None:
        self.package = package
        self.converter = converter

    def __getattr__(self, name: str) -> Any:
        return getattr(self.package, name)

    def load(self, cls: type[Any], data: Any) -> Any:
        return self.converter.structure(data, cls)

    def dump(self, obj: Any) -> Any:
        return self.converter.unstructure(obj)


def spec_with(
    schemas: dict[str, Any], *, request: str | None = None, response: str
) -> dict[str, Any]:
    """A minimal OpenAPI document: one POST /things taking `request` and returning `response`."""
    operation: dict[str, Any] = {
        "operationId": "createThing",
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}
                },
            }
        },
    }
    if request:
        operation["requestBody"] = {
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}}}
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/things": {"post": operation}},
        "components": {"schemas": schemas},
    }


@pytest.fixture
def generate(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], Generated]]:
    added: list[str] = []

    def run(document: dict[str, Any]) -> Generated:
        name = f"generated_models_{next(_counter)}"
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(yaml.safe_dump(document), encoding="utf-8")
        generate_into(spec, tmp_path / name)
        if str(tmp_path) not in sys.path:
            sys.path.insert(0, str(tmp_path))
        package = importlib.import_module(name)
        added.append(name)
        return Generated(package, configure(cattrs.Converter(detailed_validation=True)))

    yield run
    for name in added:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))
