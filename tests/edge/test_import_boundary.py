"""The shape of ``edge/``: what it may import, no import circles, modules by role."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.imports import find_cycle
from tests.imports import import_graph as graph_of

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


def import_graph() -> dict[str, set[str]]:
    """The edge modules' graph, ``TYPE_CHECKING`` imports left out (as Python runs it)."""
    return graph_of(("edge",), type_checking=False)


def test_no_import_circle_in_edge() -> None:
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()) or [])


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
