"""``aglu-edge soak``: many frames through the real daemon, with subscribers that misbehave.

The daemon streams the simulated microscope (as fast as it can stain) to three
subscribers on 127.0.0.1: a fast one (a thread reading everything), a slow one
(a thread that sleeps ``slow_s`` per message, so its queue overflows) and a
crashing one (an ``aglu-edge subscribe`` process killed with SIGKILL and started
again every ``kill_every`` frames). Every ``reload_every`` frames the model is
reloaded (what SIGHUP does). At the start, the middle and the end it samples the
process's RSS, open file descriptors and threads; the verdict compares them and
checks that the counters add up (received = published + dropped + errors).

``hostile`` (issue 25): the frames come through the ingest socket from a sender that
slips one bad thing in after every ``bad_every`` good frames (``edge.soak.hostile``),
every other reload is of a model whose outputs are NaN (it must be refused, the old
model serving on), and beside the daemon the sidecar keeps trying to reach
Micro-Manager on a port that flaps. The verdict adds: the daemon never failed, every
NaN reload failed, bad frames were rejected, and no stale connects piled up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import EdgeConfig, parse_config
from edge.daemon import Daemon
from edge.net.client import Subscriber

SAMPLE_AT_PERCENT = (5, 50, 95)  # of the frames: start (warm, connected), middle, end


@dataclass(frozen=True, slots=True)
class SoakConfig:
    frames: int = 100_000
    size_px: int = 256
    reload_every: int = 1_000
    kill_every: int = 1_000
    slow_s: float = 0.05
    precision: str = "int8"
    hostile: bool = False
    bad_every: int = 10  # hostile: good frames between two bad things


@dataclass(frozen=True, slots=True)
class Sample:
    frames: int
    rss_mb: float
    fds: int
    threads: int


@dataclass(slots=True)
class SoakResult:
    samples: list[Sample] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    reloads: dict[str, int] = field(default_factory=dict)
    fast_received: int = 0
    slow_received: int = 0
    subscriber_restarts: int = 0
    wall_s: float = 0.0
    hostile: dict[str, Any] = field(default_factory=dict)

    def rss_growth(self) -> float:
        """End RSS over the middle sample (warm-up and the first reloads are behind it)."""
        return self.samples[-1].rss_mb / self.samples[1].rss_mb - 1

    def adds_up(self) -> bool:
        c = self.counters
        return c["received"] == c["published"] + c["dropped"] + c["errors"]

    def lines(self) -> list[str]:
        out = [
            f"{'at frame':>9} {'RSS MB':>8} {'fds':>5} {'threads':>8}",
            *(f"{s.frames:>9} {s.rss_mb:>8.1f} {s.fds:>5} {s.threads:>8}" for s in self.samples),
            f"counters {self.counters}: "
            + ("they add up" if self.adds_up() else "they do NOT add up"),
            f"reloads {self.reloads}; fast subscriber {self.fast_received} frames, slow "
            f"{self.slow_received}, crashing one restarted {self.subscriber_restarts} times",
            f"RSS growth middle -> end {100 * self.rss_growth():+.1f}%; "
            f"fds {self.samples[0].fds} -> {self.samples[-1].fds}; threads "
            f"{self.samples[0].threads} -> {self.samples[-1].threads}; {self.wall_s:.0f} s",
        ]
        if self.hostile:
            out.append(f"hostile neighbours: {self.hostile}")
        return out

    def problems(self) -> list[str]:
        """What makes the verdict FAILED (empty: passed)."""
        first, last = self.samples[0], self.samples[-1]
        out = [] if self.adds_up() else ["counters do not add up"]
        if self.rss_growth() > 0.05:
            out.append(f"RSS grew {100 * self.rss_growth():.1f}% middle -> end")
        if last.fds > first.fds or last.threads > first.threads:
            out.append("more fds or threads at the end")
        h = self.hostile
        if h:
            if h["daemon_failed"]:
                out.append("the daemon stopped")
            if self.reloads["failed"] != h["nan_reloads"] or not self.counters["rejected"]:
                out.append("a NaN reload was taken, or no bad frame was rejected")
            if h["requests_per_up_max"] > h["max_requests_per_up"]:
                out.append("stale connects piled up on the flapping port")
        return out


def sample(frames: int) -> Sample:
    status = Path("/proc/self/status").read_text().splitlines()
    rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return Sample(frames, rss_kb / 1024, len(os.listdir("/proc/self/fd")), threading.active_count())


def _paced_fps(cfg: SoakConfig) -> float:
    """80% of the stainer's rate at this size: frames flow, few are dropped."""
    from edge.infer.model import SessionConfig, default_model_path, load_model
    from edge.infer.stainer import Stainer

    stainer = Stainer(load_model(default_model_path(cfg.precision), SessionConfig()))
    stainer.warm_up(cfg.size_px, cfg.size_px, runs=2)
    t0 = time.perf_counter()
    stainer.warm_up(cfg.size_px, cfg.size_px, runs=5)
    return min(1000.0, 0.8 * 5 / (time.perf_counter() - t0))


