"""OME-Zarr images (NGFF 0.4 on Zarr v2 and 0.5 on Zarr v3), channels by ``omero`` label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from training.data.readers.base import DataError, pick_channels, split_planes


def _images(path: Path) -> list[Path]:
    if (path / ".zattrs").exists() or (path / "zarr.json").exists():
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_dir() and p.suffix == ".zarr")
    if not found:
        raise DataError(str(path), "neither an OME-Zarr image nor a folder of *.zarr images")
    return found


def _read_image(path: Path, channels: tuple[str, str]) -> list[tuple[Any, Any, str]]:
    import zarr

    group: Any
    attrs: dict[str, Any]
    try:
        group = zarr.open_group(str(path), mode="r")
        attrs = dict(group.attrs)
    except Exception as exc:  # zarr raises many unrelated types for a bad store
        raise DataError(str(path), f"not a readable Zarr group ({type(exc).__name__})") from None
    meta: Any = attrs.get("ome", attrs)
    try:
        multiscale = meta["multiscales"][0]
        axes = "".join(a["name"] if isinstance(a, dict) else a for a in multiscale["axes"])
        names = [str(c.get("label", "")) for c in meta["omero"]["channels"]]
        array = np.asarray(group[multiscale["datasets"][0]["path"]][...])
    except (KeyError, IndexError, TypeError) as exc:
        raise DataError(str(path), f"missing OME-Zarr metadata ({exc})") from None
    idx = pick_channels(names, channels, str(path))
    return split_planes(array, axes.upper(), idx, str(path))


def read_omezarr(path: Path, channels: tuple[str, str]) -> list[tuple[Any, Any, str]]:
    if not path.is_dir():
        raise DataError(str(path), "not a folder")
    out = []
    for image in _images(path):
        out += _read_image(image, channels)
    return out
