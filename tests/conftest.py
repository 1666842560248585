"""Shared fixtures: a tiny real checkpoint and its real ONNX exports (built once per run)."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_RECIPE = {
    "name": "tiny",
    "data": {"field_px": 64, "crop_px": 64, "train_fields": 4, "val_fields": 2},
    "model": {"encoder_widths": [4, 8, 8], "latent_channels": 4, "translator_width": 8},
    "stages": {"vae_steps": 4, "translator_steps": 4, "joint_steps": 4},
    "optim": {"batch_size": 2, "lr": 1e-3, "checkpoint_every": 2},
}


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.config import parse_train_config
    from training.train import fit

    cfg = parse_train_config(TINY_RECIPE, "tiny recipe")
    return fit(cfg, tmp_path_factory.mktemp("run"), progress=False).checkpoint


@pytest.fixture(scope="session")
def tiny_export(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from export.pipeline import ExportOptions, run_export

    opts = ExportOptions(
        calibration_frames=2, parity_frames=2, side_px=64, max_pearson_loss=1.0, max_recall_loss=1.0
    )  # tiny untrained model: no gate
    return run_export(tiny_checkpoint, tmp_path_factory.mktemp("export"), opts)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the clone (CI has it; a user's fresh clone does not)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(
            f"shared evaluation data not found at {path} (only beside the project's CI clone)"
        )
    return path
