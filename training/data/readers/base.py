"""The raw paired image and its validation: every problem names the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import AgluError

F32 = npt.NDArray[np.float32]


class DataError(AgluError):
    """Bad training data: the message names the file (or folder) and what is wrong."""

    def __init__(self, origin: str, message: str) -> None:
        self.origin = origin
        super().__init__(f"{origin}: {message}")


@dataclass(frozen=True, slots=True)
class ImagePair:
    """One raw (not normalised) input/target pair, with its origin for error messages.

    ``qpi`` is the label-free input as (planes, Y, X) (one plane for most data),
    ``dapi`` the (Y, X) target. ``labels``/``brightness`` exist only for simulated
    data (ground-truth nuclei); ``reference`` holds nucleus instances annotated by
    someone else (e.g. the dataset authors' masks), when the data has them.
    """

    qpi: F32
    dapi: F32
    origin: str
    labels: npt.NDArray[np.int32] | None = None
    brightness: F32 | None = None
    reference: npt.NDArray[np.int32] | None = None


def as_plane(array: npt.NDArray[Any], origin: str, what: str) -> F32:
    """Validate one 2-D plane and return it as float32."""
    if array.ndim != 2:
        raise DataError(origin, f"{what} plane has shape {array.shape}, expected 2-D (Y, X)")
    if array.size == 0:
        raise DataError(origin, f"{what} plane is empty")
    if array.dtype.kind not in "uif":
        raise DataError(origin, f"{what} has unsupported dtype {array.dtype}")
    out = np.asarray(array, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise DataError(origin, f"{what} contains NaN or Inf")
    return out


def as_stack(array: npt.NDArray[Any], origin: str) -> F32:
    """Validate an input image (Y, X) or stack (planes, Y, X); return it as (planes, Y, X)."""
    if array.ndim == 3:
        return np.stack([as_plane(p, origin, "input") for p in array])
    return as_plane(array, origin, "input")[None]


def make_pair(
    qpi: npt.NDArray[Any],
    dapi: npt.NDArray[Any],
    origin: str,
    min_side_px: int,
    reference: npt.NDArray[Any] | None = None,
) -> ImagePair:
    """Validate a raw pair; ``reference`` is a mask (0 background) of annotated nuclei."""
    q, d = as_stack(qpi, origin), as_plane(dapi, origin, "target")
    if q.shape[1:] != d.shape:
        raise DataError(
            origin, f"input {q.shape[1:]} and target {d.shape} sizes differ (unpaired?)"
        )
    if min(d.shape) < min_side_px:
        raise DataError(origin, f"image {d.shape} is smaller than the {min_side_px} px crop")
    if float(d.max() - d.min()) == 0.0:
        raise DataError(origin, "target is constant (no signal)")
    ref = None
    if reference is not None:
        if reference.shape != d.shape:
            raise DataError(origin, f"mask {reference.shape} and target {d.shape} sizes differ")
        from scipy import ndimage as ndi

        ref = np.asarray(ndi.label(np.asarray(reference) > 0)[0], np.int32)
    return ImagePair(q, d, origin, reference=ref)


def pick_channels(names: list[str], wanted: tuple[str, str], origin: str) -> tuple[int, int]:
    """Indices of the input and target channels, by name."""
    missing = [w for w in wanted if w not in names]
    if missing:
        raise DataError(origin, f"channel(s) {missing} not found; the file has {names}")
    return names.index(wanted[0]), names.index(wanted[1])


def split_planes(
    array: npt.NDArray[Any], axes: str, channel_idx: tuple[int, int], origin: str
) -> list[tuple[npt.NDArray[Any], npt.NDArray[Any], str]]:
    """(input, target, origin) per plane of an array with axes like 'TCZYX' (C required)."""
    axes = axes.upper()
    if "C" not in axes or not axes.endswith("YX") or len(axes) != array.ndim:
        raise DataError(origin, f"axes {axes!r} do not fit shape {array.shape} (need C, Y, X)")
    a = np.moveaxis(array, axes.index("C"), 0)
    rest = [ax for ax in axes if ax != "C"][:-2]
    a = a.reshape(a.shape[0], -1, *a.shape[-2:])
    out = []
    for k in range(a.shape[1]):
        where = f"{origin}[{''.join(rest)}#{k}]" if rest else origin
        out.append((a[channel_idx[0], k], a[channel_idx[1], k], where))
    return out
