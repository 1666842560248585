"""``aglu-edge stain``: stain whole acquired datasets offline, as the daemon would.

Each input (an OME-TIFF/TIFF, an OME-Zarr image, a Micro-Manager NDTiff dataset, or a
folder of TIFF/PNG images; stacks and time series) is read plane by plane
(``edge.io.readers``: memory stays bounded), planes tagged with a z index become stacks
for a multi-plane model (``edge.sources.zstack``), and every frame goes through the
daemon's ``Stainer`` and quality block. The outputs are written as the subscriber saves
what it receives (``edge.io.sinks``), the quality block and the writing on a background
thread at idle priority while the next frame is stained (``edge.io.writer``): an
OME-Zarr or OME-TIFF per input with ``dapi`` and ``sigma`` per frame (and the input
plane with ``with_input``), each frame's header (its coordinates in the input, the model
and its sha256, the quality block) in ``OUT.frames.jsonl``, and the input's own metadata
(OME-XML or ImageJ metadata, pixel size) in ``OUT.input.json``. Nothing is ever written
over an input: an output that exists, or that would be an input, is refused before
anything is read.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import ConfigError, FrameError, InferenceError
from edge.frames import Frame, StainedFrame
from edge.infer.model import LoadedModel
from edge.infer.quality import QualityMeter
from edge.infer.stainer import Outputs, Stainer
from edge.io.readers import PlaneReader, open_reader, plane_frame
from edge.io.sinks import open_sink
from edge.io.writer import BackgroundWriter
from edge.net.messages import frame_contents
from edge.net.wire import FrameMessage, frame_header
from edge.sources.zstack import PlaneStacker
from edge.stats import RateLimitedLog

logger = logging.getLogger(__name__)
FORMATS = {"zarr": ".aglu.zarr", "tiff": ".aglu.ome.tif"}


@dataclass(frozen=True, slots=True)
class StainResult:
    input: Path
    output: Path
    frames: int  # stained and written
    rejected: int  # frames the stainer cannot take (named in the log)
    failed: int  # valid frames the model failed on
    wall_s: float
    stain_s: float  # of which inference (the stainer's own time)
    writer_starved: bool = False  # the idle-priority writer fell back to normal priority


def output_for(path: Path, out_dir: Path, fmt: str) -> Path:
    """``out_dir/<input name without its suffixes>.aglu.zarr`` (or ``.aglu.ome.tif``)."""
    stem = path.name.split(".")[0] or path.name
    return out_dir / f"{stem}{FORMATS[fmt]}"


def check_outputs(inputs: list[Path], out_dir: Path, fmt: str) -> list[Path]:
    """The output of each input; ConfigError (before anything is read or written) if one
    exists, two inputs would share one, or an output would land in or on an input."""
    outs = [output_for(p, out_dir, fmt) for p in inputs]
    if len(set(outs)) != len(outs):
        raise ConfigError("--out", "two inputs have the same name: stain them into two folders")
    resolved = [p.resolve() for p in inputs]
    for out in outs:
        if out.exists() or Path(f"{out}.frames.jsonl").exists():
            raise ConfigError(str(out), "exists; refusing to overwrite")
        r = out.resolve()
        if any(r == p or p in r.parents for p in resolved):
            raise ConfigError(str(out), "would be written inside or over an input")
    return outs


def input_metadata(path: Path, reader: PlaneReader) -> dict[str, Any]:
    """What the input says of itself: OME-XML / ImageJ metadata of a TIFF, the planes."""
    meta: dict[str, Any] = {"input": str(path), "reader": type(reader).__name__}
    meta["planes"] = len(reader.planes)
    meta["frame_shape_px"] = list(reader.frame_shape_px)
    if path.is_file() and path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            meta["ome_xml"] = tif.ome_metadata
            meta["imagej"] = tif.imagej_metadata
    return meta


def _frames(reader: PlaneReader, path: Path, planes: int, size_um: float | None) -> Iterator[Frame]:
    """The input's frames, stacked for a multi-plane model."""
    stacker = PlaneStacker(planes) if planes > 1 else None
    for i in range(len(reader.planes)):
        frame = plane_frame(reader, i, i, "aglu-edge stain", path, size_um)
        out = frame if stacker is None else stacker.push(frame)
        if out is not None:
            yield out


@dataclass
class _Counts:
    frames: int = 0
    rejected: int = 0
    failed: int = 0
    stain_s: float = 0.0
    last_stain_s: float = 0.0


def _stain(frame: Frame, stainer: Stainer, counts: _Counts, log: RateLimitedLog) -> Outputs | None:
    """The model's outputs for one frame, or None (counted and logged) if none."""
    t0 = time.perf_counter()
    try:
        return stainer.stain(frame.image)
    except ValueError as exc:
        counts.rejected += 1
        log.log("%s", FrameError(frame.index, str(exc)))
    except InferenceError as exc:
        counts.failed += 1
        log.log("frame %d: %s", frame.index, exc)
    finally:
        counts.last_stain_s = time.perf_counter() - t0
        counts.stain_s += counts.last_stain_s
    return None


def _message(
    frame: Frame, outputs: Outputs, stainer: Stainer, meter: QualityMeter | None, with_input: bool
) -> FrameMessage:
    """What the daemon would publish for this frame: its header with the quality block."""
    quality = None if meter is None else meter.measure(frame.image, outputs).header()
    sf = StainedFrame(frame, outputs, time.time_ns(), time.time_ns(), quality)
    fields, arrays, _ = frame_contents(sf, stainer.model, publish_input=with_input)
    return FrameMessage(frame_header(fields, arrays), arrays)


def stain_file(
    path: Path,
    out: Path,
    model: LoadedModel,
    stainer: Stainer,
    meter: QualityMeter | None,
    channel: str | None = None,
    pixel_size_um: float | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
    with_input: bool = False,
    polite_writer: bool = True,
) -> StainResult:
    """Stain every frame of one input into ``out``; ``progress(done, total planes)``.
    ``with_input``: also copy each input plane into the output (it is in the input).
    ``polite_writer``: write at idle priority (``edge.io.writer``), False: at normal."""
    t0 = time.perf_counter()
    reader = open_reader(path, channel)
    counts, log = _Counts(), RateLimitedLog(logger)
    try:
        sink = open_sink(out)

        def write(item: tuple[Frame, Outputs]) -> None:
            sink.write(_message(*item, stainer, meter, with_input))

        def patience_s() -> float:  # a starved writer freed no slot in two inferences
            return max(1.0, 2 * counts.last_stain_s)

        writer = BackgroundWriter(write, polite=polite_writer, name="stain writer")
        try:
            for frame in _frames(reader, path, model.card.input_planes, pixel_size_um):
                outputs = _stain(frame, stainer, counts, log)
                if outputs is not None:
                    writer.put((frame, outputs), patience_s())
                    counts.frames += 1
                progress(int(frame.metadata.get("plane", 0)) + 1, len(reader.planes))
        finally:
            try:
                writer.close(patience_s())
            finally:
                sink.close()
        meta = input_metadata(path, reader) | {"channel": channel, "pixel_size_um": pixel_size_um}
        Path(f"{out}.input.json").write_text(json.dumps(meta, indent=1, default=str))
    finally:
        reader.close()
    wall = time.perf_counter() - t0
    return StainResult(
        path,
        out,
        counts.frames,
        counts.rejected,
        counts.failed,
        wall,
        counts.stain_s,
        writer.starved,
    )
