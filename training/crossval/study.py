"""Score every model and both floors on every fold: the numbers behind a report.

``run_study`` (``aglu-train crossval``): per fold, the first recipe's test split is
the truth; each recipe's checkpoint of each seed predicts the fold's test fields from
its own inputs; both floors are fitted on the fold's training split. ``Builder``
collects the per-unit statistics (``training.crossval.score``) and keeps, per row,
the seeds that have a run on every fold. ``aglu-train compare`` builds a one-fold
study from given model files with the same ``Builder``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from training.config import TrainConfig
from training.crossval import runs
from training.crossval.folds import Fold
from training.crossval.score import FoldTruth, Unit, fold_stats, fold_truth
from training.data.fields import Fields, build_fields
from training.evaluate.floors import fit_floors

logger = logging.getLogger(__name__)
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Predict = Callable[[F32], F32]
FLOOR = "floor"


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    kind: str  # "main", "ablation" or "floor"
    stats: F64  # (seeds, units, stats)
    val_r: F64  # (seeds, folds): the validation figure each run was selected by (NaN: none)
    seeds: tuple[int, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Panel:
    fold: Fold
    field: str
    plane: F32
    target: F32
    preds: dict[str, F32]


@dataclass(frozen=True, slots=True)
class Study:
    title: str
    modality: str
    folds: tuple[Fold, ...]
    units: tuple[Unit, ...]
    rows: tuple[Row, ...]
    challenger: str
    detection: str
    panels: tuple[Panel, ...]
    notes: tuple[str, ...] = ()
    description: str = ""
    # "crossval": fresh runs per fold (rows are expected figures); "compare": named model
    # files on one split (a row is what its files score, however they were selected)
    origin: Literal["crossval", "compare"] = "crossval"

    def row(self, label: str) -> Row:
        return next(r for r in self.rows if r.label == label)


@dataclass
class Builder:
    """Collects per-fold statistics by (row, seed) in fold order."""

    folds: list[Fold]
    units: list[Unit] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    stats: dict[str, dict[int, dict[int, F64]]] = field(default_factory=dict)
    val_r: dict[str, dict[int, dict[int, float]]] = field(default_factory=dict)
    panels: list[Panel] = field(default_factory=list)
    detection: str = ""

    def fold(self, truth: FoldTruth, fold: Fold) -> Panel:
        """Start a fold: its units, and the panel of its first test field."""
        self.units += truth.units
        self.detection = truth.detection
        f = truth.fields
        q = f.qpi[0]
        panel = Panel(fold, truth.units[0].label, q[q.shape[0] // 2], f.dapi[0], {})
        self.panels.append(panel)
        return panel

    def add(
        self,
        label: str,
        kind: str,
        seed: int,
        fold: Fold,
        preds: list[F32],
        truth: FoldTruth,
        val_r: float = float("nan"),
        note: str = "",
    ) -> None:
        self.kinds.setdefault(label, kind)
        if note:
            self.notes.setdefault(label, note)
        self.stats.setdefault(label, {}).setdefault(seed, {})[fold.index] = fold_stats(preds, truth)
        self.val_r.setdefault(label, {}).setdefault(seed, {})[fold.index] = val_r
        self.panels[-1].preds.setdefault(label, preds[0])

    def rows(self) -> tuple[list[Row], list[str]]:
        """Rows with the seeds that ran on every fold; notes on what was left out."""
        out, left = [], []
        every = [f.index for f in self.folds]
        for label, by_seed in self.stats.items():
            seeds = tuple(s for s in sorted(by_seed) if all(i in by_seed[s] for i in every))
            dropped = sorted(set(by_seed) - set(seeds))
            if dropped:
                left.append(f"{label}: seed(s) {dropped} left out (not run on every fold)")
            if not seeds:
                left.append(f"{label}: not scored (no seed has a run on every fold)")
                continue
            stats = np.stack([np.concatenate([by_seed[s][i] for i in every]) for s in seeds])
            val = np.array([[self.val_r[label][s][i] for i in every] for s in seeds])
            out.append(Row(label, self.kinds[label], stats, val, seeds, self.notes.get(label, "")))
        return out, left


def add_floors(b: Builder, fold: Fold, train: Fields, truth: FoldTruth) -> None:
    """Both floors, fitted on the fold's training split, predicting its test inputs."""
    for floor in fit_floors(train.qpi, train.dapi):
        b.add(floor.name, FLOOR, 0, fold, [floor(q) for q in truth.fields.qpi], truth)


def validation_r(model: Path) -> float:
    """The validation figure a checkpoint's weights were selected by (NaN if none)."""
    if model.suffix != ".pt":
        return float("nan")
    import torch

    stages = torch.load(model, map_location="cpu", weights_only=True).get("stages") or [{}]
    return float(stages[-1].get("val_pearson_r", float("nan")))


def same_split(inputs: Fields, truth: Fields, what: str) -> None:
    from edge.errors import ConfigError

    if [d.shape for d in inputs.dapi] != [d.shape for d in truth.dapi]:
        raise ConfigError(what, "its recipe's test split differs from the study's")


def run_study(
    cfgs: list[TrainConfig], folds: list[Fold], seeds: list[int], out_dir: Path, tile_px: int
) -> Study:
    """Score every recipe's runs of every fold and seed, and both floors."""
    from training.evaluate.predictors import torch_predictor
    from training.fit.progress import progress

    b = Builder(list(folds))
    missing: list[str] = []
    for fold in progress(folds, desc="score", unit="fold"):
        truth_cfg = runs.fold_recipe(cfgs[0], fold, seeds[0])
        truth = fold_truth(
            build_fields(truth_cfg, "test"), fold.index, truth_cfg.data.nucleus_floor, tile_px
        )
        b.fold(truth, fold)
        add_floors(b, fold, build_fields(truth_cfg, "train"), truth)
        inputs: dict[str, Fields] = {}
        for c in cfgs:
            for s in seeds:
                ckpt = runs.checkpoint_path(out_dir, c, fold, s)
                if not ckpt.is_file():
                    missing.append(ckpt.parent.name)
                    continue
                predict, model_cfg = torch_predictor(ckpt)
                key = model_cfg.data.model_dump_json()
                if key not in inputs:
                    inputs[key] = build_fields(model_cfg, "test")
                same_split(inputs[key], truth.fields, str(ckpt))
                preds = [predict(q) for q in inputs[key].qpi]
                b.add(c.name, "main", s, fold, preds, truth, validation_r(ckpt))
    rows, notes = b.rows()
    if missing:
        notes.insert(0, f"runs not trained yet, left out: {', '.join(missing)}")
    return Study(
        f"Cross-validation by experiment: {', '.join(c.name for c in cfgs)}",
        cfgs[0].data.modality,
        tuple(folds),
        tuple(b.units),
        tuple(rows),
        cfgs[0].name,
        b.detection,
        tuple(b.panels),
        tuple(notes),
    )
