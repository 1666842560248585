"""Frames handed to the stainer by someone else's thread: in-process or over a socket.

- ``QueueSource``: a FrameSource fed by ``put`` from any thread (a pycromanager
  hook or a pymmcore-plus listener in the same process). ``put`` never blocks:
  the daemon's latest-wins queue sits right behind it.
- ``IngestClient`` / ``IngestSource``: the same hand-off across processes. The
  acquisition process PUSHes ``frame`` messages of the wire protocol (one
  channel, the raw image) to the daemon's PULL socket. ``send`` never blocks:
  with the daemon slow, stopped or gone, frames beyond ``send_hwm`` are dropped
  and counted in the acquisition process, never queued against the camera.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import zmq
from pydantic import field_validator

from edge.errors import ConfigError, WireError
from edge.frame_queue import LatestWinsQueue
from edge.frames import Frame, pixel_size_or_none
from edge.net.endpoints import (
    IPC_MODE,
    bind_socket,
    check_endpoint,
    check_ipc_mode,
    is_local_endpoint,
)
from edge.net.headers import FrameFields
from edge.net.wire import FrameMessage, decode, encode_frame
from edge.sources import FrameSource, SourceSection
from edge.stats import RateLimitedLog

logger = logging.getLogger(__name__)

INPUT_CHANNEL = "qpi"
MAX_MESSAGE_BYTES = 1 << 30  # one frame: 16384 x 16384 float32, or a 2048 px 64-plane stack


class QueueSource(FrameSource):
    """An in-process FrameSource fed by ``put``; idle ticks every ``tick_s``."""

    name = "in-process"

    def __init__(self, capacity: int = 4, tick_s: float = 0.5) -> None:
        self._queue: LatestWinsQueue[Frame] = LatestWinsQueue(capacity)
        self._tick_s = tick_s
        self.offered = 0

    def put(self, frame: Frame) -> None:
        """Hand a frame over; returns at once (the oldest waiting frame may be dropped)."""
        self._queue.put(frame)  # drops are counted; status reports them under "source"
        self.offered += 1

    def stats(self) -> dict[str, int]:
        return {"offered": self.offered, "dropped": self._queue.dropped}

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        while not stop.is_set():
            yield self._queue.get(timeout_s=self._tick_s)  # None: an idle tick


def json_safe(value: Any) -> Any:
    """Metadata as JSON can carry it (numbers, strings, lists, dicts); the rest as str."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def frame_to_parts(frame: Frame) -> list[Any]:
    header: FrameFields = {
        "frame_index": frame.index,
        "axes": json_safe(frame.axes),
        "metadata": json_safe(frame.metadata),
        "pixel_size_um": frame.pixel_size_um,
        "t_ns": {"acquired": frame.t_acquired_ns},
    }
    return encode_frame(header, {INPUT_CHANNEL: np.ascontiguousarray(frame.image)})


def parts_to_frame(msg: FrameMessage) -> Frame:
    """The frame in an ingest message; WireError naming what is missing."""
    h = msg.header
    if list(msg.arrays) != [INPUT_CHANNEL]:
        raise WireError(f"ingest frame needs one channel {INPUT_CHANNEL!r}, got {list(msg.arrays)}")
    index, t = h.get("frame_index"), h.get("t_ns")
    if not isinstance(index, int) or not isinstance(t, dict):
        raise WireError("ingest frame header needs frame_index and t_ns")
    acquired = t.get("acquired")
    if acquired is not None and not (isinstance(acquired, int) and 0 <= acquired < 2**63):
        raise WireError(f"ingest frame t_ns.acquired {str(acquired)[:40]} is not a time in ns")
    axes, meta, size = h.get("axes", {}), h.get("metadata", {}), h.get("pixel_size_um")
    if not isinstance(axes, dict) or not isinstance(meta, dict):
        raise WireError("ingest frame axes/metadata must be objects")
    image: npt.NDArray[Any] = msg.arrays[INPUT_CHANNEL]
    return Frame(
        index,
        image,
        acquired if isinstance(acquired, int) else time.time_ns(),
        axes,
        meta,
        pixel_size_or_none(size),
    )


