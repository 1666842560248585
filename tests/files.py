"""Writers of real microscopy files for tests (the formats the readers must accept)."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import numpy as np


def write_ndtiff(folder: Path, images: dict[tuple[int, str], np.ndarray]) -> Path:
    """An NDTiff dataset (ndstorage, as Micro-Manager writes it) of (time, channel) images."""
    from ndstorage import NDTiffDataset

    # ndstorage's writer leaves a read handle open after close(); the readers under
    # test close cleanly. Collect the writer here with its warning ignored.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        ds = NDTiffDataset(str(folder), name="acq", writable=True)
        ds.initialize(summary_metadata={"ChannelGroup": "Channel"})
        for (t, c), img in images.items():
            ds.put_image({"time": t, "channel": c}, img, {})
        ds.finish()
        ds.close()
        del ds
        gc.collect()
    return next(folder.iterdir())


EXPERIMENTS = ("expA", "expB", "expC", "expD", "expE")


def write_grouped_folders(root: Path, fields: int = 2, side_px: int = 96) -> Path:
    """Per-channel folders (bf/, nuc/, gt_mask/) of several experiments: nuclei are
    Gaussian blobs; the input is textured where they are, each experiment with its own
    gain and offset (a setup of its own)."""
    import tifffile

    for sub in ("bf", "nuc", "gt_mask"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    yy, xx = np.indices((side_px, side_px))
    for e, name in enumerate(EXPERIMENTS):
        for f in range(fields):
            rng = np.random.default_rng(10 * e + f)
            target = np.zeros((side_px, side_px))
            labels = np.zeros((side_px, side_px), np.uint16)
            for k, (cy, cx) in enumerate(rng.integers(10, side_px - 10, size=(6, 2))):
                blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 20.0)
                target += blob * rng.uniform(0.5, 1.0)
                labels[blob > 0.5] = k + 1
            texture = rng.normal(0, 1, target.shape) * (0.2 + target)
            bf = (1000 + 300 * (e + 1) * texture).clip(0, 65535).astype(np.uint16)
            stem = f"{name}_f{f}"
            tifffile.imwrite(root / "bf" / f"{stem}.tif", bf)
            tifffile.imwrite(root / "nuc" / f"{stem}.tif", (100 + 800 * target).astype(np.uint16))
            tifffile.imwrite(root / "gt_mask" / f"{stem}.tif", labels)
    return root
