"""``aglu-edge stain``: the command over ``edge.io.offline``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edge.cliutil import AgluCommand
from edge.config import EdgeConfig, load_config

CONFIG = click.Path(path_type=Path)


def with_model(cfg: EdgeConfig, model_name: str | None) -> EdgeConfig:
    """``cfg`` with the shipped model ``model_name`` in place of its own (None: as is)."""
    if model_name is None:
        return cfg
    model = cfg.model.model_copy(update={"name": model_name, "path": None})
    return cfg.model_copy(update={"model": model})


@click.command(cls=AgluCommand)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option("--config", "config_path", type=CONFIG, default=None, help="Its [model] section.")
@click.option("--model", "model_name", default=None, help="A shipped model (overrides the config).")
@click.option(
    "--format", "fmt", type=click.Choice(["zarr", "tiff"]), default="zarr", show_default=True
)
@click.option("--channel", default=None, help="Multi-channel inputs: the channel to stain.")
@click.option("--pixel-size-um", type=float, default=None, help="Recorded in the outputs.")
@click.option("--with-input", is_flag=True, help="Also copy each input plane into the output.")
@click.option(
    "--writer-priority",
    type=click.Choice(["idle", "normal"]),
    default="idle",
    show_default=True,
    help="Write at idle priority (only on cores inference leaves idle; normal priority "
    "from the moment other processes starve it) or at normal priority.",
)
def stain(
    inputs: tuple[Path, ...],
    out_dir: Path,
    config_path: Path | None,
    model_name: str | None,
    fmt: str,
    channel: str | None,
    pixel_size_um: float | None,
    with_input: bool,
    writer_priority: str,
) -> None:
    """Stain acquired datasets offline (OME-TIFF, OME-Zarr, NDTiff, folders of TIFF/PNG)
    with the daemon's stainer and quality block: one OUT/NAME.aglu.zarr (or .ome.tif) per
    input, with each frame's header and the input's metadata beside it. Never overwrites."""
    from edge.infer.serving import load_active
    from edge.io.offline import check_outputs, stain_file
    from edge.io.readers import open_reader

    cfg = with_model(load_config(config_path), model_name)
    outs = check_outputs(list(inputs), out_dir, fmt)
    first = open_reader(inputs[0], channel)
    shape = first.frame_shape_px
    first.close()
    active = load_active(cfg, shape)
    out_dir.mkdir(parents=True, exist_ok=True)
    polite = writer_priority == "idle"
    for path, out in zip(inputs, outs, strict=True):
        with click.progressbar(length=1, label=path.name, file=sys.stderr) as bar:

            def advance(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            r = stain_file(
                path,
                out,
                active.model,
                active.stainer,
                active.meter,
                channel,
                pixel_size_um,
                advance,
                with_input,
                polite,
            )
        polite = polite and not r.writer_starved  # starved once: normal for the rest
        click.echo(
            f"{r.output}: {r.frames} frames ({r.rejected} refused, {r.failed} failed) in "
            f"{r.wall_s:.1f} s, of which staining {r.stain_s:.1f} s "
            f"({r.wall_s / max(r.stain_s, 1e-9):.2f}x)"
        )


@click.command("bench-stain", cls=AgluCommand)
@click.option("--size", "size_px", default=2048, show_default=True, help="Frame side in px.")
@click.option("--frames", default=100, show_default=True, help="Planes in the input OME-TIFF.")
@click.option("--repeats", default=3, show_default=True, help="Side-by-side passes of each.")
@click.option(
    "--format", "fmt", type=click.Choice(["zarr", "tiff"]), default="zarr", show_default=True
)
@click.option("--config", "config_path", type=CONFIG, default=None, help="Its [model] section.")
@click.option("--model", "model_name", default=None, help="A shipped model (overrides the config).")
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Keep the input here (reused when there); default: a temporary folder, removed.",
)
def bench_stain(
    size_px: int,
    frames: int,
    repeats: int,
    fmt: str,
    config_path: Path | None,
    model_name: str | None,
    workdir: Path | None,
) -> None:
    """`aglu-edge stain` on a FRAMES-plane OME-TIFF against the stainer alone on the same
    planes, REPEATS times (each starting with the next pass): wall times, their ratio
    (median quoted), peak RSS, and the same with the writer at normal priority (what its
    idle priority buys)."""
    import contextlib
    import statistics
    import tempfile

    from edge.infer.serving import load_active
    from edge.io.stain_bench import StainBenchRow, bench_stain

    cfg = with_model(load_config(config_path), model_name)
    active = load_active(cfg, (size_px, size_px))
    name = f"{active.model.card.name} ({Path(active.model.path).name})"
    click.echo(f"{name}, {size_px} px, {frames} frames, output {fmt}")
    click.echo(
        f"{'repeat':>6}{'stainer s':>11}{'stain s':>9}{'of which inference':>20}{'ratio':>7}"
        f"{'peak RSS MB':>13}{'normal-priority writer s':>26}{'ratio':>7}"
    )

    def echo(r: StainBenchRow) -> None:
        click.echo(
            f"{r.repeat:>6}{r.stainer_s:>11.1f}{r.stain_s:>9.1f}{r.inference_s:>20.1f}"
            f"{r.ratio:>7.3f}{r.peak_rss_mb:>13.0f}{r.normal_s:>26.1f}{r.normal_ratio:>7.3f}"
            + ("  (the idle writer starved)" if r.starved else "")
        )

    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aglu-bench-")))
        workdir.mkdir(parents=True, exist_ok=True)
        rows = bench_stain(active, workdir, size_px, frames, repeats, fmt, echo)
    for label, ratios in (
        ("stain / stainer", [r.ratio for r in rows]),
        ("stain with a normal-priority writer / stainer", [r.normal_ratio for r in rows]),
    ):
        click.echo(
            f"median {label}: {statistics.median(ratios):.3f} "
            f"(range {min(ratios):.3f}-{max(ratios):.3f}, {len(rows)} repeats)"
        )
