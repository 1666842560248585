"""Make an exported model shippable: calibrate ``sigma`` on validation data, measure the
training inputs' statistics, check both on held-out data, and stamp them (with a name,
the training data's licence and the real-data metrics) into the card.

Nothing here changes the weights or the graph: only the card (ONNX metadata).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import AgluError
from edge.infer.card import CalibrationCard, InputStatsCard, ModelCard, TrainingDataCard
from edge.infer.model import SessionConfig, load_model
from edge.infer.preprocess import normalize
from edge.infer.quality import (
    MAX_DISTANCE,
    TILE_PX,
    InputModel,
    feature_names,
    fit_input_model,
    fit_sigma_scale,
    input_features,
    laplace_coverage,
    meter_for,
)
from edge.infer.stainer import Stainer
from export.onnx_graph import stamp_card
from training.config import FilesData, TrainConfig, load_train_config, parse_train_config
from training.data.fields import SEED_OFFSETS, Split, column_slice, load_real_pairs, split_pairs
from training.data.readers.base import ImagePair
from training.data.readers.load import simulated_pairs

F32 = npt.NDArray[np.float32]
LEVELS = (0.5, 0.9, 0.95)
PLOT_LEVELS = (*(round(0.05 * i, 2) for i in range(1, 20)), 0.99)


class ShipError(AgluError):
    pass


@dataclass(frozen=True, slots=True)
class ShipOptions:
    name: str
    licence: str
    source: str = ""
    compare_metrics: Path | None = None  # aglu-train compare's metrics.json
    compare_row: str | None = None  # its row for this model (default: the challenger)
    other_recipe: Path | None = None  # another modality's data, for the OOD check
    subframe_px: int = 768  # training "frames" for the input statistics
    sigma_stride: int = 2  # calibration pixels: every 2nd row and column


@dataclass(frozen=True, slots=True)
class Prediction:
    raw: npt.NDArray[Any]  # the input as the edge receives it: (Y, X) or (Z, Y, X)
    dapi: F32
    sigma: F32
    target: F32  # the true stain, normalised as in training


def load_recipe(path: Path) -> TrainConfig:
    """A recipe TOML, or the ``config.resolved.json`` a training run wrote."""
    if path.suffix == ".json":
        try:
            return parse_train_config(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, ValueError) as exc:
            raise ShipError(f"{path}: not a readable resolved recipe ({exc})") from None
    return load_train_config(path)


def _raw(p: ImagePair) -> npt.NDArray[Any]:
    return p.qpi[0] if p.qpi.shape[0] == 1 else p.qpi


def split_inputs(cfg: TrainConfig, split: Split) -> list[ImagePair]:
    d = cfg.data
    if d.source == "simulated":
        sim = dataclasses.replace(cfg.simulation, height_px=d.field_px, width_px=d.field_px)
        n = d.train_fields if split == "train" else d.val_fields
        return simulated_pairs(sim, n, d.seed + SEED_OFFSETS[split])
    return split_pairs(list(load_real_pairs(d)), split, d)


def predictions(stainer: Stainer, cfg: TrainConfig, split: Split) -> Iterator[Prediction]:
    """The model on every field of ``split``, whole. One-field data (split by columns) is
    predicted whole and cut afterwards, so no split sees an artificial edge."""
    card = stainer.model.card
    tnorm = card.target_normalization
    if tnorm is None:
        raise ShipError(f"model {card.name}: the card has no target normalisation")
    d = cfg.data
    pairs = list(load_real_pairs(d)) if d.source != "simulated" else []
    if len(pairs) == 1 and d.group_pattern is None:
        p = pairs[0]
        out = stainer.stain(_raw(p))
        test_from = d.test_columns_from if isinstance(d, FilesData) else None
        cols = column_slice(p.qpi.shape[-1], split, d.val_fraction, test_from)
        target = normalize(p.dapi, tnorm.to_normalization())
        yield Prediction(
            _raw(p)[..., cols], out["dapi"][:, cols], out["sigma"][:, cols], target[:, cols]
        )
        return
    for p in split_inputs(cfg, split):
        out = stainer.stain(_raw(p))
        target = normalize(p.dapi, tnorm.to_normalization())
        yield Prediction(_raw(p), out["dapi"], out["sigma"], target)


def _errors(preds: list[Prediction], stride: int) -> tuple[F32, F32]:
    e = np.concatenate([(p.dapi - p.target)[::stride, ::stride].ravel() for p in preds])
    s = np.concatenate([p.sigma[::stride, ::stride].ravel() for p in preds])
    return e, s


def coverage_table(e: F32, sigma: F32, scales: dict[float, float]) -> dict[str, float]:
    """Share of pixels in each level's Laplace interval, sigma times that level's scale."""
    return {f"{round(lv * 100)}": laplace_coverage(e, k * sigma, lv) for lv, k in scales.items()}


def subframes(raws: list[npt.NDArray[Any]], side_px: int) -> list[npt.NDArray[Any]]:
    """Frames of at most ``side_px`` cut from each field, overlapping by two thirds."""
    out = []
    for r in raws:
        h, w = r.shape[-2:]
        sh, sw = min(side_px, h), min(side_px, w)
        step_y, step_x = max(1, sh // 3), max(1, sw // 3)
        for y in range(0, h - sh + 1, step_y):
            for x in range(0, w - sw + 1, step_x):
                out.append(r[..., y : y + sh, x : x + sw])
    return out


MIN_TRAINING_FRAMES = 50


def frame_side(raws: list[npt.NDArray[Any]], side_px: int, tile_px: int) -> int:
    """The largest frame side, from ``side_px`` down to ``tile_px``, that cuts at least
    ``MIN_TRAINING_FRAMES`` frames from the training fields (one-field data needs small
    frames to have enough of them)."""
    side = side_px
    while side > tile_px and len(subframes(raws, side)) < MIN_TRAINING_FRAMES:
        side = max(tile_px, side * 2 // 3)
    return side


# Frames of the four kinds the edge must flag, made from a held-out frame.
def _blank(f: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.full_like(f, np.median(f))


def _dark(f: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """No light: the camera's offset and read noise (offset = the frame's 1st percentile)."""
    rng = np.random.default_rng(0)
    level = float(np.percentile(f, 1))
    noise = rng.normal(level, max(1.0, 0.01 * abs(level)), f.shape)
    return noise.astype(np.float32)


def _saturated(f: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Overexposed: the brightest 60% of pixels clip at the frame's maximum."""
    out: npt.NDArray[Any] = np.where(f > np.percentile(f, 40), f.max(), f)
    return out


