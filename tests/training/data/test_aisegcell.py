"""The aiSEGcell recipes split the real data by experiment (skips without ../shared)."""

from pathlib import Path

import pytest

from training.config import load_train_config
from training.data.fields import build_fields

RECIPES = Path(__file__).parents[3] / "training" / "recipes" / "aisegcell"


def _experiments(origins: list[str]) -> set[str]:
    return {Path(o).name.split("__")[1][:10] for o in origins}


@pytest.mark.parametrize("name", ["aglu", "unet-mse", "unet-recall", "finetune"])
def test_recipes_parse_and_name_bright_field(shared_data: Path, name: str) -> None:
    cfg = load_train_config(RECIPES / f"{name}.toml")
    assert cfg.data.modality == "bright-field" and cfg.data.mask_channel == "gt_mask"
    assert cfg.data.path is not None
    assert cfg.data.path.resolve() == (shared_data / "aisegcell-bf").resolve()


def test_split_by_experiment_with_the_authors_masks(shared_data: Path) -> None:
    cfg = load_train_config(RECIPES / "aglu.toml")
    train, val, test = (build_fields(cfg, s) for s in ("train", "val", "test"))
    assert _experiments(test.origins) == {"240417YZ15", "190905WW12"} and len(test.qpi) == 5
    assert _experiments(val.origins) == {"200313SK20"}
    assert _experiments(train.origins) == {"181024TK20", "200925SK30", "210930MA20", "220524DS30"}
    # connected components of the authors' masks: 492 (the manifest counts 491 nuclei;
    # one of 190905WW12_p0011 is in two pieces)
    assert sum(int(r.max()) for r in test.reference if r is not None) == 492


def test_crossval_folds_test_every_experiment_once_with_the_fixed_pair_as_fold_1(
    shared_data: Path,
) -> None:
    """4 folds over the 7 experiments; fold 1 is the recipe's test pair; each fold
    validates on 2 experiments of its own training split."""
    from training.crossval.runs import fields_per_experiment, folds_for

    cfg = load_train_config(RECIPES / "aglu.toml")
    counts = fields_per_experiment(cfg)
    assert sum(counts.values()) == 44 and len(counts) == 7
    folds = folds_for(cfg, 4)
    assert folds[0].test == ("190905WW12", "240417YZ15")
    assert sorted(g for f in folds for g in f.test) == sorted(counts)
    for f in folds:
        assert len(f.val) == 2 and not {*f.val} & {*f.test} and not {*f.val} & {*f.train}
