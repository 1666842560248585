"""Test helpers: daemon configs on random local ports, and a gated list source."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import EdgeConfig, parse_config
from edge.daemon import Daemon
from edge.frames import Frame
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage, StatusMessage
from edge.sources import FrameSource


def local_config(**sections: dict[str, Any]) -> EdgeConfig:
    """A validated config whose sockets bind random 127.0.0.1 ports (tests run side by side)."""
    data: dict[str, Any] = {
        "publish": {"endpoint": "tcp://127.0.0.1:0"},
        "control": {"endpoint": "tcp://127.0.0.1:0"},
    }
    for name, section in sections.items():
        data[name] = {**data.get(name, {}), **section}
    return parse_config(data, "test")


class GatedSource(FrameSource):
    """Yields the given images once ``gate`` is set (after the subscriber is connected)."""

    name = "test-list"

    def __init__(self, images: list[np.ndarray], period_s: float = 0.02) -> None:
        self.images = images
        self.period_s = period_s
        self.gate = threading.Event()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        while not self.gate.wait(0.05):
            if stop.is_set():
                return
        for i, img in enumerate(self.images):
            if stop.is_set():
                return
            yield Frame(i, img, time.time_ns(), axes={"time": i}, pixel_size_um=0.5)
            time.sleep(self.period_s)


def stream_through_daemon(
    cfg: EdgeConfig, images: list[np.ndarray], period_s: float = 0.02
) -> tuple[list[FrameMessage], dict[str, Any]]:
    """Run ``images`` through a daemon of ``cfg`` once a subscriber is connected; the frame
    messages it published and the daemon's status after the last one."""
    source = GatedSource(images, period_s=period_s)
    daemon = Daemon(cfg, source=source)
    daemon.start()
    frames: list[FrameMessage] = []
    try:
        with Subscriber(daemon.endpoint) as sub:
            while not isinstance(sub.recv(timeout_s=10), StatusMessage):
                pass  # connected once a status arrives
            source.gate.set()
            while len(frames) < len(images):
                msg = sub.recv(timeout_s=20)
                if isinstance(msg, FrameMessage):
                    frames.append(msg)
        return frames, daemon.status()
    finally:
        daemon.stop()


def edited_model(path: Path, edit: Callable[[Any], None]) -> Path:
    """The shipped fp32 model (its card included) with ``edit(onnx_model)`` applied."""
    import onnx

    from edge.infer.model import default_model_path

    model = onnx.load(str(default_model_path("fp32")))
    edit(model)
    onnx.save(model, str(path))
    return path


def fixed_size_model(path: Path, side_px: int) -> Path:
    """The shipped model with its input fixed at ``side_px`` square."""

    def fix(model: Any) -> None:
        for dim in model.graph.input[0].type.tensor_type.shape.dim[2:]:
            dim.ClearField("dim_param")
            dim.dim_value = side_px

    return edited_model(path, fix)


def nan_weights_model(path: Path) -> Path:
    """The shipped model with one weight NaN: every output is NaN."""
    import onnx

    def poison(model: Any) -> None:
        init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
        weights = onnx.numpy_helper.to_array(init).copy()
        weights.flat[0] = np.nan
        init.CopyFrom(onnx.numpy_helper.from_array(weights, init.name))

    return edited_model(path, poison)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def notify_messages(sock: socket.socket, until: str) -> list[str]:
    got: list[str] = []
    while until not in got:
        got += sock.recv(4096).decode().splitlines()
    return got


def service(cfg: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], socket.socket]:
    """``aglu-edge run`` as systemd starts it: a process, and the notify socket it reports to."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(60)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(cfg)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, notify


class NotifyRecorder:
    """A Notifier that keeps what the daemon tells systemd."""

    def __init__(self) -> None:
        self.fields: list[str] = []

    def notify(self, *fields: str) -> None:
        self.fields += fields

    def watchdog(self) -> None:
        pass
