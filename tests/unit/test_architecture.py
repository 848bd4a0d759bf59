"""The layering in docs/ARCHITECTURE.md, checked on the source: data flows down, nothing imports upwards,
and the import graph has no cycles — counting imports inside functions too (they run as well; only
``if TYPE_CHECKING:`` blocks are left out, since they never run)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "llama_wrangler"
CORE = ("library", "sources", "convert", "runtime", "settings", "paths", "errors", "progress", "work", "units",
        "atomic", "desktop", "settings_env")
# What each layer must never import (first segment below llama_wrangler, or a Qt module).
FORBIDDEN: dict[str, set[str]] = {
    **{core: {"server", "workers", "services", "ui", "cli", "app", "gui", "PySide6"} for core in CORE},
    "server": {"workers", "services", "ui", "cli", "app", "gui", "PySide6.QtWidgets", "PySide6.QtGui"},
    "workers": {"server", "services", "ui", "cli", "app", "gui", "PySide6.QtWidgets", "PySide6.QtGui"},
    "services": {"ui", "cli", "app", "gui", "PySide6.QtWidgets", "PySide6.QtGui"},
    "ui": {"cli", "app", "gui"},
    "cli": {"ui", "app", "gui", "PySide6.QtWidgets", "PySide6.QtGui"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(tree: ast.AST, here: str) -> Iterator[str]:
    """Every module an ``import`` anywhere in ``tree`` names, outside ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (name for child in node.orelse for name in runtime_imports(child, here))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: -node.level] if node.level else []
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        yield from runtime_imports(node, here)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = f"{name}.__init__" if path.name == "__init__.py" else name  # relative imports start there
        targets = set(runtime_imports(ast.parse(path.read_text(encoding="utf-8")), here))
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def external_imports(path: Path) -> set[str]:
    name = module_name(path)
    return set(runtime_imports(ast.parse(path.read_text(encoding="utf-8")), name))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the checker must see the package"
    assert cycles(graph) == []


def test_the_checker_finds_a_cycle_through_a_function_level_import() -> None:
    tree = ast.parse("def f():\n    from llama_wrangler.b import x\n")
    assert "llama_wrangler.b" in set(runtime_imports(tree, "llama_wrangler.a"))
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    hidden = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import llama_wrangler.b\n")
    assert "llama_wrangler.b" not in set(runtime_imports(hidden, "llama_wrangler.a"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_upwards(layer: str) -> None:
    root = PACKAGE / layer
    files = sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{layer}.py"]
    assert files and all(path.exists() for path in files)
    wrong = []
    for path in files:
        for target in external_imports(path):
            parts = target.split(".")
            below = parts[1] if parts[0] == "llama_wrangler" and len(parts) > 1 else None
            if below in FORBIDDEN[layer] or any(target == bad or target.startswith(f"{bad}.")
                                                for bad in FORBIDDEN[layer] if bad.startswith("PySide6")):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert wrong == []


def test_no_module_is_too_long() -> None:
    long = [f"{path.relative_to(PACKAGE)}: {lines} lines" for path in PACKAGE.rglob("*.py")
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 420]
    assert long == []
