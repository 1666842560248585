"""The ISL recipes read the real data with the fixed split (skips without ../shared)."""

from pathlib import Path

import numpy as np
import pytest

from training.config import load_train_config
from training.data.fields import build_fields

RECIPES = Path(__file__).parents[3] / "training" / "recipes" / "isl-condB"


@pytest.mark.parametrize(
    "name", ["aglu", "unet-mse", "unet-recall", "aglu-plane6", "unet-mse-plane6"]
)
def test_fixed_column_split(shared_data: Path, name: str) -> None:
    cfg = load_train_config(RECIPES / f"{name}.toml")
    assert (
        cfg.data.input_path is not None
        and cfg.data.input_path.resolve() == (shared_data / "isl-condB" / "phase_z13.tif").resolve()
    )
    if name != "aglu":
        return  # same data section; read the 28 MB stack once
    train, val, test = (build_fields(cfg, s) for s in ("train", "val", "test"))
    # 13 phase-contrast planes as channels; validation: the last 1/8 of columns 0..767
    assert train.qpi[0].shape == (13, 1024, 672) and val.qpi[0].shape == (13, 1024, 96)
    assert test.qpi[0].shape == (13, 1024, 256)  # columns 768..1023: never trained on
    assert "768:None" in test.origins[0] and np.isfinite(test.dapi[0]).all()
    # normalised by values measured on the training columns, the same for every split
    assert train.input_norm == test.input_norm and train.input_norm.method == "fixed"
    assert cfg.data.modality == "phase-contrast"


def test_crossval_of_the_one_image_is_its_fixed_split(shared_data: Path) -> None:
    """ISL condB is one field: crossval has one fold, the recipe's own column split, and
    scores its test quarter (1024 x 256) in four 256 px tiles."""
    from training.crossval.folds import FIXED
    from training.crossval.runs import fold_recipe, folds_for
    from training.crossval.score import fold_truth

    cfg = load_train_config(RECIPES / "aglu.toml")
    (fold,) = folds_for(cfg, 4)
    assert fold.test == (FIXED,) and fold_recipe(cfg, fold, 2).data == cfg.data
    truth = fold_truth(build_fields(cfg, "test"), 1, cfg.data.nucleus_floor, 256)
    assert [u.window for u in truth.units] == [
        (slice(y, y + 256), slice(0, 256)) for y in range(0, 1024, 256)
    ]
    assert {u.experiment for u in truth.units} == {"phase_z13.tif"}
