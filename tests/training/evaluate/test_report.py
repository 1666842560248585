from pathlib import Path

import numpy as np

from training.evaluate.report import write_report


def test_report_files_and_tables(tmp_path: Path) -> None:
    img = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    results = {
        "a.pt": {"pearson_r": 0.9, "ssim": 0.8, "nuclei_halfmax_recall": 0.95},
        "b.onnx": {"pearson_r": 0.8, "ssim": 0.7, "nuclei_halfmax_recall": 0.9},
    }
    md = write_report(tmp_path, "T", "desc", results, img, img, {"a.pt": img, "b.onnx": img})
    text = md.read_text()
    assert "| pearson_r | 0.9 | 0.8 |" in text and "| a.pt | b.onnx |" in text
    assert "| recall | 0.95 | 0.9 |" in text
    assert (tmp_path / "panel.png").read_bytes()[:4] == b"\x89PNG"
    assert "a.pt" in (tmp_path / "metrics.json").read_text()
