"""``aglu-train``: fit the AGLU model from one recipe; evaluate a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge.cliutil import AgluGroup, setup_logging


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
def fit(config: Path, out_dir: Path) -> None:
    """Train from the TOML recipe CONFIG; checkpoint and resolved recipe go to OUT/NAME."""
    from training.config import load_train_config
    from training.train import fit as run_fit

    cfg = load_train_config(config)
    result = run_fit(cfg, out_dir / cfg.name)
    click.echo(f"{'stage':<12}{'steps':>7}{'resumed at':>12}{'train loss':>12}{'val loss':>10}")
    for s in result.stages:
        click.echo(
            f"{s.name:<12}{s.steps:>7}{s.resumed_from:>12}{s.final_loss:>12.4f}{s.val_loss:>10.4f}"
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
    help="Recipe for data settings (ONNX models; default: the shipped recipe).",
)
@click.option("--fields", default=16, show_default=True, help="Held-out simulated fields.")
@click.option("--side-px", default=256, show_default=True)
@click.option("--json-out", type=click.Path(path_type=Path), default=None, help="Also write JSON.")
def evaluate(
    model_paths: tuple[Path, ...],
    recipe: Path | None,
    fields: int,
    side_px: int,
    json_out: Path | None,
) -> None:
    """Evaluate models (.pt checkpoints or .onnx files) side by side on held-out data.

    Simulated recipes use fresh seeds disjoint from training and validation; real
    data uses the recipe's held-out part.
    """
    from training.config import load_train_config
    from training.evaluate import evaluate as run_eval
    from training.predictors import default_recipe_path, onnx_predictor, torch_predictor

    results = {}
    for path in model_paths:
        if path.suffix == ".onnx":
            cfg = load_train_config(recipe or default_recipe_path())
            predict = onnx_predictor(path)
        else:
            predict, cfg = torch_predictor(path)
        results[path.name] = run_eval(predict, cfg, fields, side_px)
    names = list(results)
    click.echo(f"{'metric':<32}" + "".join(f"{n[-22:]:>24}" for n in names))
    for key in results[names[0]]:
        click.echo(f"{key:<32}" + "".join(f"{results[n][key]:>24.4f}" for n in names))
    if json_out is not None:
        report = {
            "command": "aglu-train evaluate "
            + " ".join(str(p) for p in model_paths)
            + f" --fields {fields} --side-px {side_px}",
            "fields": fields,
            "side_px": side_px,
            "results": results,
        }
        json_out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
