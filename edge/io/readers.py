"""Lazy plane readers for recorded stacks: TIFF / OME-TIFF, OME-Zarr, NDTiff.

Every reader lists the coordinates of its (Y, X) planes in acquisition order
and reads one plane at a time, so a stack larger than memory replays fine.
Axis names are the file's own (``T``, ``Z`` for TIFF; ``t``, ``z`` for
OME-Zarr; ``time``, ``z``, ``position`` for NDTiff). A multi-channel file
replays one channel, chosen by name (``source.channel``); a file with one
channel needs no name. Any problem is one ConfigError naming the file.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.frames import Frame

Coords = dict[str, int | str]


class PlaneReader(Protocol):
    frame_shape_px: tuple[int, int]
    planes: list[Coords]  # every plane's coordinates, in acquisition order

    def read(self, coords: Coords) -> npt.NDArray[Any]: ...

    def close(self) -> None: ...


def _bad(path: Path, message: str) -> ConfigError:
    return ConfigError(f"source.path {path}", message)


def _need(module: str, path: Path) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise _bad(path, f"reading it needs {module}: pip install 'aglu[io]'") from None


def pick_channel(names: list[str], count: int, channel: str | None, path: Path) -> int:
    """Index of ``channel`` among ``names``; a single-channel file needs no name."""
    if channel is None:
        if count == 1:
            return 0
        raise _bad(path, f"has {count} channels {names}; choose one with source.channel")
    if channel not in names:
        raise _bad(path, f"channel {channel!r} not found; the file has {names}")
    return names.index(channel)


def dense_planes(
    axes: str, shape: tuple[int, ...], names: list[str], channel: str | None, path: Path
) -> list[Coords]:
    """Coordinates of every plane of a dense array whose axes end in Y, X."""
    if len(axes) != len(shape) or axes[-2:].upper() != "YX":
        raise _bad(path, f"axes {axes!r} do not fit shape {shape} (need ... Y X)")
    lead = list(zip(axes[:-2], shape[:-2], strict=True))
    ranges: list[range] = []
    for ax, n in lead:
        if ax.upper() == "C":
            c = pick_channel(names, n, channel, path)
            ranges.append(range(c, c + 1))
        else:
            ranges.append(range(n))
    if channel is not None and not any(ax.upper() == "C" for ax, _ in lead):
        raise _bad(path, f"has no channel axis (axes {axes!r}); drop source.channel")
    return [dict(zip([a for a, _ in lead], idx, strict=True)) for idx in itertools.product(*ranges)]


def tiff_channel_names(tif: Any) -> list[str]:
    """Channel names from OME-XML (``Channel/@Name``) or ImageJ ``Labels``."""
    if tif.ome_metadata:
        root = ET.fromstring(tif.ome_metadata)
        names = [el.get("Name", "") for el in root.iter() if el.tag.endswith("}Channel")]
        if any(names):
            return names
    labels = (tif.imagej_metadata or {}).get("Labels")
    return list(labels) if labels else []


class TiffReader:
    def __init__(self, path: Path, channel: str | None) -> None:
        import tifffile

        try:
            self._tif = tifffile.TiffFile(path)
            if not self._tif.series:
                self._tif.close()
                raise _bad(path, "no image series in the file")
            series = self._tif.series[0]
            axes, self._shape = series.axes.upper(), tuple(series.shape)
            names = tiff_channel_names(self._tif)
        except (OSError, ValueError, tifffile.TiffFileError, IndexError, KeyError) as exc:
            raise _bad(path, f"not a readable TIFF ({exc})") from None
        self._series: Any = series
        self._axes = axes
        try:
            self.planes = dense_planes(axes, self._shape, names, channel, path)
        except ConfigError:
            self._tif.close()
            raise
        self.frame_shape_px = (int(self._shape[-2]), int(self._shape[-1]))

    def read(self, coords: Coords) -> npt.NDArray[Any]:
        lead = self._shape[:-2]
        if not lead:
            return np.asarray(self._series.asarray())
        key = int(np.ravel_multi_index(tuple(int(coords[a]) for a in self._axes[:-2]), lead))
        return np.asarray(self._series.asarray(key=key))

    def close(self) -> None:
        self._tif.close()


class OmeZarrReader:
    """NGFF 0.4 (Zarr v2) and 0.5 (Zarr v3) images; the full-resolution level."""

    def __init__(self, path: Path, channel: str | None) -> None:
        zarr = _need("zarr", path)
        try:
            group = zarr.open_group(str(path), mode="r")
            attrs: dict[str, Any] = dict(group.attrs)
            meta: Any = attrs.get("ome", attrs)
            ms = meta["multiscales"][0]
            axes = "".join(a["name"] if isinstance(a, dict) else a for a in ms["axes"])
            self._array: Any = group[ms["datasets"][0]["path"]]
            names = [str(c.get("label", "")) for c in meta.get("omero", {}).get("channels", [])]
        except (KeyError, IndexError, TypeError) as exc:
            raise _bad(path, f"missing OME-Zarr metadata ({exc})") from None
        except Exception as exc:  # zarr raises many unrelated types for a bad store
            raise _bad(path, f"not a readable OME-Zarr image ({type(exc).__name__})") from None
        shape = tuple(int(s) for s in self._array.shape)
        self._axes = axes
        self.planes = dense_planes(axes, shape, names, channel, path)
        self.frame_shape_px = (shape[-2], shape[-1])

    def read(self, coords: Coords) -> npt.NDArray[Any]:
        return np.asarray(self._array[tuple(coords[a] for a in self._axes[:-2])])

    def close(self) -> None:
        return None


class NDTiffReader:
    """Micro-Manager NDTiff datasets (ndstorage); channels by name."""

    def __init__(self, path: Path, channel: str | None) -> None:
        ndstorage = _need("ndstorage", path)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # ndstorage prints progress
                self._ds: Any = ndstorage.Dataset(str(path))
        except Exception as exc:  # ndstorage raises bare Exceptions for non-datasets
            raise _bad(path, f"not a readable NDTiff dataset ({exc})") from None
        coords: list[Coords] = [dict(c) for c in self._ds.get_image_coordinates_list()]
        names = [str(c) for c in self._ds.axes.get("channel", [])]
        if names:
            wanted = names[pick_channel(names, len(names), channel, path)]
            coords = [c for c in coords if c.get("channel") == wanted]
        elif channel is not None:
            raise _bad(path, "has no channel axis; drop source.channel")
        if not coords:
            self._ds.close()
            raise _bad(path, "holds no images")
        self.planes = coords  # the index's order: the order of acquisition
        first = self.read(self.planes[0])
        self.frame_shape_px = (int(first.shape[-2]), int(first.shape[-1]))

    def read(self, coords: Coords) -> npt.NDArray[Any]:
        return np.asarray(self._ds.read_image(**coords))

    def close(self) -> None:
        self._ds.close()


IMAGE_SUFFIXES = (".tif", ".tiff", ".png")


class ImageFolderReader:
    """A folder of single 2-D images (TIFF or PNG), one plane each, in name order; the
    file's stem is its ``file`` coordinate. (A folder with ``NDTiff.index`` is NDTiff.)"""

    def __init__(self, path: Path, channel: str | None) -> None:
        if channel is not None:
            raise _bad(path, "a folder of images has no channels; drop the channel")
        self._files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise _bad(path, f"holds no images ({', '.join(IMAGE_SUFFIXES)}) and no dataset")
        self.planes: list[Coords] = [{"file": f.name} for f in self._files]
        first = self.read(self.planes[0])
        self.frame_shape_px = (int(first.shape[-2]), int(first.shape[-1]))

    def read(self, coords: Coords) -> npt.NDArray[Any]:
        path = next(f for f in self._files if f.name == coords["file"])
        try:
            if path.suffix.lower() == ".png":
                from PIL import Image

                with Image.open(path) as img:
                    return np.asarray(img)
            import tifffile

            return np.squeeze(np.asarray(tifffile.imread(path)))
        except (OSError, ValueError) as exc:
            raise _bad(path, f"not a readable image ({exc})") from None

    def close(self) -> None:
        pass


def plane_frame(
    reader: PlaneReader,
    plane: int,
    index: int,
    source: str,
    path: Path,
    pixel_size_um: float | None,
) -> Frame:
    """Frame ``index`` from plane ``plane`` of ``reader``; its coordinates become the axes."""
    coords = reader.planes[plane]
    return Frame(
        index=index,
        image=np.ascontiguousarray(reader.read(coords)),
        t_acquired_ns=time.time_ns(),
        axes=dict(coords),
        metadata={"source": source, "file": str(path), "plane": plane},
        pixel_size_um=pixel_size_um,
    )


def open_reader(path: Path, channel: str | None = None) -> PlaneReader:
    """The reader for ``path``: a *.zarr folder, an NDTiff folder, a folder of TIFF/PNG
    images, or a TIFF file."""
    if not path.exists():
        raise _bad(path, "does not exist")
    if path.is_dir():
        if path.suffix == ".zarr" or (path / "zarr.json").exists() or (path / ".zattrs").exists():
            return OmeZarrReader(path, channel)
        if (path / "NDTiff.index").exists() or not any(
            p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()
        ):
            return NDTiffReader(path, channel)
        return ImageFolderReader(path, channel)
    return TiffReader(path, channel)
