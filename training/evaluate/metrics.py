"""Image metrics used by the virtual-staining field, pure numpy/scipy, 2-D and 3-D.

Conventions: ``target`` is the ground truth; ``data_range`` defaults to the
target's max - min. Pearson r, MSE and MAE pool all pixels when given several
images (as DM4ISL reports them); ``image_metrics`` gives one image's set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from edge.stats import pearson_r  # the one implementation (NaN for a constant image)

Arr = npt.NDArray[Any]
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang, Simoncelli, Bovik 2003


def _f64(x: Arr) -> npt.NDArray[np.float64]:
    return np.asarray(x, np.float64)


def _range(target: Arr, data_range: float | None) -> float:
    t = _f64(target)
    return float(t.max() - t.min()) or 1.0 if data_range is None else data_range


def mse(pred: Arr, target: Arr) -> float:
    return float(np.mean((_f64(pred) - _f64(target)) ** 2))


def mae(pred: Arr, target: Arr) -> float:
    return float(np.mean(np.abs(_f64(pred) - _f64(target))))


def nrmse(pred: Arr, target: Arr, data_range: float | None = None) -> float:
    """RMSE divided by the target's intensity range."""
    return float(np.sqrt(mse(pred, target)) / _range(target, data_range))


def psnr_db(pred: Arr, target: Arr, data_range: float | None = None) -> float:
    rng = _range(target, data_range)
    err = mse(pred, target)
    return float("inf") if err == 0 else float(10.0 * np.log10(rng * rng / err))


def _ssim_maps(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], data_range: float, sigma: float = 1.5
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Luminance and contrast-structure maps with a Gaussian window (sigma 1.5, 11 px wide)."""
    from scipy.ndimage import gaussian_filter

    def blur(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(gaussian_filter(a, sigma, truncate=3.5, mode="reflect"))

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    cs = (2 * cov + c2) / (vx + vy + c2)
    return lum, cs


def _inner(a: npt.NDArray[np.float64], pad: int = 5) -> npt.NDArray[np.float64]:
    """Drop the window's margin (as skimage does) on every axis long enough to keep some."""
    index = tuple(slice(pad, -pad) if n > 2 * pad else slice(None) for n in a.shape)
    return a[index]


def ssim(pred: Arr, target: Arr, data_range: float | None = None) -> float:
    """SSIM (Wang et al. 2004), Gaussian window; equals skimage's ``structural_similarity``
    with ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` in 2-D, and
    works in 3-D."""
    lum, cs = _ssim_maps(_f64(pred), _f64(target), _range(target, data_range))
    return float(np.mean(_inner(lum * cs)))


def _halve(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """2x average pooling along every axis of at least 16 px."""
    for axis in range(a.ndim):
        n = a.shape[axis]
        if n >= 16:
            a = np.take(a, np.arange(n - n % 2), axis=axis)
            shape = (*a.shape[:axis], n // 2, 2, *a.shape[axis + 1 :])
            a = a.reshape(shape).mean(axis=axis + 1)
    return a


def ms_ssim(pred: Arr, target: Arr, data_range: float | None = None) -> float:
    """Multi-scale SSIM (5 scales; axes shorter than 16 px are not downsampled further)."""
    x, y, rng = _f64(pred), _f64(target), _range(target, data_range)
    value = 1.0
    for i, w in enumerate(MS_SSIM_WEIGHTS):
        lum, cs = _ssim_maps(x, y, rng)
        last = i == len(MS_SSIM_WEIGHTS) - 1
        term = float(np.mean(_inner(lum * cs))) if last else float(np.mean(_inner(cs)))
        value *= max(term, 0.0) ** w
        x, y = _halve(x), _halve(y)
    return value


def _hist2d(pred: Arr, target: Arr, bins: int) -> npt.NDArray[np.float64]:
    p, t = _f64(pred).ravel(), _f64(target).ravel()
    lo, hi = min(p.min(), t.min()), max(p.max(), t.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    joint, _, _ = np.histogram2d(p, t, bins=(edges, edges))
    return np.asarray(joint / joint.sum())


def js_distance(pred: Arr, target: Arr, bins: int = 256) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between the intensity histograms."""
    joint = _hist2d(pred, target, bins)
    p, q = joint.sum(1), joint.sum(0)
    m = 0.5 * (p + q)

    def kl(a: npt.NDArray[np.float64]) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return float(np.sqrt(max(0.5 * kl(p) + 0.5 * kl(q), 0.0)))


def mutual_information_bits(pred: Arr, target: Arr, bins: int = 64) -> float:
    """Mutual information of the joint intensity histogram, in bits."""
    joint = _hist2d(pred, target, bins)
    px, py = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log2(joint[nz] / (px @ py)[nz])))


def image_metrics(pred: Arr, target: Arr) -> dict[str, float]:
    """Every image metric for one prediction/target pair (2-D or 3-D)."""
    return {
        "pearson_r": pearson_r(pred, target),
        "mse": mse(pred, target),
        "mae": mae(pred, target),
        "nrmse": nrmse(pred, target),
        "psnr_db": psnr_db(pred, target),
        "ssim": ssim(pred, target),
        "ms_ssim": ms_ssim(pred, target),
        "js_distance": js_distance(pred, target),
        "mutual_information_bits": mutual_information_bits(pred, target),
    }


def pooled_image_metrics(preds: list[Arr], targets: list[Arr]) -> dict[str, float]:
    """Pearson r, MSE and MAE pooled over all pixels; the rest averaged per image."""
    per = [image_metrics(p, t) for p, t in zip(preds, targets, strict=True)]
    out = {k: float(np.mean([m[k] for m in per])) for k in per[0]}
    flat_p = np.concatenate([_f64(p).ravel() for p in preds])
    flat_t = np.concatenate([_f64(t).ravel() for t in targets])
    out |= {
        "pearson_r": pearson_r(flat_p, flat_t),
        "mse": mse(flat_p, flat_t),
        "mae": mae(flat_p, flat_t),
    }
    return out


HAZE_SIGMA_PX = 16.0


def haze_share(image: Arr, sigma_px: float = HAZE_SIGMA_PX) -> float:
    """The share of an image's variance at scales coarser than ``sigma_px``: the variance
    of its Gaussian blur (sigma 16 px) over its own variance. Nuclei are 8-26 px across,
    so a prediction whose share is far above the target's paints haze, not nuclei.
    NaN for a constant image."""
    from scipy.ndimage import gaussian_filter

    x = _f64(image)
    total = float(x.var())
    if total <= 0:
        return float("nan")
    return float(np.asarray(gaussian_filter(x, sigma_px, mode="reflect")).var() / total)
