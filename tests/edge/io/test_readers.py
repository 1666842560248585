"""Replay and watch sources on real files: OME-TIFF, OME-Zarr (v2/v3), NDTiff."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from edge.errors import ConfigError
from edge.frames import Frame
from edge.sources.replay import ReplaySource, ReplaySourceConfig
from edge.sources.watch import WatchSource, WatchSourceConfig
from tests.files import write_ndtiff


def _replay(path: Path, channel: str | None = None) -> list[Frame]:
    src = ReplaySource(ReplaySourceConfig(path=path, fps=1000, channel=channel))
    return list(src.frames(threading.Event()))


def _write_omezarr(path: Path, data: np.ndarray, axes: str, names: list[str], v3: bool) -> None:
    import zarr

    group = zarr.open_group(str(path), mode="w", zarr_format=3 if v3 else 2)
    group.create_array("0", data=data)
    ms = {"axes": [{"name": a} for a in axes], "datasets": [{"path": "0"}]}
    meta = {"multiscales": [ms], "omero": {"channels": [{"label": n} for n in names]}}
    group.attrs.update({"ome": {"version": "0.5", **meta}} if v3 else meta)


def test_ome_tiff_channel_by_name(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 999, (2, 3, 32, 48)).astype(np.uint16)
    path = tmp_path / "a.ome.tif"
    tifffile.imwrite(
        path, data, ome=True, metadata={"axes": "TCYX", "Channel": {"Name": ["BF", "QPI", "X"]}}
    )
    frames = _replay(path, "QPI")
    assert [f.axes for f in frames] == [{"T": 0, "C": 1}, {"T": 1, "C": 1}]
    np.testing.assert_array_equal(frames[1].image, data[1, 1])
    with pytest.raises(ConfigError, match=r"3 channels \['BF', 'QPI', 'X'\]; choose one"):
        _replay(path)
    with pytest.raises(ConfigError, match="channel 'DAPI' not found"):
        _replay(path, "DAPI")


@pytest.mark.parametrize("v3", [False, True])
def test_ome_zarr(tmp_path: Path, v3: bool) -> None:
    data = np.random.default_rng(1).random((2, 2, 3, 32, 40)).astype(np.float32)
    _write_omezarr(tmp_path / "img.zarr", data, "tczyx", ["QPI", "DAPI"], v3)
    frames = _replay(tmp_path / "img.zarr", "QPI")
    assert len(frames) == 6 and frames[4].axes == {"t": 1, "c": 0, "z": 1}
    np.testing.assert_array_equal(frames[4].image, data[1, 0, 1])


def test_zarr_without_ome_metadata_is_named(tmp_path: Path) -> None:
    import zarr

    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w").create_array(
        "0", data=np.zeros((4, 4), np.float32)
    )
    with pytest.raises(ConfigError, match=r"plain\.zarr: missing OME-Zarr metadata"):
        _replay(tmp_path / "plain.zarr")


def test_ndtiff_channel_in_acquisition_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    imgs = {
        (t, c): rng.integers(0, 999, (32, 32)).astype(np.uint16)
        for t in range(3)
        for c in ("QPI", "DAPI")
    }
    frames = _replay(write_ndtiff(tmp_path, imgs), "QPI")
    assert [f.axes["time"] for f in frames] == [0, 1, 2]
    np.testing.assert_array_equal(frames[2].image, imgs[2, "QPI"])


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothing\.tif: does not exist"):
        _replay(tmp_path / "nothing.tif")


def test_watcher_streams_new_files_and_skips_bad_ones(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "old.tif", np.zeros((16, 16), np.uint16))  # before start: ignored
    src = WatchSource(WatchSourceConfig(path=tmp_path, poll_s=0.05, max_frames=3))
    got: list[Frame] = []
    stop = threading.Event()
    thread = threading.Thread(target=lambda: got.extend(f for f in src.frames(stop) if f))
    thread.start()
    try:
        time.sleep(0.2)
        (tmp_path / "broken.tif").write_bytes(b"II*\x00 not a tiff")
        stack = np.arange(2 * 16 * 16, dtype=np.uint16).reshape(2, 16, 16)
        tifffile.imwrite(tmp_path / "new.tif", stack)
        time.sleep(0.3)
        tifffile.imwrite(tmp_path / "z-last.tif", stack[0])
        thread.join(10)
    finally:
        stop.set()
        thread.join(5)
    assert [f.metadata["file"].rsplit("/", 1)[-1] for f in got] == [
        "new.tif",
        "new.tif",
        "z-last.tif",
    ]
    np.testing.assert_array_equal(got[1].image, stack[1])
    assert src.skipped_files == 1


def test_watch_needs_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder to watch"):
        WatchSource(WatchSourceConfig(path=tmp_path / "nope"))
