"""The shape of ``edge/``: what it may import, no import circles, modules by role."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

EDGE = Path(__file__).resolve().parents[2] / "edge"
MAX_TOP_LEVEL_MODULES = 12
MAX_MODULE_LINES = 400


def test_edge_never_imports_torch_training_or_export() -> None:
    """Importing every edge module, subpackages included, leaves torch out of sys.modules."""
    code = (
        "import sys, pkgutil, importlib, edge\n"
        "names = [m.name for m in pkgutil.walk_packages(edge.__path__, 'edge.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('torch', 'training', 'export')]\n"
        "assert not bad, bad\n"
        "assert {'edge.daemon', 'edge.sources.mm.sidecar', 'edge.net.wire'} <= set(names)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _module_name(path: Path) -> str:
    parts = path.relative_to(EDGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    """edge modules imported anywhere in ``tree`` (functions too), except TYPE_CHECKING."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update({node.module} & modules)
            found.update(m for a in node.names if (m := f"{node.module}.{a.name}") in modules)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the edge modules it imports, plus its parent package (imported first)."""
    paths = {_module_name(p): p for p in EDGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        edges = _imports(ast.parse(path.read_text()), set(paths))
        parent = name.rpartition(".")[0]
        if parent in paths and parent != "edge":
            edges.add(parent)
        graph[name] = edges - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def test_no_import_circle_in_edge() -> None:
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()) or [])


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_daemon_imports_no_concrete_source() -> None:
    daemon = import_graph()["edge.daemon"]
    concrete = {m for m in import_graph() if m.startswith("edge.sources.")} - {
        "edge.sources.zstack"  # wraps any source for multi-plane models
    }
    assert not daemon & concrete, daemon & concrete


def test_edge_is_grouped_by_role() -> None:
    top = sorted(p.stem for p in EDGE.glob("*.py") if p.stem != "__init__")
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    long = {
        str(p.relative_to(EDGE)): n
        for p in EDGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long
    for package in [p.parent for p in EDGE.rglob("__init__.py")]:
        face = (package / "__init__.py").read_text()
        assert ast.get_docstring(ast.parse(face)), f"{package}: __init__.py says what it offers"
