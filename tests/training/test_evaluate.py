from pathlib import Path

import numpy as np

from training.config import parse_train_config
from training.evaluate import evaluate
from training.predictors import onnx_predictor, torch_predictor


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
