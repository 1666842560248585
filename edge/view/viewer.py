"""``aglu-edge view``: napari subscribed to the daemon, layers updated live.

Three image layers: ``qpi`` (the raw frame, grey), ``dapi`` (the prediction,
blue, additive) and ``sigma`` (per-pixel uncertainty, magma, hidden until
switched on), plus a text overlay with the frame index, latency and model.
A background thread receives and keeps only the newest frame (latest wins),
so a slow display never builds a backlog. ``layer_updates`` is the pure part:
a frame message in, layer arrays and overlay text out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy.typing as npt

from edge.errors import AgluError, WireError
from edge.frame_queue import LatestWinsQueue
from edge.frames import pixel_size_or_none
from edge.net.client import Subscriber
from edge.net.security import CurveClientConfig
from edge.net.wire import TOPIC_FRAME, FrameMessage
from edge.view.printer import quality_label

logger = logging.getLogger(__name__)

LAYERS = {  # name: (colormap, blending, visible)
    "qpi": ("gray", "translucent_no_depth", True),
    "dapi": ("blue", "additive", True),
    "sigma": ("magma", "additive", False),
}


@dataclass(frozen=True, slots=True)
class LayerUpdate:
    arrays: dict[str, npt.NDArray[Any]]
    text: str
    scale_um: tuple[float, float] | None


def layer_updates(msg: FrameMessage, now_ns: int | None = None) -> LayerUpdate:
    """What the viewer shows for one frame message."""
    h = msg.header
    acquired = h.get("t_ns", {}).get("acquired")
    now = time.time_ns() if now_ns is None else now_ns
    latency = f"{(now - acquired) / 1e6:.0f} ms" if isinstance(acquired, int) else "?"
    axes = " ".join(f"{k}={v}" for k, v in (h.get("axes") or {}).items())
    model = h.get("model", {})
    text = (
        f"frame {h.get('frame_index')}  {axes}  latency {latency}  "
        f"{model.get('name', '?')} {model.get('precision', '')}"
    )
    quality = quality_label(h)
    if quality:
        text += f"  {quality}"
    size = pixel_size_or_none(h.get("pixel_size_um"))
    scale = None if size is None else (size, size)
    return LayerUpdate({k: v for k, v in msg.arrays.items() if k in LAYERS}, text, scale)


def newest_frames(sub: Subscriber) -> Iterator[FrameMessage | None]:
    """Frames from ``sub``, skipping to the newest whenever several are waiting; None after
    each 0.2 s without one, so a consumer thread can be cancelled between frames."""
    while True:
        try:
            msg = sub.recv(timeout_s=0.2)
            while sub.pending():  # latest wins: drop what the display cannot show
                msg = sub.recv(timeout_s=0)
        except TimeoutError:
            yield None
            continue
        except WireError as exc:
            logger.warning("viewer: malformed message: %s", exc)
            continue
        if isinstance(msg, FrameMessage):
            yield msg


def text_overlay(viewer: Any) -> Any:
    """The canvas text overlay (``viewer.canvas.overlays.text`` from napari 0.9 on)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    return (
        overlays.text
        if overlays is not None and hasattr(overlays, "text")
        else (viewer.text_overlay)
    )


class LiveViewer:
    """A napari viewer with the AGLU layers; ``show(update)`` applies one frame."""

    def __init__(self, viewer: Any) -> None:
        self.viewer = viewer
        self.frames_shown = 0
        self.overlay = text_overlay(viewer)
        self.overlay.visible = True
        self.overlay.font_size = 10

    def show(self, update: LayerUpdate) -> None:
        for name, data in update.arrays.items():
            layer = self.viewer.layers[name] if name in self.viewer.layers else None  # noqa: SIM401
            if layer is None or layer.data.shape != data.shape:
                if layer is not None:
                    self.viewer.layers.remove(layer)
                cmap, blending, visible = LAYERS[name]
                layer = self.viewer.add_image(
                    data, name=name, colormap=cmap, blending=blending, visible=visible
                )
            else:
                layer.data = data
            if update.scale_um is not None:
                layer.scale = update.scale_um
            if self.frames_shown == 0 or name == "qpi":
                layer.reset_contrast_limits()
        self.overlay.text = update.text
        if self.frames_shown == 0:
            self.viewer.reset_view()
        self.frames_shown += 1


def run_viewer(
    endpoint: str,
    curve: CurveClientConfig | None = None,
    max_frames: int = 0,
    screenshot: Path | None = None,
) -> int:
    """Open napari and follow ``endpoint`` until the window closes (or ``max_frames`` were
    shown; then the canvas is saved to ``screenshot`` if given). Returns frames shown."""
    try:
        import napari
        from napari.qt.threading import thread_worker
    except ImportError:
        raise AgluError("the viewer needs napari: pip install 'aglu[view]'") from None

    viewer = napari.Viewer(title=f"AGLU live: {endpoint}")
    live = LiveViewer(viewer)
    # One frame waits for the display at most: a slow canvas skips frames, never lags.
    slot: LatestWinsQueue[FrameMessage] = LatestWinsQueue(1)

    def on_signal(new: bool) -> None:
        msg = slot.get(timeout_s=0) if new else None
        if msg is None or (max_frames and live.frames_shown >= max_frames):
            return
        live.show(layer_updates(msg))
        if max_frames and live.frames_shown == max_frames:
            if screenshot is not None:
                viewer.screenshot(str(screenshot), canvas_only=True, flash=False)
            viewer.close()

    @thread_worker(connect={"yielded": on_signal})  # type: ignore[untyped-decorator]
    def receive() -> Iterator[bool]:
        with Subscriber(endpoint, topics=(TOPIC_FRAME,), curve=curve) as sub:
            for msg in newest_frames(sub):  # each yield is a point where quit() takes effect
                # Signal the display only if the slot was empty; else it is already due.
                yield msg is not None and slot.put(msg) is None

    worker = receive()
    try:
        napari.run()
    finally:
        worker.quit()
        worker.await_workers(2000)
    return live.frames_shown
