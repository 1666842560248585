"""``aglu-edge``: run the daemon, subscribe to it, or run the demo."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar, cast

import click

from edge.cliutil import AgluGroup, setup_logging
from edge.config import EdgeConfig, load_config
from edge.daemon import Daemon
from edge.errors import AgluError
from edge.io.sinks import open_sink
from edge.io.stain_cli import bench_stain, stain
from edge.net.client import Subscriber
from edge.net.control import request
from edge.net.security import CurveClientConfig, create_keypair
from edge.notify import notifier_from_env
from edge.soak.cli import soak
from edge.view.printer import receive

logger = logging.getLogger("edge")
F = TypeVar("F", bound=Callable[..., Any])
_KEY_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Daemon TOML config (default: the embedded default).",
)


def curve_client_options(func: F) -> F:
    """``--server-key``/``--secret-key`` become one ``curve`` argument (None: no CURVE)."""

    @functools.wraps(func)
    def wrapper(*args: Any, server_key: Path | None, secret_key: Path | None, **kwargs: Any) -> Any:
        if (server_key is None) != (secret_key is None):
            raise click.UsageError("CURVE needs both --server-key and --secret-key")
        curve = CurveClientConfig(server_key, secret_key) if server_key and secret_key else None
        return func(*args, curve=curve, **kwargs)

    secret = click.option(
        "--secret-key", type=_KEY_FILE, help="CURVE: this client's secret key (NAME.key_secret)."
    )
    server = click.option(
        "--server-key", type=_KEY_FILE, help="CURVE: the daemon's public key (NAME.key)."
    )
    return cast(F, server(secret(wrapper)))


@click.group(cls=AgluGroup)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """AGLU edge: virtual staining beside Micro-Manager, streamed over ZeroMQ."""
    ctx.obj = {"debug": debug}
    setup_logging(debug)


def _run_daemon(cfg: EdgeConfig, config_path: Path | None) -> Daemon:
    """Serve until SIGTERM/SIGINT or the source ends; SIGHUP re-reads ``config_path``."""
    daemon = Daemon.for_config(cfg, notifier_from_env(os.environ))
    stop, reload_requested = threading.Event(), threading.Event()

    def _on_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    def _on_hup(_signum: int, _frame: FrameType | None) -> None:
        reload_requested.set()

    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGINT, _on_stop)
    signal.signal(signal.SIGHUP, _on_hup)

    def _reload() -> None:
        logger.info("SIGHUP: reloading %s", config_path or "the embedded default")
        try:
            new = load_config(config_path)
        except AgluError as exc:
            daemon.reload_failed(exc)
        else:
            daemon.reload(new)

    daemon.start()
    reloader: threading.Thread | None = None
    while not stop.is_set() and not daemon.wait(0.1):
        if reload_requested.is_set() and (reloader is None or not reloader.is_alive()):
            reload_requested.clear()
            # On its own thread: a SIGTERM during a model load and warm-up is not kept waiting.
            reloader = threading.Thread(target=_reload, name="aglu-reload", daemon=True)
            reloader.start()
    daemon.stop()  # cancels a reload's warm-up too
    if reloader is not None:
        # Never exit with a reload inside onnxruntime: the process would abort (SIGABRT,
        # "terminate called without an active exception"; issue 25).
        reloader.join(10)
    return daemon


@main.command()
@config_option
def run(config_path: Path | None) -> None:
    """Run the daemon until SIGTERM/SIGINT (or the source ends)."""
    daemon = _run_daemon(load_config(config_path), config_path)
    snap = daemon.counters.snapshot()
    click.echo(f"stopped: {snap.line()}", err=True)
    if daemon.failure is not None:
        raise SystemExit(1)


@main.command()
@click.option("--endpoint", default="tcp://127.0.0.1:5555", show_default=True)
@click.option("--count", default=0, show_default=True, help="Frames to receive (0: forever).")
@click.option("--timeout-s", default=10.0, show_default=True, help="Give up after this silence.")
@click.option("--quiet", is_flag=True, help="Print only the summary.")
@click.option(
    "--save",
    type=click.Path(path_type=Path),
    default=None,
    help="Save every frame: a new .zarr folder (OME-Zarr) or .ome.tif file.",
)
@click.option(
    "--truth",
    type=click.Path(path_type=Path),
    default=None,
    help="A recording with the true stain (the replayed file): print each frame's Pearson r.",
)
@click.option("--truth-channel", default=None, help="Its channel of the true stain, by name.")
@curve_client_options
def subscribe(
    endpoint: str,
    count: int,
    timeout_s: float,
    quiet: bool,
    save: Path | None,
    truth: Path | None,
    truth_channel: str | None,
    curve: CurveClientConfig | None,
) -> None:
    """Receive stained frames; print per-frame latency and a summary, optionally save them."""
    from edge.view.truth import Truth

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    reference = Truth(truth, truth_channel) if truth is not None else None
    sink = open_sink(save) if save is not None else None
    echo = None if quiet else click.echo
    try:
        with Subscriber(endpoint, curve=curve) as sub:
            summary = receive(
                sub,
                count,
                timeout_s,
                echo,
                sink,
                stop.is_set,
                reference.score if reference else None,
            )
    except TimeoutError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    finally:
        if sink is not None:
            sink.close()
        if reference is not None:
            reference.close()
    for line in summary.lines():
        click.echo(line)
    if sink is not None and summary.saved:
        click.echo(f"saved {summary.saved} frames to {sink.path} (+ {sink.path}.frames.jsonl)")
    if summary.daemon_ended == "failed":
        sys.exit(1)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--name", default="server", show_default=True, help="Key file name stem.")
def keys(directory: Path, name: str) -> None:
    """Create a CURVE keypair: NAME.key (public, share it) and NAME.key_secret (0600)."""
    public, secret = create_keypair(directory, name)
    click.echo(f"public key: {public}\nsecret key: {secret} (mode 0600; keep it on this host)")


@main.command()
@click.argument("command", type=click.Choice(["status", "ping", "load"]))
@click.argument("model", required=False)
@click.option("--precision", type=click.Choice(["int8", "fp32"]), default=None)
@click.option("--control", default="tcp://127.0.0.1:5556", show_default=True)
@click.option("--timeout-s", default=None, type=float, help="Default: 2 s (load: 120 s).")
def ctl(
    command: str, model: str | None, precision: str | None, control: str, timeout_s: float | None
) -> None:
    """Ask a running daemon over its control socket; exit 2 if it does not answer.

    `ctl load MODEL` swaps its model for MODEL (an .onnx file or a shipped model's name)
    as SIGHUP does: checked and warmed up first, the old model serving until then and on
    any failure. The daemon must allow it ([control] allow_load = true)."""
    if (command == "load") != (model is not None):
        raise click.UsageError("MODEL goes with load, and only with load")
    args = (
        {}
        if model is None
        else {"model": str(Path(model).resolve()) if Path(model).exists() else model}
    )
    if precision is not None:
        args["precision"] = precision
    wait_s = timeout_s if timeout_s is not None else (120.0 if command == "load" else 2.0)
    reply = request(control, command, wait_s, **args)
    click.echo(json.dumps(reply, indent=2))


@main.command()
@click.option("--endpoint", default="tcp://127.0.0.1:5555", show_default=True)
@curve_client_options
@click.option("--frames", default=0, show_default=True, help="Close after N frames (0: never).")
@click.option(
    "--screenshot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With --frames: save the canvas (PNG) before closing.",
)
def view(
    endpoint: str, curve: CurveClientConfig | None, frames: int, screenshot: Path | None
) -> None:
    """Open napari on the live stream: QPI, predicted DAPI and uncertainty layers."""
    from edge.view.viewer import run_viewer

    if screenshot is not None and frames == 0:
        raise click.UsageError("--screenshot needs --frames")
    shown = run_viewer(endpoint, curve, frames, screenshot)
    click.echo(f"showed {shown} frames from {endpoint}", err=True)


@main.command()
def models() -> None:
    """The shipped models: name, modality, input planes, precisions, size, metrics, sha256."""
    from edge.infer.model import SessionConfig, load_model, shipped_models

    for name, files in shipped_models().items():
        for precision, path in files.items():
            loaded = load_model(path, SessionConfig())
            card = loaded.card
            m = card.metrics
            figures = ", ".join(
                f"{label} {m[key]:.3f}"
                for key, label in (
                    ("crossval_pearson_r", "cross-validated r"),
                    ("test_pearson_r", "test r"),
                    ("test_texture_floor_pearson_r", "texture floor r"),
                    ("test_f1", "nuclei F1"),
                )
                if key in m
            )
            click.echo(
                f"{name.removeprefix('aglu-'):<12} {card.modality:<15} {card.input_planes:>2} "
                f"plane(s)  {precision:<5} {path.stat().st_size / 1e6:5.1f} MB  "
                f"calibrated {'yes' if card.calibration else 'no ':<3}  "
                f"sha256 {loaded.sha256[:12]}  {figures or 'no real-data test figures'}"
            )


@main.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate a config and load + warm up its model, without binding anything."""
    cfg = load_config(config_path)
    daemon = Daemon.for_config(cfg)
    active = daemon.check()
    click.echo(
        f"ok: {config_path or 'embedded default'}: source {cfg.source.kind}, model "
        f"{active.model.card.name} {active.model.card.precision} "
        f"(sha256 {active.model.sha256[:12]}), publish {cfg.publish.endpoint}"
    )


@main.command()
@click.option(
    "--source",
    "source_kind",
    type=click.Choice(["real", "simulated"]),
    default="real",
    show_default=True,
    help="real: the shipped bright-field recording through aglu-brightfield; simulated: "
    "the simulated QPI microscope through aglu-qpi.",
)
@click.option("--frames", default=20, show_default=True, help="Simulated: frames to wait for.")
@click.option("--size", "size_px", default=512, show_default=True, help="Simulated: frame side.")
@click.option("--fps", default=4.0, show_default=True)
@click.option("--precision", type=click.Choice(["int8", "fp32"]), default="int8", show_default=True)
def demo(source_kind: str, frames: int, size_px: int, fps: float, precision: str) -> None:
    """Daemon (a microscope + a shipped model) and a subscriber process; ends by itself."""
    from edge.view.demo import run_demo

    sys.exit(run_demo(source_kind, frames, size_px, fps, precision, click.echo))


@main.command()
@click.option("--sizes", default="1024,2048", show_default=True, help="Frame sides in px.")
@click.option("--frames", default=20, show_default=True, help="Frames per measurement.")
@click.option(
    "--models",
    default="",
    metavar="A.onnx,B.onnx",
    help="Instead: the stainer of each model file side by side (interleaved), with the "
    "ratio of each to the first.",
)
@click.option(
    "--session-options",
    is_flag=True,
    help="Instead: the int8 stainer under each onnxruntime setting, side by side.",
)
@click.option("--idle/--no-idle", default=True, show_default=True, help="Also measure idle CPU.")
@click.option(
    "--markdown",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the table into this file, between its aglu-edge bench markers.",
)
def bench(
    sizes: str, frames: int, models: str, session_options: bool, idle: bool, markdown: Path | None
) -> None:
    """Latency p50/p95, fps and peak RSS: stainer alone and end to end (with where its time
    goes), int8 vs fp32; the quality block; idle CPU with and without onnxruntime spinning."""
    import datetime
    import shlex

    from edge import bench as b

    sides = [int(s) for s in sizes.split(",")]
    if markdown is not None:
        try:
            if models or session_options:
                raise ValueError("writes the default table only: drop --models/--session-options")
            b.check_markdown_target(markdown)  # before minutes of measuring
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--markdown") from None
    if models:
        lines = b.model_lines([m for m in models.split(",") if m], sides, frames)
    elif session_options:
        lines = b.session_lines(sides, frames)
    else:
        rows = b.bench(sides, frames)
        lines = b.table_lines(rows) + b.leg_lines(rows)
        if markdown is not None:
            command = shlex.join(["aglu-edge", *sys.argv[1:]])
            b.write_markdown(markdown, rows, f"`{command}`, {datetime.date.today()}:")
    for line in lines:
        click.echo(line)
    if idle and not (models or session_options):
        for spinning in (False, True):
            click.echo(
                f"idle daemon (1 fps source, 512 px), allow_spinning={str(spinning).lower()}: "
                f"{b.idle_cpu_percent(spinning):.1f}% CPU"
            )


@main.command("bench-hook")
@click.option("--size", "size_px", default=2048, show_default=True, help="Frame side in px.")
@click.option("--calls", default=200, show_default=True)
def bench_hook(size_px: int, calls: int) -> None:
    """What the pycromanager hook costs the acquisition thread per frame (uint16)."""
    from edge.sources.mm.hook_bench import bench_hook as run

    click.echo(f"{'hook target':<16}{'calls':>7}{'p50 ms':>9}{'p95 ms':>9}")
    for r in run(size_px, calls):
        click.echo(f"{r.target:<16}{r.calls:>7}{r.p50_ms:>9.2f}{r.p95_ms:>9.2f}")


main.add_command(stain)
main.add_command(bench_stain)
main.add_command(soak)

if __name__ == "__main__":
    main()
