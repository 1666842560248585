"""Block bootstrap and `aglu-train compare` on real (tiny) models and files."""

from pathlib import Path

import numpy as np
import pytest

from edge.errors import ConfigError
from training import bootstrap
from training.instances import segment_halfmax
from training.metrics import pearson_r, ssim


def _blobs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((200, 300))
    t = np.zeros((200, 300), np.float32)
    for _ in range(25):
        cy, cx = rng.integers(10, 190), rng.integers(10, 290)
        t += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 30.0) * rng.uniform(0.2, 1.0)
    return t, (t + rng.normal(0, 0.05, t.shape)).astype(np.float32)


def test_block_sums_reproduce_the_whole_image_metrics() -> None:
    """On every block at once, the bootstrap's statistics are the plain metrics (1e-9)."""
    t, p = _blobs(0)
    b = bootstrap.image_blocks(p, t, segment_halfmax(t), 0.3, 64, 0.015, 12.0)
    m = bootstrap.metrics_of(b.take(np.arange(len(b.n))))
    assert abs(m["pearson_r"] - pearson_r(p, t)) < 1e-9
    assert abs(m["ssim"] - ssim(p, t)) < 1e-9
    assert m["recall"] > 0.9 and 0 < m["f1"] <= 1


def test_intervals_hold_the_value_and_a_model_minus_itself_is_zero() -> None:
    t, p = _blobs(0)
    noisy = (t + np.random.default_rng(1).normal(0, 0.3, t.shape)).astype(np.float32)
    truth = segment_halfmax(t)
    good = [bootstrap.image_blocks(p, t, truth, 0.3, 64, 0.015, 12.0)]
    bad = [bootstrap.image_blocks(noisy, t, truth, 0.3, 64, 0.015, 12.0)]
    res, draw = bootstrap.bootstrap({"good": good, "bad": bad}, draws=200)
    for iv in res["good"].values():
        assert iv.low <= iv.value <= iv.high
    assert all(v.value == 0 for v in bootstrap.difference(good, good, draw).values())
    diff = bootstrap.difference(good, bad, draw)["pearson_r"]
    assert diff.low > 0  # clearly better, and the interval says so


def _spec(tmp_path: Path, recipe: Path, rows: str) -> Path:
    spec = tmp_path / "compare.toml"
    spec.write_text(
        f'title = "tiny"\nrecipe = "{recipe}"\nblock_px = 32\ndraws = 50\n{rows}\n'
        '[compare]\nchallenger = "torch"\nbaselines = ["onnx"]\n'
    )
    return spec


def test_compare_scores_rows_of_seeds_and_writes_the_report(
    tmp_path: Path, tiny_stack_recipe: Path, tiny_stack_checkpoint: Path, tiny_stack_export
) -> None:  # type: ignore[no-untyped-def]
    """The same model as torch and as ORT fp32, two 'seeds' each, on its recipe's test
    split: equal scores within fp32 reassociation; the report has its sections."""
    import json

    from training import compare
    from training.compare_report import write

    pt, onnx = tiny_stack_checkpoint, tiny_stack_export.fp32
    rows = (
        f'[[rows]]\nlabel = "torch"\nmodels = ["{pt}", "{pt}"]\n'
        f'[[rows]]\nlabel = "onnx"\nmodels = ["{onnx}", "{onnx}"]\n'
    )
    spec = compare.load_spec(_spec(tmp_path, tiny_stack_recipe, rows))
    scored = compare.run(spec)
    a, b = scored.metrics["torch"][0], scored.metrics["onnx"][1]
    assert abs(a["mse"] - b["mse"]) < 1e-6 * max(1.0, a["mse"])
    report = write(spec, scored, tmp_path / "out", "aglu-train compare x")
    text = report.read_text()
    assert "Input modality: **phase contrast**" in text and "## Paired differences" in text
    assert "| torch | 2 |" in text and "not separable" in text  # identical models
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["modality"] == "phase-contrast" and len(data["rows"]["onnx"]["per_seed"]) == 2
    assert (tmp_path / "out" / "panel.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_spec_errors_name_the_problem(tmp_path: Path, tiny_stack_recipe: Path) -> None:
    from training import compare

    rows = '[[rows]]\nlabel = "torch"\nmodels = ["x.pt"]\n[[rows]]\nlabel = "onnx"\nmodels = []\n'
    with pytest.raises(ConfigError, match=r"x\.pt does not exist"):
        compare.load_spec(_spec(tmp_path, tiny_stack_recipe, rows))
    with pytest.raises(ConfigError, match="missing or bad spec field"):
        (tmp_path / "bad.toml").write_text('title = "x"\n')
        compare.load_spec(tmp_path / "bad.toml")
