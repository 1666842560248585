"""Domain objects -> wire messages (headers documented in the README)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.frames import StainedFrame
from edge.infer.model import LoadedModel
from edge.net.headers import FrameFields, ModelInfo, StatusFields
from edge.net.wire import Part, encode_frame
from edge.stats import Snapshot


def model_info(model: LoadedModel) -> ModelInfo:
    return {
        "name": model.card.name,
        "version": model.card.model_version,
        "precision": model.card.precision,
        "sha256": model.sha256,
    }


def wire_array(image: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``image`` as the wire carries it: C-order, little-endian, the same dtype and values
    (a big-endian frame is byte-swapped: the one conversion the protocol makes)."""
    if image.dtype.byteorder == ">":
        return np.ascontiguousarray(image.astype(image.dtype.newbyteorder("<")))
    return np.ascontiguousarray(image)


_U16_MAX = 65535


def encode_output(
    arr: npt.NDArray[np.float32], encoding: str
) -> tuple[npt.NDArray[Any], tuple[float, float] | None]:
    """A model output as the wire carries it: float32 as it is, float16, or uint16
    quantised over the frame's own range (its (scale, offset) travel in the header)."""
    if encoding == "float32":
        return arr, None
    if encoding == "float16":
        return arr.astype(np.float16), None
    lo, hi = float(arr.min()), float(arr.max())
    scale = (hi - lo) / _U16_MAX if hi > lo else 1.0
    q = np.rint((arr - np.float32(lo)) * np.float32(1.0 / scale)).astype(np.uint16)
    return q, (scale, lo)


def frame_message(
    sf: StainedFrame, model: LoadedModel, publish_input: bool, encoding: str = "float32"
) -> list[Part]:
    """The wire message of a stained frame (``edge.net.wire``)."""
    return encode_frame(*frame_contents(sf, model, publish_input, encoding))


def frame_contents(
    sf: StainedFrame, model: LoadedModel, publish_input: bool, encoding: str = "float32"
) -> tuple[FrameFields, dict[str, npt.NDArray[Any]], dict[str, tuple[float, float]]]:
    """A stained frame's header fields, channels and quantised (scale, offset) per channel:
    what the daemon publishes and what ``aglu-edge stain`` saves."""
    f = sf.frame
    arrays: dict[str, npt.NDArray[Any]] = {}
    if publish_input:
        # A (Z, Y, X) stack travels as its middle plane: every channel stays (Y, X).
        image = f.image if f.image.ndim == 2 else f.image[f.image.shape[0] // 2]
        arrays[model.card.input.name] = wire_array(image)
    quantised: dict[str, tuple[float, float]] = {}
    for name, out in sf.outputs.items():
        arrays[name], q = encode_output(out, encoding)
        if q is not None:
            quantised[name] = q
    header: FrameFields = {
        "frame_index": f.index,
        "axes": f.axes,
        "metadata": f.metadata,
        "pixel_size_um": f.pixel_size_um,
        "model": model_info(model),
        "units": {model.card.input.name: model.card.input.units}
        | {o.name: o.units for o in model.card.outputs},
        "quality": sf.quality,
        "t_ns": {
            "acquired": f.t_acquired_ns,
            "received": sf.t_received_ns,
            "inferred": sf.t_inferred_ns,
            "published": time.time_ns(),
        },
    }
    if publish_input and f.image.ndim == 3:
        header["input_plane"] = {"index": f.image.shape[0] // 2, "of": f.image.shape[0]}
    return header, arrays, quantised


def status_document(
    state: str,
    snap: Snapshot,
    model: ModelInfo,
    endpoint: str,
    reloads: dict[str, int],
    source: dict[str, Any],
    quality: dict[str, int] | None = None,
) -> StatusFields:
    """The status fields (``status`` topic and the control socket's answer)."""
    return {
        "state": state,
        "endpoint": endpoint,
        "model": model,
        "counters": {
            "received": snap.received,
            "published": snap.published,
            "dropped": snap.dropped,
            "errors": snap.errors,
            "rejected": snap.rejected,
        },
        "reloads": reloads,
        "source": source,
        "quality": quality or {},
        "fps": snap.fps,
        "latency_ms": {"p50": snap.latency_ms_p50, "p95": snap.latency_ms_p95},
        "uptime_s": snap.uptime_s,
        "t_ns": time.time_ns(),
    }
