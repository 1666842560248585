"""``aglu-edge bench``: per-frame latency and throughput, stainer alone and end to end.

Stainer alone: ``Stainer.stain`` on a simulated frame, after warm-up.
End to end: the daemon on the simulated microscope, paced at half the stainer's
measured rate (at 80% a noisy 2-core machine queued frames, and latency measured the
queue, not the path), publishing to a real subscriber on 127.0.0.1; latency is
acquired -> received by the subscriber.
"""

from __future__ import annotations

import contextlib
import itertools
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
from edge.sim.phantom import SimulationConfig, simulate_pair


@dataclass(frozen=True, slots=True)
class BenchRow:
    path: str  # "stainer" or "end to end"
    precision: str
    size_px: int
    frames: int
    p50_ms: float
    p95_ms: float
    fps: float
    peak_rss_mb: float = float("nan")  # this process, over this row only (VmHWM)
    # end to end: p50 ms of each leg, from the frame header's timestamps
    legs_ms: tuple[tuple[str, float], ...] = ()


# acquired -> received (the source's hand-off into the daemon's queue) -> inferred (queue
# wait, inference, quality block) -> published (the message header) -> the subscriber
LEGS = ("hand-off", "wait+stain", "header", "deliver")


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> float:
    """This process's peak resident memory since the last ``reset_peak_rss`` (MB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _row(
    path: str,
    precision: str,
    size_px: int,
    lat_ms: list[float],
    fps: float,
    legs_ms: list[list[float]] | None = None,
) -> BenchRow:
    a = np.asarray(lat_ms)
    legs = np.median(np.asarray(legs_ms), axis=0) if legs_ms else ()
    return BenchRow(
        path,
        precision,
        size_px,
        len(a),
        float(np.percentile(a, 50)),
        float(np.percentile(a, 95)),
        fps,
        peak_rss_mb(),
        tuple((name, float(v)) for name, v in zip(LEGS, legs, strict=False)),
    )


def stainer_row(precision: str, size_px: int, frames: int) -> BenchRow:
    reset_peak_rss()
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


E2E_VARIANTS = {  # variant -> the row's path
    "": "end to end",
    "overlap": "e2e overlap",  # the quality statistics on a helper thread beside the inference
    "no quality": "e2e no quality",  # [model] quality = false: the path's own overhead
}


def end_to_end_row(
    precision: str, size_px: int, frames: int, source_fps: float, variant: str = ""
) -> BenchRow:
    """The daemon to a subscriber; ``variant``: one of ``E2E_VARIANTS``."""
    reset_peak_rss()
    cfg = parse_config(
        {
            "source": {"height_px": size_px, "width_px": size_px, "fps": source_fps},
            "model": {"precision": precision, "quality": variant != "no quality"},
            "publish": {"endpoint": "tcp://127.0.0.1:0", "publish_input": False},
            "control": {"endpoint": ""},
        },
        "bench",
    )
    daemon = Daemon.for_config(cfg)
    daemon.overlap_quality = variant == "overlap"
    daemon.start()
    lat: list[float] = []
    legs: list[list[float]] = []
    try:
        with Subscriber(daemon.endpoint, topics=(TOPIC_FRAME,)) as sub:
            t_first = 0.0
            while len(lat) < frames + 1:
                msg = sub.recv(timeout_s=60)
                if isinstance(msg, FrameMessage):
                    now = time.time_ns()
                    if not lat:
                        t_first = time.perf_counter()
                    t = msg.header["t_ns"]
                    lat.append((now - t["acquired"]) / 1e6)
                    marks = [t["acquired"], t["received"], t["inferred"], t["published"], now]
                    legs.append([(b - a) / 1e6 for a, b in itertools.pairwise(marks)])
            span = time.perf_counter() - t_first
    finally:
        daemon.stop()
    return _row(E2E_VARIANTS[variant], precision, size_px, lat[1:], frames / span, legs[1:])


def _interleaved(stainers: list[Stainer], size_px: int, frames: int) -> list[list[float]]:
    """Per-stainer latencies (ms) on one simulated frame, the stainers taking turns frame by
    frame (so machine load hits each alike); a multi-plane model gets the frame per plane."""
    plane = simulate_pair(SimulationConfig(height_px=size_px, width_px=size_px), 0).qpi_rad
    images = [plane if s.planes == 1 else np.stack([plane] * s.planes) for s in stainers]
    for s, image in zip(stainers, images, strict=True):
        s.stain(image)  # warm-up
    lat: list[list[float]] = [[] for _ in stainers]
    for _ in range(frames):
        for k, (s, image) in enumerate(zip(stainers, images, strict=True)):
            t0 = time.perf_counter()
            s.stain(image)
            lat[k].append((time.perf_counter() - t0) * 1e3)
    return lat


def model_rows(paths: list[str], size_px: int, frames: int) -> list[BenchRow]:
    """The stainer of each model file, interleaved; ``BenchRow.path`` is the file name,
    ``precision`` the card's."""
    stainers = [Stainer(load_model(p, SessionConfig())) for p in paths]
    names = [Path(p).name for p in paths]
    labels = names if len(set(names)) == len(names) else paths  # same names: the paths
    return [
        _row(label, s.model.card.precision, size_px, lk, 1e3 / float(np.mean(lk)))
        for label, s, lk in zip(
            labels, stainers, _interleaved(stainers, size_px, frames), strict=True
        )
    ]


