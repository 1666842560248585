import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edge.errors import ConfigError, ModelError
from tests.conftest import TINY_RECIPE
from training.config import load_train_config, parse_train_config
from training.evaluate.predictors import default_recipe_path
from training.fit.train import fit, load_checkpoint


def test_checkpoint_figures_and_resolved_recipe(tiny_checkpoint: Path) -> None:
    model, cfg = load_checkpoint(tiny_checkpoint)
    assert cfg.name == "tiny" and not model.training
    run = tiny_checkpoint.parent
    assert (run / "config.resolved.json").exists()
    for stage in ("vae", "translator", "joint"):
        assert (run / f"stage-{stage}.pt").exists()
        for fig in ("loss", "samples"):
            png = run / f"{stage}-{fig}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stages = torch.load(tiny_checkpoint, weights_only=True)["stages"]
    assert [s["name"] for s in stages] == ["vae", "translator", "joint"]


def test_interrupted_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    """Stop mid-stage, rerun: the result equals an uninterrupted run bit for bit
    (same RNG, optimiser and scheduler state restored; CPU kernels are deterministic)."""
    cfg = parse_train_config(TINY_RECIPE, "tiny")
    straight = fit(cfg, tmp_path / "a", progress=False)
    part = fit(cfg, tmp_path / "b", progress=False, stop_after=3)
    assert part.interrupted
    part_s = torch.load(tmp_path / "b" / "stage-vae.pt", weights_only=True)["wall_s"]
    resumed = fit(cfg, tmp_path / "b", progress=False)
    assert [s.resumed_from for s in resumed.stages] == [3, 0, 0]
    assert resumed.stages[0].wall_s > part_s > 0  # training time adds up over resumes
    a = torch.load(straight.checkpoint, weights_only=True)["state_dict"]
    b = torch.load(resumed.checkpoint, weights_only=True)["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    again = fit(cfg, tmp_path / "b", progress=False)  # everything done: all stages skipped
    assert [s.resumed_from for s in again.stages] == [4, 4, 4]
    assert [s.wall_s for s in again.stages] == [s.wall_s for s in resumed.stages]


def test_shipped_recipe_parses() -> None:
    cfg = load_train_config(default_recipe_path())
    assert cfg.name == "aglu-qpi" and cfg.stages.end_to_end_steps > 0 and cfg.model.skips


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"loss": {"nucleus_weight": 0.5}}, r"loss\.nucleus_weight"),
        ({"simulation": {"faint_fraction": 3}}, r"simulation"),
        ({"data": {"source": "tiff"}}, r"data\.path': Field required"),
        ({"data": {"source": "tiff", "path": "x", "input_planes": [0, 2]}}, r"input_planes"),
        ({"data": {"crop_px": 100}}, r"multiple of 32"),
        ({"stagez": {}}, r"stagez"),
    ],
)
def test_bad_recipe_field_is_named(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_train_config(data, "recipe.toml")


def test_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not a readable checkpoint"):
        load_checkpoint(bad)


def test_cli_bad_recipe_is_one_line_and_exit_2(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text("[stages]\nvae_steps = -3\n")
    r = subprocess.run(
        [sys.executable, "-m", "training.cli", "fit", str(recipe)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "stages.vae_steps" in r.stderr and "Traceback" not in r.stderr


def test_cli_bad_data_folder_names_it(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[data]\nsource = "tiff"\npath = "{tmp_path / "nope"}"\n')
    r = subprocess.run(
        [sys.executable, "-m", "training.cli", "fit", str(recipe), "--out", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "nope: does not exist" in r.stderr


@pytest.mark.parametrize(
    "recipe",
    sorted((Path(__file__).parents[3] / "training" / "recipes").rglob("*.toml")),
    ids=lambda p: p.stem,
)
def test_every_shipped_recipe_parses(recipe: Path) -> None:
    cfg = load_train_config(recipe)
    assert cfg.name


def test_overrides_set_fields_and_name_bad_ones(tmp_path: Path) -> None:
    from training.config import apply_overrides

    cfg = parse_train_config(TINY_RECIPE, "tiny")
    out = apply_overrides(cfg, ("loss.nucleus_weight=3", "optim.seed=2", "data.modality=dic"), "x")
    assert (out.loss.nucleus_weight, out.optim.seed, out.data.modality, out.name) == (
        3,
        2,
        "dic",
        "x",
    )
    with pytest.raises(ConfigError, match=r"loss\.nucleus_wieght"):
        apply_overrides(cfg, ("loss.nucleus_wieght=3",))
    with pytest.raises(ConfigError, match=r"SECTION\.FIELD=VALUE"):
        apply_overrides(cfg, ("optim.seed",))


def test_recipe_hash_ignores_fields_left_at_their_defaults() -> None:
    cfg = parse_train_config(TINY_RECIPE, "tiny")
    same = parse_train_config({**TINY_RECIPE, "augment": {"plane_shift": 0}}, "tiny")
    other = parse_train_config({**TINY_RECIPE, "augment": {"plane_shift": 1}}, "tiny")
    assert cfg.sha256() == same.sha256() != other.sha256()


def test_model_selection_keeps_the_best_validation_weights_and_init_fine_tunes(
    tmp_path: Path,
) -> None:
    """val_every: the kept weights are those of the best validation score (re-scored
    here: the same number); --init starts from a checkpoint's weights."""
    from training.data.fields import build_fields
    from training.fit.monitor import val_score

    recipe = {
        **TINY_RECIPE,
        "stages": {"vae_steps": 0, "translator_steps": 0, "joint_steps": 0, "end_to_end_steps": 6},
        "optim": {**TINY_RECIPE["optim"], "val_every": 2},  # type: ignore[dict-item]
    }
    cfg = parse_train_config(recipe, "tiny")
    res = fit(cfg, tmp_path / "a", progress=False)
    stage = res.stages[0]
    assert stage.name == "end_to_end" and stage.kept_step in (2, 4, 6)
    model, _ = load_checkpoint(res.checkpoint)
    again = val_score(model, build_fields(cfg, "val"), torch.device("cpu"))
    assert abs(again - stage.val_pearson_r) < 1e-5
    tuned = fit(
        cfg.model_copy(update={"init": res.checkpoint, "name": "b"}), tmp_path / "b", progress=False
    )
    assert tuned.stages[0].steps == 6
    other = parse_train_config({**recipe, "model": {**TINY_RECIPE["model"], "skips": False}}, "t")  # type: ignore[dict-item]
    with pytest.raises(ModelError, match="cannot start from it"):
        fit(other.model_copy(update={"init": res.checkpoint}), tmp_path / "c", progress=False)
