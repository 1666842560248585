"""``aglu-edge demo``: a daemon on a microscope and a shipped model, plus a subscriber
process that prints what it receives; ends by itself.

``real`` (the default) replays the real bright-field recording shipped in
``edge/samples`` through ``aglu-brightfield``, and the subscriber scores each
prediction against the recording's true nuclear channel; ``simulated`` runs the
simulated QPI microscope through ``aglu-qpi``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from edge.config import parse_config
from edge.daemon import Daemon
from edge.sources.replay import DEMO_SAMPLE, DEMO_SAMPLE_FRAMES


def run_demo(
    source_kind: str,
    frames: int,
    size_px: int,
    fps: float,
    precision: str,
    echo: Callable[..., None],
) -> int:
    """The demo; returns the subscriber's exit status."""
    if source_kind == "real":
        source: dict[str, object] = {
            "kind": "replay",
            "path": str(DEMO_SAMPLE),
            "channel": "bright-field",
            "fps": fps,
            "loop": True,  # the subscriber process joins a running stream
        }
        model, frames = "brightfield", DEMO_SAMPLE_FRAMES
        truth = ["--truth", str(DEMO_SAMPLE), "--truth-channel", "nuclei"]
    else:
        source = {"kind": "simulated", "height_px": size_px, "width_px": size_px, "fps": fps}
        model, truth = "qpi", []
    cfg = parse_config(
        {
            "source": source,
            "model": {"name": model, "precision": precision},
            "publish": {"endpoint": "tcp://127.0.0.1:0"},
            "control": {"endpoint": "tcp://127.0.0.1:0"},
        },
        "demo",
    )
    daemon = Daemon.for_config(cfg)
    daemon.start()
    card = daemon.model.card
    echo(
        f"daemon READY on {daemon.endpoint} (control {daemon.control_endpoint}); model "
        f"{card.name} ({card.modality}, {precision}); starting subscriber process",
        err=True,
    )
    if source_kind == "real":
        echo(
            f"replaying {DEMO_SAMPLE.name}: {frames} real bright-field frames of the aiSEGcell "
            "data (CC-BY 4.0, Schirmacher et al., github.com/bethcg/aiSEGcell). They come from "
            f"{card.name}'s training experiments, so r here is not a test score: its held-out "
            "score is in docs/evaluation/shipped-brightfield/.",
            err=True,
        )
    sub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "subscribe",
            "--endpoint",
            daemon.endpoint,
            "--count",
            str(frames),
            "--timeout-s",
            "30",
            *truth,
        ]
    )
    try:
        rc = sub.wait(timeout=60 + frames / fps * 3)
    finally:
        if sub.poll() is None:
            sub.kill()
        daemon.stop()
    echo(f"daemon: {daemon.counters.snapshot().line()}", err=True)
    return rc
