"""Replay a recorded TIFF / OME-TIFF stack as a live source, at a given rate.

Every (Y, X) plane of the file's first series is one frame, in file order; the
leading axes (e.g. T, Z, C) travel as the frame's ``axes``. Planes are read
lazily, one page at a time, so a large stack does not fill memory. The file is
checked when the source is built: a bad one is one error naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import ConfigError
from edge.frames import Frame
from edge.sources import paced


@dataclass(frozen=True, slots=True)
class ReplaySourceConfig:
    path: Path
    fps: float = 5.0
    loop: bool = False
    max_frames: int = 0  # 0: the whole file (once, or forever with loop)
    pixel_size_um: float | None = None


class ReplaySource:
    name = "replay"

    def __init__(self, cfg: ReplaySourceConfig) -> None:
        import tifffile

        self.cfg = cfg
        try:
            with tifffile.TiffFile(cfg.path) as tif:
                if not tif.series:
                    raise ConfigError(f"source.path {cfg.path}", "no image series in the file")
                series = tif.series[0]
                self._axes = series.axes.upper()
                self._shape = series.shape
        except (OSError, ValueError, tifffile.TiffFileError, IndexError) as exc:
            raise ConfigError(f"source.path {cfg.path}", f"not a readable TIFF ({exc})") from None
        if not self._axes.endswith("YX") or len(self._shape) < 2:
            raise ConfigError(f"source.path {cfg.path}", f"axes {self._axes!r} do not end in YX")
        self.planes = int(np.prod(self._shape[:-2], dtype=np.int64))
        self.frame_shape_px: tuple[int, int] = (int(self._shape[-2]), int(self._shape[-1]))

    def _coords(self, plane: int) -> dict[str, int]:
        lead = self._shape[:-2]
        idx = np.unravel_index(plane, lead) if lead else ()
        return {a: int(i) for a, i in zip(self._axes[:-2], idx, strict=True)}

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        import time

        import tifffile

        with tifffile.TiffFile(self.cfg.path) as tif:
            series: Any = tif.series[0]
            for index in paced(self.cfg.fps, stop, self.cfg.max_frames):
                plane = index % self.planes
                if index >= self.planes and not self.cfg.loop:
                    return
                image = series.asarray(key=plane) if self.planes > 1 else series.asarray()
                yield Frame(
                    index=index,
                    image=np.ascontiguousarray(image),
                    t_acquired_ns=time.time_ns(),
                    axes=self._coords(plane),
                    metadata={"source": self.name, "file": str(self.cfg.path), "plane": plane},
                    pixel_size_um=self.cfg.pixel_size_um,
                )
