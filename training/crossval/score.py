"""Per-unit statistics of a prediction against one fold's held-out truth.

A scoring unit is a test field; for a one-image dataset (one test region) it is a
tile of that region (``tile_px``), so that the bootstrap has units to resample.
Per unit: Pearson r, SSIM, the haze shares of prediction and target, nucleus
detection counts, faint-quartile counts and the pixel sums of the pooled r
(``training.crossval.hierarchy.STATS``).

Detection truth: the dataset's own nucleus masks where it has them (e.g. the
aiSEGcell authors' masks), else the target segmented by the per-nucleus half
maximum with the recipe's haze floor (``training.data.segment``). The prediction is
always segmented by the half-maximum rule at the target's nucleus scale; a match
is IoU >= 0.5, one to one. The faint quartile is the quarter of an experiment's
true nuclei with the lowest mean target intensity.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from training.crossval.hierarchy import STATS
from training.data.fields import Fields
from training.data.segment import Labels, relabel, segment_nuclei
from training.evaluate.metrics import haze_share, pearson_r, ssim
from training.evaluate.nuclei import match, means_in
from training.evaluate.score import scale_of, segment_target

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
AUTHORS = "the dataset's own nucleus masks"
HALFMAX = "the target segmented at half maximum (haze floor {floor})"


@dataclass(frozen=True, slots=True)
class Unit:
    fold: int  # 1-based
    experiment: str
    label: str  # the field's file name (and tile)
    field: int  # index into the fold's test fields
    window: tuple[slice, slice]


@dataclass(frozen=True, slots=True)
class FoldTruth:
    """One fold's test targets, cut into units, with their true nuclei."""

    fields: Fields
    units: tuple[Unit, ...]
    true: tuple[Labels, ...]  # per unit
    faint: dict[str, float]  # experiment -> mean-intensity threshold of its faint quartile
    floor: float
    detection: str


def _windows(shape: tuple[int, ...], tile_px: int | None) -> list[tuple[str, tuple[slice, slice]]]:
    h, w = shape[-2:]
    if tile_px is None or (h <= tile_px and w <= tile_px):
        return [("", (slice(0, h), slice(0, w)))]
    ny, nx = max(1, h // tile_px), max(1, w // tile_px)
    ys = np.linspace(0, h, ny + 1).astype(int)
    xs = np.linspace(0, w, nx + 1).astype(int)
    return [
        (f" tile {y0}:{y1},{x0}:{x1}", (slice(y0, y1), slice(x0, x1)))
        for y0, y1 in itertools.pairwise(ys)
        for x0, x1 in itertools.pairwise(xs)
    ]


def _name(origin: str) -> str:
    return origin.split("[")[0].split("/")[-1].split(" + ")[0]


def fold_truth(fields: Fields, fold: int, floor: float, tile_px: int | None) -> FoldTruth:
    """The units and true nuclei of one fold's test fields. Tiles only where the fold
    tests a single field (one image split by columns)."""
    tiles = tile_px if len(fields.dapi) == 1 else None
    units, true = [], []
    authors = bool(fields.reference) and all(r is not None for r in fields.reference)
    for i, target in enumerate(fields.dapi):
        scale = scale_of(fields, i)
        for suffix, win in _windows(target.shape, tiles):
            units.append(
                Unit(fold, fields.experiment(i), _name(fields.origins[i]) + suffix, i, win)
            )
            if authors:
                ref = fields.reference[i]
                assert ref is not None
                true.append(relabel(np.ascontiguousarray(ref[win])))
            else:
                true.append(
                    segment_target(np.ascontiguousarray(target[win]), "halfmax", floor, scale)
                )
    faint: dict[str, list[F64]] = {}
    for u, lab in zip(units, true, strict=True):
        faint.setdefault(u.experiment, []).append(means_in(fields.dapi[u.field][u.window], lab))
    thresholds = {
        e: float(np.quantile(np.concatenate(v), 0.25)) if sum(len(x) for x in v) else -np.inf
        for e, v in faint.items()
    }
    detection = AUTHORS if authors else HALFMAX.format(floor=floor)
    return FoldTruth(fields, tuple(units), tuple(true), thresholds, floor, detection)


def unit_stats(pred: F32, truth: FoldTruth, k: int) -> F64:
    """The statistics (``STATS``) of one unit of a prediction of its whole field."""
    u = truth.units[k]
    p = np.ascontiguousarray(pred[u.window], np.float32)
    target = truth.fields.dapi[u.field]
    t = np.ascontiguousarray(target[u.window])
    true = truth.true[k]
    found = segment_nuclei(p, "halfmax", truth.floor, scale_of(truth.fields, u.field))
    m = match(true, found)
    faint = means_in(t, true) <= truth.faint[u.experiment]
    p64, t64 = p.astype(np.float64), t.astype(np.float64)
    values = {
        "pearson_r": pearson_r(p, t),
        "ssim": ssim(p, t),
        "haze_pred": haze_share(p),
        "haze_target": haze_share(t),
        "tp": float(m.true_matched.sum()),
        "fn": float((~m.true_matched).sum()),
        "fp": float((~m.pred_matched).sum()),
        "faint_tp": float((m.true_matched & faint).sum()),
        "faint_n": float(faint.sum()),
        "n": float(p.size),
        "sp": float(p64.sum()),
        "st": float(t64.sum()),
        "spp": float((p64 * p64).sum()),
        "stt": float((t64 * t64).sum()),
        "spt": float((p64 * t64).sum()),
    }
    return np.array([values[s] for s in STATS], np.float64)


def fold_stats(preds: list[F32], truth: FoldTruth) -> F64:
    """(units, stats) of one model's predictions of every test field of one fold."""
    if len(preds) != len(truth.fields.dapi):
        raise ValueError(f"{len(preds)} predictions for {len(truth.fields.dapi)} test fields")
    return np.stack([unit_stats(preds[u.field], truth, k) for k, u in enumerate(truth.units)])
