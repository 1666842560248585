"""Replay a recorded stack (TIFF / OME-TIFF, OME-Zarr, NDTiff) as a live source.

Every (Y, X) plane is one frame, in acquisition order, at ``fps``; the plane's
coordinates travel as the frame's ``axes``. Planes are read lazily
(``edge.io.readers``). The file is checked when the source is built: a bad one is
one error naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.frames import Frame
from edge.io.readers import Coords, open_reader, plane_frame
from edge.sources import FrameSource, SourceSection, paced
from edge.sources.zstack import Z_AXES

# The demo's real recording (edge/samples/README.md): bright-field + true nuclear stain.
DEMO_SAMPLE = Path(str(resources.files("edge") / "samples" / "aisegcell-bf-demo.ome.tif"))
DEMO_SAMPLE_FRAMES = 6


class ReplaySourceConfig(SourceSection):
    """``[source] kind = "replay"``: a recorded stack as a live source."""

    kind: Literal["replay"] = "replay"
    path: Path  # a TIFF / OME-TIFF file, an OME-Zarr image or an NDTiff folder
    fps: float = Field(5.0, gt=0, le=1000)
    loop: bool = False
    max_frames: int = Field(0, ge=0, le=2**62)  # 0: the whole file (once, or forever)
    pixel_size_um: float | None = Field(None, gt=0)  # travels in the header
    channel: str | None = None  # multi-channel files: the channel to replay, by name

    def build(self) -> ReplaySource:
        return ReplaySource(self)


Section = ReplaySourceConfig


class ReplaySource(FrameSource):
    name = "replay"

    def __init__(self, cfg: ReplaySourceConfig) -> None:
        self.cfg = cfg
        reader = open_reader(cfg.path, cfg.channel)  # checked now, read when streaming
        self.planes = len(reader.planes)
        self.frame_shape_px: tuple[int, int] = reader.frame_shape_px
        self.stack_planes = stack_planes(reader.planes)
        reader.close()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        reader = open_reader(self.cfg.path, self.cfg.channel)
        try:
            for index in paced(self.cfg.fps, stop, self.cfg.max_frames):
                if index >= self.planes and not self.cfg.loop:
                    return
                yield plane_frame(
                    reader,
                    index % self.planes,
                    index,
                    self.name,
                    self.cfg.path,
                    self.cfg.pixel_size_um,
                )
        finally:
            reader.close()


def stack_planes(planes: list[Coords]) -> int:
    """Focal planes per stack of a recording: its number of z positions (1 without a z
    axis: every plane is a frame of its own)."""
    for axis in Z_AXES:
        zs = {c[axis] for c in planes if axis in c}
        if zs:
            return len(zs)
    return 1
