"""aglu-train bench: the peers side by side, with parameter counts and peak RSS."""

from __future__ import annotations

import torch

from export.bench import peers_table
from training.config import load_train_config
from training.evaluate.predictors import default_recipe_path
from training.models.fnet import FnetUNet


def test_fnet_unet_is_the_four_level_full_resolution_kind() -> None:
    model = FnetUNet().eval()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert {c.out_channels for c in convs} >= {32, 64, 128, 256}
    assert all(c.kernel_size == (3, 3) for c in convs if c.out_channels in (64, 128, 256))
    with torch.no_grad():
        dapi, sigma = model(torch.zeros(1, 1, 64, 48))
    assert dapi.shape == sigma.shape == (1, 1, 64, 48) and bool((sigma > 0).all())


def test_peers_table_times_every_peer_in_one_process() -> None:
    rows = peers_table(load_train_config(default_recipe_path()), 64, 1)
    assert [(r.name, r.runtime) for r in rows] == [
        ("AGLU int8 (shipped)", "onnxruntime"),
        ("AGLU fp32 (shipped)", "onnxruntime"),
        ("AGLU fp32", "torch eager"),
        ("fnet U-Net fp32", "torch eager"),
        ("fnet U-Net fp32", "onnxruntime"),
        ("fnet U-Net int8", "onnxruntime"),
        ("DDPM, 50 steps", "torch eager"),
    ]
    assert all(r.median_s > 0 and r.peak_rss_mb > 0 for r in rows)
    fnet = [r for r in rows if r.name.startswith("fnet")]
    assert len({r.params for r in fnet}) == 1 and fnet[0].params > 1_000_000
