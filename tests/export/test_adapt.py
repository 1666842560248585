"""aglu-train adapt: plan, budget, fine-tune, export, ship and report on a lab's fields
(a real tiny base model, real files laid out as aglu-edge capture writes them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from click.testing import CliRunner

from edge.errors import ConfigError
from edge.infer.model import SessionConfig, load_model
from edge.sim.phantom import SimulationConfig, simulate_pair
from edge.sources.mm.capture import RECIPE
from export.adapt import AdaptOptions, adapt_recipe, choose_fields, run_adapt
from export.base import check_fit, resolve_base
from export.train_cli import main
from training.config import load_train_config, parse_train_config
from training.crossval.compare import load_spec


def _capture_like(folder: Path, fields: int = 3, modality: str = "qpi") -> Path:
    """``fields`` paired positions as ``aglu-edge capture`` writes them (OME-TIFF, C Y X,
    the channels named) with its recipe."""
    folder.mkdir()
    sim = SimulationConfig(height_px=128, width_px=128)
    for p in range(fields):
        pair = simulate_pair(sim, 500 + p)
        stack = np.stack([pair.label_free, pair.dapi_e]).astype(np.float32)
        meta = {"axes": "CYX", "Channel": {"Name": ["QPI", "DAPI"]}}
        tifffile.imwrite(folder / f"pos{p:03d}.ome.tif", stack, metadata=meta, ome=True)
    (folder / "recipe.toml").write_text(
        RECIPE.format(
            n=fields,
            folder=folder.name,
            name="lab",
            label_free="QPI",
            stain="DAPI",
            modality=modality,
        )
    )
    return folder


def test_fields_are_held_out_and_never_trained_on() -> None:
    names = ["pos000", "pos001", "pos002"]
    assert choose_fields(names, AdaptOptions()) == (("pos000", "pos001"), ("pos002",))
    assert choose_fields(
        names, AdaptOptions(test_fields=("pos000",), train_fields=("pos002",))
    ) == (
        ("pos002",),
        ("pos000",),
    )
    with pytest.raises(ConfigError, match="at least one field must be held out"):
        choose_fields(names, AdaptOptions(hold_out=3))
    with pytest.raises(ConfigError, match="at least one field must be held out"):
        choose_fields(["pos000"], AdaptOptions())
    with pytest.raises(ConfigError, match=r"no field\(s\) \['pos009'\]"):
        choose_fields(names, AdaptOptions(test_fields=("pos009",)))
    with pytest.raises(ConfigError, match="both trained on and held out"):
        choose_fields(names, AdaptOptions(test_fields=("pos001",), train_fields=("pos001",)))


def test_the_recipe_keeps_the_base_rules_and_the_last_step(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    data = load_train_config(_capture_like(tmp_path / "lab") / "recipe.toml")
    base = resolve_base(tiny_checkpoint, data, tmp_path / "base")
    cfg = adapt_recipe(base, data, ("pos000", "pos001"), ("pos002",), 40, "x", AdaptOptions())
    assert cfg.init == tiny_checkpoint and cfg.name == "x"
    assert (cfg.stages.vae_steps, cfg.stages.translator_steps, cfg.stages.joint_steps) == (0, 0, 0)
    assert cfg.stages.end_to_end_steps == 40
    assert cfg.optim.val_every == 0 and cfg.data.validation == "training"
    assert cfg.optim.lr == pytest.approx(base.cfg.optim.lr * 0.25)
    assert cfg.loss.warmup_steps == 0 and cfg.loss.latent_weight == base.cfg.loss.latent_weight
    assert cfg.data.crop_px == base.cfg.data.crop_px == 64
    assert cfg.data.test_groups == ("pos002",) and cfg.data.train_groups == ("pos000", "pos001")
    assert cfg.model == base.cfg.model
    # a base read back from ONNX has no auxiliary VAE parts: their terms are off
    onnx_like = type(base)(base.label, base.cfg, base.checkpoint, base.model_file, ("x",))
    off = adapt_recipe(onnx_like, data, ("pos000",), ("pos002",), 40, "x", AdaptOptions())
    assert off.loss.latent_weight == off.loss.dapi_rec_weight == off.loss.kl_weight == 0.0


def test_data_the_base_cannot_read_is_refused_in_one_line(tmp_path: Path) -> None:
    base = parse_train_config({"data": {"modality": "qpi"}}, "base")
    data = load_train_config(
        _capture_like(tmp_path / "bf", modality="bright-field") / "recipe.toml"
    )
    with pytest.raises(ConfigError, match="the data is bright-field, aglu-qpi reads qpi"):
        check_fit(base, data, "aglu-qpi")


def test_a_validation_of_training_fields_cannot_select() -> None:
    with pytest.raises(ConfigError, match="val_every must be 0"):
        parse_train_config(
            {"data": {"validation": "training"}, "optim": {"val_every": 10}}, "recipe"
        )


def test_adapt_from_an_exported_model_end_to_end(
    tiny_checkpoint: Path,
    tiny_export,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    lab = _capture_like(tmp_path / "lab")
    onnx = tmp_path / "models" / tiny_export.fp32.name
    onnx.parent.mkdir()
    shutil.copyfile(tiny_export.fp32, onnx)
    config = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)["config"]
    (onnx.parent / "tiny.recipe.json").write_text(json.dumps(config))
    out = tmp_path / "adapted"
    opts = AdaptOptions(steps=30, hold_out=1, draws=50)
    result = run_adapt(lab, onnx, out, opts)
    assert result.train_fields == ("pos000", "pos001") and result.test_fields == ("pos002",)
    # the recipe written reruns as it ran; the held-out field is not in its training split
    cfg = load_train_config(result.recipe)
    assert cfg.data.test_groups == ("pos002",) and "pos002" not in cfg.data.train_groups
    assert cfg.stages.end_to_end_steps == 30 and cfg.loss.latent_weight == 0.0
    # the shipped file loads in the edge, with its quality blocks and the lab's name
    card = load_model(result.model, SessionConfig()).card
    assert card.name == "tiny-lab" and card.calibration is not None
    assert card.calibration.split.startswith("training fields")
    assert card.recipe_sha256 == cfg.sha256()
    metrics = json.loads((result.report.parent / "metrics.json").read_text())
    assert set(metrics["rows"]) == {"adapted", "base", "texture floor", "ridge floor"}
    assert [u["experiment"] for u in metrics["units"]] == ["pos002"] * len(metrics["units"])
    # the report reruns from its spec
    spec = load_spec(result.report.parent / "compare.toml")
    assert [r.label for r in spec.rows] == ["adapted", "base"]
    assert spec.rows[1].models == (onnx.resolve(),)
    with pytest.raises(ConfigError, match="not empty"):
        run_adapt(lab, onnx, out, opts)
    # deploy: one request swaps it into a running daemon (the file as adapt wrote it)
    from edge.net.control import request
    from tests.edge.test_ctl_load import _daemon

    daemon, _ = _daemon(1)
    try:
        reply = request(daemon.control_endpoint, "load", 60, model=str(result.model))
        assert reply["model"]["name"] == "tiny-lab"
        assert daemon.status()["model"]["sha256"] == reply["model"]["sha256"]
    finally:
        daemon.stop()


def test_adapt_cli_from_a_checkpoint_within_a_budget(tiny_checkpoint: Path, tmp_path: Path) -> None:
    lab = _capture_like(tmp_path / "lab")
    out = tmp_path / "adapted"
    args = ["adapt", str(lab), "--base", str(tiny_checkpoint), "--out", str(out)]
    args += ["--minutes", "0.3", "--no-ship", "--draws", "50", "--test-fields", "pos000"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert (
        "steps/s here" in res.output and "adapted" in res.output and "texture floor" in res.output
    )
    cfg = load_train_config(out / "recipe.toml")
    assert cfg.data.train_groups == ("pos001", "pos002")
    assert cfg.stages.end_to_end_steps >= 20
    bad = CliRunner().invoke(
        main, ["adapt", str(lab), "--base", "no-such", "--out", str(tmp_path / "o2")]
    )
    assert bad.exit_code != 0 and "no-such" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "o2").exists()  # a failed plan leaves nothing: rerun as it is
