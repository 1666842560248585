"""``aglu-train``: fit the AGLU model from one recipe; evaluate a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge.cliutil import AgluGroup, setup_logging
from edge.errors import ConfigError


@click.group(cls=AgluGroup)
@click.option("--debug", is_flag=True)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Train and evaluate AGLU virtual-staining models."""
    ctx.obj = {"debug": debug}
    setup_logging(debug)


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.FIELD=VALUE",
    help="Override a recipe field (VALUE in TOML syntax), e.g. --set optim.seed=1 "
    "--set loss.nucleus_weight=3; repeatable.",
)
@click.option("--name", default=None, help="Run name (default: the recipe's name).")
@click.option(
    "--init",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Fine-tune: start from this checkpoint's weights (same [model] section).",
)
def fit(
    config: Path, out_dir: Path, overrides: tuple[str, ...], name: str | None, init: Path | None
) -> None:
    """Train from the TOML recipe CONFIG; checkpoint and resolved recipe go to OUT/NAME."""
    from training.config import apply_overrides, load_train_config
    from training.fit import distributed
    from training.fit.train import fit as run_fit

    cfg = apply_overrides(load_train_config(config), overrides, name, init)
    try:
        result = run_fit(cfg, out_dir / cfg.name)
    finally:
        distributed.teardown()  # torchrun: leave the process group cleanly
    click.echo(
        f"{'stage':<12}{'steps':>7}{'resumed at':>12}{'train loss':>12}{'val loss':>10}"
        f"{'val r':>8}{'kept step':>11}"
    )
    for s in result.stages:
        click.echo(
            f"{s.name:<12}{s.steps:>7}{s.resumed_from:>12}{s.final_loss:>12.4f}{s.val_loss:>10.4f}"
            f"{s.val_pearson_r:>8.4f}{s.kept_step:>11}"
        )
    click.echo(
        f"checkpoint {result.checkpoint} ({result.wall_s:.0f} s), "
        f"figures in {result.checkpoint.parent}"
    )


@main.command()
@click.argument("model_paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--recipe",
    type=click.Path(path_type=Path),
    default=None,
    help="Recipe whose test split all models are scored on "
    "(default: the first checkpoint's, or the shipped recipe).",
)
@click.option("--fields", default=16, show_default=True, help="Held-out simulated fields.")
@click.option("--side-px", default=256, show_default=True, help="Simulated field side.")
@click.option("--json-out", type=click.Path(path_type=Path), default=None, help="Also write JSON.")
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write metrics.json, report.md and panel.png here.",
)
@click.option("--title", default="AGLU evaluation", show_default=True)
def evaluate(
    model_paths: tuple[Path, ...],
    recipe: Path | None,
    fields: int,
    side_px: int,
    json_out: Path | None,
    report_dir: Path | None,
    title: str,
) -> None:
    """Evaluate models (.pt checkpoints or .onnx files) side by side on the same held-out data.

    Simulated recipes use fresh seeds disjoint from training and validation; real
    data uses the recipe's test split. Prints the summary; all metrics go to JSON.
    """
    from training.config import load_train_config
    from training.evaluate.predictors import default_recipe_path, onnx_predictor, torch_predictor
    from training.evaluate.report import SUMMARY, write_report
    from training.evaluate.score import score, test_fields
    from training.fit.progress import progress

    predictors, data_cfg = {}, load_train_config(recipe) if recipe else None
    for path in model_paths:
        if path.suffix == ".onnx":
            predictors[path.name] = onnx_predictor(path)
        else:
            predictors[path.name], cfg = torch_predictor(path)
            data_cfg = data_cfg or cfg
    data_cfg = data_cfg or load_train_config(default_recipe_path())
    held = test_fields(data_cfg, fields, side_px)
    results, first = {}, {}
    for name, predict in progress(predictors.items(), desc="evaluate", unit="model"):
        preds = [predict(q) for q in held.qpi]
        results[name] = score(preds, held, data_cfg.data.nucleus_floor)
        first[name] = preds[0]
    names = list(results)
    click.echo(f"{'metric':<40}" + "".join(f"{n[-22:]:>24}" for n in names))
    for key in SUMMARY:
        click.echo(f"{key:<40}" + "".join(f"{results[n][key]:>24.4f}" for n in names))
    command = (
        "aglu-train evaluate "
        + " ".join(str(p) for p in model_paths)
        + (f" --recipe {recipe}" if recipe else "")
        + f" --fields {fields} --side-px {side_px}"
    )
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {"command": command, "fields": fields, "side_px": side_px, "results": results},
                indent=2,
            )
        )
    if report_dir is not None:
        origin = ", ".join(sorted(set(held.origins)))[:300]
        from edge.infer.card import MODALITY_NAMES

        description = (
            f"Command: `{command}`\n\nTest data: {len(held.qpi)} field(s) from "
            f"{data_cfg.data.source} data ({origin}). Input modality: "
            f"{MODALITY_NAMES[data_cfg.data.modality]}."
        )
        path = write_report(
            report_dir, title, description, results, held.qpi[0][0], held.dapi[0], first
        )
        click.echo(f"report: {path}")


