"""The JSON headers of the wire protocol (version 1), as types: every builder and reader
uses these, and a test checks that ``docs/protocol.md`` documents every field.

A header that arrives from the network has only been checked for its ``format``,
``version`` and ``channels`` (``edge.net.wire``): readers of other fields still look
before they trust (``.get`` and ``isinstance``).
"""

# No ``from __future__ import annotations`` here: TypedDict needs the real annotations
# to tell NotRequired keys at run time (Python 3.11).
from typing import Any, NotRequired, TypedDict


class ChannelEntry(TypedDict):
    name: str
    dtype: str
    shape: list[int]
    scale: NotRequired[float]  # quantised channels: value = offset + scale * buffer
    offset: NotRequired[float]


class TimesNs(TypedDict):
    acquired: int  # Unix ns
    received: NotRequired[int]
    inferred: NotRequired[int]
    published: NotRequired[int]


class ModelInfo(TypedDict):
    name: str
    version: str
    precision: str
    sha256: str


class QualityBlock(TypedDict):
    sigma_mean: float
    sigma_high_fraction: float
    input_distance: float
    unusual: str
    in_distribution: bool


class InputPlane(TypedDict):
    index: int
    of: int


class FrameFields(TypedDict):
    """What a frame's builder supplies (``encode_frame`` adds format, version, channels).
    Ingest messages (hook -> daemon) carry the first five; published frames all."""

    frame_index: int
    axes: dict[str, Any]
    metadata: dict[str, Any]
    pixel_size_um: float | None
    t_ns: TimesNs
    model: NotRequired[ModelInfo]
    units: NotRequired[dict[str, str]]
    quality: NotRequired[QualityBlock | None]
    input_plane: NotRequired[InputPlane]  # a stack's input travels as its middle plane


class FrameHeader(FrameFields):
    format: str  # "aglu-frame"
    version: int
    channels: list[ChannelEntry]


class CounterBlock(TypedDict):
    received: int
    published: int
    dropped: int
    errors: int
    rejected: int


class LatencyBlock(TypedDict):
    p50: float
    p95: float


class StatusFields(TypedDict):
    state: str
    endpoint: str
    model: ModelInfo
    counters: CounterBlock
    reloads: dict[str, int]
    source: dict[str, Any]
    quality: dict[str, int]
    fps: float
    latency_ms: LatencyBlock
    uptime_s: float
    t_ns: int


class StatusHeader(StatusFields):
    format: str  # "aglu-status"
    version: int


ALL = (
    ChannelEntry,
    TimesNs,
    ModelInfo,
    QualityBlock,
    InputPlane,
    FrameHeader,
    CounterBlock,
    LatencyBlock,
    StatusHeader,
)
