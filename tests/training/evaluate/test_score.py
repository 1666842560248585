from pathlib import Path

import numpy as np

from training.config import parse_train_config
from training.evaluate.predictors import onnx_predictor, torch_predictor
from training.evaluate.score import evaluate


def test_onnx_and_torch_predictors_agree(tiny_checkpoint: Path, tiny_export) -> None:  # type: ignore[no-untyped-def]
    """Same function through two runtimes; 1e-4 covers fp32 reassociation in onnxruntime."""
    qpi = np.random.default_rng(0).standard_normal((50, 70)).astype(np.float32)
    t, _ = torch_predictor(tiny_checkpoint)
    o = onnx_predictor(tiny_export.fp32)
    a, b = t(qpi), o(qpi)
    assert a.shape == b.shape == (50, 70)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_evaluation_scores_an_oracle_above_a_blind_predictor() -> None:
    """An oracle-like predictor (the QPI itself, which shows the nuclei) beats a constant.
    Predictors map a (planes, H, W) input to an (H, W) prediction."""
    cfg = parse_train_config({"data": {"nucleus_floor": 0.015}}, "t")
    rng = np.random.default_rng(0)
    blind = evaluate(lambda q: rng.random(q.shape[1:]).astype(np.float32), cfg, 3, 128)
    seeing = evaluate(lambda q: q[0], cfg, 3, 128)
    assert seeing["nuclei_halfmax_nuclei_true"] == blind["nuclei_halfmax_nuclei_true"] > 0
    assert seeing["pearson_r"] > blind["pearson_r"] + 0.2
    assert seeing["nuclei_halfmax_f1"] > blind["nuclei_halfmax_f1"]
    assert seeing["oracle_halfmax_recall"] == blind["oracle_halfmax_recall"] > 0.9  # the ceiling
    for key in (
        "ssim",
        "ms_ssim",
        "nuclei_halfmax_precision",
        "nuclei_otsu_recall",
        "nuclei_halfmax_faint_quartile_recall",
        "nuclei_halfmax_mask_dice",
    ):
        assert 0.0 <= seeing[key] <= 1.0


def test_target_segmentation_is_remembered_by_identity_and_read_only() -> None:
    """Every model of a comparison is scored against the same targets: their nuclei are
    segmented once; an equal but distinct array is segmented afresh."""
    from training.data.segment import segment_nuclei
    from training.evaluate.score import segment_target

    rng = np.random.default_rng(1)
    target = np.zeros((96, 96), np.float32)
    for y, x in rng.integers(10, 86, (6, 2)):
        target[y - 4 : y + 4, x - 4 : x + 4] = 1.0
    first = segment_target(target, "halfmax", 0.1, 12.0)
    assert segment_target(target, "halfmax", 0.1, 12.0) is first
    np.testing.assert_array_equal(first, segment_nuclei(target, "halfmax", 0.1, 12.0))
    assert not first.flags.writeable and first.max() > 0
    assert segment_target(target.copy(), "halfmax", 0.1, 12.0) is not first
    assert segment_target(target, "otsu", 0.1, 12.0) is not first
