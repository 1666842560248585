"""Live sidecar: stain what a running Micro-Manager acquires, without taking its frames.

Attaches to Micro-Manager's core and, while a sequence acquisition runs (live
mode or a sequenced acquisition), reads the newest image of the circular
buffer non-destructively (``getLastImageMD`` / ``get_last_tagged_image``:
nothing is popped, Micro-Manager's own display and saving see every frame).
Each image is taken once, by its ``ImageNumber`` tag. Between sequences it
also follows snapped images (Snap, and acquisitions that snap frame by frame)
through ``getImage``, which reads the camera's buffer without consuming it;
a new snap is told from the last one by a digest of its pixels. When the core goes away
(Micro-Manager restarted), the sidecar reconnects with exponential back-off
and keeps proving life to the watchdog meanwhile.

Two core adapters behind ``CoreReader``:
- ``JavaCoreReader``: the Micro-Manager GUI through pycromanager's ``Core``
  (the pycro-manager server, port 4827, enabled in MM's Options).
- ``PymmcoreReader``: a pymmcore / pymmcore-plus ``CMMCore`` in this process.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.frames import Frame
from edge.sources import FrameSource, SourceSection
from edge.sources.mm.convert import frame_from_mm
from edge.stats import RateLimitedLog

logger = logging.getLogger(__name__)

LastImage = tuple[npt.NDArray[Any], dict[str, Any]]


class CoreReader(Protocol):
    def sequence_running(self) -> bool: ...

    def close(self) -> None:
        """Release what the reader holds (sockets); called whenever it is dropped."""
        ...

    def last_image(self) -> LastImage | None:
        """The newest image in the circular buffer and its tags, not removed; None if empty."""
        ...

    def snapped_image(self) -> npt.NDArray[Any] | None:
        """The camera's last snapped image (snap, or an acquisition that snaps), not
        consumed; None if there is none."""
        ...


class PymmcoreReader:
    """pymmcore / pymmcore-plus core objects (camelCase or pycromanager's snake_case)."""

    def __init__(self, core: Any) -> None:
        import pymmcore

        self._core = core
        self._md = pymmcore.Metadata
        snake = not hasattr(core, "getLastImageMD")
        self._running = core.is_sequence_running if snake else core.isSequenceRunning
        self._last = core.get_last_image_md if snake else core.getLastImageMD
        self._count = core.get_remaining_image_count if snake else core.getRemainingImageCount
        self._size = core.get_pixel_size_um if snake else core.getPixelSizeUm
        self._image = core.get_image if snake else core.getImage

    def sequence_running(self) -> bool:
        return bool(self._running())

    def last_image(self) -> LastImage | None:
        if self._count() == 0 and not self.sequence_running():
            return None
        md = self._md()
        try:
            image = self._last(md)
        except (RuntimeError, IndexError):  # buffer empty between the check and the read
            return None
        tags = {k: md.GetSingleTag(k).GetValue() for k in md.GetKeys()}
        tags.setdefault("PixelSizeUm", self._size())
        return np.asarray(image), tags

    def snapped_image(self) -> npt.NDArray[Any] | None:
        try:
            return np.asarray(self._image())
        except (RuntimeError, ValueError):  # nothing snapped yet
            return None

    def close(self) -> None:
        """The core belongs to the caller: nothing to release."""


class CoreUnreachable(ConnectionError):
    """Nothing answers as a pycro-manager server on the port (one line, no traceback)."""


def probe_server(port: int, timeout_s: float = 1.0) -> None:
    """Ask the pycro-manager server on ``port`` for a handshake over a socket of our own,
    closed at once whatever happens (linger 0). pycromanager's own bridge leaks a ZeroMQ
    socket (and an fd) per failed connect, and its pending reconnects pile up on the port;
    so it is only built once this answers."""
    import zmq

    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(f"tcp://127.0.0.1:{port}")
        sock.send_json({"command": "connect", "debug": False})
        if not sock.poll(int(timeout_s * 1000)):
            raise CoreUnreachable(
                f"no pycro-manager server answers on port {port} within {timeout_s:.1f} s "
                "(is Micro-Manager running, with Tools > Options > 'Run pycro-manager server'?)"
            )
        reply = sock.recv_json()
        if not isinstance(reply, dict) or reply.get("type") == "exception":
            raise CoreUnreachable(f"port {port} answered, but not as a pycro-manager server")
    except zmq.ZMQError as exc:
        raise CoreUnreachable(f"port {port}: {exc}") from None
    finally:
        sock.close(linger=0)


class JavaCoreReader:
    """The Micro-Manager GUI's core, through pycromanager (Java, over ZeroMQ)."""

    def __init__(self, port: int = 4827, timeout_ms: int = 2000) -> None:
        probe_server(port, timeout_ms / 1000)
        from pycromanager import Core

        self._core: Any = Core(port=port, timeout=timeout_ms)

    def close(self) -> None:
        """Close pycromanager's bridge (its socket thread and ZeroMQ socket), best effort:
        with the server gone, its own destructor call would wait for an answer."""
        bridge = getattr(self._core, "_bridge", None)
        self._core = None
        if bridge is not None:
            bridge.close()

    def sequence_running(self) -> bool:
        return bool(self._core.is_sequence_running())

    def last_image(self) -> LastImage | None:
        if self._core.get_remaining_image_count() == 0:
            return None
        tagged = self._core.get_last_tagged_image()
        tags = dict(tagged.tags)
        h, w = int(tags["Height"]), int(tags["Width"])
        return np.reshape(np.asarray(tagged.pix), (h, w)), tags

    def snapped_image(self) -> npt.NDArray[Any] | None:
        try:
            pix = self._core.get_image()
        except Exception:  # the Java bridge raises its own types; nothing snapped yet
            return None
        h, w = int(self._core.get_image_height()), int(self._core.get_image_width())
        return np.reshape(np.asarray(pix), (h, w))


@dataclass(frozen=True, slots=True)
class SidecarConfig:
    poll_s: float = 0.01  # how often the buffer is looked at while a sequence runs
    idle_poll_s: float = 0.25  # ... and while none runs
    backoff_s: tuple[float, float] = (0.5, 30.0)  # reconnect delay: first, largest
    stable_s: float = 10.0  # connected this long: the next loss starts the back-off over


class SidecarSection(SourceSection):
    """``[source] kind = "mm-sidecar"``: follow the Micro-Manager GUI beside it."""

    kind: Literal["mm-sidecar"] = "mm-sidecar"
    mm_port: int = Field(4827, ge=1, le=65535)  # the pycro-manager server port

    def build(self) -> SidecarSource:
        port = self.mm_port
        return SidecarSource(lambda: JavaCoreReader(port), SidecarConfig())


Section = SidecarSection


class SidecarSource(FrameSource):
    name = "mm-sidecar"

    def __init__(self, connect: Callable[[], CoreReader], cfg: SidecarConfig) -> None:
        """``connect`` opens a CoreReader; it is called again after any failure."""
        self._connect = connect
        self.cfg = cfg
        self.reconnects = 0
        self._log = RateLimitedLog(logger, burst=3, period_s=600.0)

    def stats(self) -> dict[str, int]:
        return {"reconnects": self.reconnects}

    def _pause(self, stop: threading.Event, delay_s: float) -> Iterator[None]:
        """Wait ``delay_s`` (or until stopped), with an idle tick at least every second
        (proof of life for the systemd watchdog)."""
        deadline = time.monotonic() + delay_s
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            yield None
            stop.wait(min(left, 1.0))

    def _reader(self, stop: threading.Event, backoff: _Backoff) -> Iterator[CoreReader | None]:
        """Connect, retrying with exponential back-off; None while waiting (idle ticks)."""
        while not stop.is_set():
            try:
                yield self._connect()
                return
            except Exception as exc:  # any failure to reach the core: try again later
                delay = backoff.next_s()
                self._log.log(
                    "sidecar: cannot reach Micro-Manager (%s); retry in %.1f s", exc, delay
                )
            yield from self._pause(stop, delay)

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        index, last_number = 0, None
        backoff = _Backoff(*self.cfg.backoff_s)
        while not stop.is_set():
            reader = None
            for reader in self._reader(stop, backoff):
                if reader is None:
                    yield None
            if reader is None:
                return
            connected_s = time.monotonic()
            try:
                # Inside the try: a core that vanishes right after connect is retried too.
                snaps: SnapTracker | None = SnapTracker(reader.snapped_image())  # not news
                while not stop.is_set():
                    got = reader.last_image()
                    number = got[1].get("ImageNumber") if got else None
                    if got is not None and number != last_number:
                        last_number = number
                        yield frame_from_mm(got[0].copy(), got[1], index, self.name)
                        index += 1
                        continue
                    running = reader.sequence_running()
                    if running:
                        snaps = None  # after the sequence: its last frame is not a snap
                    elif snaps is None:
                        snaps = SnapTracker(reader.snapped_image())
                    snapped = None if snaps is None else snaps.new(reader.snapped_image())
                    if time.monotonic() - connected_s >= self.cfg.stable_s:
                        backoff.reset()  # it has worked a while: the next loss starts over
                    if snapped is not None and snaps is not None:
                        tags = {"ImageNumber": f"snap-{snaps.count}"}
                        yield frame_from_mm(snapped.copy(), tags, index, self.name)
                        index += 1
                        continue
                    yield None
                    stop.wait(self.cfg.poll_s if running else self.cfg.idle_poll_s)
            except Exception as exc:  # the core went away mid-read: reconnect, after a pause
                self.reconnects += 1
                delay = backoff.next_s()
                self._log.log(
                    "sidecar: lost Micro-Manager (%s); reconnecting in %.1f s", exc, delay
                )
                yield from self._pause(stop, delay)
            finally:
                _close_quietly(reader)


def _close_quietly(reader: CoreReader) -> None:
    try:
        reader.close()
    except Exception as exc:  # a reader of a core that is gone: nothing more to do
        logger.debug("sidecar: closing the old connection: %s", exc)


class _Backoff:
    """Exponential back-off: ``first_s``, doubling to ``max_s``; ``reset`` after success."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self.first_s, self.max_s = first_s, max_s
        self._next_s = first_s

    def next_s(self) -> float:
        delay = self._next_s
        self._next_s = min(delay * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self.first_s


class SnapTracker:
    """Tells a newly snapped image from the one already seen, by a digest of its pixels
    (snaps carry no image number). Two identical snaps in a row count as one."""

    def __init__(self, current: npt.NDArray[Any] | None) -> None:
        self._digest = self._of(current)
        self.count = 0

    @staticmethod
    def _of(image: npt.NDArray[Any] | None) -> bytes | None:
        if image is None:
            return None
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((image.shape, image.dtype.str)).encode())
        h.update(np.ascontiguousarray(image).data)
        return h.digest()

    def new(self, image: npt.NDArray[Any] | None) -> npt.NDArray[Any] | None:
        digest = self._of(image)
        if digest is None or digest == self._digest:
            return None
        self._digest = digest
        self.count += 1
        return image
