"""``aglu-export CHECKPOINT``: ONNX fp32 + int8 with parity gates and model cards."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cliutil import AgluCommand, setup_logging


@click.command(cls=AgluCommand)
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("exported"), show_default=True
)
@click.option("--calibration-frames", default=16, show_default=True)
@click.option("--parity-frames", default=8, show_default=True)
@click.option(
    "--side-px", default=256, show_default=True, help="Frame side for calibration/parity."
)
@click.option("--fp32-only", is_flag=True, help="Skip int8 (and its parity gate).")
@click.option(
    "--max-pearson-loss",
    default=0.005,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="int8 gate: refuse int8 whose Pearson r vs fp32 on held-out frames is below 1 - this.",
)
@click.option(
    "--int8-fallback",
    is_flag=True,
    help="Where the gate refuses int8: retry with the DAPI decoder kept fp32 (gated the same "
    "way; 1.45x the all-int8 time at 1024 px, fp32 2.24x).",
)
@click.option(
    "--bioimageio",
    is_flag=True,
    help="Also write OUT/NAME.bioimageio.zip (fp32 weights), validated with bioimageio.spec.",
)
@click.option("--debug", is_flag=True)
def main(
    checkpoint: Path,
    out_dir: Path,
    calibration_frames: int,
    parity_frames: int,
    side_px: int,
    fp32_only: bool,
    max_pearson_loss: float,
    int8_fallback: bool,
    bioimageio: bool,
    debug: bool,
) -> None:
    """Export CHECKPOINT to OUT/NAME.onnx and OUT/NAME.int8.onnx, each with its model card."""
    from export.pipeline import ExportOptions, run_export, summary_rows
    from export.quantize import DECODER

    setup_logging(debug)
    opts = ExportOptions(
        calibration_frames,
        parity_frames,
        side_px,
        fp32_only,
        max_pearson_loss=max_pearson_loss,
        int8_fallbacks=(DECODER,) if int8_fallback else (),
    )
    result = run_export(checkpoint, out_dir, opts)
    kept = f" ({', '.join(result.int8_kept_fp32)} kept fp32)" if result.int8_kept_fp32 else ""
    click.echo(f"fp32: {result.fp32}\nint8: {result.int8}{kept}\nhalo: {result.halo_px} px")
    for name, value in summary_rows(result.parity):
        click.echo(f"  {name:<32} {value}")
    if bioimageio:
        from export.bioimageio import write_package

        package = write_package(result.fp32, out_dir / f"{result.fp32.stem}.bioimageio.zip")
        click.echo(f"bioimage.io package: {package} (bioimageio.spec: valid)")


@click.command(cls=AgluCommand)
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--recipe",
    type=click.Path(path_type=Path),
    required=True,
    help="The model's recipe: its TOML, or the training run's config.resolved.json.",
)
@click.option("--name", required=True, help="The shipped name, e.g. aglu-brightfield.")
@click.option("--licence", required=True, help="The training data's licence.")
@click.option("--source", default="", help="Where the training data comes from (citation).")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The shipped .onnx file."
)
@click.option(
    "--report-dir", type=click.Path(path_type=Path), required=True, help="quality.md goes here."
)
@click.option(
    "--compare-metrics",
    type=click.Path(path_type=Path),
    default=None,
    help="aglu-train compare's metrics.json: its figures go into the card's metrics.",
)
@click.option("--compare-row", default=None, help="This model's row (default: the challenger).")
@click.option(
    "--other-recipe",
    type=click.Path(path_type=Path),
    default=None,
    help="Another modality's recipe: its test frames must be flagged.",
)
@click.option("--debug", is_flag=True)
def ship(
    model: Path,
    recipe: Path,
    name: str,
    licence: str,
    source: str,
    out: Path,
    report_dir: Path,
    compare_metrics: Path | None,
    compare_row: str | None,
    other_recipe: Path | None,
    debug: bool,
) -> None:
    """Calibrate sigma, measure the input statistics and write MODEL's shippable copy."""
    import shlex
    import sys

    from export.ship import ShipOptions, run_ship
    from export.ship_report import write_report

    setup_logging(debug)
    opts = ShipOptions(name, licence, source, compare_metrics, compare_row, other_recipe)
    report = run_ship(model, recipe, out, opts)
    command = shlex.join(["aglu-ship", *sys.argv[1:]])
    path = write_report(report, report_dir, command)
    cal = report.card.calibration
    assert cal is not None
    click.echo(f"{out}: {report.card.name}, sigma x {cal.sigma_scale:.3f}; report {path}")
    for split, table in report.coverage.items():
        click.echo(
            f"  coverage {split:<16} " + "  ".join(f"{k}%: {v:.3f}" for k, v in table.items())
        )
    for kind, rate in report.flag_rates.items():
        click.echo(f"  flagged  {kind:<24} {rate:.3f}")


@click.command(cls=AgluCommand)
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="The rewritten .onnx (may be MODEL).",
)
@click.option("--debug", is_flag=True)
def relayout(model: Path, out: Path, debug: bool) -> None:
    """Rewrite MODEL's graph for onnxruntime's CPU speed, keeping its weights and outputs.

    Each rewrite (export.rewrites) is kept only where the outputs on probe frames move by at
    most 1e-5 of their range; aglu-export applies them to every export already.
    """
    from export.rewrites import relayout_file

    setup_logging(debug)
    report = relayout_file(model, out)
    for r in report:
        verdict = "kept" if r.kept else ("not applicable" if not r.places else "dropped")
        click.echo(f"  {r.name:<16} {r.places:>3} places  max change {r.max_error:.1e}  {verdict}")
    click.echo(f"{out}: {sum(r.places for r in report if r.kept)} places rewritten")


if __name__ == "__main__":
    main()
