"""Nuclei instance metrics (2-D and 3-D), from true and predicted label images.

Matching (``match``): a true and a predicted nucleus match when their IoU >=
``iou_threshold``, one-to-one, maximising IoU (Hungarian).

Per image, ``nucleus_stats`` keeps per-nucleus and per-pair values; ``summarize``
pools them over images: detection counts are pooled (so recall is over all
nuclei), errors are averaged over all matched pairs.

- mask IoU / Dice: foreground (any nucleus) overlap of the two label images;
- detection precision / recall / F1: IoU >= 0.5, one-to-one (Hungarian);
- faint-quartile recall: recall over the quarter of true nuclei with the lowest
  true intensity (simulator brightness when known, else mean target intensity);
- centroid error (px), relative area error, Hausdorff distance (px): matched pairs;
- count error: (predicted - true) / true;
- per-nucleus intensity correlation: Pearson r between the mean predicted and
  the mean true intensity inside each true nucleus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from training.data.segment import Labels
from training.evaluate.metrics import pearson_r

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Matching:
    true_matched: npt.NDArray[np.bool_]  # per true label 1..n
    pred_matched: npt.NDArray[np.bool_]  # per predicted label 1..m
    ious: npt.NDArray[np.float64]  # IoU of each matched pair
    true_index: npt.NDArray[np.intp]  # matched pairs: true label - 1
    pred_index: npt.NDArray[np.intp]  # matched pairs: predicted label - 1

    @property
    def recall(self) -> float:
        return float(self.true_matched.mean()) if self.true_matched.size else float("nan")

    @property
    def precision(self) -> float:
        return float(self.pred_matched.mean()) if self.pred_matched.size else float("nan")


def iou_matrix(true: Labels, pred: Labels) -> npt.NDArray[np.float64]:
    n, m = int(true.max()), int(pred.max())
    inter = np.bincount(
        true.ravel().astype(np.int64) * (m + 1) + pred.ravel(), minlength=(n + 1) * (m + 1)
    ).reshape(n + 1, m + 1)
    area_t, area_p = inter.sum(1), inter.sum(0)
    union = area_t[1:, None] + area_p[None, 1:] - inter[1:, 1:]
    return np.asarray(inter[1:, 1:] / np.maximum(union, 1), np.float64)


def match(true: Labels, pred: Labels, iou_threshold: float = 0.5) -> Matching:
    from scipy.optimize import linear_sum_assignment

    iou = iou_matrix(true, pred)
    tm = np.zeros(iou.shape[0], bool)
    pm = np.zeros(iou.shape[1], bool)
    none = np.zeros(0, np.intp)
    if iou.size == 0:
        return Matching(tm, pm, np.zeros(0), none, none)
    rows, cols = linear_sum_assignment(-iou)
    ok = iou[rows, cols] >= iou_threshold
    tm[rows[ok]], pm[cols[ok]] = True, True
    return Matching(tm, pm, iou[rows[ok], cols[ok]], rows[ok], cols[ok])


@dataclass(frozen=True, slots=True)
class NucleusStats:
    true_matched: npt.NDArray[np.bool_]
    pred_matched: npt.NDArray[np.bool_]
    true_intensity: F64  # per true nucleus, ranks the faint quartile
    pred_mean_in_true: F64  # mean prediction inside each true nucleus
    target_mean_in_true: F64
    centroid_error_px: F64  # per matched pair
    area_error_rel: F64
    hausdorff_px: F64
    fg_intersection: int
    fg_true: int
    fg_pred: int


def means_in(image: npt.NDArray[Any], labels: Labels) -> F64:
    n = int(labels.max())
    sums = np.bincount(labels.ravel(), np.asarray(image, np.float64).ravel(), minlength=n + 1)
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    return np.asarray(sums[1:] / np.maximum(counts[1:], 1))


def _hausdorff(true: Labels, pred: Labels, ti: int, pj: int) -> float:
    from scipy import ndimage as ndi
    from skimage.metrics import hausdorff_distance

    a, b = true == ti + 1, pred == pj + 1
    box = ndi.find_objects((a | b).astype(np.int32))[0]
    return float(hausdorff_distance(a[box], b[box]))


def nucleus_stats(
    pred: npt.NDArray[Any],
    target: npt.NDArray[Any],
    true: Labels,
    pred_labels: Labels,
    true_intensity: F64 | None = None,
) -> NucleusStats:
    from scipy import ndimage as ndi

    m = match(true, pred_labels)
    n_t, n_p = int(true.max()), int(pred_labels.max())
    ct = np.atleast_2d(
        np.asarray(ndi.center_of_mass(true > 0, true, range(1, n_t + 1)), np.float64)
    )
    cp = np.atleast_2d(
        np.asarray(ndi.center_of_mass(pred_labels > 0, pred_labels, range(1, n_p + 1)), np.float64)
    )
    at = np.bincount(true.ravel(), minlength=n_t + 1)[1:].astype(np.float64)
    ap = np.bincount(pred_labels.ravel(), minlength=n_p + 1)[1:].astype(np.float64)
    ti, pj = m.true_index, m.pred_index
    target_means = means_in(target, true)
    fg_t, fg_p = true > 0, pred_labels > 0
    return NucleusStats(
        true_matched=m.true_matched,
        pred_matched=m.pred_matched,
        true_intensity=target_means
        if true_intensity is None
        else np.asarray(true_intensity, np.float64),
        pred_mean_in_true=means_in(pred, true),
        target_mean_in_true=target_means,
        centroid_error_px=np.linalg.norm(ct[ti] - cp[pj], axis=1) if len(ti) else np.zeros(0),
        area_error_rel=np.abs(ap[pj] - at[ti]) / at[ti] if len(ti) else np.zeros(0),
        hausdorff_px=np.array(
            [_hausdorff(true, pred_labels, int(i), int(j)) for i, j in zip(ti, pj, strict=True)]
        ),
        fg_intersection=int((fg_t & fg_p).sum()),
        fg_true=int(fg_t.sum()),
        fg_pred=int(fg_p.sum()),
    )


def _mean(values: list[F64]) -> float:
    v = np.concatenate(values) if values else np.zeros(0)
    return float(v.mean()) if v.size else float("nan")


def summarize(stats: list[NucleusStats]) -> dict[str, float]:
    t = np.concatenate([s.true_matched for s in stats])
    p = np.concatenate([s.pred_matched for s in stats])
    inten = np.concatenate([s.true_intensity for s in stats])
    inter = sum(s.fg_intersection for s in stats)
    ft, fp = sum(s.fg_true for s in stats), sum(s.fg_pred for s in stats)
    recall = float(t.mean()) if t.size else float("nan")
    precision = float(p.mean()) if p.size else 0.0
    faint = inten <= np.quantile(inten, 0.25) if inten.size else np.zeros(0, bool)
    return {
        "mask_iou": inter / max(ft + fp - inter, 1),
        "mask_dice": 2 * inter / max(ft + fp, 1),
        "recall": recall,
        "precision": precision,
        "f1": 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0,
        "faint_quartile_recall": float(t[faint].mean()) if faint.any() else float("nan"),
        "centroid_error_px": _mean([s.centroid_error_px for s in stats]),
        "area_error_rel": _mean([s.area_error_rel for s in stats]),
        "hausdorff_px": _mean([s.hausdorff_px for s in stats]),
        "count_error_rel": (p.size - t.size) / max(t.size, 1),
        "intensity_r": pearson_r(
            np.concatenate([s.pred_mean_in_true for s in stats]),
            np.concatenate([s.target_mean_in_true for s in stats]),
        ),
        "nuclei_true": float(t.size),
        "nuclei_predicted": float(p.size),
    }
