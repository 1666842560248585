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
    from training.fit.train import fit

    cfg = parse_train_config(TINY_RECIPE, "tiny recipe")
    return fit(cfg, tmp_path_factory.mktemp("run"), progress=False).checkpoint


@pytest.fixture(scope="session")
def tiny_export(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from export.pipeline import ExportOptions, run_export

    opts = ExportOptions(
        calibration_frames=2, parity_frames=2, side_px=64, max_pearson_loss=1.0, max_recall_loss=1.0
    )  # tiny untrained model: no gate
    return run_export(tiny_checkpoint, tmp_path_factory.mktemp("export"), opts)


def write_stack_pair(folder: Path, planes: int = 3, shape: tuple[int, int] = (96, 160)) -> Path:
    """A phase-contrast-like z-stack and a nuclear target with a few blobs, as TIFF files."""
    import numpy as np
    import tifffile

    rng = np.random.default_rng(0)
    yy, xx = np.indices(shape)
    target = np.zeros(shape, np.float32)
    for cy, cx in rng.integers(8, min(shape) - 8, size=(12, 2)):
        target += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)
    stack = np.stack([target * (p + 1) + rng.normal(0, 0.1, shape) for p in range(planes)])
    tifffile.imwrite(
        folder / "stack.tif", (1000 + 500 * stack).astype(np.uint16), photometric="minisblack"
    )
    tifffile.imwrite(folder / "target.tif", (100 + 900 * target).astype(np.uint16))
    return folder


STACK_RECIPE = """
name = "tiny-stack"
[data]
source = "files"
input_path = "stack.tif"
target_path = "target.tif"
input_planes = [0, 2]
modality = "phase-contrast"
normalize = "dataset"
test_columns_from = 128
val_fraction = 0.25
crop_px = 64
[model]
encoder_widths = [4, 8, 8]
latent_channels = 4
translator_width = 8
[stages]
vae_steps = 0
translator_steps = 0
joint_steps = 0
end_to_end_steps = 4
[loss]
pixel = "recall_mse"
per_nucleus = true
[optim]
batch_size = 2
lr = 1e-3
checkpoint_every = 2
"""


@pytest.fixture(scope="session")
def tiny_stack_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'files' recipe (3 phase-contrast planes, fixed normalisation) beside its data."""
    folder = write_stack_pair(tmp_path_factory.mktemp("stack"))
    (folder / "recipe.toml").write_text(STACK_RECIPE)
    return folder / "recipe.toml"


@pytest.fixture(scope="session")
def tiny_stack_checkpoint(
    tiny_stack_recipe: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A real 3-plane phase-contrast model (AGLU with skips, one schedule)."""
    from training.config import load_train_config
    from training.fit.train import fit

    cfg = load_train_config(tiny_stack_recipe)
    return fit(cfg, tmp_path_factory.mktemp("run-stack"), progress=False).checkpoint


@pytest.fixture(scope="session")
def tiny_stack_export(tiny_stack_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from export.pipeline import ExportOptions, run_export

    opts = ExportOptions(
        calibration_frames=2, parity_frames=2, side_px=64, max_pearson_loss=1.0, max_recall_loss=1.0
    )
    return run_export(tiny_stack_checkpoint, tmp_path_factory.mktemp("export-stack"), opts)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the clone (CI has it; a user's fresh clone does not)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(
            f"shared evaluation data not found at {path} (only beside the project's CI clone)"
        )
    return path
