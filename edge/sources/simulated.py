"""``SimulatedSource``: the daemon's simulated QPI microscope, streaming phantom fields
(``edge.sim.phantom``) at a paced rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from edge.frames import Frame
from edge.sim.phantom import SimulationConfig, simulate_pair
from edge.sources import FrameSource, SourceSection, paced


class SimulatedSourceConfig(SourceSection):
    """``[source] kind = "simulated"`` (the default)."""

    kind: Literal["simulated"] = "simulated"
    fps: float = Field(5.0, gt=0, le=1000)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    max_frames: int = Field(0, ge=0, le=2**62)  # 0: run until stopped

    def build(self) -> SimulatedSource:
        return SimulatedSource(self)


Section = SimulatedSourceConfig


class SimulatedSource(FrameSource):
    """A simulated QPI microscope streaming at ``fps`` (phase in radians, float32).

    ``pool_size`` fields (at most ``pool_max_mb`` of them) are simulated up front and
    cycled, so the source keeps its rate at any frame size without competing with the
    stainer for CPU.
    """

    name = "simulated"
    stack_planes = 1  # single 2-D frames, no z index

    def __init__(
        self,
        cfg: SimulatedSourceConfig,
        sim: SimulationConfig | None = None,
        pool_size: int = 8,
        pool_max_mb: float = 64.0,
    ) -> None:
        """``pool_size`` distinct fields, generated once and cycled, but no more of them
        than fit in ``pool_max_mb`` (2048 px: 4 fields)."""
        self.cfg = cfg
        self.sim = sim or SimulationConfig(height_px=cfg.height_px, width_px=cfg.width_px)
        field_mb = self.sim.height_px * self.sim.width_px * 4 / 2**20
        n = max(1, min(pool_size, int(pool_max_mb // field_mb)))
        self._pool = [simulate_pair(self.sim, cfg.seed + i).qpi_rad for i in range(n)]

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        for index in paced(self.cfg.fps, stop, self.cfg.max_frames):
            yield Frame(
                index=index,
                image=self._pool[index % len(self._pool)],
                t_acquired_ns=time.time_ns(),
                axes={"time": index},
                metadata={"source": self.name, "seed": self.cfg.seed},
                pixel_size_um=self.sim.pixel_size_um,
            )
