"""One entry point: the data section of a recipe -> validated raw pairs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.sim.phantom import SimulationConfig, simulate_pair
from training.data.readers.base import DataError, ImagePair, make_pair


def simulated_pairs(sim: SimulationConfig, n: int, seed: int) -> list[ImagePair]:
    out = []
    for i in range(n):
        p = simulate_pair(sim, seed + i)
        out.append(
            ImagePair(
                p.label_free[None],
                p.dapi_e,
                f"simulated seed {seed + i}",
                p.nuclei_labels,
                p.nucleus_brightness,
            )
        )
    return out


def _reader(source: str, path: Path) -> Callable[[Path, tuple[str, str]], list[Any]]:
    if source == "tiff":
        from training.data.readers.tiff import read_tiff_folder

        return read_tiff_folder
    if source == "omezarr":
        from training.data.readers.omezarr import read_omezarr

        return read_omezarr
    if source == "ndtiff":
        from training.data.readers.ndtiff import read_ndtiff

        return read_ndtiff
    raise DataError(str(path), f"unknown data source {source!r}")


def load_file_pair(
    input_path: Path,
    target_path: Path,
    input_planes: tuple[int, int] | None,
    min_side_px: int,
) -> ImagePair:
    """One input image (or planes ``first..last`` of a stack, inclusive) and one target."""
    import tifffile

    arrays = []
    for path in (input_path, target_path):
        if not path.is_file():
            raise DataError(str(path), "does not exist")
        try:
            arrays.append(tifffile.imread(path))
        except (tifffile.TiffFileError, ValueError, OSError) as exc:
            raise DataError(str(path), f"not a readable TIFF ({exc})") from None
    qpi = arrays[0]
    if input_planes is not None:
        first, last = input_planes
        if qpi.ndim != 3 or last >= qpi.shape[0]:
            raise DataError(str(input_path), f"has shape {qpi.shape}: no planes {first}..{last}")
        qpi = qpi[first : last + 1]
    elif qpi.ndim == 3 and qpi.shape[0] == 1:
        qpi = qpi[0]
    elif qpi.ndim != 2:
        raise DataError(
            str(input_path), f"has shape {qpi.shape}: choose planes with data.input_planes"
        )
    return make_pair(qpi, arrays[1], f"{input_path} + {target_path}", min_side_px)


def load_pairs(
    source: str,
    path: Path,
    channels: tuple[str, str],
    min_side_px: int,
    mask_channel: str | None = None,
) -> list[ImagePair]:
    """Read every pair from a folder of (OME-)TIFF, an OME-Zarr, an NDTiff dataset, or
    per-channel folders (with reference masks when ``mask_channel`` is given)."""
    if not path.exists():
        raise DataError(str(path), "does not exist")
    if source == "folders":
        from training.data.readers.folders import read_folders

        found = read_folders(path, channels, mask_channel)
        return [make_pair(q, d, origin, min_side_px, m) for q, d, origin, m in found]
    if mask_channel is not None:
        raise DataError(str(path), f"data.mask_channel needs source 'folders', not {source!r}")
    read = _reader(source, path)
    raw = read(path, channels)
    if not raw:
        raise DataError(str(path), "no image pairs found")
    return [make_pair(q, d, origin, min_side_px) for q, d, origin in raw]
