"""The adaptation curve (issue 27, item 5): each aiSEGcell experiment in turn as "the new
microscope". Its base is the cross-validation run (``runs/cv/aisegcell``, AGLU, seed 0)
of the fold that held that experiment out whole, so the base never saw it. The
experiment's stage positions in reading order: the first K (K = 1, 2; 4 where it has at
least 5) are the fields a lab would image with the stain; the held-out positions are
the same for K = 0 (the base), 1 and 2 (every position after the first two), and for
K = 4 every position after the first four. Every run is ``aglu-train adapt`` with a fixed
step count (the budget in minutes is the step count over the rate measured here).

    python tools/adapt_curve.py run  [--steps 500] [--only EXP]   # resumable: done runs skip
    python tools/adapt_curve.py run  --k 2 --seed 1               # runs go to EXP-k2-s1
    python tools/adapt_curve.py report --out docs/evaluation/adapt

The main table is seed 0; runs with other seeds (same fields, same steps) make the
seed table: how much of the spread is the seed and how much the experiment.

Run from the repository root with ../shared/data present.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "runs/adapt/aisegcell-fields.toml"
CV = ROOT / "runs/cv/aisegcell"
RUNS = ROOT / "runs/adapt/curve"
FIELDS_TOML = """# aiSEGcell bright-field, one field per stage position (experiment_position)
name = "aisegcell-fields"
[data]
source = "folders"
path = "{path}"
input_channel = "bf"
target_channel = "nuc"
mask_channel = "gt_mask"
modality = "bright-field"
group_pattern = "__(\\\\d{{6}}[A-Z]{{2}}\\\\d{{2}}_p\\\\d{{4}})_"
"""


def _positions() -> dict[str, list[str]]:
    from export.adapt import field_names, load_data_recipe

    out: dict[str, list[str]] = {}
    for name in field_names(load_data_recipe(DATA)):
        out.setdefault(name.split("_p")[0], []).append(name)
    return {e: sorted(p) for e, p in out.items()}


def _base(experiment: str) -> Path:
    folds = json.loads((CV / "folds.json").read_text())
    k = next(i + 1 for i, f in enumerate(folds) if experiment in f["test"])
    return CV / "runs" / f"aisegcell-aglu-fold{k}-s0" / f"aisegcell-aglu-fold{k}-s0.pt"


def plan() -> list[tuple[str, int, tuple[str, ...], tuple[str, ...]]]:
    """(experiment, K, training positions, held-out positions) of every run."""
    runs = []
    for exp, pos in sorted(_positions().items()):
        if len(pos) < 3:
            continue  # K = 1, 2 need a third position to hold out
        for k in (1, 2, 4):
            hold_from = 2 if k <= 2 else 4
            if len(pos) <= hold_from:
                continue
            runs.append((exp, k, tuple(pos[:k]), tuple(pos[hold_from:])))
    return runs


@click.group()
def main() -> None:
    """Run and report the adaptation curve."""


@main.command()
@click.option("--steps", default=500, show_default=True)
@click.option("--only", default=None, help="One experiment.")
@click.option("--k", "ks", default="1,2,4", show_default=True)
@click.option(
    "--minutes",
    type=float,
    default=None,
    help="A wall-clock budget (timed here) instead of --steps; runs go to EXP-kK-Mmin.",
)
@click.option("--seed", default=0, show_default=True, help="Not 0: runs go to EXP-kK-sSEED.")
def run(steps: int, only: str | None, ks: str, minutes: float | None, seed: int) -> None:
    from export.adapt import AdaptOptions, run_adapt

    if not DATA.exists():
        DATA.parent.mkdir(parents=True, exist_ok=True)
        DATA.write_text(FIELDS_TOML.format(path=(ROOT.parent / "shared/data/aisegcell-bf")))
    wanted = {int(v) for v in ks.split(",")}
    for exp, k, train, test in plan():
        if (only and exp != only) or k not in wanted:
            continue
        out = RUNS / (f"{exp}-k{k}" + (f"-{minutes:g}min" if minutes else ""))
        out = out.with_name(f"{out.name}-s{seed}") if seed else out
        if (out / "report" / "metrics.json").exists():
            continue
        if out.exists():
            import shutil

            shutil.rmtree(out)  # an interrupted run starts again
        budget = {"minutes": minutes} if minutes else {"steps": steps}
        opts = AdaptOptions(train_fields=train, test_fields=test, draws=1000, seed=seed, **budget)
        click.echo(f"{exp} K={k}: train {train}, hold out {test}")
        result = run_adapt(DATA, _base(exp), out, opts, say=click.echo)
        (out / "phases.json").write_text(json.dumps(result.phases_s, indent=1))


def _rows(path: Path) -> dict[str, float]:
    rows = json.loads(path.read_text())["rows"]
    return {label: r["headline"]["pearson_r"]["value"] for label, r in rows.items()}


RUN_KINDS = (("k1", "K=1"), ("k2", "K=2"), ("k4", "K=4"), ("k2-10min", "K=2, 10 min"))


def _collect() -> tuple[dict[str, dict[str, float]], list[dict[str, object]]]:
    """Per held-out set: r of base, floors and each run kind; and each run's cost."""
    from training.config import load_train_config

    table: dict[str, dict[str, float]] = {}
    runs: list[dict[str, object]] = []
    for exp, k, _train, _test in plan():
        for suffix, label in RUN_KINDS:
            if not suffix.startswith(f"k{k}"):
                continue
            folder = RUNS / f"{exp}-{suffix}"
            if not (folder / "report" / "metrics.json").exists():
                continue
            r = _rows(folder / "report" / "metrics.json")
            row = table.setdefault(f"{exp} (held out after {2 if k <= 2 else 4})", {})
            row[label] = r["adapted"]
            row["base"], row["texture"], row["ridge"] = (
                r["base"],
                r["texture floor"],
                r["ridge floor"],
            )
            phases = json.loads((folder / "phases.json").read_text())
            steps = load_train_config(folder / "recipe.toml").stages.end_to_end_steps
            runs.append(
                {
                    "run": folder.name,
                    "steps": steps,
                    "train_min": round(phases["train"] / 60, 2),
                    "total_min": round(phases["total"] / 60, 2),
                }
            )
    return table, runs


