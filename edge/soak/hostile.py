"""The hostile neighbours of ``aglu-edge soak --hostile`` (issue 25), all on real sockets.

- ``Sender``: pushes simulated frames into the daemon's ingest socket, and after every
  ``bad_every`` good ones one bad thing, in turn: a NaN frame, a frame of the wrong
  shape, a frame of an unsupported dtype, a message that is not the wire protocol.
- ``nan_model``: the shipped model with one weight NaN (reloaded now and then: every
  such reload must fail and leave the serving model alone).
- ``FlappingPort`` and ``Sidecar``: a port that is up (answering every request as a
  server that is not Micro-Manager) and down in turn, and the sidecar source trying to
  reach Micro-Manager there with its back-off; the port counts the requests of each up
  phase, so stale connects piling up would show.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from edge.frames import Frame
from edge.sources import paced
from edge.sources.ingest import IngestClient
from edge.sources.mm.sidecar import JavaCoreReader, SidecarConfig, SidecarSource
from edge.sources.simulated import SimulatedSource, SimulatedSourceConfig


def _bad_frame(kind: int, index: int, side_px: int) -> Frame | list[bytes]:
    """Bad thing number ``kind`` (cycling): three frames the stainer refuses (NaN, three
    dimensions, values beyond float32), one message the wire decoder refuses."""
    t = time.time_ns()
    if kind == 0:
        return Frame(index, np.full((side_px, side_px), np.nan, np.float32), t)
    if kind == 1:
        return Frame(index, np.zeros((2, side_px, side_px), np.float32), t)
    if kind == 2:  # beyond float32: the wire carries it, the stainer refuses it
        return Frame(index, np.full((side_px, side_px), 1e300, np.float64), t)
    header = {"format": "aglu-frame", "version": 1, "channels": [{"name": "qpi"}]}
    return [b"frame", json.dumps(header).encode(), b"\x00" * 16]


class Sender(threading.Thread):
    """Pushes ``frames`` messages (good and, one in ``bad_every + 1``, bad) at ``fps``."""

    def __init__(self, endpoint: str, frames: int, side_px: int, fps: float, bad_every: int):
        super().__init__(name="soak-sender", daemon=True)
        self.endpoint, self.frames, self.side_px = endpoint, frames, side_px
        self.fps, self.bad_every = fps, bad_every
        self.stop_event = threading.Event()
        self.sent = {"good": 0, "bad_frames": 0, "malformed": 0, "not_taken": 0}

    def run(self) -> None:
        sim = SimulatedSource(
            SimulatedSourceConfig(height_px=self.side_px, width_px=self.side_px, fps=1000.0),
            pool_size=4,
        )  # paced by this sender, not by its own clock
        client = IngestClient(self.endpoint, hwm=64)
        raw: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUSH)
        raw.setsockopt(zmq.LINGER, 0)
        raw.setsockopt(zmq.SNDHWM, 64)
        raw.connect(self.endpoint)
        good = sim.frames(self.stop_event)
        try:
            for i in paced(self.fps, self.stop_event, self.frames):
                if (i + 1) % (self.bad_every + 1) == 0:
                    self._send_bad(client, raw, i)
                else:
                    frame = next(good)
                    ok = client.send(Frame(i, frame.image, time.time_ns(), {"time": i}))
                    self.sent["good" if ok else "not_taken"] += 1
        finally:
            client.close()
            raw.close(0)

    def _send_bad(self, client: IngestClient, raw: zmq.Socket[Any], i: int) -> None:
        kind = (i // (self.bad_every + 1)) % 4
        bad = _bad_frame(kind, i, self.side_px)
        if isinstance(bad, Frame):
            ok = client.send(bad)
            self.sent["bad_frames" if ok else "not_taken"] += 1
            return
        try:
            raw.send_multipart(bad, flags=zmq.NOBLOCK)
            self.sent["malformed"] += 1
        except zmq.Again:
            self.sent["not_taken"] += 1


def nan_model(folder: Path) -> Path:
    """The shipped fp32 model (its card kept) with one weight NaN: all outputs NaN."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        from edge.errors import ConfigError

        raise ConfigError("soak --hostile", "needs onnx: pip install 'aglu[export]'") from None
    from edge.infer.model import default_model_path

    model = onnx.load(str(default_model_path("fp32")))
    init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    weights = numpy_helper.to_array(init).copy()
    weights.flat[0] = np.nan
    init.CopyFrom(numpy_helper.from_array(weights, init.name))
    path = folder / "nan.onnx"
    onnx.save(model, str(path))
    return path


