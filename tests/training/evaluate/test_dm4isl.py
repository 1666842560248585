"""The metrics reproduce the DM4ISL peers' published figures from their shipped predictions."""

from pathlib import Path

import numpy as np
import pytest
import tifffile

from training.evaluate.metrics import pooled_image_metrics

PUBLISHED = {  # ../shared/data/README.md: pooled over 5 patches, /255 scale
    "Unet": (0.8516, 0.0087),
    "GAN": (0.8663, 0.0079),
    "DDPM": (0.8426, 0.0081),
    "DDPMavg": (0.8728, 0.0062),
}


@pytest.mark.parametrize("peer", sorted(PUBLISHED))
def test_pooled_pearson_and_mse_reproduce_published_figures(shared_data: Path, peer: str) -> None:
    base = shared_data / "dm4isl-nucenv"
    names = sorted(p.name for p in (base / "GT").glob("*.tiff"))
    assert len(names) == 5
    gt = [tifffile.imread(base / "GT" / n).astype(np.float64) / 255 for n in names]
    pred = [tifffile.imread(base / peer / n).astype(np.float64) / 255 for n in names]
    assert gt[0].shape == (16, 64, 64)  # 3-D ZYX patches
    m = pooled_image_metrics(pred, gt)
    r, err = PUBLISHED[peer]
    assert round(m["pearson_r"], 4) == r  # 3 decimals asked; 4 reproduced
    assert round(m["mse"], 4) == err
    assert 0 < m["ssim"] < 1 and 0 < m["ms_ssim"] < 1
