"""aglu-train crossval on a small synthetic grouped folder dataset, and its parts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.files import EXPERIMENTS, write_grouped_folders
from training.crossval.folds import plan_folds

RECIPE = """
name = "{name}"
[data]
source = "folders"
path = "data"
input_channel = "bf"
target_channel = "nuc"
mask_channel = "gt_mask"
modality = "bright-field"
group_pattern = "(exp[A-E])_f"
crop_px = 64
[model]
kind = "{kind}"
encoder_widths = [4, 8, 8]
latent_channels = 4
translator_width = 8
unet_depth_width = 8
[stages]
vae_steps = 0
translator_steps = 0
joint_steps = 0
end_to_end_steps = 3
pixel_steps = 3
[loss]
pixel = "mse"
[optim]
batch_size = 2
lr = 1e-3
val_every = 3
checkpoint_every = 3
"""


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grouped")
    write_grouped_folders(root / "data")
    for kind in ("aglu", "unet"):
        (root / f"{kind}.toml").write_text(RECIPE.format(name=f"tiny-{kind}", kind=kind))
    return root


def test_folds_test_every_experiment_once_and_validate_inside_their_training() -> None:
    sizes = {"a": 2, "b": 3, "c": 3, "d": 7, "e": 12, "f": 9, "g": 8}
    folds = plan_folds(sizes, 4, first=("a", "b"), val_groups=2)
    tested = [g for f in folds for g in f.test]
    assert sorted(tested) == sorted(sizes) and len(tested) == len(set(tested))
    assert folds[0].test == ("a", "b")
    for f in folds:
        assert len(f.val) == 2 and not set(f.val) & set(f.test)
        assert set(f.train) | set(f.val) | set(f.test) == set(sizes)
        assert not set(f.train) & set(f.val)
    loads = [sum(sizes[g] for g in f.test) for f in folds[1:]]
    assert max(loads) - min(loads) <= 3  # balanced by fields: 12 | 12 | 15


def test_crossval_runs_scores_and_reports_per_experiment_with_floors(grouped: Path) -> None:
    """2 folds, 2 model kinds, 2 seeds, a few steps: every experiment tested once, its
    row in the report, both floors, hierarchical intervals, paired differences."""
    from training.cli import main

    out = grouped / "study"
    args = ["crossval", str(grouped / "aglu.toml"), str(grouped / "unet.toml")]
    args += ["--out", str(out), "--folds", "2", "--seeds", "0,1", "--draws", "50"]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "metrics.json").read_text())
    assert sorted({u["experiment"] for u in doc["units"]}) == list(EXPERIMENTS)
    assert {u["fold"] for u in doc["units"]} == {1, 2}
    assert [f["test"] for f in doc["folds"]] == [["expA", "expC", "expE"], ["expB", "expD"]]
    rows = doc["rows"]
    assert set(rows) == {"tiny-aglu", "tiny-unet", "texture floor", "ridge floor"}
    assert rows["tiny-aglu"]["seeds"] == [0, 1] and rows["texture floor"]["seeds"] == [0]
    r = rows["texture floor"]["headline"]["pearson_r"]
    assert r["low"] <= r["value"] <= r["high"]
    assert r["value"] > 0.3  # the synthetic input is textured exactly where nuclei are
    assert set(rows["tiny-unet"]["per_experiment"]) == set(EXPERIMENTS)
    assert set(doc["differences"]["tiny-aglu"]) == {"tiny-unet", "texture floor", "ridge floor"}
    assert doc["detection_truth"] == "the dataset's own nucleus masks"
    text = (out / "report.md").read_text()
    for needle in (
        "Headline (expected figures: mean over seeds and folds)",
        "mean per-experiment r",
        "hierarchical bootstrap",
        "expE",
        "texture floor",
        "ridge floor",
        "Paired differences",
        "haze share",
        "Picked on validation",
    ):
        assert needle.lower() in text.lower(), needle
    assert (out / "panel-fold1.png").is_file() and (out / "panel-fold2.png").is_file()
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == 2 * 2 * 2  # kinds x folds x seeds, one folder each


def test_crossval_refuses_runs_of_another_fold_plan(grouped: Path) -> None:
    from training.cli import main

    out = grouped / "study"
    res = CliRunner().invoke(
        main,
        ["crossval", str(grouped / "unet.toml"), "--out", str(out), "--folds", "3", "--train-only"],
    )
    assert res.exit_code == 2 and "other folds" in res.output


def test_two_model_kinds_with_the_same_seed_draw_the_same_crops(
    grouped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paired baselines: AGLU (one end-to-end stage) and the U-Net (one pixel stage) of
    one seed train on identical crops and augmentations; another seed draws others."""
    import training.fit.train as train_mod
    from training.config import apply_overrides, load_train_config

    seen: dict[str, list[tuple[np.ndarray, ...]]] = {}
    real = train_mod.random_batch

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        batch = real(*args, **kwargs)
        seen.setdefault(current, []).append(tuple(a.copy() for a in batch))
        return batch

    monkeypatch.setattr(train_mod, "random_batch", recording)
    for current, kind, seed in (("aglu", "aglu", 0), ("unet", "unet", 0), ("other", "unet", 1)):
        cfg = apply_overrides(
            load_train_config(grouped / f"{kind}.toml"),
            ("optim.val_every=0", f"optim.seed={seed}"),
            name=f"pair-{current}",
        )
        train_mod.fit(cfg, grouped / "pairs" / current, progress=False)
    assert len(seen["aglu"]) == len(seen["unet"]) == 3
    for a, b in zip(seen["aglu"], seen["unet"], strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(seen["aglu"][0][0], seen["other"][0][0])


def test_checkpoint_selection_and_the_int8_gate_never_read_test_experiments(
    grouped: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every field that training (with validation selection) and the export (calibration
    and the int8 parity gate) turn into arrays comes from a training or validation
    experiment: the test experiment's fields are never built."""
    import training.data.fields as data_mod
    from export.pipeline import ExportOptions, run_export
    from training.config import apply_overrides, load_train_config
    from training.fit.train import fit

    built: list[str] = []
    real = data_mod.to_fields

    def recording(pairs, *args, **kwargs):  # type: ignore[no-untyped-def]
        built.extend(p.origin for p in pairs)
        return real(pairs, *args, **kwargs)

    monkeypatch.setattr(data_mod, "to_fields", recording)
    cfg = apply_overrides(
        load_train_config(grouped / "aglu.toml"),
        ('data.test_groups=["expA"]', 'data.val_groups=["expB"]', "optim.val_every=1"),
        name="no-peek",
    )
    ckpt = fit(cfg, tmp_path / "run", progress=False).checkpoint
    opts = ExportOptions(2, 2, 64, max_pearson_loss=1.0, max_recall_loss=1.0)
    run_export(ckpt, tmp_path / "export", opts)
    assert built and any("expB_" in o for o in built)  # validation fields were used
    assert not [o for o in built if "expA_" in o]
    built.clear()
    data_mod.build_fields(cfg, "test")  # the spy does see test fields when asked for them
    assert built and all("expA_" in o for o in built)
