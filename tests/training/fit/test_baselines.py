from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_RECIPE
from training.config import parse_train_config
from training.fit.train import fit, load_checkpoint
from training.models.ddpm import DDPM, ConditionalDenoiser
from training.models.unet import UNet


def test_unet_shapes_and_positive_sigma() -> None:
    with torch.no_grad():
        pred, sigma = UNet((4, 8, 8), 8).eval()(torch.rand(2, 1, 64, 96))
    assert pred.shape == sigma.shape == (2, 1, 64, 96) and torch.all(sigma > 0)


def test_ddpm_sampling_calls_the_denoiser_once_per_step_and_is_seeded() -> None:
    ddpm = DDPM(ConditionalDenoiser((4, 8, 8), 8)).eval()
    calls = []
    ddpm.denoiser.register_forward_hook(lambda *_: calls.append(1))
    qpi = torch.rand(1, 1, 32, 32)
    a = ddpm.sample(qpi, steps=50, seed=3)
    assert len(calls) == 50 and a.shape == qpi.shape and torch.isfinite(a).all()
    assert torch.equal(a, ddpm.sample(qpi, steps=50, seed=3))


@pytest.mark.parametrize("pixel", ["mse", "recall_l1"])
def test_unet_baseline_trains_in_the_same_framework(tmp_path: Path, pixel: str) -> None:
    recipe = {
        **TINY_RECIPE,
        "name": f"unet-{pixel}",
        "loss": {"pixel": pixel},
        "model": {"kind": "unet", "encoder_widths": [4, 8, 8], "unet_depth_width": 8},
        "stages": {"pixel_steps": 3},
    }
    result = fit(parse_train_config(recipe, "t"), tmp_path, progress=False)
    assert [s.name for s in result.stages] == ["pixel"]
    model, cfg = load_checkpoint(result.checkpoint)
    assert isinstance(model, UNet) and cfg.loss.pixel == pixel
    assert (tmp_path / "pixel-samples.png").exists()


def test_fnet_baseline_trains_and_reloads_at_full_resolution(tmp_path: Path) -> None:
    from training.models.fnet import FnetUNet

    recipe = {
        **TINY_RECIPE,
        "name": "fnet",
        "loss": {"pixel": "mse"},
        "model": {"kind": "fnet", "fnet_widths": [4, 8, 8, 16]},
        "stages": {"pixel_steps": 2},
    }
    result = fit(parse_train_config(recipe, "t"), tmp_path, progress=False)
    assert [s.name for s in result.stages] == ["pixel"]
    model, cfg = load_checkpoint(result.checkpoint)
    assert isinstance(model, FnetUNet) and cfg.model.fnet_widths == (4, 8, 8, 16)
    assert model.down[0][0].in_channels == 1 and model.down[0][0].stride == (1, 1)
    with torch.no_grad():
        pred, sigma = model(torch.rand(1, 1, 40, 56))
    assert pred.shape == (1, 1, 40, 56) and torch.all(sigma > 0)
