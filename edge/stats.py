"""Thread-safe counters and latency statistics of the frame loop."""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Snapshot:
    received: int
    published: int
    dropped: int
    errors: int  # frames not published for a problem: bad input (rejected) or a model failure
    fps: float
    latency_ms_p50: float
    latency_ms_p95: float
    uptime_s: float
    rejected: int = 0  # of the errors: bad input (the frame's fault; never stops the daemon)

    def line(self) -> str:
        return (
            f"received {self.received}, published {self.published}, dropped {self.dropped}, "
            f"errors {self.errors} ({self.rejected} bad input); {self.fps:.2f} fps; "
            "latency acquired->published "
            f"p50 {self.latency_ms_p50:.1f} ms, p95 {self.latency_ms_p95:.1f} ms"
        )


MAX_LATENCY_MS = 3_600_000.0  # a frame "acquired" over an hour ago (or in the future) has a
# wrong timestamp, not a latency: it is published but kept out of the percentiles


class Counters:
    """received = published + dropped + errors once the queue is drained; ``rejected`` (bad
    input) is the part of ``errors`` that was the frame's fault."""

    def __init__(self, window: int = 256) -> None:
        self._lock = threading.Lock()
        self.received = self.published = self.dropped = self.errors = self.rejected = 0
        self._latencies_ms: collections.deque[float] = collections.deque(maxlen=window)
        self._publish_times: collections.deque[float] = collections.deque(maxlen=window)
        self._t0 = time.monotonic()

    def add(
        self, *, received: int = 0, dropped: int = 0, errors: int = 0, rejected: int = 0
    ) -> None:
        """``rejected`` frames are counted as errors too."""
        with self._lock:
            self.received += received
            self.dropped += dropped
            self.errors += errors + rejected
            self.rejected += rejected

    def published_one(self, latency_ms: float) -> None:
        with self._lock:
            self.published += 1
            if 0.0 <= latency_ms <= MAX_LATENCY_MS:
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
                self.rejected,
            )


logger = logging.getLogger(__name__)


def pearson_r(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """Pearson r over all pixels of two same-shaped images (float64 accumulation); NaN when
    either is constant or has fewer than two pixels. The one implementation: training's
    metrics and the subscriber's r-vs-truth use it."""
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.size < 2:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


class InDistribution(Protocol):
    @property
    def in_distribution(self) -> bool: ...
    @property
    def input_distance(self) -> float: ...
    @property
    def unusual(self) -> str: ...


class DistributionWatch:
    """Counts frames measured and out of distribution; logs once per change of verdict
    (not once per frame: a camera left on a blank field would flood the journal)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.measured = self.out_of_distribution = 0
        self._last: bool | None = None

    def observe(self, frame_index: int, quality: InDistribution | None) -> None:
        if quality is None:
            return
        with self._lock:
            self.measured += 1
            self.out_of_distribution += not quality.in_distribution
            before, self._last = self._last, quality.in_distribution
        if before is not False and not quality.in_distribution:
            logger.warning(
                "frame %d is out of the model's training distribution (distance %.2f, "
                "most unusual: %s); predictions from here on are not to be trusted",
                frame_index,
                quality.input_distance,
                quality.unusual,
            )
        elif before is False and quality.in_distribution:
            logger.warning("frame %d is back in the model's training distribution", frame_index)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"measured": self.measured, "out_of_distribution": self.out_of_distribution}


class RateLimitedLog:
    """Lets ``burst`` messages through per ``period_s`` and counts the rest; the next
    message written says how many were suppressed: a sender of bad input must not be
    able to flood the journal."""

    def __init__(
        self, logger: logging.Logger, burst: int = 5, period_s: float = 60.0, level: int = 30
    ) -> None:
        self._logger = logger
        self._burst, self._period_s, self._level = burst, period_s, level
        self._lock = threading.Lock()
        self._window_start = -float("inf")
        self._in_window = 0
        self.suppressed = 0  # messages not written since the last one that was

    def log(self, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless over the burst of this period; True if written."""
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= self._period_s:
                self._window_start, self._in_window = now, 0
            if self._in_window >= self._burst:
                self.suppressed += 1
                return False
            self._in_window += 1
            skipped, self.suppressed = self.suppressed, 0
        if skipped:
            msg += " (%d similar message(s) suppressed)"
            args = (*args, skipped)
        self._logger.log(self._level, msg, *args)
        return True
