"""pycromanager acquisition hook: stain every frame without touching the acquisition.

    from edge.mmhook import hook_to_daemon
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
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.closing import Closing
from edge.config import EdgeConfig
from edge.frames import Frame, pixel_size_or_none
from edge.handoff import IngestClient, IngestConfig, QueueSource, json_safe

logger = logging.getLogger(__name__)

# Per-image Micro-Manager tags worth carrying into the published header.
MM_TAGS = ("Camera", "Exposure", "ElapsedTime-ms", "ImageNumber", "PositionName", "Binning")


# The acquisition engine's per-image index tags, for images that carry no ``Axes`` (the
# GUI's tagged images, read by the sidecar): a z-series then stacks for multi-plane models.
INDEX_TAGS = {"SliceIndex": "z", "FrameIndex": "t", "ChannelIndex": "c", "PositionIndex": "p"}


def _index_axes(metadata: Mapping[str, Any]) -> dict[str, int]:
    out = {}
    for tag, axis in INDEX_TAGS.items():
        try:
            out[axis] = int(metadata[tag])
        except (KeyError, TypeError, ValueError):
            continue
    return out


def frame_from_mm(
    image: npt.NDArray[Any], metadata: Mapping[str, Any], index: int, source: str
) -> Frame:
    """A Frame from a Micro-Manager image and its metadata (``Axes``, or the engine's
    ``SliceIndex``/``FrameIndex``/... tags; ``PixelSizeUm``)."""
    axes = metadata.get("Axes") or _index_axes(metadata)
    size = metadata.get("PixelSizeUm")
    tags = {k: metadata[k] for k in MM_TAGS if k in metadata}
    return Frame(
        index=index,
        image=image,
        t_acquired_ns=time.time_ns(),
        axes=json_safe(dict(axes)) if isinstance(axes, Mapping) else {},
        metadata={"source": source} | json_safe(tags),  # headers are JSON
        pixel_size_um=_positive_float(size),
    )


def _positive_float(value: Any) -> float | None:
    """Micro-Manager tags are often strings ("0.65"); 0 or garbage means unknown."""
    try:
        return pixel_size_or_none(float(value))
    except (TypeError, ValueError):
        return None


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
    client = IngestClient(IngestConfig(endpoint, hwm))
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
