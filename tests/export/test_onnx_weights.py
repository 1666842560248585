"""Weights read back from ONNX files into the torch model (export.onnx_weights): exact for
fp32 exports, within int8 rounding for the shipped int8 model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.errors import ModelError
from edge.infer.model import SessionConfig, load_model, shipped_models
from export.base import resolve_base
from export.onnx_weights import AUXILIARY
from training.config import parse_train_config
from training.data.fields import build_fields
from training.models.build import load_checkpoint

SIMULATED = parse_train_config({"data": {"field_px": 128, "train_fields": 3}}, "simulated data")


def _beside_its_recipe(export: Path, checkpoint: Path, folder: Path) -> Path:
    """A copy of an exported file with ``NAME.recipe.json`` beside it, as models ship."""
    copy = folder / export.name
    shutil.copyfile(export, copy)
    config = torch.load(checkpoint, map_location="cpu", weights_only=True)["config"]
    (folder / f"{export.name.split('.')[0]}.recipe.json").write_text(json.dumps(config))
    return copy


def _outputs(model: torch.nn.Module, frames: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return np.stack([model(torch.from_numpy(f[None]))[0][0, 0].numpy() for f in frames])


def test_fp32_export_reads_back_to_the_trained_function(
    tiny_checkpoint: Path,
    tiny_export,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    onnx = _beside_its_recipe(tiny_export.fp32, tiny_checkpoint, tmp_path)
    base = resolve_base(onnx, SIMULATED, tmp_path / "read-back")
    ckpt = base.checkpoint
    assert base.missing == AUXILIARY and base.model_file == onnx
    original, cfg = load_checkpoint(tiny_checkpoint)
    back, back_cfg = load_checkpoint(ckpt)
    assert back_cfg.sha256() == cfg.sha256()
    frames = [q[:, :64, :64] for q in build_fields(SIMULATED, "val").qpi]
    want, got = _outputs(original, frames), _outputs(back.eval(), frames)
    assert np.abs(got - want).max() < 1e-4 * (np.ptp(want) or 1.0)
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)["read_back"]
    assert saved["max_error_of_range"] < 1e-4
    assert saved["missing_auxiliary"] == list(AUXILIARY)
    # the folded batch norms were refitted: training mode gives the same function on the
    # data they were fitted on (batch statistics = the running ones), up to batch noise
    train_fields = build_fields(SIMULATED, "train")
    batch = torch.from_numpy(np.stack([q[:, :64, :64] for q in train_fields.qpi]))
    with torch.no_grad():
        eval_out = back.eval()(batch)[0]
        train_out = back.train()(batch)[0]
    r = np.corrcoef(eval_out.numpy().ravel(), train_out.numpy().ravel())[0, 1]
    assert r > 0.98


def test_the_shipped_int8_model_reads_back_within_its_rounding(tmp_path: Path) -> None:
    shipped = shipped_models()["aglu-brightfield"]["int8"]
    bright_field = parse_train_config(  # the base reads bright-field: statistics from any
        {"data": {"field_px": 128, "train_fields": 3, "modality": "bright-field"}}, "data"
    )
    ckpt = resolve_base(Path("brightfield"), bright_field, tmp_path).checkpoint
    model, _ = load_checkpoint(ckpt)
    loaded = load_model(shipped, SessionConfig())
    frames = [q[:, :128, :128] for q in build_fields(bright_field, "val").qpi]
    ours = _outputs(model, frames)
    ref = np.stack(
        [loaded.session.run(["dapi"], {loaded.input_name: f[None]})[0][0, 0] for f in frames]
    )
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.99


def test_a_model_without_its_recipe_or_with_another_is_refused(
    tiny_checkpoint: Path,
    tiny_export,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(tiny_export.fp32, alone / tiny_export.fp32.name)
    with pytest.raises(ModelError, match="no recipe beside it"):
        resolve_base(alone / tiny_export.fp32.name, SIMULATED, tmp_path / "x")
    onnx = _beside_its_recipe(tiny_export.fp32, tiny_checkpoint, tmp_path)
    recipe = tmp_path / f"{onnx.name.split('.')[0]}.recipe.json"
    config = json.loads(recipe.read_text())
    config["loss"]["nucleus_weight"] = 7.0
    recipe.write_text(json.dumps(config))
    with pytest.raises(ModelError, match="not the one it was trained with"):
        resolve_base(onnx, SIMULATED, tmp_path / "y")


def test_data_a_shipped_base_cannot_read_is_refused_before_any_read_back(
    tmp_path: Path,
) -> None:
    from edge.errors import ConfigError

    with pytest.raises(ConfigError, match="the data is qpi, aglu-brightfield reads bright-field"):
        resolve_base(Path("brightfield"), SIMULATED, tmp_path / "work")
    assert not (tmp_path / "work").exists()  # nothing read back, nothing written


def test_a_base_is_a_checkpoint_a_file_or_a_shipped_name(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    base = resolve_base(tiny_checkpoint, SIMULATED, tmp_path)
    assert base.checkpoint == tiny_checkpoint and base.missing == ()
    from edge.errors import ConfigError

    with pytest.raises(ConfigError, match="shipped model's name"):
        resolve_base(Path("no-such-model"), SIMULATED, tmp_path)
