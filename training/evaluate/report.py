"""Evaluation report: metrics JSON, a Markdown report with tables, and a sample panel PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from training.evaluate import plots

F32 = npt.NDArray[np.float32]
SUMMARY = (
    "pearson_r",
    "ssim",
    "ms_ssim",
    "psnr_db",
    "nrmse",
    "nuclei_halfmax_recall",
    "nuclei_halfmax_precision",
    "nuclei_halfmax_faint_quartile_recall",
    "nuclei_otsu_recall",
)
IMAGE = (
    "pearson_r",
    "mse",
    "mae",
    "nrmse",
    "psnr_db",
    "ssim",
    "ms_ssim",
    "js_distance",
    "mutual_information_bits",
)
NUCLEI = (
    "mask_iou",
    "mask_dice",
    "recall",
    "precision",
    "f1",
    "faint_quartile_recall",
    "centroid_error_px",
    "area_error_rel",
    "hausdorff_px",
    "count_error_rel",
    "intensity_r",
    "nuclei_true",
    "nuclei_predicted",
)


def table(results: dict[str, dict[str, float]], keys: tuple[str, ...], prefix: str = "") -> str:
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key in keys:
        if all(prefix + key in results[n] for n in names):
            cells = " | ".join(f"{results[n][prefix + key]:.4g}" for n in names)
            lines.append(f"| {key} | {cells} |")
    return "\n".join(lines)


def write_report(
    out_dir: Path,
    title: str,
    description: str,
    results: dict[str, dict[str, float]],
    qpi: F32,
    target: F32,
    preds: dict[str, F32],
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(
        json.dumps({"title": title, "results": results}, indent=2)
    )
    plots.comparison_panel(qpi, target, preds, out_dir / "panel.png")
    sections = [
        f"# {title}",
        description,
        "## Summary",
        table(results, SUMMARY),
        "## Image metrics",
        table(results, IMAGE),
    ]
    for method, text in (
        ("halfmax", "per-nucleus half-maximum segmentation"),
        ("otsu", "global Otsu + watershed segmentation"),
    ):
        sections += [f"## Nuclei ({text}; IoU >= 0.5)", table(results, NUCLEI, f"nuclei_{method}_")]
    if all("oracle_halfmax_recall" in r for r in results.values()):
        sections += [
            "## Ceiling: the true image through the half-maximum segmentation",
            table(results, NUCLEI, "oracle_halfmax_"),
        ]
    sections += ["## Panel", "![input, true DAPI and each model's prediction](panel.png)"]
    path = out_dir / "report.md"
    path.write_text("\n\n".join(sections) + "\n")
    return path
