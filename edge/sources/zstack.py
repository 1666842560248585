"""Planes -> (Z, Y, X) stacks for models that take several focal planes as channels.

A model card with ``input_planes`` = Z > 1 needs each frame as a stack of Z
planes. Sources that deliver whole stacks (a (Z, Y, X) frame) pass through.
Sources that deliver one plane per frame (a Micro-Manager z-series through the
hook, the sidecar or pymmcore-plus; a replayed or watched file with a Z axis)
tag each plane with its z index in ``Frame.axes``; ``StackingSource`` collects
the planes of one stack (all other axes equal) and yields the stack once all Z
are in. A stack left incomplete (the acquisition moved on) is dropped and
counted in the source's stats, never published half-filled. Frames without a
z axis pass through unchanged, and the stainer refuses them in one line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from edge.frames import Frame
from edge.sources import FrameSource

Z_AXES = ("z", "Z")  # Micro-Manager/pymmcore-plus/OME-Zarr use "z"; TIFF axes "Z"


def z_index(frame: Frame) -> tuple[str, int] | None:
    """(axis name, plane index) of a single-plane frame, or None if it has no z axis."""
    for name in Z_AXES:
        value = frame.axes.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return name, value
    return None


class PlaneStacker:
    """Collects single planes into stacks of ``planes``; pure logic, no threads."""

    def __init__(self, planes: int) -> None:
        if planes < 2:
            raise ValueError(f"stacking needs at least 2 planes, got {planes}")
        self.planes = planes
        self.incomplete = 0  # stacks dropped before all their planes arrived
        self.stacks = 0
        self._key: tuple[Any, ...] | None = None
        self._parts: dict[int, Frame] = {}

    def push(self, frame: Frame) -> Frame | None:
        """A finished stack, the frame itself (not a plane of a stack), or None (waiting)."""
        where = z_index(frame)
        if frame.image.ndim != 2 or where is None:
            return frame
        axis, z = where
        key = tuple(sorted((k, repr(v)) for k, v in frame.axes.items() if k != axis))
        first = self._parts.get(min(self._parts)) if self._parts else None
        same_shape = first is None or first.image.shape == frame.image.shape
        if key != self._key or z in self._parts or not same_shape:
            self._drop()
            self._key = key
        if not 0 <= z < self.planes:
            self._key = None  # a plane this model cannot use: that stack is lost
            self.incomplete += 1
            return None
        self._parts[z] = frame
        if len(self._parts) < self.planes:
            return None
        return self._emit(axis)

    def _drop(self) -> None:
        if self._parts:
            self.incomplete += 1
        self._parts = {}

    def _emit(self, axis: str) -> Frame:
        parts = [self._parts[z] for z in range(self.planes)]
        self._parts, self._key = {}, None
        self.stacks += 1
        last = max(parts, key=lambda f: f.t_acquired_ns)
        return Frame(
            index=parts[0].index,
            image=np.stack([p.image for p in parts]),
            t_acquired_ns=last.t_acquired_ns,
            axes={k: v for k, v in parts[0].axes.items() if k != axis},
            metadata={**parts[0].metadata, "planes": self.planes},
            pixel_size_um=parts[0].pixel_size_um,
        )


class StackingSource(FrameSource):
    """A ``FrameSource`` that turns another source's planes into stacks (``PlaneStacker``)."""

    def __init__(self, inner: FrameSource, planes: int) -> None:
        self.inner = inner
        self.name = inner.name
        self._stacker = PlaneStacker(planes)
        self.frame_shape_px = inner.frame_shape_px
        self.stack_planes = planes

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        for frame in self.inner.frames(stop):
            out = None if frame is None else self._stacker.push(frame)
            yield out  # None: an idle tick or a plane waiting for its stack

    def stats(self) -> dict[str, int]:
        own = {"stacks": self._stacker.stacks, "incomplete_stacks": self._stacker.incomplete}
        return {**self.inner.stats(), **own}

    def close(self) -> None:
        self.inner.close()
