"""The watch source on a real folder: what it streams, what it remembers, what it re-reads."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import tifffile

from edge.frames import Frame
from edge.sources.watch import WatchSource, WatchSourceConfig


def _poll(src: WatchSource, pending: dict[Path, tuple[int, int]], times: int = 1) -> list[str]:
    names = []
    for _ in range(times):
        names += [p.name for p in src._settled(pending)]
    return names


def test_an_unchanged_folder_is_not_listed_again(tmp_path: Path) -> None:
    """Issue 14: every poll re-globbed and sorted the whole folder."""
    for i in range(50):
        tifffile.imwrite(tmp_path / f"old{i:02d}.tif", np.zeros((4, 4), np.uint16))
    src = WatchSource(WatchSourceConfig(path=tmp_path))
    pending: dict[Path, tuple[int, int]] = {}
    _poll(src, pending)  # first look after start
    scans = src.scans
    assert _poll(src, pending, times=20) == [] and src.scans == scans
    tifffile.imwrite(tmp_path / "new.tif", np.zeros((4, 4), np.uint16))
    assert _poll(src, pending, times=2) == ["new.tif"]  # seen, then settled
    assert src.scans > scans


def test_the_seen_set_holds_what_the_folder_holds(tmp_path: Path) -> None:
    """Issue 14: the seen-set grew forever; deleted files now leave it."""
    src = WatchSource(WatchSourceConfig(path=tmp_path))
    pending: dict[Path, tuple[int, int]] = {}
    for i in range(30):
        path = tmp_path / f"f{i:02d}.tif"
        tifffile.imwrite(path, np.zeros((4, 4), np.uint16))
        assert _poll(src, pending, times=2) == [path.name]
        src._seen.add(path)  # as _planes does when it streams it
        path.unlink()
    _poll(src, pending)
    assert src._seen == set() and pending == {}


def test_a_file_deleted_before_it_settles_is_never_streamed(tmp_path: Path) -> None:
    src = WatchSource(WatchSourceConfig(path=tmp_path))
    pending: dict[Path, tuple[int, int]] = {}
    path = tmp_path / "brief.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.uint16))
    assert _poll(src, pending) == [] and path in pending
    path.unlink()
    assert _poll(src, pending, times=2) == [] and pending == {}


def test_include_existing_streams_what_is_there_at_start(tmp_path: Path) -> None:
    for name in ("b.tif", "a.tif"):
        tifffile.imwrite(tmp_path / name, np.full((4, 4), ord(name[0]), np.uint16))
    src = WatchSource(
        WatchSourceConfig(path=tmp_path, poll_s=0.01, include_existing=True, max_frames=2)
    )
    got: list[Frame] = [f for f in src.frames(threading.Event()) if f is not None]
    assert [f.metadata["file"].rsplit("/", 1)[-1] for f in got] == ["a.tif", "b.tif"]
    assert int(got[0].image[0, 0]) == ord("a")
