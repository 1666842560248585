"""``aglu-train compare SPEC.toml``: rows of given model files (one per seed) on one test split.

The spec names the recipe whose test split every row is scored on, and rows of
models (one file per seed: ``.pt`` checkpoints or ``.onnx`` exports). Each
model's input is built by its own recipe (e.g. 1 or 13 planes); the targets, their
normalisation and the nucleus rules are the spec recipe's, so every row is scored
on the same truth. Both floors (``training.evaluate.floors``), fitted on the recipe's
training split, are added as rows. Scoring, intervals and the report are
``aglu-train crossval``'s (``training.crossval``), as one fold: per-experiment
figures, a hierarchical bootstrap over experiments, fields and seeds, and paired
differences of the challenger against every other row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from edge.settings import read_toml
from training.config import TrainConfig, load_train_config
from training.crossval.folds import Fold, fixed_fold
from training.crossval.score import fold_truth
from training.crossval.study import Builder, Study, add_floors, same_split, validation_r
from training.data.fields import Fields, build_fields
from training.evaluate.score import Predict

KEYS = {"title", "description", "recipe", "rows", "compare", "draws", "tile_px"}


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
    draws: int
    tile_px: int


def _rel(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def _rows(raw: dict[str, Any], base: Path) -> tuple[Row, ...]:
    return tuple(
        Row(
            str(r["label"]),
            tuple(_rel(base, m) for m in r["models"]),
            str(r.get("kind", "main")),
            str(r.get("note", "")),
            _rel(base, r["recipe"]) if "recipe" in r else None,
        )
        for r in raw["rows"]
    )


def load_spec(path: Path) -> Spec:
    raw = read_toml(path)
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise ConfigError(str(path), f"unknown spec field(s) {unknown}; known: {sorted(KEYS)}")
    try:
        rows = _rows(raw, path.parent)
        spec = Spec(
            path,
            str(raw["title"]),
            str(raw.get("description", "")),
            _rel(path.parent, raw["recipe"]),
            rows,
            str(raw["compare"]["challenger"]),
            int(raw.get("draws", 1000)),
            int(raw.get("tile_px", 256)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(str(path), f"missing or bad spec field {exc}") from None
    if spec.challenger not in {r.label for r in rows}:
        raise ConfigError(str(path), f"challenger {spec.challenger!r} is not a row label")
    for r in rows:
        if not r.models:
            raise ConfigError(str(path), f"row {r.label!r} names no model")
        for m in r.models:
            if not m.is_file():
                raise ConfigError(str(path), f"row {r.label!r}: model {m} does not exist")
    return spec


def predictor(
    model: Path, row_recipe: Path | None, spec_cfg: TrainConfig
) -> tuple[Predict, TrainConfig]:
    """The predict function of a model file and the recipe its input is built with: the
    row's recipe where it names one (e.g. a base model on a lab's own fields), else an
    ONNX file's spec recipe or a checkpoint's own."""
    from training.evaluate.predictors import onnx_predictor, torch_predictor

    if model.suffix == ".onnx":
        cfg = load_train_config(row_recipe) if row_recipe else spec_cfg
        return onnx_predictor(model), cfg
    predict, own = torch_predictor(model)  # a checkpoint: its own recipe, unless the row names one
    return predict, load_train_config(row_recipe) if row_recipe else own


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


def spec_fold(cfg: TrainConfig) -> Fold:
    """The recipe's own split, as the one fold of a comparison."""
    d = cfg.data
    if d.group_pattern is None or not d.test_groups:
        return fixed_fold()
    train = d.train_groups or ("every other experiment",)
    val = d.val_groups or (
        ("none: the last step is kept",)
        if d.validation == "training"
        else ("a share of the training files",)
    )
    return Fold(1, d.test_groups, val, train)


def run(spec: Spec, progress: Callable[[str], None] = lambda _: None) -> Study:
    cfg = load_train_config(spec.recipe)
    fold = spec_fold(cfg)
    truth = fold_truth(build_fields(cfg, "test"), 1, cfg.data.nucleus_floor, spec.tile_px)
    b = Builder([fold])
    b.fold(truth, fold)
    progress("floors")
    add_floors(b, fold, build_fields(cfg, "train"), truth)
    inputs: dict[str, Fields] = {}
    for row in spec.rows:
        for seed, model in enumerate(row.models):
            progress(f"{row.label}: {model.name}")
            predict, model_cfg = predictor(model, row.recipe, cfg)
            key = model_cfg.data.model_dump_json()
            if key not in inputs:
                inputs[key] = build_fields(model_cfg, "test")
            same_split(inputs[key], truth.fields, str(model))
            check_inputs(model, inputs[key])
            preds = [predict(q) for q in inputs[key].qpi]
            b.add(row.label, row.kind, seed, fold, preds, truth, validation_r(model), row.note)
    rows, notes = b.rows()
    return Study(
        spec.title,
        cfg.data.modality,
        (fold,),
        tuple(b.units),
        tuple(rows),
        spec.challenger,
        b.detection,
        tuple(b.panels),
        tuple(notes),
        spec.description,
        origin="compare",
    )
