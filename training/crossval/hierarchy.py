"""Headline metrics per experiment and their hierarchical bootstrap. Pure numpy.

Input: per model an array ``stats[seed, unit, stat]`` of sufficient statistics of
each scored unit (a test field, or a tile of the one test field of a one-image
dataset; ``training.crossval.score``), and the experiment of every unit.

An experiment's figure: the mean over its units of the per-unit Pearson r, SSIM and
haze shares; nuclei F1, recall, precision and faint-quartile recall from its units'
summed detection counts. A model's headline: the mean over experiments of those
figures, averaged over seeds (the expected figure, never the best run). The pooled
Pearson r over every test pixel is a secondary, labelled figure.

The bootstrap resamples what must generalise, level by level: experiments with
replacement, then units within each drawn experiment, then seeds; the same draws
for every model, so differences are paired (same experiments, fields and seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Idx = npt.NDArray[np.intp]

STATS = (
    "pearson_r",
    "ssim",
    "haze_pred",
    "haze_target",
    "tp",
    "fn",
    "fp",
    "faint_tp",
    "faint_n",
    "n",
    "sp",
    "st",
    "spp",
    "stt",
    "spt",
)
S = {name: i for i, name in enumerate(STATS)}
MEANS = ("pearson_r", "ssim", "haze_pred", "haze_target")  # averaged over units
METRICS = (
    "pearson_r",
    "ssim",
    "f1",
    "faint_quartile_recall",
    "recall",
    "precision",
    "haze_pred",
    "haze_target",
)
POOLED = "pooled_pearson_r"


def _ratio(num: F64, den: F64) -> F64:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def nanmean(a: F64, axis: int) -> F64:
    """Mean of the finite values along ``axis`` (NaN where there are none), silently."""
    finite = np.isfinite(a)
    return _ratio(np.where(finite, a, 0.0).sum(axis=axis), finite.sum(axis=axis).astype(float))


def per_experiment(stats: F64, groups: Idx, n_groups: int) -> dict[str, F64]:
    """Each metric per seed and experiment: ``stats`` (seeds, units, stats), ``groups``
    the experiment index of each unit -> metric -> (seeds, experiments)."""
    onehot = np.zeros((len(groups), n_groups))
    onehot[np.arange(len(groups)), groups] = 1.0
    finite = np.isfinite(stats)
    sums = np.einsum("suk,ug->sgk", np.where(finite, stats, 0.0), onehot)
    counts = np.einsum("suk,ug->sgk", finite.astype(float), onehot)
    out = {m: _ratio(sums[..., S[m]], counts[..., S[m]]) for m in MEANS}
    tp, fn, fp = (sums[..., S[k]] for k in ("tp", "fn", "fp"))
    out["f1"] = _ratio(2 * tp, 2 * tp + fn + fp)
    out["recall"] = _ratio(tp, tp + fn)
    out["precision"] = _ratio(tp, tp + fp)
    out["faint_quartile_recall"] = _ratio(sums[..., S["faint_tp"]], sums[..., S["faint_n"]])
    return out


def pooled_r(stats: F64) -> F64:
    """Pearson r over every pixel of the given units, per seed (from pixel sums)."""
    s = {k: stats[..., S[k]].sum(axis=1) for k in ("n", "sp", "st", "spp", "stt", "spt")}
    cov = s["spt"] - s["sp"] * s["st"] / s["n"]
    var = (s["spp"] - s["sp"] ** 2 / s["n"]) * (s["stt"] - s["st"] ** 2 / s["n"])
    return _ratio(cov, np.sqrt(np.maximum(var, 0.0)))


def headline(stats: F64, groups: Idx, n_groups: int) -> dict[str, float]:
    """Mean over seeds of the mean over experiments of each metric, and the pooled r."""
    per = per_experiment(stats, groups, n_groups)
    out = {m: float(nanmean(nanmean(v, axis=1)[None], axis=1)[0]) for m, v in per.items()}
    out[POOLED] = float(nanmean(pooled_r(stats)[None], axis=1)[0])
    return out


@dataclass(frozen=True, slots=True)
class Design:
    """Which experiment each unit belongs to (units of all folds, in one order)."""

    experiments: tuple[str, ...]
    groups: Idx  # per unit, index into experiments

    @classmethod
    def of(cls, unit_experiments: Sequence[str]) -> Design:
        names = tuple(sorted(set(unit_experiments)))
        return cls(names, np.array([names.index(e) for e in unit_experiments], np.intp))

    def units_of(self, g: int) -> Idx:
        return np.flatnonzero(self.groups == g)


@dataclass(frozen=True, slots=True)
class Draw:
    units: Idx  # the drawn units (with repeats)
    groups: Idx  # the drawn experiment slot of each drawn unit
    n_groups: int
    seed_u: F64  # uniforms that pick the seeds of a model with any number of seeds

    def seeds(self, n_seeds: int) -> Idx:
        u = (
            self.seed_u[:n_seeds]
            if n_seeds <= len(self.seed_u)
            else np.resize(self.seed_u, n_seeds)
        )
        return np.minimum((u * n_seeds).astype(np.intp), n_seeds - 1)


def draws(design: Design, n: int, max_seeds: int, seed: int = 0) -> list[Draw]:
    """``n`` hierarchical draws: experiments, then units within each, then seeds."""
    rng = np.random.default_rng(seed)
    members = [design.units_of(g) for g in range(len(design.experiments))]
    out = []
    for _ in range(n):
        chosen = rng.integers(0, len(members), size=len(members))
        units = [members[e][rng.integers(0, len(members[e]), size=len(members[e]))] for e in chosen]
        groups = [np.full(len(u), j, np.intp) for j, u in enumerate(units)]
        out.append(
            Draw(np.concatenate(units), np.concatenate(groups), len(chosen), rng.random(max_seeds))
        )
    return out


def _on(stats: F64, d: Draw) -> dict[str, float]:
    return headline(stats[d.seeds(len(stats))][:, d.units], d.groups, d.n_groups)


@dataclass(frozen=True, slots=True)
class Interval:
    value: float  # on all the data (the expected figure: mean over seeds)
    low: float  # 2.5th percentile of the bootstrap
    high: float  # 97.5th
    seed_sd: float  # standard deviation over seeds of the figure (0 for one seed)


def _percentiles(samples: F64) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if not finite.size:
        return float("nan"), float("nan")
    return float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def seed_sd(stats: F64, design: Design) -> dict[str, float]:
    """The standard deviation over seeds of each headline metric (0 for one seed)."""
    n_groups = len(design.experiments)
    per_seed = [headline(stats[s : s + 1], design.groups, n_groups) for s in range(len(stats))]
    out = {}
    for m in per_seed[0]:
        v = np.array([x[m] for x in per_seed])
        v = v[np.isfinite(v)]
        out[m] = float(v.std()) if v.size else float("nan")
    return out


def intervals(stats: F64, design: Design, drawn: Sequence[Draw]) -> dict[str, Interval]:
    """Every headline metric with its hierarchical-bootstrap interval and seed spread."""
    point = headline(stats, design.groups, len(design.experiments))
    sd = seed_sd(stats, design)
    samples = [_on(stats, d) for d in drawn]
    return {
        m: Interval(point[m], *_percentiles(np.array([x[m] for x in samples])), sd[m])
        for m in point
    }


def difference(a: F64, b: F64, design: Design, drawn: Sequence[Draw]) -> dict[str, Interval]:
    """Headline of ``a`` minus that of ``b`` on the same draws (paired); ``seed_sd`` is the
    larger seed spread of the two."""
    n_groups = len(design.experiments)
    pa, pb = headline(a, design.groups, n_groups), headline(b, design.groups, n_groups)
    da, db = [_on(a, d) for d in drawn], [_on(b, d) for d in drawn]
    sa, sb = seed_sd(a, design), seed_sd(b, design)
    return {
        m: Interval(
            pa[m] - pb[m],
            *_percentiles(np.array([x[m] - y[m] for x, y in zip(da, db, strict=True)])),
            max(sa[m], sb[m]),
        )
        for m in pa
    }


def experiment_table(stats: F64, design: Design) -> dict[str, dict[str, tuple[float, float]]]:
    """experiment -> metric -> (mean over seeds, seed sd)."""
    per = per_experiment(stats, design.groups, len(design.experiments))
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for g, name in enumerate(design.experiments):
        out[name] = {}
        for m, v in per.items():
            col = v[:, g]
            fin = col[np.isfinite(col)]
            out[name][m] = (
                (float(fin.mean()), float(fin.std())) if fin.size else (float("nan"), float("nan"))
            )
    return out


def picked(stats: F64, val_r: F64, unit_folds: Idx) -> F64:
    """The stats of the run a 'pick the best seed' rule takes per fold, by validation r
    only: (1, units, stats). ``val_r`` is (seeds, folds); a fold whose runs have no
    validation figure takes seed 0."""
    filled = np.where(np.isfinite(val_r), val_r, -np.inf)
    best = filled.argmax(axis=0)  # per fold
    return stats[best[unit_folds], np.arange(stats.shape[1])][None]
