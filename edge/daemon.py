"""The edge daemon: wires source -> latest-wins queue -> stainer -> publisher.

Two threads: the source thread only hands frames to the queue (never blocks
acquisition); the worker thread stains, publishes frames and the periodic
status (the PUB socket is used by this one thread only).
"""

from __future__ import annotations

import enum
import logging
import threading
import time

from edge.config import EdgeConfig
from edge.errors import AgluError, FrameError
from edge.frames import Frame, StainedFrame
from edge.latest import LatestWinsQueue
from edge.messages import frame_message, status_message
from edge.model import LoadedModel, default_model_path, load_model
from edge.publisher import ZmqPublisher
from edge.replay import ReplaySource
from edge.sources import FrameSource, SimulatedSource
from edge.stainer import Stainer
from edge.stats import Counters

logger = logging.getLogger(__name__)


class State(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class TooManyErrors(AgluError):
    pass


def build_source(cfg: EdgeConfig) -> FrameSource:
    if cfg.source.kind == "replay":
        return ReplaySource(cfg.source.replay())
    return SimulatedSource(cfg.source.simulated())


class Daemon:
    def __init__(self, cfg: EdgeConfig, source: FrameSource | None = None) -> None:
        self.cfg = cfg
        self.state = State.STARTING
        self.counters = Counters()
        self._source = source
        self._queue: LatestWinsQueue[tuple[Frame, int]] = LatestWinsQueue(cfg.queue.capacity)
        self._stop = threading.Event()
        self._source_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failure: BaseException | None = None

    def start(self) -> None:
        """Load the model, warm up, bind; then READY. Fails fast on any of them."""
        path = self.cfg.model.path or default_model_path(self.cfg.model.precision)
        self.model: LoadedModel = load_model(path, self.cfg.model.session())
        self.stainer = Stainer(self.model, self.cfg.model.tile_px)
        self.source = self._source or build_source(self.cfg)
        # Sources that know their frame size (replay) say so; else the configured size.
        default = (self.cfg.source.height_px, self.cfg.source.width_px)
        self.stainer.warm_up(*getattr(self.source, "frame_shape_px", default))
        self.publisher = ZmqPublisher(self.cfg.publish.publisher())
        self.endpoint = self.publisher.endpoint
        self._threads = [
            threading.Thread(target=self._source_loop, name="aglu-source", daemon=True),
            threading.Thread(target=self._worker_loop, name="aglu-worker", daemon=True),
        ]
        self.state = State.READY
        for t in self._threads:
            t.start()
        logger.info("READY: %s -> %s", self.source.name, self.endpoint)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the source, drain the queue, publish a final status, close."""
        if self.state in (State.READY, State.STARTING):
            self.state = State.STOPPING
        self._stop.set()
        for t in self._threads:
            t.join(timeout_s)
        if hasattr(self, "publisher"):
            self.publisher.close()
        if self.state is not State.FAILED:
            self.state = State.STOPPED

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker ends (source exhausted, stopped or failed)."""
        if not self._threads:
            return True
        self._threads[1].join(timeout_s)
        return not self._threads[1].is_alive()

    def _source_loop(self) -> None:
        try:
            for frame in self.source.frames(self._stop):
                self.counters.add(received=1)
                if self._queue.put((frame, time.time_ns())) is not None:
                    self.counters.add(dropped=1)
        except Exception:
            logger.exception("source %s failed", self.source.name)
        finally:
            self._source_done.set()

    def _worker_loop(self) -> None:
        interval_s = self.cfg.publish.status_interval_s
        next_status = time.monotonic()
        consecutive = 0
        while True:
            item = self._queue.get(timeout_s=0.05)
            if item is not None:
                consecutive = 0 if self._process(*item) else consecutive + 1
                if consecutive >= self.cfg.run.max_consecutive_errors:
                    self.failure = TooManyErrors(f"{consecutive} consecutive frame errors")
                    logger.error("stopping: %s", self.failure)
                    self.state = State.FAILED
                    self._stop.set()
            elif self._source_done.is_set():
                break
            if time.monotonic() >= next_status:
                self._publish_status()
                next_status = time.monotonic() + interval_s
        self._publish_status()

    def _process(self, frame: Frame, t_received_ns: int) -> bool:
        """Stain and publish one frame; count and log any error. True on success."""
        try:
            try:
                outputs = self.stainer.stain(frame.image)
            except ValueError as exc:
                raise FrameError(frame.index, str(exc)) from None
            sf = StainedFrame(frame, outputs, t_received_ns, time.time_ns())
            self.publisher.send(frame_message(sf, self.model, self.cfg.publish.publish_input))
        except FrameError as exc:
            logger.warning("%s", exc)
            self.counters.add(errors=1)
            return False
        except Exception:
            logger.exception("frame %d failed", frame.index)
            self.counters.add(errors=1)
            return False
        self.counters.published_one((time.time_ns() - frame.t_acquired_ns) / 1e6)
        return True

    def _publish_status(self) -> None:
        snap = self.counters.snapshot()
        try:
            self.publisher.send(status_message(self.state.value, snap, self.model, self.endpoint))
        except Exception:
            logger.exception("status publish failed")