def quality_row(size_px: int, frames: int) -> BenchRow:
    """The per-frame quality block alone (input statistics + calibrated sigma)."""
    from edge.infer.quality import meter_for

    meter = meter_for(load_model(default_model_path("int8"), SessionConfig()).card)
    if meter is None:
        raise ValueError("the default model has no calibration")
    image = simulate_pair(SimulationConfig(height_px=size_px, width_px=size_px), 0).qpi_rad
    outputs = {"sigma": np.ones_like(image)}
    lat = []
    for _ in range(frames):
        t0 = time.perf_counter()
        meter.measure(image, outputs)
        lat.append((time.perf_counter() - t0) * 1e3)
    return _row("quality", "-", size_px, lat, 1e3 / float(np.mean(lat)))


def idle_cpu_percent(allow_spinning: bool, seconds: float = 6.0, fps: float = 1.0) -> float:
    """CPU use of this process while the daemon serves a source slower than inference
    (``fps`` frames of 512 px per second, the default model): the cost of idling."""
    cfg = parse_config(
        {
            "source": {"height_px": 512, "width_px": 512, "fps": fps},
            "model": {"allow_spinning": allow_spinning},
            "publish": {"endpoint": "tcp://127.0.0.1:0", "status_interval_s": 1.0},
            "control": {"endpoint": ""},
        },
        "bench",
    )
    daemon = Daemon.for_config(cfg)
    daemon.start()
    try:
        time.sleep(1.5)  # past warm-up and the first frames
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        return 100.0 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    finally:
        daemon.stop()


SESSION_VARIANTS: dict[str, dict[str, object]] = {
    "default": {},
    "1 thread": {"intra_op_threads": 1},
    "spinning on": {"allow_spinning": True},
    "no memory arena": {"cpu_mem_arena": False},
    "basic graph optimisation": {"graph_optimization": "basic"},
}


def session_rows(size_px: int, frames: int, precision: str = "int8") -> list[BenchRow]:
    """The stainer under each of ``SESSION_VARIANTS``, interleaved frame by frame."""
    import dataclasses

    path = default_model_path(precision)
    stainers = [
        Stainer(load_model(path, dataclasses.replace(SessionConfig(), **v)))  # type: ignore[arg-type]
        for v in SESSION_VARIANTS.values()
    ]
    return [
        _row(name, precision, size_px, lk, 1e3 / float(np.mean(lk)))
        for name, lk in zip(SESSION_VARIANTS, _interleaved(stainers, size_px, frames), strict=True)
    ]


def bench(sizes: list[int], frames: int) -> list[BenchRow]:
    rows = []
    for size in sizes:
        rows.append(numpy_row(size, frames))
        rows.append(quality_row(size, frames))
        for precision in ("int8", "fp32"):
            alone = stainer_row(precision, size, frames)
            rows.append(alone)
            variants = E2E_VARIANTS if precision == "int8" else {"": ""}
            for variant in variants:
                rows.append(end_to_end_row(precision, size, frames, 0.5 * alone.fps, variant))
    return rows


