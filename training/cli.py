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
    click.echo(
        f"checkpoint {result.checkpoint}: {result.steps} steps in {result.wall_s:.0f} s, "
        f"train loss {result.final_loss:.4f}, val loss {result.val_loss:.4f}"
    )


@main.command()
@click.argument("model_path", type=click.Path(path_type=Path))
@click.option(
    "--recipe",
    type=click.Path(path_type=Path),
    default=None,
    help="Recipe for data settings (ONNX models; default: the shipped recipe).",
)
@click.option("--fields", default=16, show_default=True, help="Held-out simulated fields.")
@click.option("--side-px", default=256, show_default=True)
def evaluate(model_path: Path, recipe: Path | None, fields: int, side_px: int) -> None:
    """Evaluate MODEL_PATH (a .pt checkpoint or an .onnx file) on held-out simulated fields."""
    from training.config import load_train_config
    from training.evaluate import evaluate as run_eval
    from training.predictors import default_recipe_path, onnx_predictor, torch_predictor

    if model_path.suffix == ".onnx":
        data = load_train_config(recipe or default_recipe_path()).data
        predict = onnx_predictor(model_path)
    else:
        predict, cfg = torch_predictor(model_path)
        data = cfg.data
    click.echo(json.dumps(run_eval(predict, data, fields, side_px), indent=2))


if __name__ == "__main__":
    main()
