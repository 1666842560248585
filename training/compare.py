"""``aglu-train compare SPEC.toml``: several models, several seeds each, one real test split.

The spec names the recipe whose test split every row is scored on, and rows of
models (one file per seed: ``.pt`` checkpoints or ``.onnx`` exports). Each
model's input is built by its own recipe (e.g. 1 or 13 planes); the targets,
their normalisation and the nucleus rules are the spec recipe's, so every row
is scored on the same truth. Results: every metric per row and seed
(``training.evaluate.score``), headline metrics with seed spread and 95% block
bootstrap intervals, and paired differences of a challenger against baselines
(``training.bootstrap``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from training import bootstrap
from training.config import TrainConfig, load_train_config
from training.data import Fields, build_fields
from training.evaluate import Predict, scale_of, score, true_instances

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    models: tuple[Path, ...]
    kind: str  # "main" or "ablation"
    note: str
    recipe: Path | None  # for .onnx rows whose input recipe differs from the spec's


@dataclass(frozen=True, slots=True)
class Spec:
    path: Path
    title: str
    description: str
    recipe: Path
    rows: tuple[Row, ...]
    challenger: str
    baselines: tuple[str, ...]
    block_px: int
    draws: int


def _rel(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def load_spec(path: Path) -> Spec:
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), f"not a readable TOML spec ({exc})") from None
    base = path.parent
    try:
        rows = tuple(
            Row(
                str(r["label"]),
                tuple(_rel(base, m) for m in r["models"]),
                str(r.get("kind", "main")),
                str(r.get("note", "")),
                _rel(base, r["recipe"]) if "recipe" in r else None,
            )
            for r in raw["rows"]
        )
        spec = Spec(
            path,
            str(raw["title"]),
            str(raw.get("description", "")),
            _rel(base, raw["recipe"]),
            rows,
            str(raw["compare"]["challenger"]),
            tuple(raw["compare"]["baselines"]),
            int(raw.get("block_px", 128)),
            int(raw.get("draws", 1000)),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(str(path), f"missing or bad spec field {exc}") from None
    labels = {r.label for r in rows}
    for name in (spec.challenger, *spec.baselines):
        if name not in labels:
            raise ConfigError(str(path), f"compare names row {name!r}, which is not in rows")
    for r in rows:
        for m in r.models:
            if not m.is_file():
                raise ConfigError(str(path), f"row {r.label!r}: model {m} does not exist")
    return spec


def predictor(
    model: Path, row_recipe: Path | None, spec_cfg: TrainConfig
) -> tuple[Predict, TrainConfig]:
    """The predict function of a model file and the recipe its input is built with."""
    from training.predictors import onnx_predictor, torch_predictor

    if model.suffix == ".onnx":
        cfg = load_train_config(row_recipe) if row_recipe else spec_cfg
        return onnx_predictor(model), cfg
    return torch_predictor(model)


def check_inputs(model: Path, fields: Fields) -> None:
    """An ONNX model's card must normalise as the recipe that builds its input does."""
    if model.suffix != ".onnx":
        return
    from edge.infer.model import SessionConfig, load_model

    card = load_model(model, SessionConfig()).card
    if card.normalization.to_normalization() != fields.input_norm:
        raise ConfigError(
            str(model), "its card's normalisation differs from its recipe's: wrong recipe for it?"
        )


def _blocks(preds: list[F32], truth: Fields, floor: float, block_px: int) -> bootstrap.Blocks:
    truths, means = [], []
    for i, target in enumerate(truth.dapi):
        true = true_instances(
            truth.labels[i], truth.brightness[i], target, "halfmax", floor, scale_of(truth, i)
        )[0]
        truths.append(true)
        n = int(true.max())
        sums = np.bincount(true.ravel(), target.ravel().astype(np.float64), n + 1)[1:]
        means.append(sums / np.maximum(np.bincount(true.ravel(), minlength=n + 1)[1:], 1))
    pooled = np.concatenate(means)
    faint = float(np.quantile(pooled, 0.25)) if pooled.size else -np.inf
    return bootstrap.concat(
        [
            bootstrap.image_blocks(p, t, lab, faint, block_px, floor, scale_of(truth, i))
            for i, (p, t, lab) in enumerate(zip(preds, truth.dapi, truths, strict=True))
        ]
    )


def validation_r(model: Path) -> float:
    """The validation Pearson r a checkpoint's weights were selected by (NaN if none)."""
    if model.suffix != ".pt":
        return float("nan")
    import torch

    stages = torch.load(model, map_location="cpu", weights_only=True).get("stages") or [{}]
    return float(stages[-1].get("val_pearson_r", float("nan")))


@dataclass
class Scored:
    metrics: dict[str, list[dict[str, float]]]  # row label -> per seed
    blocks: dict[str, list[bootstrap.Blocks]]
    first: dict[str, F32]  # row label -> seed 0 prediction of field 0
    truth: Fields


def run(spec: Spec, progress: Callable[[str], None] = lambda _: None) -> Scored:
    cfg = load_train_config(spec.recipe)
    truth = build_fields(cfg, "test")
    floor = cfg.data.nucleus_floor
    out = Scored({}, {}, {}, truth)
    inputs: dict[str, Fields] = {}
    for row in spec.rows:
        out.metrics[row.label], out.blocks[row.label] = [], []
        for model in row.models:
            progress(f"{row.label}: {model.name}")
            predict, model_cfg = predictor(model, row.recipe, cfg)
            key = model_cfg.data.model_dump_json()
            if key not in inputs:
                inputs[key] = build_fields(model_cfg, "test")
            fields = inputs[key]
            if [d.shape for d in fields.dapi] != [d.shape for d in truth.dapi]:
                raise ConfigError(str(model), "its recipe's test split differs from the spec's")
            check_inputs(model, fields)
            preds = [predict(q) for q in fields.qpi]
            out.metrics[row.label].append(
                score(preds, truth, floor) | {"val_pearson_r": validation_r(model)}
            )
            out.blocks[row.label].append(_blocks(preds, truth, floor, spec.block_px))
            out.first.setdefault(row.label, preds[0])
    return out
