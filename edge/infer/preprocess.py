"""Pure-numpy pre/post-processing shared by training and the edge (one implementation).

The model sees a float32 image normalised to ``(x - low) / (high - low)``:
- ``percentile`` (per frame): ``low``/``high`` are robust percentiles of the frame
  itself, so the model is independent of camera gain/offset (as in CARE and VisCy);
- ``fixed``: ``low``/``high`` are raw values measured once, at those percentiles,
  on the training data and stored in the model card, so a test frame is scaled
  exactly as training frames were (one microscope, stable settings).
A multi-plane frame (Z, Y, X) is normalised jointly: one ``low``/``high`` for all
planes, so the intensity relation between focal planes is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from edge.net.wire import DTYPES  # what the stainer takes, the wire can publish

Array = npt.NDArray[np.float32]
_ALLOWED_KINDS = ("u", "i", "f")
_F32_MAX = float(np.finfo(np.float32).max)


PERCENTILE_SAMPLES = 1 << 18  # 512 x 512: frames up to this size use every pixel


def strided_sample(x: npt.NDArray[Any], max_samples: int = PERCENTILE_SAMPLES) -> npt.NDArray[Any]:
    """Every s-th row and column of each (Y, X) plane, s the smallest stride that leaves at
    most ``max_samples`` pixels per plane (a view: nothing is copied)."""
    h, w = x.shape[-2:]
    step = max(1, math.ceil(math.sqrt(h * w / max_samples)))
    return x[..., ::step, ::step]


@dataclass(frozen=True, slots=True)
class Normalization:
    """Normalisation parameters (stored in the model card).

    ``low_value``/``high_value`` set: the ``fixed`` method with those raw values;
    unset: the ``percentile`` method, measured on each frame.
    """

    low_percentile: float = 1.0
    high_percentile: float = 99.8
    eps: float = 1e-6
    low_value: float | None = None
    high_value: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_percentile < self.high_percentile <= 100.0:
            raise ValueError(
                f"percentiles must satisfy 0 <= low < high <= 100, got "
                f"{self.low_percentile}, {self.high_percentile}"
            )
        if (self.low_value is None) != (self.high_value is None):
            raise ValueError("fixed normalisation needs both low_value and high_value")
        if self.low_value is not None and self.high_value is not None:
            if not (np.isfinite(self.low_value) and np.isfinite(self.high_value)):
                raise ValueError(
                    f"fixed values must be finite, got {self.low_value}, {self.high_value}"
                )
            if self.high_value <= self.low_value:
                raise ValueError(
                    f"fixed values must satisfy low < high, got {self.low_value}, {self.high_value}"
                )

    @property
    def method(self) -> Literal["percentile", "fixed"]:
        return "percentile" if self.low_value is None else "fixed"

    def measured_on(
        self, images: list[npt.NDArray[Any]], max_samples: int = 4_000_000
    ) -> Normalization:
        """The ``fixed`` normalisation whose values are these percentiles of ``images``
        pooled (a regular subsample of at most ``max_samples`` values)."""
        flat = np.concatenate([np.asarray(a, np.float32).ravel() for a in images])
        step = max(1, flat.size // max_samples)
        lo, hi = np.percentile(flat[::step], [self.low_percentile, self.high_percentile])
        if hi <= lo:
            hi = lo + max(self.eps, 1e-6 * abs(float(lo)))
        return Normalization(
            self.low_percentile, self.high_percentile, self.eps, float(lo), float(hi)
        )

    def bounds(self, x: npt.NDArray[Any]) -> tuple[float, float]:
        """``(low, high)`` raw values for image ``x``: its percentiles measured on a regular
        subsample of at most ``PERCENTILE_SAMPLES`` pixels per plane (every s-th row and
        column; ``tools/percentile_error.py`` measures what this changes on real frames)."""
        if self.low_value is not None and self.high_value is not None:
            return self.low_value, self.high_value
        lo, hi = np.percentile(strided_sample(x), [self.low_percentile, self.high_percentile])
        return float(lo), float(hi)


def check_image(image: npt.NDArray[Any], planes: int = 1) -> str | None:
    """Return why ``image`` cannot be stained by a model of ``planes`` input planes, or None.

    One plane: a (Y, X) image. Several: a (Z, Y, X) stack of exactly ``planes`` planes.
    """
    if not isinstance(image, np.ndarray):
        return f"expected a numpy array, got {type(image).__name__}"
    if planes == 1 and image.ndim != 2:
        return f"expected a 2-D (Y, X) image, got shape {image.shape}"
    if planes > 1 and (image.ndim != 3 or image.shape[0] != planes):
        return f"the model takes a (Z, Y, X) stack of {planes} planes, got shape {image.shape}"
    if image.size == 0:
        return "image is empty"
    if image.dtype.kind not in _ALLOWED_KINDS or image.dtype.name not in DTYPES:
        return f"unsupported dtype {image.dtype} (any real integer or float type is stained)"
    if image.dtype.kind == "f":
        if not np.all(np.isfinite(image)):
            return "image contains NaN or Inf"
        if image.dtype.itemsize > 4 and np.abs(image).max() > _F32_MAX:
            return f"values beyond the float32 range (|x| > {_F32_MAX:.3g}) cannot be stained"
    return None


def normalize(image: npt.NDArray[Any], norm: Normalization) -> Array:
    """Normalise an image or stack to float32 (a new array; input untouched): one copy,
    then in-place arithmetic (no temporaries of the frame's size)."""
    lo, hi = norm.bounds(image)
    scale = max(float(hi - lo), norm.eps)
    out: Array = np.array(image, dtype=np.float32, copy=True)
    out -= np.float32(lo)
    out *= np.float32(1.0 / scale)
    return out


def pad_to_multiple(image: Array, multiple: int) -> tuple[Array, tuple[int, int]]:
    """Reflect-pad the last two axes (Y, X) on the bottom/right to multiples of ``multiple``.

    Returns the padded array and the original (height, width) for ``crop``.
    Reflection avoids the hard edge that zero padding would put into the model.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = image.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return image, (h, w)
    # "reflect" needs the pad to be shorter than the side; tiny frames fall back to "edge".
    mode: Literal["reflect", "edge"] = "reflect" if (ph < h and pw < w) else "edge"
    lead = ((0, 0),) * (image.ndim - 2)
    return np.pad(image, (*lead, (0, ph), (0, pw)), mode=mode), (h, w)


def crop(image: Array, shape: tuple[int, int]) -> Array:
    """Undo ``pad_to_multiple`` on the last two axes."""
    h, w = shape
    return image[..., :h, :w]


def as_planes(image: Array) -> Array:
    """A (Y, X) image as a one-plane stack (1, Y, X); a stack unchanged."""
    return image[None] if image.ndim == 2 else image