def _zoom(f: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Twice the magnification: the centre half, upsampled 2x."""
    h, w = f.shape[-2:]
    c = f[..., h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2]
    return np.repeat(np.repeat(c, 2, axis=-1), 2, axis=-2)


def _shrink(f: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Half the magnification: 2x2 binning of the frame mirrored to twice its size."""
    m = np.concatenate([f, f[..., ::-1, :]], axis=-2)
    m = np.concatenate([m, m[..., ::-1]], axis=-1)
    h, w = m.shape[-2:]
    binned: npt.NDArray[Any] = m.reshape(*m.shape[:-2], h // 2, 2, w // 2, 2).mean(axis=(-1, -3))
    return binned.astype(np.float32)


KINDS: dict[str, Callable[[npt.NDArray[Any]], npt.NDArray[Any]]] = {
    "blank": _blank,
    "dark": _dark,
    "saturated": _saturated,
    "magnification x2": _zoom,
    "magnification x0.5": _shrink,
}


def other_modality(recipe: Path, planes: int, side_px: int) -> list[npt.NDArray[Any]]:
    """Held-out frames of another dataset, shaped as this model's input (one plane, or
    that plane repeated for a stack model)."""
    cfg = load_recipe(recipe)
    out = []
    for r in subframes([_raw(p) for p in split_inputs(cfg, "test")], side_px):
        plane = r if r.ndim == 2 else r[r.shape[0] // 2]
        out.append(plane if planes == 1 else np.repeat(plane[None], planes, axis=0))
    return out


@dataclass(frozen=True, slots=True)
class ShipReport:
    card: ModelCard
    coverage: dict[str, dict[str, float]]  # split -> level -> share
    curve: dict[str, list[float]]  # split -> coverage at PLOT_LEVELS
    flag_rates: dict[str, float]
    counts: dict[str, int]


def _flag_rate(inputs: InputModel, feats: npt.NDArray[np.float64]) -> float:
    """Share of frames (rows of statistics) out of distribution; NaN for none."""
    if not len(feats):
        return math.nan
    return float(np.mean([inputs.distance(f)[0] > MAX_DISTANCE for f in feats]))


def _sample(frames: list[npt.NDArray[Any]], n: int) -> list[npt.NDArray[Any]]:
    step = max(1, len(frames) // n)
    return frames[::step][:n]


def test_metrics(path: Path, row: str | None) -> dict[str, float]:
    """The model's row and each baseline's headline figures from a compare metrics.json."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ShipError(f"{path}: not a readable compare metrics.json ({exc})") from None
    rows = doc["rows"]
    label = row or next(iter(doc["differences"]))
    if label not in rows:
        raise ShipError(f"{path}: no row {label!r}; rows are {list(rows)}")
    out: dict[str, float] = {}
    for name, r in rows.items():
        prefix = "test" if name == label else "test_" + name.lower().replace(" ", "_")
        for metric, v in r["headline"].items():
            if v["value"] is not None and math.isfinite(v["value"]):
                out[f"{prefix}_{metric}"] = float(f"{v['value']:.4g}")
    return out


def run_ship(model_path: Path, recipe: Path, out: Path, opts: ShipOptions) -> ShipReport:
    cfg = load_recipe(recipe)
    model = load_model(model_path, SessionConfig())
    card = model.card
    if card.recipe_sha256 != cfg.sha256():
        raise ShipError(
            f"{model_path}: trained with recipe sha256 {card.recipe_sha256[:12]}, but {recipe} "
            f"is {cfg.sha256()[:12]} (pass the run's config.resolved.json)"
        )
    stainer = Stainer(model)
    val = list(predictions(stainer, cfg, "val"))
    test = list(predictions(stainer, cfg, "test"))
    e_val, s_val = _errors(val, opts.sigma_stride)
    e_test, s_test = _errors(test, opts.sigma_stride)
    scales = {lv: fit_sigma_scale(e_val, s_val, lv) for lv in LEVELS}
    k = scales[0.9]  # the header's calibrated sigma
    raw = dict.fromkeys(LEVELS, 1.0)
    coverage = {
        "val, raw sigma": coverage_table(e_val, s_val, raw),
        "val": coverage_table(e_val, s_val, scales),
        "test, raw sigma": coverage_table(e_test, s_test, raw),
        "test": coverage_table(e_test, s_test, scales),
    }
    curve = {
        "val, sigma x k90": [laplace_coverage(e_val, k * s_val, lv) for lv in PLOT_LEVELS],
        "test, sigma x k90": [laplace_coverage(e_test, k * s_test, lv) for lv in PLOT_LEVELS],
        "test, raw sigma": [laplace_coverage(e_test, s_test, lv) for lv in PLOT_LEVELS],
    }
    calibration = CalibrationCard(
        split="validation"
        if cfg.data.validation == "held-out"
        else "training fields (no validation split: aglu-train adapt)",
        sigma_scale=k,
        level_scales={f"{round(lv * 100)}": round(v, 6) for lv, v in scales.items()},
        sigma_high=float(np.percentile(k * s_val, 99)),
        coverage={
            f"{split}_{lv}": round(v, 4)
            for split in ("val", "test")
            for lv, v in coverage[split].items()
        },
    )
    names = feature_names(card.input_planes)
    norm = card.normalization.to_normalization()
    train_raw = [_raw(p) for p in split_inputs(cfg, "train")]
    side = frame_side(train_raw, opts.subframe_px, TILE_PX)
    train_frames = subframes(train_raw, side)

    def features(frames: list[npt.NDArray[Any]]) -> npt.NDArray[np.float64]:
        return np.array([input_features(f, norm) for f in frames])

    feats = features(train_frames)
    inputs = fit_input_model(names, feats)
    held = {
        "val": subframes([p.raw for p in val], side),
        "test": subframes([p.raw for p in test], side),
    }
    stats = InputStatsCard(
        features=names,
        center=inputs.center,
        scale=inputs.scale,
        bound=inputs.bound,
        tile_px=inputs.tile_px,
        grid=inputs.grid,
    )
    named = card.model_copy(
        update={"name": opts.name, "calibration": calibration, "input_stats": stats}
    )
    kinds_from = _sample(held["test"], 40)
    rates = {"training frames": _flag_rate(inputs, feats)}  # the statistics just fitted on
    rates |= {f"held-out {s} frames": _flag_rate(inputs, features(held[s])) for s in held}
    rates |= {
        kind: _flag_rate(inputs, features([fn(f) for f in kinds_from]))
        for kind, fn in KINDS.items()
    }
    if opts.other_recipe is not None:
        others = _sample(other_modality(opts.other_recipe, card.input_planes, side), 40)
        rates["another modality"] = _flag_rate(inputs, features(others))
    metrics = dict(card.metrics)
    if opts.compare_metrics is not None:
        metrics |= test_metrics(opts.compare_metrics, opts.compare_row)
    final = named.model_copy(
        update={
            "input_stats": stats.model_copy(
                update={
                    "flag_rates": {k: round(v, 4) for k, v in rates.items() if math.isfinite(v)}
                }
            ),
            "training_data": TrainingDataCard(
                description=card.dataset, licence=opts.licence, source=opts.source
            ),
            "metrics": metrics,
        }
    )
    _write_model(model_path, out, final)
    counts = {"training frames": len(train_frames)} | {
        f"held-out {s} frames": len(held[s]) for s in held
    }
    counts["frames per kind"] = len(kinds_from)
    counts["frame side px"] = side
    return ShipReport(final, coverage, curve, rates, counts)


def _write_model(src: Path, out: Path, card: ModelCard) -> None:
    """A copy of ``src`` with ``card``, written beside ``out`` and renamed over it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(src.read_bytes())
    stamp_card(tmp, card)
    loaded = load_model(tmp, SessionConfig())  # the edge accepts it, quality included
    if meter_for(loaded.card) is None:
        raise ShipError(f"{out}: the stamped card has no quality blocks")
    os.replace(tmp, out)
