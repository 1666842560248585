"""Paired training data: simulated fields -> normalised (qpi, dapi, nucleus mask) crops.

Normalisation is ``edge.preprocess.normalize``: the very function the edge runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.preprocess import Normalization, normalize
from edge.simulate import SimulationConfig, simulate_pair
from training.config import DataSection

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PairedFields:
    """Whole normalised fields, stacked (N, H, W)."""

    qpi: F32
    dapi: F32
    mask: F32
    labels: npt.NDArray[np.int32]
    brightness: list[F32]


def simulated_fields(cfg: DataSection, n_fields: int, seed_offset: int) -> PairedFields:
    sim = SimulationConfig(height_px=cfg.field_px, width_px=cfg.field_px)
    norm = Normalization(cfg.low_percentile, cfg.high_percentile)
    qpi, dapi, labels, bright = [], [], [], []
    for i in range(n_fields):
        pair = simulate_pair(sim, cfg.seed + seed_offset + i)
        qpi.append(normalize(pair.qpi_rad, norm))
        dapi.append(normalize(pair.dapi_e, norm))
        labels.append(pair.nuclei_labels)
        bright.append(pair.nucleus_brightness)
    lab = np.stack(labels)
    return PairedFields(np.stack(qpi), np.stack(dapi), (lab > 0).astype(np.float32), lab, bright)


def random_batch(
    fields: PairedFields, batch: int, crop_px: int, rng: np.random.Generator
) -> tuple[F32, F32, F32]:
    """Random crops with random flips and 90-degree rotations, each (B, 1, crop, crop)."""
    n, h, w = fields.qpi.shape
    out = np.empty((3, batch, 1, crop_px, crop_px), np.float32)
    for b in range(batch):
        i = rng.integers(n)
        y, x = rng.integers(0, h - crop_px + 1), rng.integers(0, w - crop_px + 1)
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        for c, arr in enumerate((fields.qpi, fields.dapi, fields.mask)):
            patch = np.rot90(arr[i, y : y + crop_px, x : x + crop_px], k)
            out[c, b, 0] = patch[:, ::-1] if flip else patch
    return out[0], out[1], out[2]
