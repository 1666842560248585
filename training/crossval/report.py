"""report.md, metrics.json and one panel per fold, from a scored study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edge.infer.card import MODALITY_NAMES
from training.crossval import hierarchy as h
from training.crossval.folds import FIXED
from training.crossval.study import FLOOR, Study
from training.evaluate import plots

HEADLINE = (
    ("pearson_r", "mean per-experiment r"),
    ("ssim", "SSIM"),
    ("f1", "nuclei F1"),
    ("faint_quartile_recall", "faint-quartile recall"),
)
DIFFS = HEADLINE
VERDICT_METRIC = "pearson_r"


def _iv(iv: h.Interval) -> str:
    if not np.isfinite(iv.value):
        return "-"
    sd = f" ± {iv.seed_sd:.3f}" if iv.seed_sd > 0 else ""
    return f"{iv.value:.3f}{sd} [{iv.low:.3f}, {iv.high:.3f}]"


def _f(v: float, spec: str = ".3f") -> str:
    return "-" if not np.isfinite(v) else format(v, spec)


def _folds_table(study: Study) -> str:
    lines = [
        "| fold | test experiments | validation experiments | training experiments | test units |"
    ]
    lines.append("|---|---|---|---|---|")
    for f in study.folds:
        n = sum(u.fold == f.index for u in study.units)
        if f.test == (FIXED,):
            cells = ["the recipe's fixed test region", "its validation region", "its training"]
        else:
            cells = [", ".join(f.test), ", ".join(f.val), ", ".join(f.train)]
        lines.append(f"| {f.index} | " + " | ".join(cells) + f" | {n} |")
    return "\n".join(lines)


def _ordered(study: Study) -> list[str]:
    order = {"main": 0, "ablation": 1, FLOOR: 2}
    return [r.label for r in sorted(study.rows, key=lambda r: order.get(r.kind, 3))]


def _headline(
    study: Study, ivs: dict[str, dict[str, h.Interval]], picks: dict[str, dict[str, float]]
) -> str:
    head = [
        "model",
        "seeds",
        *(n for _, n in HEADLINE),
        "haze share (target)",
        "pooled r (secondary)",
        "picked on validation: r",
        "validation r",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for label in _ordered(study):
        row, iv = study.row(label), ivs[label]
        val = h.nanmean(row.val_r.reshape(1, -1), axis=1)[0]
        cells = [label + (f" ({row.note})" if row.note else ""), str(len(row.seeds))]
        cells += [_iv(iv[k]) for k, _ in HEADLINE]
        cells += [f"{_f(iv['haze_pred'].value, '.2f')} ({_f(iv['haze_target'].value, '.2f')})"]
        cells += [
            _f(iv[h.POOLED].value),
            _f(picks.get(label, {}).get("pearson_r", float("nan"))),
            _f(val),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _per_experiment(study: Study, tables: dict[str, Any], metric: str) -> str:
    labels = _ordered(study)
    lines = [
        "| experiment | units | " + " | ".join(labels) + " |",
        "|---" * (len(labels) + 2) + "|",
    ]
    for e in study_experiments(study):
        n = sum(u.experiment == e for u in study.units)
        cells = []
        for label in labels:
            mean, sd = tables[label][e][metric]
            cells.append(_f(mean) + (f" ± {sd:.3f}" if np.isfinite(sd) and sd > 0 else ""))
        lines.append(f"| {e} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def study_experiments(study: Study) -> list[str]:
    return sorted({u.experiment for u in study.units})


def floor_verdicts(study: Study, tables: dict[str, Any]) -> dict[str, list[str]]:
    """Per model row, the experiments where its mean r does not beat both floors."""
    floors = [r.label for r in study.rows if r.kind == FLOOR]
    out = {}
    for r in study.rows:
        if r.kind == FLOOR:
            continue
        out[r.label] = [
            e
            for e in study_experiments(study)
            if not all(
                tables[r.label][e][VERDICT_METRIC][0] > tables[f][e][VERDICT_METRIC][0]
                for f in floors
            )
        ]
    return out


RESOLUTION = 0.0005  # differences below the tables' precision are never called better/worse


def _verdict(iv: h.Interval) -> str:
    if iv.low > 0 and iv.value >= RESOLUTION:
        return "**better**"
    if iv.high < 0 and iv.value <= -RESOLUTION:
        return "**worse**"
    return "not separable"


def _differences(study: Study, diffs: dict[str, dict[str, h.Interval]]) -> str:
    head = ["challenger - other", *(n for _, n in DIFFS)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for other, d in diffs.items():
        cells = [f"{study.challenger} - {other}"]
        for k, _ in DIFFS:
            iv = d[k]
            cells.append(
                "-"
                if not np.isfinite(iv.value)
                else f"{iv.value:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}] {_verdict(iv)}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _plain(iv: h.Interval) -> dict[str, float | None]:
    return {
        k: (float(v) if np.isfinite(v) else None)
        for k, v in zip(
            ("value", "low", "high", "seed_sd"),
            (iv.value, iv.low, iv.high, iv.seed_sd),
            strict=True,
        )
    }


def _panels(study: Study, out_dir: Path) -> list[str]:
    lines = []
    for p in study.panels:
        name = f"panel-{p.fold.name}.png"
        plots.comparison_panel(
            p.plane,
            p.target,
            {k: p.preds[k] for k in _ordered(study) if k in p.preds},
            out_dir / name,
        )
        lines.append(f"Fold {p.fold.index}, {p.field}, first seed:\n\n![{p.fold.name}]({name})")
    return lines


READING = (
    "How to read: the headline is the **mean over experiments of each experiment's mean "
    "per-unit Pearson r** (each experiment counts once, however many fields or bright pixels "
    "it has), averaged over seeds: the figure a user can expect, not the best run. SSIM and "
    "the haze shares are per-unit means, nuclei F1 and faint-quartile recall come from each "
    "experiment's summed detection counts (IoU >= 0.5, one to one), all averaged over "
    "experiments alike. Cells: mean ± seed sd [95% interval of a hierarchical bootstrap: "
    "experiments, then units within them, then seeds, {draws} draws; the same draws for "
    "every row, so differences are paired]. Haze share: the share of the variance at "
    "scales coarser than sigma 16 px, prediction (target). Pooled r pools every test pixel "
    "(secondary: bright experiments dominate it). 'Picked on validation' is the figure of "
    "the run a 'best seed per fold' rule would pick, by validation r only."
)


def _summary(study: Study, verdicts: dict[str, list[str]]) -> list[str]:
    lines = []
    for label, bad in verdicts.items():
        n = len(study_experiments(study))
        if bad:
            lines.append(
                f"- **{label}** does not beat both floors (r) on {len(bad)} of {n} experiments: "
                f"{', '.join(bad)}. It learned nothing useful there."
            )
        else:
            lines.append(
                f"- **{label}** beats both floors (r) on every one of the {n} experiments."
            )
    return lines


def write_report(study: Study, out_dir: Path, command: str, draws: int = 1000) -> Path:
    """Score intervals and differences, write report.md, metrics.json, panel-foldK.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    design = h.Design.of([u.experiment for u in study.units])
    max_seeds = max((len(r.seeds) for r in study.rows), default=1)
    drawn = h.draws(design, draws, max_seeds)
    folds = np.array([u.fold - 1 for u in study.units], np.intp)
    ivs = {r.label: h.intervals(r.stats, design, drawn) for r in study.rows}
    tables = {r.label: h.experiment_table(r.stats, design) for r in study.rows}
    picks = {
        r.label: h.headline(
            h.picked(r.stats, r.val_r, folds), design.groups, len(design.experiments)
        )
        for r in study.rows
        if r.kind != FLOOR
    }
    challenger = (
        study.row(study.challenger).stats
        if any(r.label == study.challenger for r in study.rows)
        else None
    )
    diffs = (
        {
            r.label: h.difference(challenger, r.stats, design, drawn)
            for r in study.rows
            if r.label != study.challenger
        }
        if challenger is not None
        else {}
    )
    verdicts = floor_verdicts(study, tables)
    _write_json(study, out_dir, command, ivs, tables, picks, diffs, verdicts)
    n_exp = len(design.experiments)
    sections = [
        f"# {study.title}",
        f"Made by `{command}`.",
        study.description,
        f"Input modality: **{MODALITY_NAMES[study.modality]}**. {n_exp} experiment(s), "
        f"{len(study.units)} test unit(s) over {len(study.folds)} fold(s); "
        + (
            "every experiment is tested exactly once, by a model that never saw it, selected "
            "on validation experiments of its own fold's training split."
            if study.origin == "crossval"
            else "each row scores its named model files on the recipe's test experiments "
            "(how each file was selected is in the description above)."
        ),
        _folds_table(study),
        f"Detection truth: **{study.detection}**.",
        READING.format(draws=draws),
    ]
    if n_exp == 1:
        sections.append(
            "One experiment only: the interval covers units (tiles) and seeds, not the spread "
            "between setups, which this data cannot show."
        )
    sections += [
        "## Headline (expected figures: mean over seeds and folds)"
        if study.origin == "crossval"
        else "## Headline (each row: mean over its model files; one file is one draw)",
        _headline(study, ivs, picks),
        "## Against the floors",
        "\n".join(_summary(study, verdicts)),
        "## Per experiment: Pearson r (mean of its units; ± seed sd)",
        _per_experiment(study, tables, "pearson_r"),
        "## Per experiment: nuclei F1",
        _per_experiment(study, tables, "f1"),
        "## Per experiment: haze share of the prediction",
        _per_experiment(study, tables, "haze_pred") + "\n\n" + _haze_targets(study, tables),
        f"## Paired differences ({study.challenger} against every other row)",
        "A difference is **better**/**worse** only where its paired 95% interval excludes 0 "
        "(and it shows at the tables' precision).",
        _differences(study, diffs),
    ]
    if study.notes:
        sections += ["## Notes", "\n".join(f"- {n}" for n in study.notes)]
    sections += ["## Panels", *_panels(study, out_dir)]
    path = out_dir / "report.md"
    path.write_text("\n\n".join(s for s in sections if s) + "\n")
    return path


