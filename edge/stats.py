"""Thread-safe counters and latency statistics of the frame loop."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Snapshot:
    received: int
    published: int
    dropped: int
    errors: int
    fps: float
    latency_ms_p50: float
    latency_ms_p95: float
    uptime_s: float

    def line(self) -> str:
        return (
            f"received {self.received}, published {self.published}, dropped {self.dropped}, "
            f"errors {self.errors}; {self.fps:.2f} fps; latency acquired->published "
            f"p50 {self.latency_ms_p50:.1f} ms, p95 {self.latency_ms_p95:.1f} ms"
        )


class Counters:
    """received = published + dropped + errors once the queue is drained."""

    def __init__(self, window: int = 256) -> None:
        self._lock = threading.Lock()
        self.received = self.published = self.dropped = self.errors = 0
        self._latencies_ms: collections.deque[float] = collections.deque(maxlen=window)
        self._publish_times: collections.deque[float] = collections.deque(maxlen=window)
        self._t0 = time.monotonic()

    def add(self, *, received: int = 0, dropped: int = 0, errors: int = 0) -> None:
        with self._lock:
            self.received += received
            self.dropped += dropped
            self.errors += errors

    def published_one(self, latency_ms: float) -> None:
        with self._lock:
            self.published += 1
            self._latencies_ms.append(latency_ms)
            self._publish_times.append(time.monotonic())

    def snapshot(self) -> Snapshot:
        with self._lock:
            lat = np.asarray(self._latencies_ms) if self._latencies_ms else np.zeros(1)
            times = self._publish_times
            span = times[-1] - times[0] if len(times) > 1 else 0.0
            fps = (len(times) - 1) / span if span > 0 else 0.0
            return Snapshot(
                self.received,
                self.published,
                self.dropped,
                self.errors,
                round(fps, 3),
                round(float(np.percentile(lat, 50)), 3),
                round(float(np.percentile(lat, 95)), 3),
                round(time.monotonic() - self._t0, 3),
            )
