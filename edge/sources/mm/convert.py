"""Micro-Manager images to Frames: the one conversion the hook, the sidecar and the
pymmcore-plus source share (axes, pixel size, the tags worth publishing)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy.typing as npt

from edge.frames import Frame, pixel_size_or_none
from edge.sources.ingest import json_safe

# Per-image Micro-Manager tags worth carrying into the published header.
MM_TAGS = ("Camera", "Exposure", "ElapsedTime-ms", "ImageNumber", "PositionName", "Binning")


# The acquisition engine's per-image index tags, for images that carry no ``Axes`` (the
# GUI's tagged images, read by the sidecar): a z-series then stacks for multi-plane models.
INDEX_TAGS = {"SliceIndex": "z", "FrameIndex": "t", "ChannelIndex": "c", "PositionIndex": "p"}


def _index_axes(metadata: Mapping[str, Any]) -> dict[str, int]:
    out = {}
    for tag, axis in INDEX_TAGS.items():
        try:
            out[axis] = int(metadata[tag])
        except (KeyError, TypeError, ValueError):
            continue
    return out


def frame_from_mm(
    image: npt.NDArray[Any], metadata: Mapping[str, Any], index: int, source: str
) -> Frame:
    """A Frame from a Micro-Manager image and its metadata (``Axes``, or the engine's
    ``SliceIndex``/``FrameIndex``/... tags; ``PixelSizeUm``)."""
    axes = metadata.get("Axes") or _index_axes(metadata)
    size = metadata.get("PixelSizeUm")
    tags = {k: metadata[k] for k in MM_TAGS if k in metadata}
    return Frame(
        index=index,
        image=image,
        t_acquired_ns=time.time_ns(),
        axes=json_safe(dict(axes)) if isinstance(axes, Mapping) else {},
        metadata={"source": source} | json_safe(tags),  # headers are JSON
        pixel_size_um=_positive_float(size),
    )


def _positive_float(value: Any) -> float | None:
    """Micro-Manager tags are often strings ("0.65"); 0 or garbage means unknown."""
    try:
        return pixel_size_or_none(float(value))
    except (TypeError, ValueError):
        return None
