"""Nuclei instances: segmentation and IoU matching (Hungarian).

Two documented segmentations, applied identically to targets and predictions:

- ``halfmax`` (default for detection metrics): Gaussian smoothing (1 px for
  masks, 2 px for seeds); foreground above ``background + max(5 noise, floor)``
  (background and noise from the darker half of the image, median and MAD;
  ``floor`` in normalised intensity units); seeds at local maxima at least
  ``min_distance_px`` apart; watershed from the seeds; then each nucleus is cut
  at half of its own peak above background (its half-maximum contour). The cut
  is per object, so a nucleus 20x fainter than its neighbours is outlined as
  well as they are. On the true DAPI of 16 held-out simulated fields it finds
  98.6% of 561 nuclei (95.0% of the faintest quartile) at 91.9% precision
  (IoU >= 0.5; ``oracle_halfmax_*`` of ``aglu-train evaluate``).
- ``otsu``: one global Otsu threshold, opening, distance-transform watershed.
  Standard in the field but blind to nuclei far below the brightest ones.

Objects under ``min_area_px`` are removed. Matching the segmented nuclei of a
prediction to the true ones is ``training.evaluate.nuclei``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Labels = npt.NDArray[np.int32]


def otsu_threshold(image: npt.NDArray[np.float32], bins: int = 256) -> float:
    """Otsu's threshold; where the criterion is flat (an empty gap between modes) the
    middle of that plateau, not its first bin, so the split sits mid-gap."""
    hist, edges = np.histogram(image, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = ((hist * centres).sum() - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    return float(edges[(best[0] + best[-1]) // 2 + 1])


DEFAULT_SCALE_PX = 12.0  # typical nucleus diameter the halfmax defaults were made for


def segment_nuclei(
    image: npt.NDArray[np.float32],
    method: str = "halfmax",
    floor: float = 0.015,
    scale_px: float = DEFAULT_SCALE_PX,
) -> Labels:
    """``floor``: halfmax only, the least peak height above background (normalised units)
    that counts as a nucleus; raising it keeps out-of-focus haze out. ``scale_px``:
    halfmax only, the typical nucleus diameter (``estimate_scale_px``)."""
    if method == "halfmax":
        return segment_halfmax(image, floor=floor, scale_px=scale_px)
    if method == "otsu":
        return segment_otsu(image)
    raise ValueError(f"unknown segmentation method {method!r}")


def _smooth(image: npt.NDArray[np.float32], sigma_px: float) -> npt.NDArray[np.float32]:
    from scipy.ndimage import gaussian_filter

    return np.asarray(gaussian_filter(image, sigma_px, mode="nearest"), np.float32)


def _seeded_watershed(
    mask: npt.NDArray[np.bool_],
    height: npt.NDArray[np.float32],
    min_distance_px: int,
    threshold: float | None = None,
) -> Labels:
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    blobs, _ = ndi.label(mask)
    peaks = peak_local_max(
        height,
        min_distance=min_distance_px,
        threshold_abs=threshold,
        labels=blobs,
        exclude_border=False,
    )
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return np.asarray(watershed(-height, markers, mask=mask), np.int32)


def _drop_small(labels: Labels, min_area_px: int) -> Labels:
    areas = np.bincount(labels.ravel())
    small = np.flatnonzero(areas < min_area_px)
    labels = labels.copy()
    labels[np.isin(labels, small[small > 0])] = 0
    return relabel(labels)


def estimate_scale_px(target: npt.NDArray[np.float32]) -> float:
    """Typical nucleus diameter of a (normalised) target image: the median equivalent
    diameter of its Otsu objects, within [8, 80] px (``DEFAULT_SCALE_PX`` if none).

    The prediction of the same field is segmented at the target's scale, so a
    microscope at another magnification is scored with seeds and smoothing that
    fit its nuclei, not over-split ones.
    """
    from scipy import ndimage as ndi

    smooth = _smooth(np.asarray(target, np.float32), 1.0)
    fg = ndi.binary_opening(smooth > otsu_threshold(smooth), iterations=1)
    labels = ndi.label(fg)[0]
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas >= 12]
    if not areas.size:
        return DEFAULT_SCALE_PX
    return float(np.clip(2.0 * np.sqrt(np.median(areas) / np.pi), 8.0, 80.0))


def segment_halfmax(
    image: npt.NDArray[np.float32],
    floor: float = 0.015,
    noise_k: float = 5.0,
    scale_px: float = DEFAULT_SCALE_PX,
) -> Labels:
    """Seeds at least ``scale_px / 2`` apart on the image smoothed by ``scale_px / 6``;
    objects under ``scale_px**2 / 12`` px are dropped (6, 2 and 12 at the default)."""

    min_distance_px = max(1, round(scale_px / 2))
    min_area_px = max(4, round(scale_px**2 / 12))
    img = np.asarray(image, np.float32)
    fine, coarse = _smooth(img, 1.0), _smooth(img, scale_px / 6)
    dark = fine[fine <= np.percentile(fine, 50)]
    bg = float(np.median(dark))
    noise = 1.4826 * float(np.median(np.abs(dark - bg)))
    threshold = bg + max(noise_k * noise, floor)
    fg = fine > threshold
    if not fg.any():
        return np.zeros(img.shape, np.int32)
    labels = _seeded_watershed(fg, coarse, min_distance_px, threshold)
    inside = labels > 0  # each object's peak (ufunc.at: 8x faster than ndimage.maximum)
    peak = np.full(int(labels.max()) + 1, -np.inf, np.float32)
    np.maximum.at(peak, labels[inside], coarse[inside])
    peak[0] = np.inf
    labels = np.where(fine >= bg + 0.5 * (peak[labels] - bg), labels, 0).astype(np.int32)
    return _drop_small(labels, min_area_px)


def segment_otsu(
    image: npt.NDArray[np.float32], min_area_px: int = 20, min_distance_px: int = 5
) -> Labels:
    from scipy import ndimage as ndi

    smooth = _smooth(np.asarray(image, np.float32), 1.0)
    fg = ndi.binary_opening(smooth > otsu_threshold(smooth), iterations=1)
    if not fg.any():
        return np.zeros(image.shape, np.int32)
    dist = ndi.distance_transform_edt(fg).astype(np.float32)
    return _drop_small(_seeded_watershed(fg, dist, min_distance_px), min_area_px)


def relabel(labels: Labels) -> Labels:
    """Consecutive labels 1..n, background 0."""
    ids = np.unique(labels)
    ids = ids[ids > 0]
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[labels]