def _precision(folder: Path) -> str:
    """What the run shipped (and its report scored): int8 where the export gate passed."""
    return "int8" if any(folder.glob("*.int8.onnx")) else "fp32"


def _seed_lines() -> list[str]:
    """K=2 at 500 steps over seeds: each experiment's r per seed, its mean and sd."""
    per_exp: dict[str, dict[int, tuple[float, str]]] = {}
    below_base = below_floor = 0
    for exp, k, _train, _test in plan():
        if k != 2:
            continue
        for folder in [RUNS / f"{exp}-k2", *sorted(RUNS.glob(f"{exp}-k2-s*"))]:
            if (folder / "report" / "metrics.json").exists():
                seed = int(folder.name.rsplit("-s", 1)[1]) if "-s" in folder.name else 0
                rows = _rows(folder / "report" / "metrics.json")
                r = rows["adapted"]
                per_exp.setdefault(exp, {})[seed] = (r, _precision(folder))
                below_base += r < rows["base"]
                below_floor += r < max(rows["texture floor"], rows["ridge floor"])
    seeds = sorted({s for runs in per_exp.values() for s in runs})
    if len(seeds) < 2:
        return []
    lines = [
        "",
        f"K=2 at 500 steps over seeds {', '.join(map(str, seeds))} (same fields; each cell "
        "the shipped file's r: fp32, or int8 where the export gate passed):",
        "",
        "| experiment | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | sd |",
        "|---" * (len(seeds) + 3) + "|",
    ]
    means, sds = [], []
    for exp, runs in per_exp.items():
        vals = [runs[s][0] for s in seeds if s in runs]
        cells = [f"{runs[s][0]:.3f} ({runs[s][1]})" if s in runs else "-" for s in seeds]
        sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")
        means.append(float(np.mean(vals)))
        sds.append(sd)
        lines.append(f"| {exp} | " + " | ".join(cells) + f" | {means[-1]:.3f} | {sd:.3f} |")
    lines += [
        "",
        f"Mean over experiments of the per-experiment seed means: {np.mean(means):.3f} "
        f"(sd between experiments {np.std(means, ddof=1):.3f}); mean sd between seeds within "
        f"an experiment: {np.nanmean(sds):.3f}. Of the {sum(map(len, per_exp.values()))} runs, "
        f"{below_base} below the base and {below_floor} below the better floor.",
    ]
    return lines


