"""Evaluation on held-out simulated fields.

Pearson r, PSNR, nucleus recall over all nuclei and over the faintest quartile.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from training.config import DataSection
from training.data import simulated_fields
from training.metrics import nucleus_recall, pearson_r, psnr_db

Predict = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]
HELD_OUT_SEED_OFFSET = 2_000_000  # disjoint from training (0..) and validation (1e6..)


def evaluate(predict: Predict, data: DataSection, n_fields: int, side_px: int) -> dict[str, float]:
    """``predict`` maps a normalised (H, W) QPI to a normalised DAPI prediction."""
    cfg = data.model_copy(update={"field_px": side_px})
    fields = simulated_fields(cfg, n_fields, seed_offset=HELD_OUT_SEED_OFFSET)
    preds = np.stack([predict(q) for q in fields.qpi])
    hits, bright = [], []
    for i in range(n_fields):
        present = (
            np.bincount(fields.labels[i].ravel(), minlength=len(fields.brightness[i]) + 1)[1:] > 0
        )
        hits.append(nucleus_recall(preds[i], fields.dapi[i], fields.labels[i]))
        bright.append(fields.brightness[i][present])
    h, b = np.concatenate(hits), np.concatenate(bright)
    faint = b <= np.quantile(b, 0.25)
    return {
        "pearson_r": pearson_r(preds, fields.dapi),
        "psnr_db": psnr_db(preds, fields.dapi),
        "nucleus_recall": float(h.mean()),
        "faint_quartile_recall": float(h[faint].mean()),
        "nuclei": float(h.size),
    }
