"""The AGLU wire protocol, version 1 (pure encode/decode; no sockets here).

Every message is a ZeroMQ multipart message ``[topic, header, buffer...]``:
- ``topic``: ``b"frame"`` or ``b"status"`` (subscribers filter on it).
- ``header``: UTF-8 JSON with ``format`` and ``version`` fields.
- ``frame`` messages carry one raw C-order little-endian buffer per entry of
  ``header["channels"]`` (``name``, ``dtype``, ``shape``), in that order; any real
  numeric dtype (``DTYPES``). A channel entry with ``scale`` and ``offset`` is a
  quantised float channel: its value is ``offset + scale * buffer`` (decoded here to
  float32), e.g. ``uint16`` predictions for remote viewers.
- ``status`` messages carry no buffer.
Never pickle: a subscriber only ever parses JSON and raw numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from edge.errors import WireError
from edge.net.headers import ChannelEntry, FrameFields, FrameHeader, StatusFields, StatusHeader

FRAME_FORMAT = "aglu-frame"
STATUS_FORMAT = "aglu-status"
VERSION = 1
TOPIC_FRAME = b"frame"
TOPIC_STATUS = b"status"
# Every real numeric dtype, little-endian on the wire.
DTYPES = frozenset(
    {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"}
    | {"float16", "float32", "float64"}
)
MAX_HEADER_BYTES = 1 << 20
MAX_DIMS = 8
MAX_DIM = (1 << 31) - 1

Part = bytes | memoryview | npt.NDArray[Any]


@dataclass(frozen=True, slots=True)
class FrameMessage:
    header: FrameHeader
    arrays: dict[str, npt.NDArray[Any]]


@dataclass(frozen=True, slots=True)
class StatusMessage:
    header: StatusHeader


def encode_frame(
    header: FrameFields,
    arrays: dict[str, npt.NDArray[Any]],
    quantised: dict[str, tuple[float, float]] | None = None,
) -> list[Part]:
    """Build a frame message; ``header`` gains ``format``, ``version`` and ``channels``.

    Arrays are sent as they are (zero-copy): they must be C-contiguous,
    little-endian, of a supported dtype, and not modified afterwards.
    ``quantised`` gives (scale, offset) of the channels that are quantised floats.
    """
    full = frame_header(header, arrays, quantised)
    return [TOPIC_FRAME, json.dumps(full).encode(), *arrays.values()]


def frame_header(
    header: FrameFields,
    arrays: dict[str, npt.NDArray[Any]],
    quantised: dict[str, tuple[float, float]] | None = None,
) -> FrameHeader:
    """The full header of a frame message of ``arrays`` (``format``, ``version`` and one
    ``channels`` entry per array added); WireError for an array the wire cannot carry."""
    channels = []
    for name, arr in arrays.items():
        if arr.dtype.name not in DTYPES or arr.dtype.byteorder == ">":
            raise WireError(f"channel {name!r}: unsupported dtype {arr.dtype}")
        if not arr.flags.c_contiguous:
            raise WireError(f"channel {name!r}: array is not C-contiguous")
        entry: ChannelEntry = {"name": name, "dtype": arr.dtype.name, "shape": list(arr.shape)}
        if quantised and name in quantised:
            entry["scale"], entry["offset"] = quantised[name]
        channels.append(entry)
    return {**header, "format": FRAME_FORMAT, "version": VERSION, "channels": channels}


def encode_status(header: StatusFields) -> list[Part]:
    full: StatusHeader = {**header, "format": STATUS_FORMAT, "version": VERSION}
    return [TOPIC_STATUS, json.dumps(full).encode()]


def _header(raw: bytes, expected_format: str) -> dict[str, Any]:
    if len(raw) > MAX_HEADER_BYTES:
        raise WireError(f"header is {len(raw)} bytes, over the {MAX_HEADER_BYTES} limit")
    try:
        header = json.loads(raw)
    except RecursionError:
        raise WireError("header is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"header is not UTF-8 JSON ({exc.__class__.__name__})") from None
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    if header.get("format") != expected_format:
        raise WireError(f"header format {header.get('format')!r}, expected {expected_format!r}")
    if header.get("version") != VERSION:
        raise WireError(f"unsupported protocol version {header.get('version')!r} (need {VERSION})")
    return header


def _array(channel: Any, buf: bytes) -> tuple[str, npt.NDArray[Any]]:
    if not isinstance(channel, dict):
        raise WireError("channel entry is not an object")
    name, dtype, shape = channel.get("name"), channel.get("dtype"), channel.get("shape")
    if not isinstance(name, str) or not isinstance(dtype, str) or dtype not in DTYPES:
        raise WireError(f"channel {name!r}: bad name or dtype {dtype!r}")
    if not (
        isinstance(shape, list)
        and len(shape) <= MAX_DIMS
        and all(type(s) is int and 0 <= s <= MAX_DIM for s in shape)
    ):
        raise WireError(f"channel {name!r}: bad shape {str(shape)[:80]}")
    dt = np.dtype(dtype).newbyteorder("<")
    expected = math.prod(shape) * dt.itemsize  # exact: Python ints do not overflow
    if expected != len(buf):
        raise WireError(f"channel {name!r}: buffer is {len(buf)} bytes, shape needs {expected}")
    arr = np.frombuffer(buf, dtype=dt).reshape(shape)
    if "scale" in channel or "offset" in channel:
        scale, offset = channel.get("scale"), channel.get("offset")
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in (scale, offset)
        ):
            raise WireError(f"channel {name!r}: bad scale/offset {scale!r}/{offset!r}")
        assert isinstance(scale, (int, float)) and isinstance(offset, (int, float))
        decoded = arr.astype(np.float32) * np.float32(scale) + np.float32(offset)
        return name, decoded
    return name, arr


def decode(parts: list[bytes]) -> FrameMessage | StatusMessage:
    """Parse one multipart message; raises WireError naming what is wrong."""
    if len(parts) < 2:
        raise WireError(f"message has {len(parts)} part(s), need at least topic and header")
    topic = parts[0]
    if topic == TOPIC_STATUS:
        if len(parts) != 2:
            raise WireError(f"status message has {len(parts)} parts, expected 2")
        return StatusMessage(cast(StatusHeader, _header(parts[1], STATUS_FORMAT)))
    if topic != TOPIC_FRAME:
        raise WireError(f"unknown topic {topic[:32]!r}")
    header = _header(parts[1], FRAME_FORMAT)
    channels = header.get("channels")
    if not isinstance(channels, list):
        raise WireError("frame header has no 'channels' list")
    if len(channels) != len(parts) - 2:
        raise WireError(f"header lists {len(channels)} channel(s), message has {len(parts) - 2}")
    arrays: dict[str, npt.NDArray[Any]] = {}
    for c, b in zip(channels, parts[2:], strict=True):
        name, arr = _array(c, b)
        if name in arrays:
            raise WireError(f"channel {name!r} appears twice")
        arrays[name] = arr
    return FrameMessage(cast(FrameHeader, header), arrays)