def _haze_targets(study: Study, tables: dict[str, Any]) -> str:
    first = study.rows[0].label if study.rows else None
    if first is None:
        return ""
    cells = [
        f"{e}: {_f(tables[first][e]['haze_target'][0], '.2f')}" for e in study_experiments(study)
    ]
    return "Target's haze share per experiment: " + "; ".join(cells) + "."


def _write_json(
    study: Study,
    out_dir: Path,
    command: str,
    ivs: dict[str, dict[str, h.Interval]],
    tables: dict[str, Any],
    picks: dict[str, dict[str, float]],
    diffs: dict[str, dict[str, h.Interval]],
    verdicts: dict[str, list[str]],
) -> None:
    def num(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    doc = {
        "title": study.title,
        "command": command,
        "modality": study.modality,
        "detection_truth": study.detection,
        "folds": [
            {"index": f.index, "test": f.test, "val": f.val, "train": f.train} for f in study.folds
        ],
        "units": [
            {"fold": u.fold, "experiment": u.experiment, "label": u.label} for u in study.units
        ],
        "stats": list(h.STATS),
        "rows": {
            r.label: {
                "kind": r.kind,
                "seeds": list(r.seeds),
                "headline": {k: _plain(iv) for k, iv in ivs[r.label].items()},
                "per_experiment": {
                    e: {m: {"mean": num(v[0]), "seed_sd": num(v[1])} for m, v in ms.items()}
                    for e, ms in tables[r.label].items()
                },
                "picked_on_validation": {k: num(v) for k, v in picks.get(r.label, {}).items()},
                "validation_r": [[num(v) for v in seed] for seed in r.val_r],
                "below_a_floor": verdicts.get(r.label, []),
                "per_unit": [[[num(v) for v in unit] for unit in seed] for seed in r.stats],
            }
            for r in study.rows
        },
        "differences": {
            study.challenger: {o: {k: _plain(iv) for k, iv in d.items()} for o, d in diffs.items()}
        },
        "notes": list(study.notes),
    }
    (out_dir / "metrics.json").write_text(json.dumps(doc, indent=1, allow_nan=False))
