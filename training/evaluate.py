"""Evaluation on held-out data: image metrics and nuclei instance metrics.

True nuclei are the simulator's ground-truth instances when the data has them
(so faint nuclei count even where the target's own segmentation would miss
them), else the target segmented like the prediction (``instances``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from training.config import TrainConfig
from training.data import Fields, build_fields
from training.instances import match, relabel, segment_nuclei
from training.metrics import pearson_r, psnr_db, ssim

F32 = npt.NDArray[np.float32]
Predict = Callable[[F32], F32]


def true_instances(
    labels: npt.NDArray[np.int32] | None, brightness: F32 | None, target: F32
) -> tuple[npt.NDArray[np.int32], F32 | None]:
    """Ground-truth nuclei (consecutive labels) and their brightness, or the segmented target.

    Simulator labels whose nucleus lies outside the field are dropped, with their brightness.
    """
    if labels is None or brightness is None:
        return segment_nuclei(target), None
    present = (
        np.bincount(labels.ravel(), minlength=len(brightness) + 1)[1 : len(brightness) + 1] > 0
    )
    return relabel(labels), brightness[present]


def detection(images: list[F32], fields: Fields, method: str) -> dict[str, float]:
    """IoU >= 0.5 matched nuclei detection of ``images`` against the true nuclei."""
    true_hits, pred_hits, bright = [], [], []
    for i, image in enumerate(images):
        true, b = true_instances(fields.labels[i], fields.brightness[i], fields.dapi[i])
        m = match(true, segment_nuclei(image, method))
        true_hits.append(m.true_matched)
        pred_hits.append(m.pred_matched)
        if b is not None:
            bright.append(b)
    t, p = np.concatenate(true_hits), np.concatenate(pred_hits)
    recall, precision = float(t.mean()), float(p.mean()) if p.size else 0.0
    out = {
        "recall": recall,
        "precision": precision,
        "f1": 2 * recall * precision / (recall + precision) if recall + precision else 0.0,
        "true": float(t.size),
        "predicted": float(p.size),
    }
    if bright:
        b = np.concatenate(bright)
        out["faint_quartile_recall"] = float(t[b <= np.quantile(b, 0.25)].mean())
    return out


def evaluate(predict: Predict, cfg: TrainConfig, n_fields: int, side_px: int) -> dict[str, float]:
    """``predict`` maps a normalised (H, W) QPI to a normalised DAPI prediction.

    ``nucleus_*`` use the half-maximum segmentation, ``otsu_*`` the global Otsu
    one; ``oracle_*`` score the true target through the same half-maximum
    segmentation: the ceiling the metric allows.
    """
    data = cfg.data.model_copy(update={"field_px": side_px})
    fields = build_fields(cfg.model_copy(update={"data": data}), "test", n_simulated=n_fields)
    preds = [predict(q) for q in fields.qpi]
    pairs = list(zip(preds, fields.dapi, strict=True))
    out = {
        "pearson_r": pearson_r(
            np.concatenate([x.ravel() for x in preds]),
            np.concatenate([x.ravel() for x in fields.dapi]),
        ),
        "ssim": float(np.mean([ssim(x, y) for x, y in pairs])),
        "psnr_db": float(np.mean([psnr_db(x, y) for x, y in pairs])),
    }
    for prefix, images, method in (
        ("nucleus", preds, "halfmax"),
        ("otsu", preds, "otsu"),
        ("oracle", fields.dapi, "halfmax"),
    ):
        out |= {f"{prefix}_{k}": v for k, v in detection(images, fields, method).items()}
    return out
