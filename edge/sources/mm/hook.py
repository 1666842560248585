"""pycromanager acquisition hook: stain every frame without touching the acquisition.

    from edge.sources.mm.hook import hook_to_daemon
    with hook_to_daemon() as hook, Acquisition(dir, name, image_process_fn=hook) as acq:
        acq.acquire(events)

The hook copies the frame out (or sends it) and returns the raw image and
metadata unchanged, at once: pycromanager's Python backend overflows the
camera buffer if ``image_process_fn`` works inline, so nothing here waits for
inference. Frames go either to a running daemon's ingest socket
(``hook_to_daemon``: ``[source] kind = "ingest"``) or to a stainer thread in
this process (``hook_in_process``). A failure in the hand-off is logged and
counted; it never reaches the acquisition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.config import EdgeConfig
from edge.frames import Frame
from edge.net.closing import Closing
from edge.sources.ingest import IngestClient, QueueSource
from edge.sources.mm.convert import frame_from_mm

logger = logging.getLogger(__name__)


class StainHook(Closing):
    """A pycromanager ``image_process_fn``; also a context manager that closes the hand-off."""

    def __init__(
        self,
        handoff: Callable[[Frame], object],
        close: Callable[[], None],
        copy: bool,
        source: str = "pycromanager",
    ) -> None:
        self._handoff = handoff
        self._close = close
        self._copy = copy
        self._source = source
        self.frames = 0
        self.errors = 0
        self.target: Any = None  # the IngestClient or in-process Daemon behind the hook

    def __call__(
        self, image: npt.NDArray[Any], metadata: dict[str, Any]
    ) -> tuple[npt.NDArray[Any], dict[str, Any]]:
        try:
            own = np.array(image, copy=True) if self._copy else image
            self._handoff(frame_from_mm(own, metadata, self.frames, self._source))
            self.frames += 1
        except Exception:  # the acquisition must never see our failure
            self.errors += 1
            logger.exception("AGLU hook: frame hand-off failed (the acquisition goes on)")
        return image, metadata

    def close(self) -> None:
        self._close()


def hook_to_daemon(endpoint: str = "tcp://127.0.0.1:5557", hwm: int = 4) -> StainHook:
    """Send frames to a daemon running ``[source] kind = "ingest"`` at ``endpoint``.

    With the daemon slow, stopped or crashed, frames are dropped (``hook.target.dropped``)."""
    client = IngestClient(endpoint, hwm)
    hook = StainHook(client.send, client.close, copy=False)  # send copies the bytes out
    hook.target = client
    return hook


def hook_in_process(cfg: EdgeConfig) -> StainHook:
    """Start a daemon in this process (model, publisher) fed by the hook; close() stops it."""
    from edge.daemon import Daemon

    source = QueueSource(capacity=cfg.queue.capacity)
    daemon = Daemon(cfg, source=source)
    daemon.start()
    hook = StainHook(source.put, daemon.stop, copy=True)
    hook.target = daemon
    return hook
