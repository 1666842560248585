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


def _label_means(
    values: npt.NDArray[Any], labels: npt.NDArray[np.int32], n: int
) -> npt.NDArray[np.float64]:
    sums = np.bincount(
        labels.ravel(), weights=np.asarray(values, np.float64).ravel(), minlength=n + 1
    )
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    return np.asarray(sums[1:] / np.maximum(counts[1:], 1))


def nucleus_recall(
    pred: npt.NDArray[Any],
    target: npt.NDArray[Any],
    labels: npt.NDArray[np.int32],
    fraction: float = 0.5,
) -> npt.NDArray[np.bool_]:
    """Per-nucleus hit: mean prediction inside the true nucleus >= ``fraction`` of the
    target's mean there (both above the background median).

    A detection proxy for the slice that is fair to faint nuclei; IoU-matched
    instance recall comes with issues 3/4. Index i of the result is label i + 1;
    labels absent from the image are dropped.
    """
    n = int(labels.max())
    if n == 0:
        return np.zeros(0, bool)
    present = np.bincount(labels.ravel(), minlength=n + 1)[1:] > 0
    bg = labels == 0
    p = np.asarray(pred, np.float64) - np.median(np.asarray(pred)[bg])
    t = np.asarray(target, np.float64) - np.median(np.asarray(target)[bg])
    hits = _label_means(p, labels, n) >= fraction * _label_means(t, labels, n)
    return np.asarray(hits[present])
