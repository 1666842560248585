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


main.add_command(bench)

if __name__ == "__main__":
    main()
