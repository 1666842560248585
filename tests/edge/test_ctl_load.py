"""aglu-edge ctl load: swap a running daemon's model over its control socket (issue 27)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edge.daemon import Daemon
from edge.infer.model import default_model_path
from edge.net.client import Subscriber
from edge.net.control import ControlError, request
from edge.net.wire import FrameMessage
from tests.edge.helpers import GatedSource, local_config


def _daemon(n_frames: int, allow_load: bool = True) -> tuple[Daemon, GatedSource]:
    frames = [np.random.default_rng(i).random((64, 64), dtype=np.float32) for i in range(n_frames)]
    source = GatedSource(frames, period_s=0.02)
    cfg = local_config(control={"allow_load": allow_load}, queue={"capacity": 256})
    daemon = Daemon(cfg, source)
    daemon.start()
    return daemon, source


def test_a_load_swaps_the_model_with_the_stream_running_and_no_frame_lost() -> None:
    """120 frames at 50 fps; `ctl load` of the fp32 file (a CLI process) half-way: every
    frame is published, the headers name the int8 model before and the fp32 after, and
    the status names the new model and its sha256."""
    daemon, source = _daemon(120)
    try:
        with Subscriber(daemon.endpoint, topics=(b"frame",)) as sub:
            time.sleep(0.5)
            source.gate.set()
            got: list[FrameMessage] = []
            loaded = None
            while len(got) < 120:
                msg = sub.recv(timeout_s=30)
                assert isinstance(msg, FrameMessage)
                got.append(msg)
                if len(got) == 30 and loaded is None:
                    loaded = subprocess.Popen(
                        [sys.executable, "-m", "edge.cli", "ctl", "load",
                         str(default_model_path("fp32")), "--control", daemon.control_endpoint],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    )  # fmt: skip
            assert loaded is not None
            out, err = loaded.communicate(timeout=60)
            assert loaded.returncode == 0, err
        status = daemon.status()
    finally:
        daemon.stop()
    assert [m.header["frame_index"] for m in got] == list(range(120))
    precisions = [m.header["model"]["precision"] for m in got]
    assert precisions[0] == "int8" and precisions[-1] == "fp32"
    first_fp32 = precisions.index("fp32")
    assert set(precisions[first_fp32:]) == {"fp32"}  # one switch, never back
    assert status["model"]["precision"] == "fp32" and status["reloads"] == {"ok": 1, "failed": 0}
    assert (
        got[-1].header["model"]["sha256"]
        == status["model"]["sha256"]
        != got[0].header["model"]["sha256"]
    )
    assert '"fp32"' in out


def test_a_load_is_refused_when_off_or_when_the_model_fails(nan_model: Path) -> None:
    daemon, _ = _daemon(1, allow_load=False)
    try:
        with pytest.raises(ControlError, match="load is off"):
            request(daemon.control_endpoint, "load", 10, model=str(nan_model))
    finally:
        daemon.stop()
    daemon, _ = _daemon(1)
    try:
        sha = daemon.model.sha256
        with pytest.raises(ControlError, match=r"keeps serving.*non-finite"):
            request(daemon.control_endpoint, "load", 60, model=str(nan_model))
        with pytest.raises(ControlError, match=r"model\.name"):
            request(daemon.control_endpoint, "load", 60, model="no-such-model")
        assert daemon.model.sha256 == sha and daemon.reloads["failed"] == 1
        reply = request(daemon.control_endpoint, "load", 60, model="brightfield")
        assert reply["model"]["name"] == "aglu-brightfield"
    finally:
        daemon.stop()
