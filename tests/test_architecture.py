"""The import graph: layers import only downward, and no module imports itself in a circle.

Read from the sources (ast), so a function-level import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT

#: Each package and the packages it may import: the README's architecture picture.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "localaws": set(),
    "scripts": set(),
    "clients": {"core", "localaws"},
    "pipelines": {"core"},
    "approval": {"core"},
    "smoketest": {"core"},
    "workflow": {"core", "pipelines"},
    "deploy": {"core", "clients", "pipelines", "workflow", "approval"},
    "mlops": {
        "core",
        "localaws",
        "clients",
        "pipelines",
        "approval",
        "workflow",
        "deploy",
    },
}
#: The functions ship with only these modules of core/ (standard library only).
FUNCTIONS_MAY_USE = {"core", "core.contracts", "core.function_clients"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ALLOWED:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The project modules `name` imports, resolved to the longest existing module name."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` needs the module; `from package import name`, the
            # package's own __init__.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: sorted(set(_imports(name, path))) for name, path in MODULES.items()}


def test_the_graph_covers_the_project() -> None:
    assert {"core.settings", "mlops.cli", "localaws.server", "approval.handler"} <= set(GRAPH)


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_only_go_down(name: str) -> None:
    layer = name.split(".")[0]
    upward = [
        target
        for target in GRAPH[name]
        if target.split(".")[0] != layer and target.split(".")[0] not in ALLOWED[layer]
    ]
    assert not upward, f"{name} imports {upward}: {layer}/ may import only {ALLOWED[layer]}"


@pytest.mark.parametrize("package", ["approval", "smoketest"])
def test_each_function_needs_only_its_package_and_the_shared_modules(package: str) -> None:
    used = {t for n, ts in GRAPH.items() if n.startswith(package) for t in ts}
    assert {t for t in used if not t.startswith(package)} <= FUNCTIONS_MAY_USE


def test_no_import_cycle() -> None:
    """Between packages and between modules: a depth-first search finds no back edge."""
    packages = {
        layer: {t.split(".")[0] for n, ts in GRAPH.items() if n.split(".")[0] == layer for t in ts}
        - {layer}
        for layer in ALLOWED
    }
    for graph in (packages, GRAPH):
        cycle = _find_cycle(graph)
        assert cycle is None, " -> ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str] | list[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for child in sorted(graph.get(node, ())):
            if (cycle := visit(child)) is not None:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert _find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": ["b"], "b": []}) is None
