"""Watch a folder: every new stack written into it is streamed, plane by plane.

For acquisition software that saves files rather than exposing a live API.
A file is taken once its size and modification time have not changed for one
poll interval (the writer has finished), then read with ``edge.io.readers``.
Planes go out as fast as they are read: the daemon's latest-wins queue keeps
the newest. A file that cannot be read is logged with its name and skipped
(``skipped_files`` counts them); the watcher keeps watching.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.errors import ConfigError
from edge.frames import Frame
from edge.io.readers import open_reader, plane_frame
from edge.sources import FrameSource, SourceSection

logger = logging.getLogger(__name__)

FULL_SCAN_S = 10.0  # list the folder at least this often, whatever its mtime says


class WatchSourceConfig(SourceSection):
    """``[source] kind = "watch"``: new stacks written into a folder."""

    kind: Literal["watch"] = "watch"
    path: Path  # the folder
    pattern: str = Field("*.tif*", min_length=1)  # glob; folders such as *.zarr match too
    poll_s: float = Field(0.5, gt=0, le=60)
    include_existing: bool = False  # also stream what is there at start
    channel: str | None = None
    pixel_size_um: float | None = Field(None, gt=0)
    max_frames: int = Field(0, ge=0, le=2**62)  # 0: until stopped

    def build(self) -> WatchSource:
        return WatchSource(self)


Section = WatchSourceConfig


class WatchSource(FrameSource):
    name = "watch"

    def __init__(self, cfg: WatchSourceConfig) -> None:
        if not cfg.path.is_dir():
            raise ConfigError(f"source.path {cfg.path}", "is not a folder to watch")
        self.cfg = cfg
        self.skipped_files = 0
        self.scans = 0
        self._folder_mtime_ns: int | None = None
        self._last_scan_s = 0.0
        self._seen: set[Path] = set() if cfg.include_existing else set(self._listing())

    def stats(self) -> dict[str, int]:
        return {"skipped_files": self.skipped_files}

    def _listing(self) -> list[Path]:
        self.scans += 1
        self._last_scan_s = time.monotonic()
        return sorted(self.cfg.path.glob(self.cfg.pattern))

    def _folder_changed(self) -> bool:
        """Whether the folder's entries may have changed since the last look (its mtime
        moved, or ``FULL_SCAN_S`` passed: coarse-mtime filesystems miss quick changes)."""
        try:
            mtime = self.cfg.path.stat().st_mtime_ns
        except OSError:
            return True  # let the listing say what is wrong
        changed = mtime != self._folder_mtime_ns
        self._folder_mtime_ns = mtime
        return changed or time.monotonic() - self._last_scan_s >= FULL_SCAN_S

    def _settled(self, pending: dict[Path, tuple[int, int]]) -> list[Path]:
        """New paths whose size and mtime held still since the last poll. The folder is
        listed again only when it changed or a file is settling, and paths that are gone
        leave the seen-set (it holds what the folder holds, not all history)."""
        if not pending and not self._folder_changed():
            return []
        listing = self._listing()
        present = set(listing)
        self._seen &= present
        for gone in [p for p in pending if p not in present]:
            del pending[gone]
        ready = []
        for path in listing:
            if path in self._seen:
                continue
            try:
                st = path.stat()
            except FileNotFoundError:  # removed between listing and stat
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if pending.get(path) == sig:
                ready.append(path)
                del pending[path]
            else:
                pending[path] = sig
        return ready

    def _planes(self, path: Path, index: int) -> Iterator[Frame]:
        self._seen.add(path)
        try:
            reader = open_reader(path, self.cfg.channel)
        except ConfigError as exc:
            self.skipped_files += 1
            logger.warning("watch: skipping %s", exc)
            return
        try:
            for plane in range(len(reader.planes)):
                try:
                    frame = plane_frame(
                        reader, plane, index + plane, self.name, path, self.cfg.pixel_size_um
                    )
                except (OSError, ValueError, KeyError) as exc:
                    self.skipped_files += 1
                    logger.warning("watch: %s plane %d unreadable (%s); skipping", path, plane, exc)
                    return
                yield frame
        finally:
            reader.close()

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        pending: dict[Path, tuple[int, int]] = {}
        index = 0
        while not stop.is_set():
            for path in self._settled(pending):
                for frame in self._planes(path, index):
                    if stop.is_set() or (self.cfg.max_frames and index >= self.cfg.max_frames):
                        return
                    index += 1
                    yield frame
            if self.cfg.max_frames and index >= self.cfg.max_frames:
                return
            yield None  # idle tick: alive, nothing new
            stop.wait(self.cfg.poll_s)