def _ratio(rows: list[BenchRow], r: BenchRow) -> float:
    """``r``'s p50 over the int8 stainer's at the same size."""
    key = ("stainer", r.size_px, "int8")
    return r.p50_ms / next(b for b in rows if (b.path, b.size_px, b.precision) == key).p50_ms


def table_lines(rows: list[BenchRow]) -> list[str]:
    out = [
        f"{'path':<15}{'model':<7}{'size':>6}{'p50 ms':>10}{'p95 ms':>10}{'fps':>8}"
        f"{'p50 / stainer int8':>20}{'peak RSS MB':>13}"
    ]
    for r in rows:
        out.append(
            f"{r.path:<15}{r.precision:<7}{r.size_px:>6}{r.p50_ms:>10.1f}{r.p95_ms:>10.1f}"
            f"{r.fps:>8.2f}{_ratio(rows, r):>20.2f}{r.peak_rss_mb:>13.0f}"
        )
    return out


def leg_lines(rows: list[BenchRow]) -> list[str]:
    """Where each end-to-end row's time goes, from the frame headers' timestamps."""
    return [
        f"{r.path} {r.precision} {r.size_px} px, p50 ms: "
        + ", ".join(f"{k} {v:.1f}" for k, v in r.legs_ms)
        for r in rows
        if r.legs_ms
    ]


MARKDOWN_BEGIN, MARKDOWN_END = "<!-- aglu-edge bench: begin -->", "<!-- aglu-edge bench: end -->"


def check_markdown_target(path: Path) -> str:
    """The text of ``path``, which must hold the begin and end markers (in that order)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror})") from None
    begin, end = text.find(MARKDOWN_BEGIN), text.find(MARKDOWN_END)
    if begin < 0 or end < begin:
        raise ValueError(f"{path}: needs the lines {MARKDOWN_BEGIN} and {MARKDOWN_END}")
    return text


def write_markdown(path: Path, rows: list[BenchRow], note: str) -> None:
    """Replace what lies between the markers in ``path`` with the table of ``rows``."""
    text = check_markdown_target(path)
    lines = [
        note,
        "",
        "| path | model | size px | p50 ms | p95 ms | x stainer int8 | peak RSS MB | "
        + " / ".join(LEGS)
        + " ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        legs = " / ".join(f"{v:.1f}" for _, v in r.legs_ms) or "-"
        lines.append(
            f"| {r.path} | {r.precision} | {r.size_px} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
            f"{_ratio(rows, r):.2f} | {r.peak_rss_mb:.0f} | {legs} |"
        )
    head, tail = text.split(MARKDOWN_BEGIN, 1)[0], text.split(MARKDOWN_END, 1)[1]
    block = "\n".join([MARKDOWN_BEGIN, *lines, MARKDOWN_END])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(head + block + tail)
    tmp.replace(path)


def model_lines(paths: list[str], sides: list[int], frames: int) -> list[str]:
    out = [f"{'model':<36}{'card':<7}{'size':>6}{'p50 ms':>10}{'p95 ms':>10}{'x first':>9}"]
    for side in sides:
        found = model_rows(paths, side, frames)
        out += [
            f"{r.path[-35:]:<36}{r.precision:<7}{side:>6}{r.p50_ms:>10.1f}"
            f"{r.p95_ms:>10.1f}{r.p50_ms / found[0].p50_ms:>9.2f}"
            for r in found
        ]
    return out


def session_lines(sides: list[int], frames: int) -> list[str]:
    out = [f"{'onnxruntime session':<26}{'size':>6}{'p50 ms':>10}{'p95 ms':>10}{'x default':>11}"]
    for side in sides:
        found = session_rows(side, frames)
        out += [
            f"{r.path:<26}{side:>6}{r.p50_ms:>10.1f}{r.p95_ms:>10.1f}"
            f"{r.p50_ms / found[0].p50_ms:>11.2f}"
            for r in found
        ]
    return out
