"""pymmcore-plus source: every frame of an MDA (napari-micromanager, scripts) is stained.

Connects to ``core.mda.events.frameReady(img, event, meta)``. The listener only
copies the image into an in-process ``QueueSource`` and returns: pymmcore-plus
runs it on the acquisition thread, so it must not wait for inference. The
MDA event's ``index`` (``t``, ``p``, ``c``, ``z``, ...) travels as the frame's axes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from edge.frames import Frame, pixel_size_or_none
from edge.sources import FrameSource
from edge.sources.ingest import QueueSource

logger = logging.getLogger(__name__)


class PymmcorePlusSource(FrameSource):
    name = "pymmcore-plus"

    def __init__(self, core: Any, capacity: int = 4) -> None:
        self._core = core
        self._queue = QueueSource(capacity)
        self.frames_seen = 0
        self.refused = 0
        core.mda.events.frameReady.connect(self._on_frame)

    def _on_frame(self, img: Any, event: Any, meta: Any = None) -> None:
        """On the MDA thread: copy and hand over. Nothing may escape into the acquisition."""
        try:
            frame = Frame(
                index=self.frames_seen,
                image=np.array(img, copy=True),
                t_acquired_ns=time.time_ns(),
                axes={str(k): int(v) for k, v in dict(getattr(event, "index", {})).items()},
                metadata={"source": self.name},
                pixel_size_um=pixel_size_or_none(self._core.getPixelSizeUm()),
            )
            self._queue.put(frame)
        except Exception as exc:  # a bad event or a core error: count it, never raise
            self.refused += 1
            logger.warning("pymmcore-plus: frame %d not taken: %s", self.frames_seen, exc)
        self.frames_seen += 1

    def stats(self) -> dict[str, int]:
        return {**self._queue.stats(), "refused": self.refused}

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        try:
            yield from self._queue.frames(stop)
        finally:
            self.close()

    def close(self) -> None:
        self._core.mda.events.frameReady.disconnect(self._on_frame)
