"""``aglu-edge soak``: the command over ``edge.soak.run``."""

from __future__ import annotations

import sys

import click

from edge.cliutil import AgluCommand


@click.command(cls=AgluCommand)
@click.option("--frames", default=100_000, show_default=True)
@click.option("--size", "size_px", default=256, show_default=True, help="Frame side in px.")
@click.option("--reload-every", default=1_000, show_default=True, help="Frames between reloads.")
@click.option("--kill-every", default=1_000, show_default=True, help="Frames between crashes.")
@click.option(
    "--hostile",
    is_flag=True,
    help="Frames through the ingest socket with one bad frame or message after every 10 good, "
    "every other reload a NaN model, and the sidecar on a Micro-Manager port that flaps "
    "(needs onnx: the export extra).",
)
def soak(frames: int, size_px: int, reload_every: int, kill_every: int, hostile: bool) -> None:
    """FRAMES through the daemon with a fast, a slow and a crashing subscriber and periodic
    reloads; RSS, fds and threads at start, middle and end. Exit 1 on a leak or counters
    that do not add up (RSS growth over 5% middle -> end, more fds or threads at the end),
    and with --hostile if the daemon stopped, took a NaN model or let stale connects pile up."""
    from edge.soak.run import SoakConfig, run_soak

    cfg = SoakConfig(frames, size_px, reload_every, kill_every, hostile=hostile)
    with click.progressbar(length=frames, label="soak", file=sys.stderr) as bar:
        done = [0]

        def advance(n: int) -> None:
            bar.update(max(0, min(n, frames) - done[0]))
            done[0] = max(done[0], min(n, frames))

        result = run_soak(cfg, advance)
    for line in result.lines():
        click.echo(line)
    problems = result.problems()
    if problems:
        click.echo(f"soak: FAILED ({'; '.join(problems)})", err=True)
        sys.exit(1)
    click.echo("soak: passed")
