"""The shape of the three packages: no import circle, no upward arrow, lazy imports and
``TYPE_CHECKING`` ones included (issue 26).

Layers, lowest first: ``edge`` (the acquisition PC: nothing of ours) < ``training`` <
``export``. Inside ``training``: ``config`` < ``data``, ``models`` < ``evaluate`` <
``fit`` < ``crossval`` < ``cli``. A module imports only from its own subpackage or a
lower layer; two subpackages of one layer do not import each other.
"""

from __future__ import annotations

from tests.imports import find_cycle, import_graph

LAYERS = {
    "edge": 0,
    "training": 10,
    "training.config": 10,
    "training.data": 11,
    "training.models": 11,
    "training.evaluate": 12,
    "training.fit": 13,
    "training.crossval": 14,
    "training.cli": 15,
    "export": 20,
}


def layer_of(module: str) -> tuple[str, int]:
    """The most specific layer a module belongs to, and its rank."""
    best = max((k for k in LAYERS if module == k or module.startswith(k + ".")), key=len)
    return best, LAYERS[best]


def upward(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, targets in graph.items():
        home, rank = layer_of(src)
        for dst in targets:
            there, other = layer_of(dst)
            if there == home or other < rank or (there == "training" and home != "edge"):
                continue
            bad.append(f"{src} -> {dst}")
    return sorted(bad)


def test_no_import_circle_in_edge_training_and_export() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_no_upward_import() -> None:
    assert upward(import_graph()) == []


def test_the_checks_catch_a_planted_circle_and_an_upward_import() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    planted = {
        "edge.daemon": {"training.fit.train"},
        "training.data.fields": {"training.evaluate.score"},
        "training.fit.train": {"training.data.fields", "edge.daemon"},
        "training.models.build": {"training.data.fields"},
    }
    assert upward(planted) == [
        "edge.daemon -> training.fit.train",
        "training.data.fields -> training.evaluate.score",
        "training.models.build -> training.data.fields",
    ]
