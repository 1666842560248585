from pathlib import Path

import pytest
import torch

from edge.errors import ConfigError, ModelError
from training.config import load_train_config, parse_train_config
from training.data import random_batch, simulated_fields
from training.train import load_checkpoint


def test_checkpoint_round_trips_with_resolved_recipe(tiny_checkpoint: Path) -> None:
    model, cfg = load_checkpoint(tiny_checkpoint)
    assert not model.training  # returned in eval mode, ready for inference
    assert cfg.name == "tiny" and cfg.model.translator_width == 8
    assert (tiny_checkpoint.parent / "config.resolved.json").exists()
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    assert ckpt["steps"] == 8 and len(ckpt["history"]) == 8


def test_batches_are_augmented_crops_of_normalised_fields() -> None:
    import numpy as np

    cfg = parse_train_config({"data": {"field_px": 64, "crop_px": 32}}, "t").data
    fields = simulated_fields(cfg, 2, 0)
    x, y, m = random_batch(fields, 4, 32, np.random.default_rng(0))
    assert x.shape == y.shape == m.shape == (4, 1, 32, 32)
    assert set(np.unique(m)) <= {0.0, 1.0}


def test_shipped_recipe_parses() -> None:
    cfg = load_train_config(Path(__file__).parents[2] / "training" / "recipes" / "default.toml")
    assert cfg.name == "aglu-default"


def test_bad_recipe_field_is_named() -> None:
    with pytest.raises(ConfigError, match=r"loss\.nucleus_weight"):
        parse_train_config({"loss": {"nucleus_weight": 0.5}}, "recipe.toml")


def test_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not a readable checkpoint"):
        load_checkpoint(bad)


def test_cli_bad_recipe_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    recipe = tmp_path / "r.toml"
    recipe.write_text("[optim]\nsteps = -3\n")
    r = subprocess.run(
        [sys.executable, "-m", "training.cli", "fit", str(recipe)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "optim.steps" in r.stderr and "Traceback" not in r.stderr
