"""Pure-numpy image metrics (the full suite is issue 4's; these serve the slice)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def pearson_r(pred: npt.NDArray[Any], target: npt.NDArray[Any]) -> float:
    """Pearson correlation over all pixels (float64 accumulation)."""
    p = np.asarray(pred, np.float64).ravel()
    t = np.asarray(target, np.float64).ravel()
    p, t = p - p.mean(), t - t.mean()
    denom = np.sqrt((p * p).sum() * (t * t).sum())
    return float((p * t).sum() / denom) if denom > 0 else float("nan")


def psnr_db(
    pred: npt.NDArray[Any], target: npt.NDArray[Any], data_range: float | None = None
) -> float:
    """PSNR in dB; ``data_range`` defaults to the target's max - min."""
    t = np.asarray(target, np.float64)
    rng = float(t.max() - t.min()) if data_range is None else data_range
    mse = float(np.mean((np.asarray(pred, np.float64) - t) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(rng * rng / mse)


def ssim(pred: npt.NDArray[Any], target: npt.NDArray[Any]) -> float:
    """Structural similarity (Wang et al. 2004, skimage), data range from the target."""
    from skimage.metrics import structural_similarity

    t = np.asarray(target, np.float64)
    rng = float(t.max() - t.min()) or 1.0
    return float(structural_similarity(np.asarray(pred, np.float64), t, data_range=rng))
