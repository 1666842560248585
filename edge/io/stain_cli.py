"""``aglu-edge stain``: the command over ``edge.io.offline``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edge.cliutil import AgluCommand
from edge.config import load_config

CONFIG = click.Path(path_type=Path)


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
def stain(
    inputs: tuple[Path, ...],
    out_dir: Path,
    config_path: Path | None,
    model_name: str | None,
    fmt: str,
    channel: str | None,
    pixel_size_um: float | None,
    with_input: bool,
) -> None:
    """Stain acquired datasets offline (OME-TIFF, OME-Zarr, NDTiff, folders of TIFF/PNG)
    with the daemon's stainer and quality block: one OUT/NAME.aglu.zarr (or .ome.tif) per
    input, with each frame's header and the input's metadata beside it. Never overwrites."""
    from edge.infer.serving import load_active
    from edge.io.offline import check_outputs, stain_file
    from edge.io.readers import open_reader

    cfg = load_config(config_path)
    if model_name is not None:
        model = cfg.model.model_copy(update={"name": model_name, "path": None})
        cfg = cfg.model_copy(update={"model": model})
    outs = check_outputs(list(inputs), out_dir, fmt)
    first = open_reader(inputs[0], channel)
    shape = first.frame_shape_px
    first.close()
    active = load_active(cfg, shape)
    out_dir.mkdir(parents=True, exist_ok=True)
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
            )
        click.echo(
            f"{r.output}: {r.frames} frames ({r.rejected} refused, {r.failed} failed) in "
            f"{r.wall_s:.1f} s, of which staining {r.stain_s:.1f} s "
            f"({r.wall_s / max(r.stain_s, 1e-9):.2f}x)"
        )