def check_ingest_endpoint(endpoint: str) -> None:
    check_endpoint(endpoint, "source.endpoint")
    if not is_local_endpoint(endpoint):
        raise ConfigError("source.endpoint", "ingest binds 127.0.0.1 or ipc:// only")


class IngestConfig(SourceSection):
    """``[source] kind = "ingest"``: frames pushed by acquisition processes (the hook)."""

    kind: Literal["ingest"] = "ingest"
    endpoint: str = "tcp://127.0.0.1:5557"  # loopback or ipc only; port 0: random
    ipc_mode: int = IPC_MODE  # ipc:// endpoints: who may push frames (file mode)

    @field_validator("endpoint")
    @classmethod
    def _local(cls, endpoint: str) -> str:
        check_ingest_endpoint(endpoint)
        return endpoint

    @field_validator("ipc_mode")
    @classmethod
    def _mode(cls, mode: int) -> int:
        check_ipc_mode(mode, "source.ipc_mode")
        return mode

    def build(self) -> IngestSource:
        return IngestSource(self)


Section = IngestConfig


class IngestClient:
    """PUSH side, for the acquisition process. Not thread-safe: one hook thread."""

    def __init__(self, endpoint: str, hwm: int = 4) -> None:
        check_ingest_endpoint(endpoint)
        self.endpoint = endpoint
        self.sent = self.dropped = 0
        self._sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUSH)
        self._sock.setsockopt(zmq.SNDHWM, hwm)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.IMMEDIATE, 1)  # no queue for a daemon that is not there
        self._sock.connect(endpoint)

    def send(self, frame: Frame) -> bool:
        """Copy the frame out and send; False (counted) when the daemon cannot take it."""
        try:
            self._sock.send_multipart(frame_to_parts(frame), copy=True, flags=zmq.NOBLOCK)
        except zmq.Again:
            self.dropped += 1
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        self._sock.close(0)


class IngestSource(FrameSource):
    """PULL side: the daemon's source for frames pushed by acquisition processes."""

    name = "ingest"

    def __init__(self, cfg: IngestConfig, hwm: int = 4) -> None:
        self.cfg = cfg
        self.rejected = 0
        self.unread_at_stop = 0
        self._rejected_log = RateLimitedLog(logger)  # a hostile sender: a few lines, all counted
        self._sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PULL)
        self._sock.setsockopt(zmq.RCVHWM, hwm)
        self._sock.setsockopt(zmq.LINGER, 0)
        # A sender of a bigger message is disconnected by libzmq before it is buffered.
        self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.endpoint = bind_socket(self._sock, cfg.endpoint, cfg.ipc_mode)

    def close(self) -> None:
        self._sock.close(0)  # idempotent

    def stats(self) -> dict[str, int]:
        return {"rejected": self.rejected, "unread_at_stop": self.unread_at_stop}

    def _count_unread(self) -> None:
        """Messages the hooks sent that were still in the socket at stop: counted (the hook
        counted them as sent), never stained."""
        with contextlib.suppress(zmq.ZMQError):
            while self._sock.poll(0):
                self._sock.recv_multipart(zmq.NOBLOCK)
                self.unread_at_stop += 1

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        try:
            while not stop.is_set():
                if not self._sock.poll(200):
                    yield None
                    continue
                parts = self._sock.recv_multipart()
                try:
                    msg = decode(parts)
                    if not isinstance(msg, FrameMessage):
                        raise WireError("ingest takes frame messages only")
                    frame = parts_to_frame(msg)
                except Exception as exc:  # one bad message costs one counted rejection
                    self.rejected += 1
                    why = exc if isinstance(exc, WireError) else f"{type(exc).__name__}: {exc}"
                    self._rejected_log.log("ingest: rejected a message: %s", why)
                    continue
                yield frame
        finally:
            self._count_unread()
            self.close()
