"""``aglu-ship``'s report: calibration table and plot, input-statistics flag rates."""

from __future__ import annotations

import json
from pathlib import Path

from export.ship import LEVELS, PLOT_LEVELS, ShipReport


def calibration_plot(report: ShipReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, label="ideal")
    for split, values in report.curve.items():
        ax.plot(PLOT_LEVELS, values, marker="o", ms=3, label=split)
    ax.set(
        xlabel="nominal coverage of the Laplace interval",
        ylabel="share of pixels inside",
        title=f"{report.card.name}: sigma calibration",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_report(report: ShipReport, out_dir: Path, command: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    card = report.card
    cal = card.calibration
    assert cal is not None
    calibration_plot(report, out_dir / "calibration.png")
    levels = [f"{round(lv * 100)}" for lv in LEVELS]
    lines = [
        f"# {card.name}: per-frame confidence",
        "",
        f"Made by `{command}`. Model: {card.modality}, {card.input_planes} input plane(s), "
        f"{card.precision}; data: {card.dataset}.",
        "",
        "## Sigma calibration",
        "",
        "Quantile recalibration on the validation split: for each level, the factor k "
        "that makes the Laplace interval |error| <= -ln(1 - level) x k x sigma cover that "
        "share of validation pixels: "
        + ", ".join(f"k{lv} = {v:.3f}" for lv, v in cal.level_scales.items())
        + f". The header's calibrated sigma is k90 x sigma. 99th percentile of calibrated "
        f"sigma on validation pixels: {cal.sigma_high:.4f} (`sigma_high_fraction` counts "
        'pixels above it). Rows "raw sigma" use the model\'s sigma unscaled.',
        "",
        "| pixels | " + " | ".join(f"{lv}% interval" for lv in levels) + " |",
        "|---|" + "---|" * len(levels),
    ]
    for split, table in report.coverage.items():
        lines.append(f"| {split} | " + " | ".join(f"{table[lv]:.3f}" for lv in levels) + " |")
    lines += [
        "",
        "![calibration](calibration.png)",
        "",
        "## Input statistics: share of frames flagged out of distribution",
        "",
        f"Frames of up to {report.counts['frame side px']} px cut from the fields. "
        "Training frames fit the statistics; every other row is held out. The last rows "
        f"are made from {report.counts['frames per kind']} held-out test frames "
        "(`export/ship.py`, `KINDS`).",
        "",
        "| frames | flagged |",
        "|---|---|",
    ]
    for kind, rate in report.flag_rates.items():
        n = report.counts.get(kind)
        lines.append(f"| {kind}{f' ({n})' if n else ''} | {rate:.3f} |")
    lines.append("")
    path = out_dir / "quality.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    (out_dir / "quality.json").write_text(
        json.dumps(
            {
                "command": command,
                "coverage": report.coverage,
                "curve": {"levels": list(PLOT_LEVELS)} | report.curve,
                "flag_rates": report.flag_rates,
                "counts": report.counts,
                "card": card.model_dump(mode="json"),
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return path
