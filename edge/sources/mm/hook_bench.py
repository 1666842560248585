"""``aglu-edge bench-hook``: what one pycromanager hook call costs the acquisition thread."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


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
