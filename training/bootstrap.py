"""Block bootstrap of the headline metrics, across seeds, with paired model differences.

A test split is one or a few large images, so images are too few to resample.
Each image is cut into square blocks (``block_px``); per block and model we keep
sufficient statistics: pixel sums for the pooled Pearson r, the sum of the SSIM
map (the window margin excluded), and nucleus detection counts at IoU >= 0.5
(each nucleus counted in the block of its centroid; true nuclei of the faintest
quartile, by mean target intensity over the whole split, counted apart).
Resampling blocks with replacement (the same draw for every model: paired)
gives 95% percentile intervals of each metric, of its mean over seeds, and of
the difference between two models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from training.instances import Labels, match, segment_nuclei
from training.metrics import _f64, _inner, _range, _ssim_maps

F64 = npt.NDArray[np.float64]
HEADLINE = ("pearson_r", "ssim", "f1", "recall", "precision", "faint_quartile_recall")


@dataclass(frozen=True, slots=True)
class Blocks:
    """Per-block sums of one model on one test split (each field an array, one per block)."""

    n: F64
    sp: F64
    st: F64
    spp: F64
    stt: F64
    spt: F64
    ssim_sum: F64
    ssim_n: F64
    tp: F64
    fn: F64
    fp: F64
    faint_tp: F64
    faint_n: F64

    def take(self, idx: npt.NDArray[np.intp]) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)[idx].sum()) for f in fields(self)}


def _block_index(shape: tuple[int, int], block_px: int) -> tuple[npt.NDArray[np.intp], int]:
    h, w = shape
    nx = -(-w // block_px)
    yy, xx = np.indices(shape)
    return (yy // block_px) * nx + xx // block_px, (-(-h // block_px)) * nx


def _per_block(index: npt.NDArray[np.intp], n: int, values: npt.NDArray[np.float64]) -> F64:
    return np.bincount(index.ravel(), values.ravel(), minlength=n).astype(np.float64)


def _centroid_blocks(labels: Labels, index: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    from scipy import ndimage as ndi

    k = int(labels.max())
    if k == 0:
        return np.zeros(0, np.intp)
    cents = np.atleast_2d(np.asarray(ndi.center_of_mass(labels > 0, labels, range(1, k + 1))))
    cy = np.clip(np.round(cents[:, 0]).astype(np.intp), 0, labels.shape[0] - 1)
    cx = np.clip(np.round(cents[:, 1]).astype(np.intp), 0, labels.shape[1] - 1)
    return index[cy, cx]


def image_blocks(
    pred: npt.NDArray[np.float32],
    target: npt.NDArray[np.float32],
    true: Labels,
    faint_threshold: float,
    block_px: int,
    floor: float,
    scale_px: float,
) -> Blocks:
    """Block sums of one prediction against one target with its true nuclei."""
    index, n = _block_index(target.shape, block_px)
    p, t = _f64(pred), _f64(target)
    lum, cs = _ssim_maps(p, t, _range(target, None))
    inner = np.zeros(target.shape, np.float64)
    _inner(inner)[...] = 1.0
    found = segment_nuclei(pred, "halfmax", floor, scale_px)
    m = match(true, found)
    t_blocks, p_blocks = _centroid_blocks(true, index), _centroid_blocks(found, index)
    sums = np.bincount(true.ravel(), t.ravel(), minlength=int(true.max()) + 1)[1:]
    counts = np.bincount(true.ravel(), minlength=int(true.max()) + 1)[1:]
    faint = sums / np.maximum(counts, 1) <= faint_threshold

    def count(blocks: npt.NDArray[np.intp], weights: npt.NDArray[np.bool_]) -> F64:
        return np.bincount(blocks, weights.astype(np.float64), minlength=n).astype(np.float64)

    return Blocks(
        n=_per_block(index, n, np.ones_like(t)),
        sp=_per_block(index, n, p),
        st=_per_block(index, n, t),
        spp=_per_block(index, n, p * p),
        stt=_per_block(index, n, t * t),
        spt=_per_block(index, n, p * t),
        ssim_sum=_per_block(index, n, lum * cs * inner),
        ssim_n=_per_block(index, n, inner),
        tp=count(t_blocks, m.true_matched),
        fn=count(t_blocks, ~m.true_matched),
        fp=count(p_blocks, ~m.pred_matched),
        faint_tp=count(t_blocks, m.true_matched & faint),
        faint_n=count(t_blocks, faint),
    )


def concat(parts: Sequence[Blocks]) -> Blocks:
    return Blocks(
        **{f.name: np.concatenate([getattr(b, f.name) for b in parts]) for f in fields(Blocks)}
    )


def metrics_of(s: dict[str, float]) -> dict[str, float]:
    """The headline metrics from summed block statistics."""
    n = s["n"]
    cov = s["spt"] - s["sp"] * s["st"] / n
    var = (s["spp"] - s["sp"] ** 2 / n) * (s["stt"] - s["st"] ** 2 / n)
    tp, fn, fp = s["tp"], s["fn"], s["fp"]
    nan = float("nan")
    return {
        "pearson_r": cov / np.sqrt(var) if var > 0 else nan,
        "ssim": s["ssim_sum"] / s["ssim_n"] if s["ssim_n"] else nan,
        "f1": 2 * tp / (2 * tp + fn + fp) if tp + fn + fp else nan,
        "recall": tp / (tp + fn) if tp + fn else nan,
        "precision": tp / (tp + fp) if tp + fp else nan,
        "faint_quartile_recall": s["faint_tp"] / s["faint_n"] if s["faint_n"] else nan,
    }


@dataclass(frozen=True, slots=True)
class Interval:
    value: float  # on all blocks (mean over seeds)
    low: float  # 2.5th percentile of the bootstrap
    high: float  # 97.5th
    seed_sd: float  # standard deviation over seeds (0 for one seed)


def _percentile(samples: npt.NDArray[np.float64], q: float) -> float:
    """Percentile of the finite samples (NaN when none: e.g. no nucleus in the split)."""
    finite = samples[np.isfinite(samples)]
    return float(np.percentile(finite, q)) if finite.size else float("nan")


def _seed_mean(runs: Sequence[Blocks], idx: npt.NDArray[np.intp]) -> dict[str, float]:
    per = [metrics_of(b.take(idx)) for b in runs]
    return {k: float(np.mean([m[k] for m in per])) for k in HEADLINE}


def bootstrap(
    models: Mapping[str, Sequence[Blocks]], draws: int = 1000, seed: int = 0
) -> tuple[dict[str, dict[str, Interval]], npt.NDArray[np.intp]]:
    """Intervals of each model's seed-mean metrics; also returns the draws (for pairs)."""
    n_blocks = len(next(iter(models.values()))[0].n)
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, n_blocks, size=(draws, n_blocks))
    everything = np.arange(n_blocks)
    out: dict[str, dict[str, Interval]] = {}
    for name, runs in models.items():
        point = _seed_mean(runs, everything)
        per_seed = [metrics_of(b.take(everything)) for b in runs]
        samples = np.array([[_seed_mean(runs, d)[k] for k in HEADLINE] for d in draw])
        out[name] = {
            k: Interval(
                point[k],
                _percentile(samples[:, j], 2.5),
                _percentile(samples[:, j], 97.5),
                float(np.std([m[k] for m in per_seed])),
            )
            for j, k in enumerate(HEADLINE)
        }
    return out, draw


def difference(
    a: Sequence[Blocks], b: Sequence[Blocks], draw: npt.NDArray[np.intp]
) -> dict[str, Interval]:
    """Seed-mean metric of ``a`` minus that of ``b``, with a paired block-bootstrap interval;
    ``seed_sd`` is the larger of the two models' seed-to-seed standard deviations."""
    everything = np.arange(len(a[0].n))
    pa, pb = _seed_mean(a, everything), _seed_mean(b, everything)
    diffs = np.array([[_seed_mean(a, d)[k] - _seed_mean(b, d)[k] for k in HEADLINE] for d in draw])
    sd = {
        k: max(float(np.std([metrics_of(x.take(everything))[k] for x in runs])) for runs in (a, b))
        for k in HEADLINE
    }
    return {
        k: Interval(
            pa[k] - pb[k],
            _percentile(diffs[:, j], 2.5),
            _percentile(diffs[:, j], 97.5),
            sd[k],
        )
        for j, k in enumerate(HEADLINE)
    }
