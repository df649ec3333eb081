"""The package's modules import each other without a cycle, and only at the top of a module;
its subpackages import each other without a cycle either.

The graph is built from the source, not from a running interpreter: each ``import`` and
``from ... import`` of a module of ``assistants_client`` is an edge. Imports under
``if TYPE_CHECKING:`` never run, so they are not edges. Importing ``a.b`` also runs the
package ``a`` first, but by then ``a`` is already being imported (it is how a facade package
works), so that is not an edge either.

Packages are layers: the emulator is built on the server, the server on the client's toolkit.
Their graph has an edge from package P to package Q when a module of P (or of a package inside
it) imports a module of Q, and it must have no cycle either, even where the modules' own graph
has none: ``server.responders`` importing ``emulator`` while ``emulator`` imports ``server``
makes neither layer usable without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "assistants_client"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package modules an import statement runs."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    if node.level:
        anchor = (
            module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        )
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    found = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in MODULES:
            found.add(submodule)
        elif base in MODULES:
            found.add(base)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges: set[str] = set()
        for node in _runtime_imports(tree):
            edges |= _targets(module, node)
        graph[module] = edges - {module}
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def _node_of(module: str) -> str:
    """The package a module belongs to (a package's ``__init__`` belongs to itself); a module
    at the top of ``assistants_client`` (the client's toolkit) is a node of its own."""
    if MODULES[module].name == "__init__.py":
        return module
    package = module.rpartition(".")[0]
    return module if package == "assistants_client" else package


def _package_graph_of(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The packages' graph from the modules' (see the module docstring): an edge P -> Q for
    each import from a module of P into one of Q, unless Q is P or holds P. A package's modules
    may use what the packages around it define, the way a facade package's ``__init__`` uses
    the modules inside it: that pair of edges is one layer, not a cycle."""
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = _node_of(module) if module in MODULES else module
        edges = packages.setdefault(source, set())
        for target in targets:
            package = _node_of(target) if target in MODULES else target
            if package != source and not source.startswith(package + "."):
                edges.add(package)
    return packages


def test_the_import_graph_of_the_package_has_no_cycle() -> None:
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_subpackages_import_each_other_without_a_cycle() -> None:
    cycle = _find_cycle(_package_graph_of(_graph()))
    assert cycle is None, "package cycle: " + " -> ".join(cycle or [])


def test_the_package_graph_sees_a_cycle_that_the_module_graph_does_not() -> None:
    # Modules a.x -> b.y -> a.z: no cycle of modules, but one of packages.
    assert _find_cycle({"a.x": {"b.y"}, "b.y": {"a.z"}, "a.z": set()}) is None
    assert _find_cycle(_package_graph_of({"a": {"b"}, "b": {"a"}})) == ["a", "b", "a"]
    # A package inside another may use the other's modules: one layer, no cycle...
    assert _find_cycle(_package_graph_of({"p.s": {"p"}, "p": {"p.s"}})) is None
    # ...unless a third package closes the loop (what the server's scripted responder and the
    # emulator once did).
    packages = {
        "pkg.server": {"pkg.server.responders"},
        "pkg.server.responders": {"pkg.emulator"},
        "pkg.emulator": {"pkg.server"},
    }
    assert _find_cycle(_package_graph_of(packages)) == [
        "pkg.emulator",
        "pkg.server",
        "pkg.server.responders",
        "pkg.emulator",
    ]


def test_the_cycle_finder_reports_a_cycle_it_is_given() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_both_import_forms_and_relative_imports() -> None:
    graph = _graph()
    # `from assistants_client._converter import structure`
    assert "assistants_client._converter" in graph["assistants_client._model_base"]
    # `from . import requests as _rq` in the generated table
    assert "assistants_client.models.requests" in graph["assistants_client.models.operations"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_inside_a_function(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    nested = [
        f"line {node.lineno}"
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    assert not nested, f"{module} imports inside a function at {', '.join(nested)}"
