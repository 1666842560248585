"""Pure-numpy pre/post-processing shared by training and the edge (one implementation).

The model sees a float32 image normalised by robust percentiles:
``(x - p_low) / (p_high - p_low)``, so ``p_low`` maps to 0 and ``p_high`` to 1.
Percentile normalisation (as in CARE and VisCy) makes the model independent of
camera gain/offset and of phase unwrapping offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
_ALLOWED_KINDS = ("u", "i", "f")


@dataclass(frozen=True, slots=True)
class Normalization:
    """Percentile normalisation parameters (stored in the model card)."""

    low_percentile: float = 1.0
    high_percentile: float = 99.8
    eps: float = 1e-6

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_percentile < self.high_percentile <= 100.0:
            raise ValueError(
                f"percentiles must satisfy 0 <= low < high <= 100, got "
                f"{self.low_percentile}, {self.high_percentile}"
            )


def check_image(image: npt.NDArray[Any]) -> str | None:
    """Return why ``image`` cannot be stained, or None if it can."""
    if not isinstance(image, np.ndarray):
        return f"expected a numpy array, got {type(image).__name__}"
    if image.ndim != 2:
        return f"expected a 2-D (Y, X) image, got shape {image.shape}"
    if image.size == 0:
        return "image is empty"
    if image.dtype.kind not in _ALLOWED_KINDS:
        return f"unsupported dtype {image.dtype}"
    if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
        return "image contains NaN or Inf"
    return None


def normalize(image: npt.NDArray[Any], norm: Normalization) -> Array:
    """Percentile-normalise a 2-D image to float32 (a new array; input untouched)."""
    x = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(x, [norm.low_percentile, norm.high_percentile])
    scale = max(float(hi - lo), norm.eps)
    out: Array = ((x - np.float32(lo)) / np.float32(scale)).astype(np.float32, copy=False)
    return out


def pad_to_multiple(image: Array, multiple: int) -> tuple[Array, tuple[int, int]]:
    """Reflect-pad a (Y, X) image on the bottom/right so both sides are multiples.

    Returns the padded image and the original (height, width) for ``crop``.
    Reflection avoids the hard edge that zero padding would put into the model.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = image.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return image, (h, w)
    # "reflect" needs the pad to be shorter than the side; tiny frames fall back to "edge".
    mode: Literal["reflect", "edge"] = "reflect" if (ph < h and pw < w) else "edge"
    return np.pad(image, ((0, ph), (0, pw)), mode=mode), (h, w)


def crop(image: Array, shape: tuple[int, int]) -> Array:
    """Undo ``pad_to_multiple`` on the last two axes."""
    h, w = shape
    return image[..., :h, :w]
