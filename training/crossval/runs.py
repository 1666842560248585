"""The training runs of a cross-validation: one recipe per fold and seed, one folder each.

A fold's recipe is the study's recipe with the fold's experiments named
(``data.test_groups``, ``data.val_groups``, ``data.train_groups``) and the seed
set (``optim.seed``); its run goes to ``OUT/runs/NAME-foldK-sS/``. A finished run
(its checkpoint exists) is never trained again; an interrupted one resumes from its
stage checkpoint (``training.fit.train.fit``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from training.config import TrainConfig, parse_train_config
from training.crossval.folds import FIXED, Fold, fixed_fold, plan_folds
from training.data.fields import experiment_of, load_real_pairs

logger = logging.getLogger(__name__)


def fields_per_experiment(cfg: TrainConfig) -> dict[str, int]:
    """Experiment name -> number of fields of the recipe's real data."""
    return dict(Counter(experiment_of(p.origin, cfg.data) for p in load_real_pairs(cfg.data)))


def folds_for(cfg: TrainConfig, k: int, val_groups: int = 2) -> list[Fold]:
    """The folds of a recipe: by experiment (``data.group_pattern``), the recipe's own
    test experiments as fold 1; or, for one image split by columns, that fixed split."""
    d = cfg.data
    if d.group_pattern is None:
        if d.source == "files" and d.test_columns_from is not None:
            return [fixed_fold()]
        raise ConfigError(
            "data.group_pattern",
            "crossval needs experiments to hold out (a regex naming each file's experiment), "
            "or one image with data.test_columns_from",
        )
    return plan_folds(fields_per_experiment(cfg), k, d.test_groups, val_groups)


def fold_recipe(cfg: TrainConfig, fold: Fold, seed: int) -> TrainConfig:
    """The recipe of one fold and seed, validated again as a whole."""
    data: dict[str, Any] = cfg.model_dump(mode="python")
    data["name"] = run_name(cfg, fold, seed)
    data["optim"]["seed"] = seed
    if fold.test != (FIXED,):
        named = {"test_groups": fold.test, "val_groups": fold.val, "train_groups": fold.train}
        data["data"] |= named
    return parse_train_config(data, f"{cfg.name} {fold.name} seed {seed}")


def run_name(cfg: TrainConfig, fold: Fold, seed: int) -> str:
    return f"{cfg.name}-{fold.name}-s{seed}"


def checkpoint_path(out_dir: Path, cfg: TrainConfig, fold: Fold, seed: int) -> Path:
    name = run_name(cfg, fold, seed)
    return out_dir / "runs" / name / f"{name}.pt"


def train(cfg: TrainConfig, fold: Fold, seed: int, out_dir: Path, progress: bool = True) -> Path:
    """Train (or resume) one fold and seed; a finished run is returned as it is."""
    from training.fit.train import fit

    ckpt = checkpoint_path(out_dir, cfg, fold, seed)
    if ckpt.is_file():
        logger.info("%s: done already", ckpt.parent.name)
        return ckpt
    result = fit(fold_recipe(cfg, fold, seed), ckpt.parent, progress=progress)
    return result.checkpoint


def check_plan(out_dir: Path, folds: list[Fold]) -> None:
    """Write the fold plan beside the runs; refuse to mix runs of another plan (the data,
    the fold count or the recipe's test experiments changed)."""
    path = out_dir / "folds.json"
    plan = [{"test": f.test, "val": f.val, "train": f.train} for f in folds]
    text = json.dumps(plan, indent=2)
    if path.is_file() and json.loads(path.read_text()) != json.loads(text):
        raise ConfigError(
            str(path), "these runs were made with other folds: use another --out folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
