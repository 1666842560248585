"""The value that travels from a source to the stainer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.net.headers import QualityBlock


def pixel_size_or_none(value: object) -> float | None:
    """A usable pixel size in µm (a finite number > 0), else None: unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        size = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return size if size > 0 and math.isfinite(size) else None


@dataclass(frozen=True, slots=True)
class Frame:
    """One raw label-free frame as a source delivered it.

    ``image`` is never modified downstream; the stainer works on a copy.
    ``axes`` are the acquisition coordinates (e.g. ``{"time": 3, "z": 1}``),
    ``metadata`` free JSON-able source metadata; both travel into the header.
    """

    index: int
    image: npt.NDArray[Any]
    t_acquired_ns: int
    axes: dict[str, int | str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    pixel_size_um: float | None = None


@dataclass(frozen=True, slots=True)
class StainedFrame:
    """A frame and the model's outputs, ready to publish."""

    frame: Frame
    outputs: dict[str, npt.NDArray[np.float32]]
    t_received_ns: int
    t_inferred_ns: int
    quality: QualityBlock | None = None  # the header's quality block (edge.infer.quality)