@main.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where metrics.json, report.md and panel.png go (default: beside SPEC).",
)
def compare(spec_path: Path, report_dir: Path | None) -> None:
    """Score rows of models (several seeds each) on one real test split, with both floors,
    per-experiment figures and hierarchical intervals (as aglu-train crossval, one fold).

    SPEC is a TOML file: title, recipe (its test split), [[rows]] (label, models, kind,
    note, recipe), [compare] challenger, draws, tile_px. See docs/evaluation/*/compare.toml.
    """
    from training.crossval import compare as cmp
    from training.crossval.report import write_report
    from training.fit.progress import progress

    spec = cmp.load_spec(spec_path)
    total_models = sum(len(r.models) for r in spec.rows) + 1
    with progress(total=total_models, desc="compare", unit="model") as bar:

        def step(what: str) -> None:
            bar.set_postfix_str(what[-40:])
            bar.update(1)

        study = cmp.run(spec, step)
    out = report_dir or spec_path.parent
    path = write_report(study, out, f"aglu-train compare {spec_path}", spec.draws)
    click.echo(f"report: {path}")


@main.command()
@click.argument("recipes", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Study folder: runs/ (one run folder per recipe, fold and seed), folds.json, and "
    "report.md, metrics.json and one panel per fold.",
)
@click.option("--folds", "k", default=4, show_default=True, help="Folds by experiment.")
@click.option(
    "--val-groups",
    default=2,
    show_default=True,
    help="Validation experiments per fold, taken from the fold's own training experiments.",
)
@click.option("--seeds", default="0", show_default=True, help="Seeds, e.g. 0,1,2.")
@click.option(
    "--train-folds",
    default="",
    help="Train only these folds, e.g. 3,4 (lanes side by side); the report needs them all.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.FIELD=VALUE",
    help="Override a field of every recipe (TOML syntax), e.g. --set optim.threads=1.",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where report.md, metrics.json and the panels go (default: --out).",
)
@click.option("--train-only", is_flag=True, help="Train the runs; no scoring, no report.")
@click.option("--no-train", is_flag=True, help="Score the runs there are; train nothing.")
@click.option("--draws", default=1000, show_default=True, help="Bootstrap draws.")
@click.option(
    "--tile-px",
    default=256,
    show_default=True,
    help="One image split by columns: its test region is scored in tiles of this side.",
)
def crossval(
    recipes: tuple[Path, ...],
    out_dir: Path,
    k: int,
    val_groups: int,
    seeds: str,
    train_folds: str,
    overrides: tuple[str, ...],
    report_dir: Path | None,
    train_only: bool,
    no_train: bool,
    draws: int,
    tile_px: int,
) -> None:
    """Cross-validate RECIPES (model kinds on the same data) by experiment.

    Every experiment (the recipe's data.group_pattern) is tested exactly once; each fold
    validates on experiments of its own training split; the recipe's own test experiments
    are fold 1. One image split by columns (data.test_columns_from) is one fixed fold.
    Each recipe trains once per fold and seed (resumable), then every model and two
    no-learning floors are scored per experiment on each fold's held-out experiments.
    The first recipe is the challenger of the paired differences.
    """
    from training.config import apply_overrides, load_train_config
    from training.crossval import runs
    from training.fit.progress import progress

    cfgs = [apply_overrides(load_train_config(r), overrides) for r in recipes]
    names = [c.name for c in cfgs]
    if len(set(names)) != len(names):
        raise ConfigError("recipes", f"two recipes share a name: {names}")
    seed_list = _int_list(seeds, "--seeds")
    folds = runs.folds_for(cfgs[0], k, val_groups)
    runs.check_plan(out_dir, folds)
    for f in folds:
        click.echo(
            f"{f.name}: test {', '.join(f.test)} | val {', '.join(f.val)} | "
            f"train {', '.join(f.train)}"
        )
    if not no_train:
        chosen = set(_int_list(train_folds, "--train-folds")) if train_folds else None
        plan = [
            (c, f, s)
            for s in seed_list
            for f in folds
            if chosen is None or f.index in chosen
            for c in cfgs
        ]
        for c, f, s in progress(plan, desc="crossval", unit="run"):
            runs.train(c, f, s, out_dir)
    if train_only:
        return
    from training.crossval.report import write_report
    from training.crossval.study import run_study

    command = "aglu-train crossval " + " ".join(str(r) for r in recipes)
    command += f" --out {out_dir} --folds {k} --val-groups {val_groups} --seeds {seeds}"
    command += "".join(f" --set {o}" for o in overrides)
    study = run_study(cfgs, folds, seed_list, out_dir, tile_px)
    path = write_report(study, report_dir or out_dir, command, draws)
    click.echo(f"report: {path}")


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(option, f"expected integers separated by commas, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise ConfigError(option, f"expected non-negative integers, got {text!r}")
    return values


if __name__ == "__main__":
    main()