@main.command()
@click.option("--out", type=click.Path(path_type=Path), required=True)
def report(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table, runs = _collect()
    out.mkdir(parents=True, exist_ok=True)
    cols = ["base", *(label for _, label in RUN_KINDS), "texture", "ridge"]
    lines = ["| held-out fields | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in table.items():
        cells = [f"{row[c]:.3f}" if c in row else "-" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for after in (2, 4):
        stats = []
        for c in cols:
            vals = [row[c] for name, row in table.items() if c in row and f"after {after}" in name]
            sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
            stats.append(f"{np.mean(vals):.3f} ± {sd:.3f} ({len(vals)})" if vals else "-")
        lines.append(f"| mean ± sd (held out after {after}) | " + " | ".join(stats) + " |")
    lines += ["", "Against the goal (never below the base or either floor on any experiment):", ""]
    for _, label in RUN_KINDS:
        rows = [row for row in table.values() if label in row]
        if rows:
            below_base = sum(row[label] < row["base"] for row in rows)
            below_floor = sum(row[label] < max(row["texture"], row["ridge"]) for row in rows)
            gains = [row[label] - row["base"] for row in rows]
            over = [row[label] - max(row["texture"], row["ridge"]) for row in rows]
            lines.append(
                f"- {label}: r - base {np.mean(gains):+.3f} (range {min(gains):+.3f} to "
                f"{max(gains):+.3f}); r - the better floor {np.mean(over):+.3f} (range "
                f"{min(over):+.3f} to {max(over):+.3f}); below the base on {below_base} of "
                f"{len(rows)}, below a floor on {below_floor} of {len(rows)}"
            )
    lines += _seed_lines()
    lines += ["", "| run | steps | train min | total min |", "|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['steps']} | {r['train_min']} | {r['total_min']} |" for r in runs]
    (out / "curve.md").write_text("\n".join(lines) + "\n")
    (out / "curve.json").write_text(json.dumps({"per_held_out_set": table, "runs": runs}, indent=1))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, row in table.items():
        if "after 2" not in name:
            continue
        ks = [k for k in (0, 1, 2) if k == 0 or f"K={k}" in row]
        line = ax.plot(ks, [row["base"] if k == 0 else row[f"K={k}"] for k in ks], "o-")
        line[0].set_label(name.split()[0])
        ax.axhline(max(row["texture"], row["ridge"]), color=line[0].get_color(), ls=":", lw=0.8)
        if "K=2, 10 min" in row:
            ax.plot([2.1], [row["K=2, 10 min"]], "s", color=line[0].get_color())
    ax.set_xlabel("fields adapted on (0: the base); squares: K=2 with a 10-min budget")
    ax.set_ylabel("mean per-tile Pearson r, held-out fields")
    ax.set_xticks([0, 1, 2])
    ax.legend(fontsize=7)
    ax.set_title("aiSEGcell: each experiment as the new microscope (dotted: better floor)")
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=110)
    click.echo((out / "curve.md").read_text())
    assert all(math.isfinite(v) for row in table.values() for v in row.values())


if __name__ == "__main__":
    main()