class FlappingPort(threading.Thread):
    """A port up for ``up_s`` (a REP socket answering every request with an error: a
    server, but not Micro-Manager), then down for ``down_s``, in turn."""

    def __init__(self, port: int, up_s: float = 0.5, down_s: float = 0.5) -> None:
        super().__init__(name="soak-flapping-port", daemon=True)
        self.port, self.up_s, self.down_s = port, up_s, down_s
        self.stop_event = threading.Event()
        self.requests_per_up: list[int] = []

    def run(self) -> None:
        ctx: zmq.Context[Any] = zmq.Context.instance()
        while not self.stop_event.is_set():
            sock = ctx.socket(zmq.REP)
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind(f"tcp://127.0.0.1:{self.port}")
            count, until = 0, time.monotonic() + self.up_s
            try:
                while (left := until - time.monotonic()) > 0 and not self.stop_event.is_set():
                    if sock.poll(int(left * 1000) + 1):
                        sock.recv_multipart()
                        sock.send_json({"type": "exception", "value": "not Micro-Manager"})
                        count += 1
            finally:
                sock.close(0)
            self.requests_per_up.append(count)
            self.stop_event.wait(self.down_s)


class Sidecar(threading.Thread):
    """The sidecar source trying to reach Micro-Manager on ``port``, for as long as it runs."""

    def __init__(self, port: int) -> None:
        super().__init__(name="soak-sidecar", daemon=True)
        self.attempts = 0
        self.stop_event = threading.Event()

        def connect() -> JavaCoreReader:
            self.attempts += 1
            return JavaCoreReader(port, timeout_ms=100)

        self.source = SidecarSource(connect, SidecarConfig(backoff_s=(0.05, 0.2)))

    def run(self) -> None:
        for _ in self.source.frames(self.stop_event):
            pass


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Neighbours:
    """Everything hostile around one soaked daemon: the sender, NaN reloads, the sidecar
    on a flapping port."""

    def __init__(self, frames: int, side_px: int, fps: float, bad_every: int, folder: Path):
        self.nan_path = nan_model(folder)
        self.frames, self.side_px, self.fps, self.bad_every = frames, side_px, fps, bad_every
        port = _free_port()
        self.flapping, self.sidecar = FlappingPort(port), Sidecar(port)
        self.sender: Sender | None = None
        self.nan_reloads = 0

    def start(self, endpoint: str) -> None:
        self.sender = Sender(endpoint, self.frames, self.side_px, self.fps, self.bad_every)
        for t in (self.flapping, self.sidecar, self.sender):
            t.start()

    def reload(self, daemon: Any, good: Any, k: int) -> None:
        """Reload number ``k``: the NaN model (first, then every other time) or the good."""
        if k % 2 == 0:
            self.nan_reloads += 1
            daemon.reload(
                good.model_copy(
                    update={"model": good.model.model_copy(update={"path": self.nan_path})}
                )
            )
        else:
            daemon.reload(good)

    def done(self, received: int, source_rejected: int) -> bool:
        """The sender is through and the daemon has taken (or refused) all it sent."""
        s = self.sender
        if s is None or s.is_alive():
            return False
        return (
            received + source_rejected
            >= s.sent["good"] + s.sent["bad_frames"] + s.sent["malformed"]
        )

    def stop(self) -> None:
        for t in (self.sender, self.sidecar, self.flapping):
            if t is not None:
                t.stop_event.set()
                t.join(5)

    def report(self, daemon_failed: bool, source_rejected: int) -> dict[str, Any]:
        sent = dict(self.sender.sent) if self.sender is not None else {}
        return {
            "sent": sent,
            "source_rejected": source_rejected,
            "nan_reloads": self.nan_reloads,
            "daemon_failed": daemon_failed,
            "sidecar_attempts": self.sidecar.attempts,
            "up_phases": len(self.flapping.requests_per_up),
            "requests_per_up_max": max(self.flapping.requests_per_up, default=0),
            # the sidecar's fastest pace (0.05 s first back-off, plus a 0.1 s probe)
            "max_requests_per_up": int(self.flapping.up_s / 0.15) + 2,
        }
