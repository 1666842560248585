"""Evaluation on held-out data: the image metrics and the nuclei instance metrics.

True nuclei are the simulator's ground-truth instances when the data has them
(so faint nuclei count even where a segmentation of the target would miss
them), else the target segmented by the same method as the prediction. Keys:
image metrics by name (``training.evaluate.metrics``); ``nuclei_<method>_*`` for each
segmentation (``halfmax``, ``otsu``; ``training.data.segment``); with ground truth,
``oracle_halfmax_*`` scores the true image itself: the ceiling the metric allows.

The haze rule: the half-maximum segmentation takes ``floor`` (the recipe's
``data.nucleus_floor``, normalised target units): an object of the target or of
a prediction counts as a nucleus only where it rises that far above the
background, so out-of-focus haze is neither a true nucleus nor a hit.

When the data carries annotated nuclei (``Fields.reference``, e.g. the
authors' masks), ``nuclei_reference_*`` scores the prediction's half-maximum
nuclei against them and ``oracle_reference_*`` the true image's: the ceiling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from training.config import TrainConfig
from training.data.fields import Fields, build_fields
from training.data.segment import DEFAULT_SCALE_PX, estimate_scale_px, relabel, segment_nuclei
from training.evaluate.metrics import pooled_image_metrics
from training.evaluate.nuclei import nucleus_stats, summarize

F32 = npt.NDArray[np.float32]
Predict = Callable[[F32], F32]
METHODS = ("halfmax", "otsu")


_MEMO_SIZE = 256
_memo: dict[tuple[object, ...], tuple[F32, Any]] = {}
T = TypeVar("T")


def _per_target(target: F32, key: tuple[object, ...], compute: Callable[[], T]) -> T:
    """``compute()``, remembered by the identity of the target image it derives from:
    every model of a comparison is scored against the same targets."""
    full = (id(target), *key)
    hit = _memo.get(full)
    if hit is None or hit[0] is not target:  # a new array may reuse a freed id
        if len(_memo) >= _MEMO_SIZE:
            _memo.clear()
        hit = _memo[full] = (target, compute())
    return cast(T, hit[1])


def segment_target(
    target: F32, method: str, floor: float, scale_px: float
) -> npt.NDArray[np.int32]:
    """``segment_nuclei`` of a target image, computed once per target (read-only result)."""

    def segment() -> npt.NDArray[np.int32]:
        labels = segment_nuclei(target, method, floor, scale_px)
        labels.flags.writeable = False
        return labels

    return _per_target(target, ("segment", method, floor, scale_px), segment)


def true_instances(
    labels: npt.NDArray[np.int32] | None,
    brightness: F32 | None,
    target: F32,
    method: str = "halfmax",
    floor: float = 0.015,
    scale_px: float = DEFAULT_SCALE_PX,
) -> tuple[npt.NDArray[np.int32], F32 | None]:
    """Ground-truth nuclei (consecutive labels) and their brightness, or the segmented target.

    Simulator labels whose nucleus lies outside the field are dropped, with their brightness.
    """
    if labels is None or brightness is None:
        return segment_target(target, method, floor, scale_px), None
    present = (
        np.bincount(labels.ravel(), minlength=len(brightness) + 1)[1 : len(brightness) + 1] > 0
    )
    return relabel(labels), brightness[present]


def _nuclei(images: list[F32], fields: Fields, method: str, floor: float) -> dict[str, float]:
    stats = []
    for i, image in enumerate(images):
        scale = scale_of(fields, i)
        true, bright = true_instances(
            fields.labels[i], fields.brightness[i], fields.dapi[i], method, floor, scale
        )
        b = None if bright is None else bright.astype(np.float64)
        found = segment_nuclei(image, method, floor, scale)
        stats.append(nucleus_stats(image, fields.dapi[i], true, found, b))
    return summarize(stats)


def scale_of(fields: Fields, i: int) -> float:
    """The nucleus scale both the target and a prediction of field ``i`` are segmented at:
    measured on the target of real data, the defaults' scale for simulated fields."""
    if fields.labels[i] is not None:
        return DEFAULT_SCALE_PX
    target = fields.dapi[i]
    return _per_target(target, ("scale",), lambda: estimate_scale_px(target))


def _reference(images: list[F32], fields: Fields, floor: float) -> dict[str, float]:
    stats = []
    for i, (image, ref) in enumerate(zip(images, fields.reference, strict=True)):
        assert ref is not None
        target = fields.dapi[i]
        segment = segment_target if image is target else segment_nuclei
        found = segment(image, "halfmax", floor, scale_of(fields, i))
        stats.append(nucleus_stats(image, target, relabel(ref), found))
    return summarize(stats)


def score(preds: list[F32], fields: Fields, floor: float = 0.015) -> dict[str, float]:
    """Every metric of ``preds`` against the fields' targets (``floor``: the haze rule)."""
    out = pooled_image_metrics(list(preds), list(fields.dapi))
    for method in METHODS:
        out |= {f"nuclei_{method}_{k}": v for k, v in _nuclei(preds, fields, method, floor).items()}
    if all(lab is not None for lab in fields.labels):
        oracle = _nuclei(list(fields.dapi), fields, "halfmax", floor)
        out |= {f"oracle_halfmax_{k}": v for k, v in oracle.items()}
    if fields.reference and all(r is not None for r in fields.reference):
        out |= {f"nuclei_reference_{k}": v for k, v in _reference(preds, fields, floor).items()}
        oracle = _reference(list(fields.dapi), fields, floor)
        out |= {f"oracle_reference_{k}": v for k, v in oracle.items()}
    return out


def test_fields(cfg: TrainConfig, n_fields: int, side_px: int) -> Fields:
    """The held-out test split: fresh simulated fields, or the recipe's test part of real data."""
    return build_fields(cfg, "test", n_simulated=n_fields, side_px=side_px)


def evaluate(predict: Predict, cfg: TrainConfig, n_fields: int, side_px: int) -> dict[str, float]:
    """``predict`` maps a normalised (planes, H, W) input to a normalised DAPI prediction."""
    fields = test_fields(cfg, n_fields, side_px)
    return score([predict(q) for q in fields.qpi], fields, cfg.data.nucleus_floor)
