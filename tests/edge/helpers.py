"""Test helpers: daemon configs on random local ports, and a gated list source."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from edge.config import EdgeConfig, parse_config
from edge.frames import Frame


def local_config(**sections: dict[str, Any]) -> EdgeConfig:
    """A validated config whose sockets bind random 127.0.0.1 ports (tests run side by side)."""
    data: dict[str, Any] = {
        "publish": {"endpoint": "tcp://127.0.0.1:0"},
        "control": {"endpoint": "tcp://127.0.0.1:0"},
    }
    for name, section in sections.items():
        data[name] = {**data.get(name, {}), **section}
    return parse_config(data, "test")


class GatedSource:
    """Yields the given images once ``gate`` is set (after the subscriber is connected)."""

    name = "test-list"

    def __init__(self, images: list[np.ndarray], period_s: float = 0.02) -> None:
        self.images = images
        self.period_s = period_s
        self.gate = threading.Event()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        while not self.gate.wait(0.05):
            if stop.is_set():
                return
        for i, img in enumerate(self.images):
            if stop.is_set():
                return
            yield Frame(i, img, time.time_ns(), axes={"time": i}, pixel_size_um=0.5)
            time.sleep(self.period_s)
