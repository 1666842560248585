"""Issue 26: a new kind of source is one module (its section, its class) and one line in
the registry (``edge.sources.SOURCE_MODULES``); nothing else changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NEW_SOURCE = """
import threading, time
from typing import Literal

import numpy as np
from pydantic import Field

from edge.frames import Frame
from edge.sources import FrameSource, SourceSection


class Section(SourceSection):
    kind: Literal["constant"] = "constant"
    value: float = Field(1.0, gt=0)
    frames_n: int = Field(3, ge=1)

    def build(self):
        return ConstantSource(self)


class ConstantSource(FrameSource):
    name = "constant"
    stack_planes = 1

    def __init__(self, cfg):
        self.cfg = cfg

    def frames(self, stop):
        for i in range(self.cfg.frames_n):
            image = np.full((self.cfg.height_px, self.cfg.width_px), self.cfg.value, np.float32)
            yield Frame(i, image, time.time_ns())
"""

RUN = """
import edge.sources
edge.sources.SOURCE_MODULES["constant"] = "constant_source"   # the registry line
from edge.config import parse_config
from edge.daemon import Daemon

cfg = parse_config({"source": {"kind": "constant", "value": 2.0, "height_px": 64,
                               "width_px": 64}, "publish": {"endpoint": "tcp://127.0.0.1:0"},
                    "control": {"endpoint": ""}}, "test")
daemon = Daemon.for_config(cfg)
daemon.start()
assert daemon.wait(30)
daemon.stop()
c = daemon.counters.snapshot()
assert c.received == 3 == c.published + c.dropped, c
try:
    parse_config({"source": {"kind": "constant", "loop": True}}, "test")
except Exception as exc:
    assert "source.loop" in str(exc), exc
else:
    raise AssertionError("a field of another kind was accepted")
print("ok", c.published)
"""


def test_a_new_source_kind_is_one_module_and_one_registry_line(tmp_path: Path) -> None:
    (tmp_path / "constant_source.py").write_text(NEW_SOURCE)
    r = subprocess.run(
        [sys.executable, "-c", RUN],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)},
    )
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr[-2000:]
