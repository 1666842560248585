"""pymmcore-plus source: every frame of an MDA (napari-micromanager, scripts) is stained.

Connects to ``core.mda.events.frameReady(img, event, meta)``. The listener only
copies the image into an in-process ``QueueSource`` and returns: pymmcore-plus
runs it on the acquisition thread, so it must not wait for inference. The
MDA event's ``index`` (``t``, ``p``, ``c``, ``z``, ...) travels as the frame's axes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from edge.frames import Frame
from edge.sources.ingest import QueueSource


class PymmcorePlusSource:
    name = "pymmcore-plus"

    def __init__(self, core: Any, capacity: int = 4) -> None:
        self._core = core
        self._queue = QueueSource(capacity)
        self.frames_seen = 0
        core.mda.events.frameReady.connect(self._on_frame)

    def _on_frame(self, img: Any, event: Any, meta: Any = None) -> None:
        size = self._core.getPixelSizeUm()
        self._queue.put(
            Frame(
                index=self.frames_seen,
                image=np.array(img, copy=True),
                t_acquired_ns=time.time_ns(),
                axes={str(k): int(v) for k, v in dict(getattr(event, "index", {})).items()},
                metadata={"source": self.name},
                pixel_size_um=float(size) if size else None,
            )
        )
        self.frames_seen += 1

    def stats(self) -> dict[str, int]:
        return self._queue.stats()

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        try:
            yield from self._queue.frames(stop)
        finally:
            self.close()

    def close(self) -> None:
        self._core.mda.events.frameReady.disconnect(self._on_frame)
