"""The per-experiment headline and its hierarchical bootstrap (pure numpy)."""

from __future__ import annotations

import numpy as np

from training.crossval import hierarchy as h


def _stats(r_per_unit: list[float], seeds: int = 1, spread: float = 0.0) -> np.ndarray:
    """(seeds, units, stats) with the given unit r (+ spread x seed), 4 true nuclei per
    unit of which r x 4 (rounded) are found."""
    out = np.zeros((seeds, len(r_per_unit), len(h.STATS)))
    for s in range(seeds):
        for u, r in enumerate(r_per_unit):
            out[s, u, h.S["pearson_r"]] = r + spread * s
            out[s, u, h.S["ssim"]] = r / 2
            tp = round(4 * min(max(r, 0.0), 1.0))
            out[s, u, h.S["tp"]], out[s, u, h.S["fn"]] = tp, 4 - tp
            out[s, u, h.S["n"]] = 1.0
    return out


def test_each_experiment_counts_once_however_many_fields_it_has() -> None:
    """Ten fields of one experiment at r 0.9 and one field of another at 0.1: the
    headline is 0.5 (a field mean would say 0.83)."""
    design = h.Design.of(["big"] * 10 + ["small"])
    stats = _stats([0.9] * 10 + [0.1])
    got = h.headline(stats, design.groups, len(design.experiments))
    assert abs(got["pearson_r"] - 0.5) < 1e-12
    assert abs(got["f1"] - (2 * 4 / (2 * 4) + 0.0) / 2) < 1e-12  # F1 1 and 0, averaged
    table = h.experiment_table(stats, design)
    np.testing.assert_allclose(table["big"]["pearson_r"], (0.9, 0.0), atol=1e-12)
    assert abs(table["small"]["pearson_r"][0] - 0.1) < 1e-12


def test_intervals_cover_seed_spread_and_differences_are_paired() -> None:
    """Two seeds at r 0.0 and 0.4 everywhere: the interval spans both (the block bootstrap
    it replaces gave an interval far narrower than the seed spread); a model minus itself
    is exactly 0; a model better on every unit is better with an interval above 0."""
    design = h.Design.of(["a", "a", "b", "b", "c"])
    drawn = h.draws(design, 400, max_seeds=2)
    spread = _stats([0.0] * 5, seeds=2, spread=0.4)
    iv = h.intervals(spread, design, drawn)["pearson_r"]
    assert abs(iv.value - 0.2) < 1e-12 and abs(iv.seed_sd - 0.2) < 1e-12
    assert iv.low <= 0.0 + 1e-12 and iv.high >= 0.4 - 1e-12
    good, bad = _stats([0.6, 0.7, 0.5, 0.6, 0.8]), _stats([0.2, 0.3, 0.1, 0.4, 0.3])
    assert all(
        v.value == 0 and v.low == 0 == v.high
        for v in h.difference(good, good, design, drawn).values()
        if np.isfinite(v.value)
    )
    d = h.difference(good, bad, design, drawn)["pearson_r"]
    assert d.low > 0 and d.value > 0.3


def test_the_picked_run_is_chosen_by_validation_only() -> None:
    """Per fold, the seed with the best validation r; its test figure can be lower than
    another seed's (that is the point of reporting the expected figure beside it)."""
    stats = _stats([0.1, 0.1, 0.1], seeds=2, spread=0.5)  # seed 1 is better on test
    val_r = np.array([[0.9, 0.2], [0.1, 0.3]])  # fold 1 picks seed 0, fold 2 seed 1
    folds = np.array([0, 0, 1])
    got = h.picked(stats, val_r, folds)
    assert got.shape == (1, 3, len(h.STATS))
    np.testing.assert_allclose(got[0, :, h.S["pearson_r"]], [0.1, 0.1, 0.6])


def test_pooled_r_is_the_pixel_pooled_correlation() -> None:
    rng = np.random.default_rng(0)
    t = [rng.normal(size=50) for _ in range(3)]
    p = [x + rng.normal(scale=0.5, size=50) for x in t]
    stats = np.zeros((1, 3, len(h.STATS)))
    for u, (a, b) in enumerate(zip(p, t, strict=True)):
        stats[0, u, [h.S[k] for k in ("n", "sp", "st", "spp", "stt", "spt")]] = (
            a.size,
            a.sum(),
            b.sum(),
            (a * a).sum(),
            (b * b).sum(),
            (a * b).sum(),
        )
    want = np.corrcoef(np.concatenate(p), np.concatenate(t))[0, 1]
    assert abs(h.pooled_r(stats)[0] - want) < 1e-12
