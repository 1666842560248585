"""TIFF / OME-TIFF folders.

Two layouts, channels selected by name:
- ``FOLDER/<input>/*.tif`` and ``FOLDER/<target>/*.tif``: single-channel files paired
  by file name;
- ``FOLDER/*.tif``: multi-channel (OME-)TIFF files whose channel names come from
  the OME-XML (``Channel/@Name``) or ImageJ ``Labels`` metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.io.readers import tiff_channel_names
from training.data.readers.base import DataError, pick_channels, split_planes

SUFFIXES = (".tif", ".tiff")


def _tiffs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def _read(path: Path) -> tuple[Any, str, list[str]]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise DataError(str(path), "not a readable TIFF (no image series)")
            series = tif.series[0]
            data, axes = series.asarray(), series.axes
            names = tiff_channel_names(tif)
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError) as exc:
        raise DataError(str(path), f"not a readable TIFF ({exc})") from None
    return data, axes, names


def _two_folders(folder: Path, channels: tuple[str, str]) -> list[tuple[Any, Any, str]]:
    in_dir, tg_dir = folder / channels[0], folder / channels[1]
    inputs = {p.stem: p for p in _tiffs(in_dir)}
    targets = {p.stem: p for p in _tiffs(tg_dir)}
    if not inputs:
        raise DataError(str(in_dir), "no TIFF files")
    unpaired = sorted(set(inputs) ^ set(targets))
    if unpaired:
        raise DataError(
            str(folder), f"files without a partner in the other channel: {unpaired[:5]}"
        )
    out = []
    for stem in sorted(inputs):
        q, _, _ = _read(inputs[stem])
        d, _, _ = _read(targets[stem])
        out.append((np.squeeze(q), np.squeeze(d), str(inputs[stem])))
    return out


def read_tiff_folder(folder: Path, channels: tuple[str, str]) -> list[tuple[Any, Any, str]]:
    if not folder.is_dir():
        raise DataError(str(folder), "not a folder")
    if (folder / channels[0]).is_dir():
        return _two_folders(folder, channels)
    files = _tiffs(folder)
    if not files:
        raise DataError(str(folder), f"no TIFF files and no '{channels[0]}/' sub-folder")
    out = []
    for path in files:
        data, axes, names = _read(path)
        if not names:
            raise DataError(str(path), "no channel names in OME or ImageJ metadata")
        out += split_planes(data, axes, pick_channels(names, channels, str(path)), str(path))
    return out
