"""``aglu-edge bench-stain``: ``aglu-edge stain`` against the stainer alone, same frames.

One OME-TIFF of ``frames`` planes (a simulated field, shifted by a pixel per plane, as
uint16 camera counts) is written once, plane by plane. Then, ``repeats`` times, each
repeat starting with the next of the three so that drift and order fall on all: the
stainer alone (each plane read, then ``Stainer.stain``; nothing written), ``stain_file``
as shipped (read, stain; quality block and writing on the idle-priority writer; the
output deleted after the pass), and ``stain_file`` with its writer at normal priority
(what the idle priority buys). The figures are the ratios of the wall times to the
stainer's per repeat; their medians are what to quote.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.bench import peak_rss_mb, reset_peak_rss
from edge.infer.serving import Active
from edge.io.offline import FORMATS, StainResult, stain_file
from edge.io.readers import open_reader


@dataclass(frozen=True, slots=True)
class StainBenchRow:
    repeat: int
    frames: int
    stainer_s: float  # the stainer alone: read + Stainer.stain per plane
    stain_s: float  # aglu-edge stain: read, stain, quality block, write
    inference_s: float  # of stain_s, the stainer's own calls
    peak_rss_mb: float  # over the stain pass (this process)
    normal_s: float  # aglu-edge stain with its writer at normal priority
    starved: bool  # the idle-priority writer fell back to normal priority in the pass

    @property
    def ratio(self) -> float:
        return self.stain_s / self.stainer_s

    @property
    def normal_ratio(self) -> float:
        return self.normal_s / self.stainer_s


def _planes(size_px: int, frames: int, seed: int) -> Iterator[npt.NDArray[np.uint16]]:
    from edge.sim.phantom import SimulationConfig, simulate_pair

    qpi = simulate_pair(SimulationConfig(height_px=size_px, width_px=size_px), seed).qpi_rad
    lo, hi = float(qpi.min()), float(qpi.max())
    counts = ((qpi - lo) / max(hi - lo, 1e-9) * 3000 + 500).astype(np.uint16)
    for i in range(frames):
        yield np.roll(counts, (i, 2 * i), axis=(0, 1))


def write_input(path: Path, size_px: int, frames: int, seed: int = 0) -> Path:
    """A ``frames``-plane OME-TIFF (T, Y, X) uint16, written plane by plane."""
    import tifffile

    tifffile.imwrite(
        path,
        _planes(size_px, frames, seed),
        shape=(frames, size_px, size_px),
        dtype=np.uint16,
        ome=True,
        bigtiff=True,
        metadata={"axes": "TYX"},
    )
    return path


def stainer_pass(path: Path, active: Active) -> float:
    """Seconds for the stainer alone over every plane of ``path``."""
    reader = open_reader(path)
    try:
        t0 = time.perf_counter()
        for coords in reader.planes:
            active.stainer.stain(reader.read(coords))
        return time.perf_counter() - t0
    finally:
        reader.close()


def bench_stain(
    active: Active,
    workdir: Path,
    size_px: int,
    frames: int,
    repeats: int,
    fmt: str,
    on_row: Callable[[StainBenchRow], None] = lambda row: None,
) -> list[StainBenchRow]:
    """``repeats`` side-by-side rows; ``workdir`` holds the input and each pass's output."""
    path = workdir / f"bench-input-{size_px}px-{frames}.ome.tif"
    if not path.exists():
        write_input(path, size_px, frames)
    active.stainer.stain(next(_planes(size_px, 1, 0)))  # warm-up outside every timing
    out = workdir / f"bench-output{FORMATS[fmt]}"

    def stain_pass(polite: bool) -> StainResult:
        try:
            return stain_file(
                path, out, active.model, active.stainer, active.meter, polite_writer=polite
            )
        finally:
            _remove_output(out)

    rows = []
    for repeat in range(repeats):
        # each repeat starts with the next pass: with 3 repeats, every pass runs once first,
        # once second and once last (the machine's drift and any order effect fall on all)
        walls: dict[str, float] = {}
        results: dict[str, StainResult] = {}
        rss = float("nan")
        for kind in _ORDER[repeat % 3 :] + _ORDER[: repeat % 3]:
            if kind == "stainer":
                walls[kind] = stainer_pass(path, active)
                continue
            reset_peak_rss()
            results[kind] = stain_pass(polite=kind == "idle")
            walls[kind] = results[kind].wall_s
            if kind == "idle":
                rss = peak_rss_mb()
        r = results["idle"]
        row = StainBenchRow(
            repeat,
            r.frames,
            walls["stainer"],
            r.wall_s,
            r.stain_s,
            rss,
            walls["normal"],
            r.writer_starved,
        )
        on_row(row)
        rows.append(row)
    return rows


_ORDER = ["stainer", "idle", "normal"]


def _remove_output(out: Path) -> None:
    if out.is_dir():
        shutil.rmtree(out)
    else:
        out.unlink(missing_ok=True)
    for side in (f"{out}.frames.jsonl", f"{out}.input.json"):
        Path(side).unlink(missing_ok=True)
