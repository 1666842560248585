"""Capture paired fields for training: the label-free channel and the nuclear stain at N
stage positions, from a pymmcore-plus core, as a dataset a training recipe reads as it is.

One MDA (``useq``): positions outer, the two channel presets inner (``axis_order="pc"``),
so each pair is taken at one stage position, one after the other. Each position is
written as ``pos000.ome.tif`` (C, Y, X) with the two channels named (the label-free
one first) and the pixel size in the OME metadata; ``capture.json`` records the
positions, presets, exposures and pixel size; ``recipe.toml`` is a training recipe of
that folder (``source = "tiff"``, the channel names, the modality, per-frame
normalisation), ready for ``aglu-train fit``.

Nothing is written over an existing folder, and the raw images are saved as the camera
gave them (same dtype, same values).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError

MODALITIES = ("qpi", "phase-contrast", "bright-field", "dic")


@dataclass(frozen=True, slots=True)
class ChannelPreset:
    """A channel of the capture: a preset of a config group, and its exposure."""

    group: str  # e.g. "Channel"
    preset: str  # e.g. "BF", "DAPI"
    exposure_ms: float | None = None  # None: the camera's current exposure


@dataclass(frozen=True, slots=True)
class CaptureResult:
    folder: Path
    positions: int
    files: tuple[Path, ...]
    recipe: Path


RECIPE = """# Written by aglu capture: the {n} position(s) of {folder} as a training recipe.
name = "{name}"

[data]
source = "tiff"
path = "."
input_channel = "{label_free}"
target_channel = "{stain}"
modality = "{modality}"
normalize = "frame"
low_percentile = 1.0
high_percentile = 99.8
target_high_percentile = 99.99
"""


def _check(out: Path, positions: list[tuple[float, float]], modality: str) -> None:
    if out.exists():
        raise ConfigError(str(out), "exists; refusing to overwrite")
    if not positions:
        raise ConfigError("positions", "no stage position to capture")
    if modality not in MODALITIES:
        raise ConfigError("modality", f"{modality!r}: one of {', '.join(MODALITIES)}")


def _sequence(
    positions: list[tuple[float, float]], label_free: ChannelPreset, stain: ChannelPreset
) -> Any:
    import useq

    channels = [
        {"config": c.preset, "group": c.group}
        | ({} if c.exposure_ms is None else {"exposure": c.exposure_ms})
        for c in (label_free, stain)
    ]
    stage = [{"x": x, "y": y} for x, y in positions]
    return useq.MDASequence(stage_positions=stage, channels=channels, axis_order="pc")


def _run(core: Any, sequence: Any) -> dict[int, dict[int, npt.NDArray[Any]]]:
    """Run the MDA; the images by position index, then channel index."""
    got: dict[int, dict[int, npt.NDArray[Any]]] = {}
    lock = threading.Lock()

    def on_frame(img: npt.NDArray[Any], event: Any, *_: Any) -> None:
        with lock:
            got.setdefault(int(event.index.get("p", 0)), {})[int(event.index.get("c", 0))] = (
                np.array(img, copy=True)
            )

    core.mda.events.frameReady.connect(on_frame)
    try:
        core.mda.run(sequence)
    finally:
        core.mda.events.frameReady.disconnect(on_frame)
    return got


def capture_pairs(
    core: Any,
    positions: list[tuple[float, float]],
    label_free: ChannelPreset,
    stain: ChannelPreset,
    out: Path,
    modality: str,
    pixel_size_um: float | None = None,
) -> CaptureResult:
    """Capture the pairs at ``positions`` (x, y in um) into the new folder ``out``."""
    import tifffile

    _check(out, positions, modality)
    size = pixel_size_um or (float(core.getPixelSizeUm()) or None)
    images = _run(core, _sequence(positions, label_free, stain))
    missing = [p for p in range(len(positions)) if set(images.get(p, {})) != {0, 1}]
    if missing:
        raise ConfigError("capture", f"position(s) {missing} did not give both channels")
    out.mkdir(parents=True)
    names = [label_free.preset, stain.preset]
    files = []
    for p in range(len(positions)):
        stack = np.stack([images[p][0], images[p][1]])
        meta: dict[str, Any] = {"axes": "CYX", "Channel": {"Name": names}}
        if size is not None:
            meta |= {"PhysicalSizeX": size, "PhysicalSizeY": size}
        path = out / f"pos{p:03d}.ome.tif"
        tifffile.imwrite(path, stack, metadata=meta, ome=True)
        files.append(path)
    record = {
        "positions_um": positions,
        "label_free": asdict(label_free),
        "stain": asdict(stain),
        "modality": modality,
        "pixel_size_um": size,
    }
    (out / "capture.json").write_text(json.dumps(record, indent=1))
    recipe = out / "recipe.toml"
    recipe.write_text(
        RECIPE.format(
            n=len(positions),
            folder=out.name,
            name=f"{out.name}-adapt",
            label_free=names[0],
            stain=names[1],
            modality=modality,
        )
    )
    return CaptureResult(out, len(positions), tuple(files), recipe)
