"""``aglu-edge bench``: per-frame latency and throughput, stainer alone and end to end.

Stainer alone: ``Stainer.stain`` on a simulated frame, after warm-up.
End to end: the daemon on the simulated microscope, paced at 80% of the stainer's
measured rate (so latency is not queueing), publishing to a real subscriber on
127.0.0.1; latency is acquired -> received by the subscriber.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config import parse_config
from edge.daemon import Daemon
from edge.infer.model import SessionConfig, default_model_path, load_model
from edge.infer.preprocess import Normalization, crop, normalize, pad_to_multiple
from edge.infer.stainer import Stainer
from edge.net.client import Subscriber
from edge.net.wire import TOPIC_FRAME, FrameMessage
from edge.sources.simulated import SimulationConfig, simulate_pair


@dataclass(frozen=True, slots=True)
class BenchRow:
    path: str  # "stainer" or "end to end"
    precision: str
    size_px: int
    frames: int
    p50_ms: float
    p95_ms: float
    fps: float


def _row(path: str, precision: str, size_px: int, lat_ms: list[float], fps: float) -> BenchRow:
    a = np.asarray(lat_ms)
    return BenchRow(
        path,
        precision,
        size_px,
        len(a),
        float(np.percentile(a, 50)),
        float(np.percentile(a, 95)),
        fps,
    )


def stainer_row(precision: str, size_px: int, frames: int) -> BenchRow:
    stainer = Stainer(load_model(default_model_path(precision), SessionConfig()))
    image = simulate_pair(SimulationConfig(height_px=size_px, width_px=size_px), 0).qpi_rad
    stainer.stain(image)
    lat = []
    for _ in range(frames):
        t0 = time.perf_counter()
        stainer.stain(image)
        lat.append((time.perf_counter() - t0) * 1e3)
    return _row("stainer", precision, size_px, lat, 1e3 / float(np.mean(lat)))


def numpy_row(size_px: int, frames: int) -> BenchRow:
    """The torch-free, model-free floor: the stainer's numpy pre/post-processing alone
    (percentile normalisation, padding to the stride, cropping)."""
    image = simulate_pair(SimulationConfig(height_px=size_px, width_px=size_px), 0).qpi_rad
    norm = Normalization()
    lat = []
    for _ in range(frames):
        t0 = time.perf_counter()
        padded, shape = pad_to_multiple(normalize(image, norm), 32)
        np.ascontiguousarray(crop(padded, shape))
        lat.append((time.perf_counter() - t0) * 1e3)
    return _row("numpy only", "-", size_px, lat, 1e3 / float(np.mean(lat)))


def end_to_end_row(precision: str, size_px: int, frames: int, source_fps: float) -> BenchRow:
    cfg = parse_config(
        {
            "source": {"height_px": size_px, "width_px": size_px, "fps": source_fps},
            "model": {"precision": precision},
            "publish": {"endpoint": "tcp://127.0.0.1:0", "publish_input": False},
            "control": {"endpoint": ""},
        },
        "bench",
    )
    daemon = Daemon(cfg)
    daemon.start()
    lat: list[float] = []
    try:
        with Subscriber(daemon.endpoint, topics=(TOPIC_FRAME,)) as sub:
            t_first = 0.0
            while len(lat) < frames + 1:
                msg = sub.recv(timeout_s=60)
                if isinstance(msg, FrameMessage):
                    if not lat:
                        t_first = time.perf_counter()
                    lat.append((time.time_ns() - msg.header["t_ns"]["acquired"]) / 1e6)
            span = time.perf_counter() - t_first
    finally:
        daemon.stop()
    return _row("end to end", precision, size_px, lat[1:], frames / span)


def model_rows(paths: list[str], size_px: int, frames: int) -> list[BenchRow]:
    """The stainer of each model file on the same frame, interleaved frame by frame (so
    machine load hits every model alike); multi-plane models get that frame as each plane.
    ``BenchRow.path`` is the file name, ``precision`` the card's."""
    plane = simulate_pair(SimulationConfig(height_px=size_px, width_px=size_px), 0).qpi_rad
    stainers = [Stainer(load_model(p, SessionConfig())) for p in paths]
    images = [plane if s.planes == 1 else np.stack([plane] * s.planes) for s in stainers]
    for s, image in zip(stainers, images, strict=True):
        s.stain(image)
    lat: list[list[float]] = [[] for _ in paths]
    for _ in range(frames):
        for k, (s, image) in enumerate(zip(stainers, images, strict=True)):
            t0 = time.perf_counter()
            s.stain(image)
            lat[k].append((time.perf_counter() - t0) * 1e3)
    return [
        _row(Path(p).name, s.model.card.precision, size_px, lk, 1e3 / float(np.mean(lk)))
        for p, s, lk in zip(paths, stainers, lat, strict=True)
    ]


def bench(sizes: list[int], frames: int) -> list[BenchRow]:
    rows = []
    for size in sizes:
        rows.append(numpy_row(size, frames))
        for precision in ("int8", "fp32"):
            alone = stainer_row(precision, size, frames)
            rows.append(alone)
            rows.append(end_to_end_row(precision, size, frames, 0.8 * alone.fps))
    return rows


@dataclass(frozen=True, slots=True)
class HookRow:
    target: str
    calls: int
    p50_ms: float
    p95_ms: float


def bench_hook(size_px: int, calls: int) -> list[HookRow]:
    """Time one pycromanager hook call (what the acquisition thread pays per frame) on a
    uint16 camera frame: to a daemon that reads (a real PULL socket draining in a thread),
    to no daemon at all, and to an in-process stainer queue."""
    import threading

    import zmq

    from edge.sources.ingest import QueueSource
    from edge.sources.mm.hook import StainHook, hook_to_daemon

    image = np.random.default_rng(0).integers(0, 4096, (size_px, size_px)).astype(np.uint16)
    meta = {"Axes": {"time": 0}, "PixelSizeUm": 0.3, "Camera": "bench"}
    pull: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    done = threading.Event()

    def drain() -> None:
        while not done.is_set():
            if pull.poll(50):
                pull.recv_multipart()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    targets = [
        ("daemon reading", hook_to_daemon(f"tcp://127.0.0.1:{port}", hwm=calls)),
        ("no daemon", hook_to_daemon("tcp://127.0.0.1:1")),
        ("in-process", StainHook(QueueSource(4).put, lambda: None, copy=True)),
    ]
    rows = []
    for name, hook in targets:
        lat = []
        for _ in range(calls):
            t0 = time.perf_counter()
            hook(image, meta)
            lat.append((time.perf_counter() - t0) * 1e3)
        hook.close()
        a = np.asarray(lat)
        rows.append(HookRow(name, calls, float(np.median(a)), float(np.percentile(a, 95))))
    done.set()
    reader.join()
    pull.close(0)
    return rows
