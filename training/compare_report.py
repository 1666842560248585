"""The report of ``aglu-train compare``: metrics.json, report.md and panel.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edge.infer.card import MODALITY_NAMES
from training import bootstrap, plots
from training.compare import Scored, Spec
from training.config import load_train_config
from training.report import IMAGE, NUCLEI

HEADLINE = (
    ("pearson_r", "Pearson r"),
    ("ssim", "SSIM"),
    ("f1", "nuclei F1"),
    ("faint_quartile_recall", "faint-quartile recall"),
)


def _cell(iv: bootstrap.Interval) -> str:
    return f"{iv.value:.3f} ± {iv.seed_sd:.3f} [{iv.low:.3f}, {iv.high:.3f}]"


def _mean(values: list[dict[str, float]], key: str) -> float:
    """Mean over seeds of the finite values (NaN when none)."""
    v = [m[key] for m in values if key in m and np.isfinite(m[key])]
    return float(np.mean(v)) if v else float("nan")


def _headline_table(
    spec: Spec, scored: Scored, intervals: dict[str, dict[str, bootstrap.Interval]], kind: str
) -> str:
    reference = any("nuclei_reference_f1" in m for ms in scored.metrics.values() for m in ms)
    head = ["model", "seeds", *(name for _, name in HEADLINE)]
    head += ["F1 vs authors' masks"] if reference else []
    head += ["validation r (selection)"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for row in spec.rows:
        if row.kind != kind:
            continue
        cells = [row.label + (f" ({row.note})" if row.note else ""), str(len(row.models))]
        cells += [_cell(intervals[row.label][k]) for k, _ in HEADLINE]
        if reference:
            ms = scored.metrics[row.label]
            sd = float(np.std([m["nuclei_reference_f1"] for m in ms]))
            cells.append(f"{_mean(ms, 'nuclei_reference_f1'):.3f} ± {sd:.3f}")
        val = _mean(scored.metrics[row.label], "val_pearson_r")
        cells.append("-" if np.isnan(val) else f"{val:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _differences(spec: Spec, scored: Scored, draw: Any) -> tuple[str, dict[str, Any]]:
    head = ["challenger - baseline", *(name for _, name in HEADLINE)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    out: dict[str, Any] = {}
    for base in spec.baselines:
        diff = bootstrap.difference(scored.blocks[spec.challenger], scored.blocks[base], draw)
        out[base] = {k: vars_of(iv) for k, iv in diff.items()}
        cells = [f"{spec.challenger} - {base}"]
        for k, _ in HEADLINE:
            iv = diff[k]
            won = iv.low > 0 and iv.value > iv.seed_sd
            lost = iv.high < 0 and -iv.value > iv.seed_sd
            verdict = "**better**" if won else ("**worse**" if lost else "not separable")
            cells.append(f"{iv.value:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}] {verdict}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines), out


def vars_of(iv: bootstrap.Interval) -> dict[str, float]:
    return {"value": iv.value, "low": iv.low, "high": iv.high, "seed_sd": iv.seed_sd}


def _full_table(spec: Spec, scored: Scored, keys: tuple[str, ...], prefix: str = "") -> str:
    names = [r.label for r in spec.rows]
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key in keys:
        vals = [_mean(scored.metrics[n], prefix + key) for n in names]
        if all(np.isnan(v) for v in vals):
            continue
        lines.append(f"| {key} | " + " | ".join(f"{v:.4g}" for v in vals) + " |")
    return "\n".join(lines)


def write(spec: Spec, scored: Scored, out_dir: Path, command: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    intervals, draw = bootstrap.bootstrap(scored.blocks, spec.draws)
    diff_text, diffs = _differences(spec, scored, draw)
    cfg = load_train_config(spec.recipe)
    truth = scored.truth
    (out_dir / "metrics.json").write_text(
        json.dumps(
            {
                "title": spec.title,
                "command": command,
                "modality": cfg.data.modality,
                "rows": {
                    r.label: {
                        "models": [str(m) for m in r.models],
                        "kind": r.kind,
                        "per_seed": scored.metrics[r.label],
                        "headline": {k: vars_of(iv) for k, iv in intervals[r.label].items()},
                    }
                    for r in spec.rows
                },
                "differences": {spec.challenger: diffs},
            },
            indent=2,
        )
    )
    main = [r.label for r in spec.rows if r.kind == "main"]
    q = truth.qpi[0]
    plots.comparison_panel(
        q[q.shape[0] // 2], truth.dapi[0], {k: scored.first[k] for k in main}, out_dir / "panel.png"
    )
    origins = ", ".join(sorted({Path(o.split("[")[0]).name for o in truth.origins}))
    nuclei = sum(int(m.max()) for m in (r for r in truth.reference if r is not None))
    sections = [
        f"# {spec.title}",
        f"Made by `{command}`.",
        spec.description,
        f"Input modality: **{MODALITY_NAMES[cfg.data.modality]}**. Test split: "
        f"{len(truth.dapi)} field(s) ({origins})"
        + (f", {nuclei} nuclei annotated by the dataset's authors." if nuclei else "."),
        "How to read the tables: each cell is the mean over seeds ± the seed-to-seed standard "
        f"deviation [95% interval of that mean from a paired block bootstrap: {spec.block_px} px "
        f"blocks, {spec.draws} draws]. Pearson r and SSIM pool every test pixel. Nuclei: the "
        "target and each prediction are segmented alike (per-nucleus half maximum, at the "
        "target's nucleus scale); the haze rule counts an object only where it rises at least "
        f"{cfg.data.nucleus_floor} (normalised target units) above the background; detection is "
        "IoU >= 0.5, one to one. Faint quartile: the quarter of true nuclei with the lowest "
        "mean target intensity over the whole split.",
        "## Main comparison (equal budget)",
        _headline_table(spec, scored, intervals, "main"),
        "## Paired differences",
        "A difference counts as **better**/**worse** only when its 95% interval excludes 0 "
        "and it exceeds the larger seed-to-seed standard deviation of the two models.",
        diff_text,
    ]
    if any(r.kind == "ablation" for r in spec.rows):
        sections += ["## Ablations", _headline_table(spec, scored, intervals, "ablation")]
    first = scored.metrics[spec.rows[0].label][0]
    if "oracle_reference_f1" in first:
        sections += [
            "## Ceiling: the true image through the same segmentation, against the authors' masks",
            f"F1 {first['oracle_reference_f1']:.3f}, recall {first['oracle_reference_recall']:.3f},"
            f" precision {first['oracle_reference_precision']:.3f}: no prediction can score "
            "higher against the authors' masks than the measured stain itself does.",
        ]
    sections += [
        "## Every metric (mean over seeds)",
        _full_table(spec, scored, IMAGE),
        "### Nuclei, half maximum",
        _full_table(spec, scored, NUCLEI, "nuclei_halfmax_"),
    ]
    if "nuclei_reference_f1" in first:
        sections += [
            "### Nuclei against the authors' masks",
            _full_table(spec, scored, NUCLEI, "nuclei_reference_"),
        ]
    sections += ["## Panel", "![input, true and predicted nuclear stain](panel.png)"]
    path = out_dir / "report.md"
    path.write_text("\n\n".join(sections) + "\n")
    return path
