"""Receive-and-print loop used by ``aglu-edge subscribe`` (and the demo)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge.errors import WireError
from edge.io.sinks import FrameSink, SinkError
from edge.net.client import Subscriber
from edge.net.headers import FrameHeader
from edge.net.wire import FrameMessage, StatusMessage

ENDED_STATES = ("stopping", "stopped", "failed")


@dataclass(slots=True)
class ReceiveSummary:
    frames: int = 0
    malformed: int = 0
    saved: int = 0
    not_saved: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # Pearson r vs truth (--truth)
    first_s: float = 0.0
    last_s: float = 0.0
    last_status: dict[str, object] | None = None
    daemon_ended: str | None = None  # "stopping", "stopped" or "failed": its final status came

    def fps(self) -> float:
        span = self.last_s - self.first_s
        return (self.frames - 1) / span if self.frames > 1 and span > 0 else 0.0

    def lines(self) -> list[str]:
        lat = np.asarray(self.latencies_ms or [np.nan])
        out = [
            f"received {self.frames} frames ({self.malformed} malformed) at {self.fps():.2f} fps"
            + (
                f"; saved {self.saved}, not saved {self.not_saved}"
                if self.saved or self.not_saved
                else ""
            ),
            f"latency acquired->received ms: p50 {np.percentile(lat, 50):.1f}  "
            f"p95 {np.percentile(lat, 95):.1f}  max {lat.max():.1f}",
        ]
        if self.scores:
            r = np.asarray(self.scores)
            out.append(
                f"Pearson r vs truth: mean {r.mean():.3f} over {r.size} frames "
                f"(min {r.min():.3f}, max {r.max():.3f})"
            )
        if self.last_status is not None:
            out.append(f"daemon status: {self.last_status}")
        if self.daemon_ended is not None:
            out.append(f"the daemon ended (state {self.daemon_ended})")
        return out


def quality_label(header: FrameHeader) -> str:
    """The frame's quality block in a few words ("" when it has none)."""
    q = header.get("quality")
    if not isinstance(q, dict) or not isinstance(q.get("in_distribution"), bool):
        return ""
    sigma = q.get("sigma_mean")
    sigma_text = f"sigma {sigma:.3f}" if isinstance(sigma, (int, float)) else "sigma ?"
    if q["in_distribution"]:
        return f"{sigma_text} in distribution"
    return f"{sigma_text} OUT OF DISTRIBUTION ({q.get('unusual', '?')})"


def frame_line(msg: FrameMessage, latency_ms: float, extra: str = "") -> str:
    h = msg.header
    parts = [f"frame {h.get('frame_index'):>5}", f"latency {latency_ms:7.1f} ms"]
    t = h.get("t_ns", {})
    if isinstance(t, dict) and {"received", "inferred"} <= t.keys():
        parts.append(f"infer {(t['inferred'] - t['received']) / 1e6:6.1f} ms")
    for name, arr in msg.arrays.items():
        parts.append(f"{name} {arr.shape[-2]}x{arr.shape[-1]} mean {float(arr.mean()):.3f}")
    parts += [p for p in (quality_label(h), extra) if p]
    return "  ".join(parts)


def receive(
    sub: Subscriber,
    count: int,
    timeout_s: float,
    echo: Callable[[str], None] | None,
    sink: FrameSink | None = None,
    stop: Callable[[], bool] = lambda: False,
    annotate: Callable[[FrameMessage], tuple[float | None, str]] | None = None,
) -> ReceiveSummary:
    """Receive until ``count`` frames arrived (0: forever), ``stop()``, the daemon's final
    status (state stopping, stopped or failed), or ``timeout_s`` silence.

    With a ``sink`` every frame is saved; one it refuses is counted and reported.
    ``annotate`` scores a frame (e.g. ``edge.view.truth.Truth.score``): its text is
    printed on the frame's line, its figure averaged in the summary.
    """
    summary = ReceiveSummary()
    silent_since = time.monotonic()
    while (count == 0 or summary.frames < count) and not stop():
        try:
            msg = sub.recv(min(timeout_s, 0.2))  # short slices: ``stop`` is seen promptly
        except TimeoutError:
            if time.monotonic() - silent_since >= timeout_s:
                raise TimeoutError(f"no message from {sub.endpoint} within {timeout_s} s") from None
            continue
        except WireError as exc:
            summary.malformed += 1
            if echo:
                echo(f"malformed message: {exc}")
            continue
        silent_since = time.monotonic()
        now_ns = time.time_ns()
        if isinstance(msg, StatusMessage):
            summary.last_status = {k: msg.header.get(k) for k in ("state", "counters", "fps")}
            state = msg.header.get("state")
            if isinstance(state, str) and state in ENDED_STATES:
                summary.daemon_ended = state  # its final status: nothing more will come
                break
            continue
        t = msg.header.get("t_ns", {})
        acquired = t.get("acquired", now_ns) if isinstance(t, dict) else now_ns
        latency_ms = (now_ns - acquired) / 1e6
        summary.latencies_ms.append(latency_ms)
        summary.last_s = time.monotonic()
        if summary.frames == 0:
            summary.first_s = summary.last_s
        summary.frames += 1
        score, note = annotate(msg) if annotate is not None else (None, "")
        if score is not None:
            summary.scores.append(score)
        if echo:
            echo(frame_line(msg, latency_ms, note))
        if sink is not None:
            try:
                sink.write(msg)
                summary.saved += 1
            except SinkError as exc:
                summary.not_saved += 1
                if echo:
                    echo(f"not saved: {exc}")
    return summary