def _config(cfg: SoakConfig, fps: float) -> EdgeConfig:
    source: dict[str, Any] = {"height_px": cfg.size_px, "width_px": cfg.size_px}
    source |= (
        {"kind": "ingest", "endpoint": "tcp://127.0.0.1:0"}
        if cfg.hostile
        else {"fps": fps, "max_frames": cfg.frames}
    )
    return parse_config(
        {
            "source": source,
            "model": {"precision": cfg.precision},
            "publish": {"endpoint": "tcp://127.0.0.1:0", "status_interval_s": 0.5},
            "control": {"endpoint": ""},
        },
        "soak",
    )


class _Reader(threading.Thread):
    """A subscriber thread: counts frames, optionally sleeping after each message."""

    def __init__(self, endpoint: str, sleep_s: float, stop: threading.Event) -> None:
        super().__init__(name="soak-subscriber", daemon=True)
        self.endpoint, self.sleep_s, self.stop_event = endpoint, sleep_s, stop
        self.frames = 0

    def run(self) -> None:
        with Subscriber(self.endpoint, topics=(b"frame",), recv_hwm=4) as sub:
            while not self.stop_event.is_set():
                try:
                    sub.recv(timeout_s=0.2)
                except TimeoutError:
                    continue
                self.frames += 1
                if self.sleep_s:
                    time.sleep(self.sleep_s)


def _crashing_subscriber(endpoint: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "edge.cli", "subscribe", "--endpoint", endpoint, "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_soak(cfg: SoakConfig, progress: Callable[[int], None] = lambda n: None) -> SoakResult:
    import tempfile

    result = SoakResult()
    fps = _paced_fps(cfg)
    edge_cfg = _config(cfg, fps)
    with tempfile.TemporaryDirectory(prefix="aglu-soak-") as tmp:
        neighbours = None
        if cfg.hostile:
            from edge.soak.hostile import Neighbours

            neighbours = Neighbours(cfg.frames, cfg.size_px, fps, cfg.bad_every, Path(tmp))
        daemon = Daemon.for_config(edge_cfg)
        t0 = time.monotonic()
        daemon.start()
        if neighbours is not None:
            neighbours.start(daemon.source.endpoint)  # type: ignore[attr-defined]
        try:
            readers = _soak_loop(cfg, edge_cfg, daemon, result, progress, neighbours)
        finally:
            if neighbours is not None:
                neighbours.stop()
            daemon.stop()
        _finish(result, daemon, readers, neighbours)
        result.wall_s = time.monotonic() - t0
    return result


def _source_rejected(daemon: Daemon) -> int:
    return int(daemon.source.stats().get("rejected", 0))


def _soak_loop(
    cfg: SoakConfig,
    edge_cfg: EdgeConfig,
    daemon: Daemon,
    result: SoakResult,
    progress: Callable[[int], None],
    neighbours: Any,
) -> list[_Reader]:
    """Serve until the frames are through: sample, reload, kill the crashing subscriber."""
    stop = threading.Event()
    readers = [_Reader(daemon.endpoint, 0.0, stop), _Reader(daemon.endpoint, cfg.slow_s, stop)]
    for r in readers:
        r.start()
    crashing = _crashing_subscriber(daemon.endpoint)
    marks = [max(1, cfg.frames * k // 100) for k in SAMPLE_AT_PERCENT]
    next_reload, next_kill, reloads = cfg.reload_every, cfg.kill_every, 0
    try:
        while not daemon.wait(0.1):
            n = daemon.counters.snapshot().received
            progress(n)
            if marks and n >= marks[0]:
                result.samples.append(sample(n))  # all while serving: comparable
                marks.pop(0)
            while n >= next_reload:  # catch up: a reload may take longer than a poll
                if neighbours is None:
                    daemon.reload(edge_cfg)
                else:
                    neighbours.reload(daemon, edge_cfg, reloads)
                reloads, next_reload = reloads + 1, next_reload + cfg.reload_every
            if n >= next_kill:
                crashing.kill()
                crashing.wait()
                crashing = _crashing_subscriber(daemon.endpoint)
                result.subscriber_restarts += 1
                next_kill += cfg.kill_every
            if neighbours is not None and neighbours.done(n, _source_rejected(daemon)):
                break
        for _ in marks:  # a short run can end between two looks
            result.samples.append(sample(daemon.counters.snapshot().received))
    finally:
        stop.set()
        for r in readers:
            r.join(2)
        crashing.kill()
        crashing.wait()
    return readers


def _finish(result: SoakResult, daemon: Daemon, readers: list[_Reader], neighbours: Any) -> None:
    snap = daemon.counters.snapshot()
    result.counters = {
        "received": snap.received,
        "published": snap.published,
        "dropped": snap.dropped,
        "errors": snap.errors,
        "rejected": snap.rejected,
    }
    result.reloads = dict(daemon.reloads)
    result.fast_received, result.slow_received = readers[0].frames, readers[1].frames
    if neighbours is not None:
        result.hostile = neighbours.report(daemon.failure is not None, _source_rejected(daemon))
