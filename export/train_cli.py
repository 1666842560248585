"""``aglu-train``: the training CLI (``training.cli``) with ``bench``, which exports and times
ONNX graphs and so lives here: the dependency direction is export -> training -> edge, and
this module, at the top of it, assembles the command users run."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from edge.cliutil import AgluCommand
from training.cli import main


@click.command(cls=AgluCommand)
@click.option(
    "--sizes", default="1024", show_default=True, help="Square frame sides in px, e.g. 1024,2048."
)
@click.option("--repeats", default=5, show_default=True)
@click.option(
    "--peers",
    is_flag=True,
    help="Also the full-resolution fnet-style U-Net (torch, ORT fp32, ORT int8), parameter "
    "counts and peak RSS (issue 16's peer table).",
)
@click.option("--json-out", type=click.Path(path_type=Path), default=None)
def bench(sizes: str, repeats: int, peers: bool, json_out: Path | None) -> None:
    """Per-frame cost: AGLU (int8/fp32 ORT, torch) vs the U-Net and DDPM baselines."""
    import torch

    from export.bench import ddpm_sum_check, peers_table, speed_table
    from training.config import load_train_config
    from training.evaluate.predictors import default_recipe_path

    recipe = load_train_config(default_recipe_path())
    tables = {}
    for size_px in (int(v) for v in sizes.split(",")):
        rows = (peers_table if peers else speed_table)(recipe, size_px, repeats)
        tables[size_px] = rows
        base = rows[0].median_s
        click.echo(
            f"{size_px}x{size_px} px, {torch.get_num_threads()} threads, median of {repeats}"
        )
        click.echo(
            f"{'model':<24}{'runtime':<14}{'s/frame':>10}{'x AGLU int8':>13}{'params':>11}"
            f"{'peak RSS MB':>13}"
        )
        for r in rows:
            n = f"{r.params / 1e6:.2f} M" if r.params else "-"
            click.echo(
                f"{r.name:<24}{r.runtime:<14}{r.median_s:>10.3f}{r.median_s / base:>13.1f}"
                f"{n:>11}{r.peak_rss_mb:>13.0f}"
            )
    full, summed = ddpm_sum_check()
    click.echo(
        f"DDPM check at 128 px: full 50-step sample {full:.3f} s vs 50 x one step {summed:.3f} s"
    )
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {
                    "repeats": repeats,
                    "tables": {str(k): [asdict(r) for r in v] for k, v in tables.items()},
                    "ddpm_check_128px_s": {"full": full, "sum_of_steps": summed},
                },
                indent=2,
            )
        )


def _names(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@click.command(cls=AgluCommand)
@click.argument("data", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--base",
    required=True,
    help="The model to start from: a shipped model's name (aglu-edge models), an exported "
    ".onnx with its recipe beside it, or a training checkpoint (.pt).",
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="A new folder."
)
@click.option(
    "--minutes",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1, 24 * 60),
    help="Training budget on this machine (timed, then turned into steps).",
)
@click.option("--steps", type=click.IntRange(1), default=None, help="Steps instead of --minutes.")
@click.option(
    "--hold-out",
    default=1,
    show_default=True,
    help="Fields held out for the report (the last ones in reading order).",
)
@click.option("--test-fields", default="", help="Comma-separated fields to hold out instead.")
@click.option(
    "--train-fields", default="", help="Comma-separated fields to train on (default: the rest)."
)
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=0, show_default=True, help="torch threads (0: one per core).")
@click.option("--name", default=None, help="Model name (default: BASE-DATA).")
@click.option("--licence", default="the lab's own data: see its owner", show_default=True)
@click.option("--no-ship", is_flag=True, help="Skip sigma calibration and input statistics.")
@click.option("--draws", default=1000, show_default=True, help="Bootstrap draws of the report.")
def adapt(
    data: Path,
    base: str,
    out_dir: Path,
    minutes: float,
    steps: int | None,
    hold_out: int,
    test_fields: str,
    train_fields: str,
    seed: int,
    threads: int,
    name: str | None,
    licence: str,
    no_ship: bool,
    draws: int,
) -> None:
    """Fine-tune BASE on the lab's paired fields in DATA (a folder aglu-edge capture wrote,
    or a recipe TOML), export int8, ship it and report base vs adapted vs both floors on
    held-out fields. Deploy the model file it prints with aglu-edge ctl load MODEL."""
    from export.adapt import AdaptOptions, run_adapt

    opts = AdaptOptions(
        minutes=minutes,
        steps=steps,
        test_fields=_names(test_fields),
        hold_out=hold_out,
        train_fields=_names(train_fields),
        seed=seed,
        threads=threads,
        name=name,
        licence=licence,
        ship=not no_ship,
        draws=draws,
    )
    result = run_adapt(data, Path(base), out_dir, opts, say=click.echo)
    rows = json.loads((result.report.parent / "metrics.json").read_text())["rows"]
    click.echo(f"{'row':<16}{'r':>8}{'95% interval':>20}{'SSIM':>8}{'F1':>8}")
    for label, row in rows.items():
        h = row["headline"]
        r = h["pearson_r"]
        interval = f"[{r['low']:.3f}, {r['high']:.3f}]"
        click.echo(
            f"{label:<16}{r['value']:>8.3f}{interval:>20}"
            f"{h['ssim']['value']:>8.3f}{h['f1']['value']:>8.3f}"
        )
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in result.phases_s.items())
    click.echo(f"{result.steps} steps; {phases}")
    click.echo(f"model: {result.model}\nreport: {result.report}\nrecipe: {result.recipe}")


main.add_command(adapt)
main.add_command(bench)

if __name__ == "__main__":
    main()
