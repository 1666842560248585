"""Random training crops: where to crop, geometry for all arrays, microscope drift for the input.

Geometry (zoom, flips, 90-degree rotations) moves input, target and weights together.
The input alone gets what differs between microscopes and days: contrast
(``intensity_scale``) and offset, gamma, defocus blur, Gaussian noise, and for
stacks a shift of the focal planes by up to ``plane_shift`` (edge planes repeat).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from training.config import AugmentSection
from training.data.fields import Fields

F32 = npt.NDArray[np.float32]


def _origin(
    fields: Fields, i: int, crop_px: int, rng: np.random.Generator, on_nucleus: bool
) -> tuple[int, int]:
    h, w = fields.dapi[i].shape
    if on_nucleus:
        pts = fields.nucleus_pixels(i)
        if len(pts):
            cy, cx = pts[int(rng.integers(len(pts)))]
            jitter = rng.integers(-crop_px // 4, crop_px // 4 + 1, size=2)
            y = int(np.clip(cy - crop_px // 2 + jitter[0], 0, h - crop_px))
            x = int(np.clip(cx - crop_px // 2 + jitter[1], 0, w - crop_px))
            return y, x
    return int(rng.integers(0, h - crop_px + 1)), int(rng.integers(0, w - crop_px + 1))


def _drift(x: F32, rng: np.random.Generator, aug: AugmentSection) -> F32:
    """One sample's input (planes, c, c): gamma, blur, contrast/offset, noise, plane shift."""
    g = rng.uniform(*aug.gamma)
    if g != 1.0:
        lo, hi = float(x.min()), float(x.max())
        if hi > lo:
            x = lo + (hi - lo) * np.power((x - lo) / (hi - lo), g, dtype=np.float32)
    if aug.blur_probability and rng.random() < aug.blur_probability:
        from scipy.ndimage import gaussian_filter

        s = rng.uniform(*aug.blur_sigma_px)
        x = np.asarray(gaussian_filter(x, (0, s, s), mode="reflect"), np.float32)
    x = x * np.float32(rng.uniform(*aug.intensity_scale)) + np.float32(
        rng.uniform(-aug.intensity_shift, aug.intensity_shift)
    )
    if aug.noise_std:
        x = x + rng.normal(0, aug.noise_std, x.shape).astype(np.float32)
    if aug.plane_shift and x.shape[0] > 1:
        s = int(rng.integers(-aug.plane_shift, aug.plane_shift + 1))
        x = x[np.clip(np.arange(x.shape[0]) + s, 0, x.shape[0] - 1)]
    return x


def _zoomed(a: F32, out_px: int, order: int) -> F32:
    """A square window ``a`` (..., s, s) resampled to (..., out_px, out_px)."""
    from scipy.ndimage import zoom

    f = out_px / a.shape[-1]
    factors = (1.0,) * (a.ndim - 2) + (f, f)
    z = np.asarray(zoom(a, factors, order=order, mode="nearest", grid_mode=True), np.float32)
    return z[..., :out_px, :out_px]


def _window_px(
    fields: Fields, i: int, crop_px: int, rng: np.random.Generator, aug: AugmentSection
) -> int:
    """The side of field ``i``'s window that becomes one crop: ``crop_px`` / zoom, drawn
    log-uniform in ``aug.zoom`` (no draw when zoom is off, so the stream is unchanged),
    at most the field's shorter side."""
    lo, hi = aug.zoom
    if lo == hi == 1.0:
        return crop_px
    z = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return max(8, min(round(crop_px / z), *fields.dapi[i].shape))


def crop_stream(seed: int, rank: int = 0, ordinal: int = 0) -> np.random.Generator:
    """The random stream of a run's crops and augmentations: one per (seed, rank, stage
    ordinal), whatever the model kind, so runs of one seed are paired."""
    return np.random.default_rng([seed, rank, ordinal])


def random_batch(
    fields: Fields,
    batch: int,
    crop_px: int,
    rng: np.random.Generator,
    aug: AugmentSection,
    nucleus_fraction: float = 0.0,
) -> tuple[F32, F32, F32]:
    """Random crops: input (B, planes, c, c), target and weights (B, 1, c, c).

    Fields are drawn in proportion to their area; ``nucleus_fraction`` of the crops
    are centred (with jitter) on a random nucleus pixel, the rest anywhere.
    """
    planes = fields.qpi[0].shape[0]
    x = np.empty((batch, planes, crop_px, crop_px), np.float32)
    yt = np.empty((2, batch, 1, crop_px, crop_px), np.float32)
    areas = np.array([d.size for d in fields.dapi], np.float64)
    for b in range(batch):
        i = int(rng.choice(len(areas), p=areas / areas.sum()))
        side = _window_px(fields, i, crop_px, rng, aug)
        y0, x0 = _origin(fields, i, side, rng, bool(rng.random() < nucleus_fraction))
        window = (slice(y0, y0 + side), slice(x0, x0 + side))
        k, flip = (int(rng.integers(4)), bool(rng.integers(2))) if aug.flips else (0, False)

        def geo(a: F32, k: int = k, flip: bool = flip, order: int = 1) -> F32:
            if a.shape[-1] != crop_px:
                a = _zoomed(a, crop_px, order)
            a = np.rot90(a, k, axes=(-2, -1))
            return a[..., ::-1] if flip else a

        x[b] = _drift(np.ascontiguousarray(geo(fields.qpi[i][(..., *window)])), rng, aug)
        yt[0, b, 0] = geo(fields.dapi[i][window])
        # nearest: each weight pixel keeps its nucleus' weight
        yt[1, b, 0] = geo(fields.mask[i][window], order=0)
    return x, yt[0], yt[1]
