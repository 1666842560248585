"""An editable index over an ONNX graph: producers, consumers and initialisers by name,
with the edits the layout rewrites need (export.rewrites)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass
class Graph:
    """Index over an onnx GraphProto: producers, consumers, initialisers."""

    graph: Any
    producer: dict[str, Any] = field(init=False)
    consumers: dict[str, list[Any]] = field(init=False)
    inits: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self.producer = {o: n for n in self.graph.node for o in n.output}
        self.consumers = {}
        for n in self.graph.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.inits = {i.name: i for i in self.graph.initializer}

    def array(self, name: str) -> npt.NDArray[Any]:
        from onnx import numpy_helper

        return numpy_helper.to_array(self.inits[name])

    def set_array(self, name: str, value: npt.NDArray[Any]) -> None:
        from onnx import numpy_helper

        self.inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), name))
        self._forget_shapes({name})

    def _forget_shapes(self, names: set[str]) -> None:
        """Drop recorded shapes (value_info) of ``names``: shape inference must not
        compare a rewritten tensor with its old shape."""
        kept = [v for v in self.graph.value_info if v.name not in names]
        del self.graph.value_info[:]
        self.graph.value_info.extend(kept)

    def const(self, name: str, value: npt.NDArray[Any]) -> str:
        from onnx import numpy_helper

        self.graph.initializer.append(numpy_helper.from_array(value, name))
        self.inits[name] = self.graph.initializer[-1]
        return name

    def only_consumer(self, name: str) -> Any | None:
        users = self.consumers.get(name, [])
        outputs = {o.name for o in self.graph.output}
        return users[0] if len(users) == 1 and name not in outputs else None

    def replace(self, old: Any, new: list[Any]) -> None:
        """Put ``new`` where ``old`` was (keeps the topological order)."""
        nodes = list(self.graph.node)
        at = next(i for i, n in enumerate(nodes) if n == old)
        del self.graph.node[:]
        self.graph.node.extend(nodes[:at] + new + nodes[at + 1 :])
        self.reindex()

    def prune(self) -> None:
        """Drop nodes and initialisers nothing uses any more."""
        wanted = {o.name for o in self.graph.output}
        keep: list[Any] = []
        for n in reversed(list(self.graph.node)):
            if any(o in wanted for o in n.output):
                keep.append(n)
                wanted.update(i for i in n.input if i)
        del self.graph.node[:]
        self.graph.node.extend(reversed(keep))
        inits = [i for i in self.graph.initializer if i.name in wanted]
        del self.graph.initializer[:]
        self.graph.initializer.extend(inits)
        self._forget_shapes({v.name for v in self.graph.value_info} - wanted)
        self.reindex()


def attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default
