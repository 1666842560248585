"""Frame sources. Every source satisfies ``FrameSource``; the daemon knows no other."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from edge.frames import Frame
from edge.simulate import SimulationConfig, simulate_pair


@runtime_checkable
class FrameSource(Protocol):
    """Yields frames until exhausted or ``stop`` is set. Must never block acquisition.

    A source that waits for frames it does not pace itself (a folder, a microscope)
    yields ``None`` now and then while idle: proof of life for the systemd watchdog.
    """

    name: str

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]: ...


def paced(fps: float, stop: threading.Event, count: int = 0) -> Iterator[int]:
    """Yield 0, 1, 2, ... at ``fps`` until ``stop`` is set (or ``count`` reached; 0: never).

    A late consumer does not cause a burst: the schedule never falls more than
    one period behind real time.
    """
    period_s = 1.0 / fps
    next_t = time.perf_counter()
    index = 0
    while not stop.is_set() and (count == 0 or index < count):
        delay = next_t - time.perf_counter()
        if delay > 0 and stop.wait(delay):
            return
        next_t = max(next_t + period_s, time.perf_counter() - period_s)
        yield index
        index += 1


@dataclass(frozen=True, slots=True)
class SimulatedSourceConfig:
    height_px: int = 512
    width_px: int = 512
    fps: float = 5.0
    seed: int = 0
    max_frames: int = 0  # 0: run until stopped
    pool_size: int = 8  # distinct simulated fields, generated once and cycled


class SimulatedSource:
    """A simulated QPI microscope streaming at ``fps`` (phase in radians, float32).

    ``pool_size`` fields are simulated up front and cycled, so the source keeps
    its rate at any frame size without competing with the stainer for CPU.
    """

    name = "simulated"

    def __init__(self, cfg: SimulatedSourceConfig, sim: SimulationConfig | None = None) -> None:
        if cfg.fps <= 0:
            raise ValueError(f"fps must be > 0, got {cfg.fps}")
        self.cfg = cfg
        self.sim = sim or SimulationConfig(height_px=cfg.height_px, width_px=cfg.width_px)
        self._pool = [simulate_pair(self.sim, cfg.seed + i).qpi_rad for i in range(cfg.pool_size)]

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
