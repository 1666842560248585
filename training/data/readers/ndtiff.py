"""Micro-Manager NDTiff datasets (ndstorage): channels by name on the ``channel`` axis."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from training.data.readers.base import DataError, pick_channels


def read_ndtiff(path: Path, channels: tuple[str, str]) -> list[tuple[Any, Any, str]]:
    from ndstorage import Dataset

    if not path.is_dir():
        raise DataError(str(path), "not a folder")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # ndstorage prints progress
            ds = Dataset(str(path))
    except Exception as exc:  # ndstorage raises bare Exceptions for non-datasets
        raise DataError(str(path), f"not a readable NDTiff dataset ({exc})") from None
    try:
        names = [str(c) for c in ds.axes.get("channel", [])]
        pick_channels(names, channels, str(path))
        planes = {
            tuple(sorted((k, v) for k, v in c.items() if k != "channel"))
            for c in ds.get_image_coordinates_list()
        }
        out = []
        for plane in sorted(planes):
            coords = dict(plane)
            where = f"{path}[{', '.join(f'{k}={v}' for k, v in plane)}]"
            if not all(ds.has_image(channel=c, **coords) for c in channels):
                raise DataError(where, f"missing channel {channels} at this position")
            q, d = (ds.read_image(channel=c, **coords) for c in channels)
            out.append((q, d, where))
        return out
    finally:
        ds.close()
