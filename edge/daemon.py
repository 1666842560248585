"""The edge daemon: wires source -> latest-wins queue -> stainer -> publisher.

Threads: the source thread only hands frames to the queue (never blocks
acquisition); the worker thread stains, publishes frames and the periodic
status (the PUB socket is used by this one thread only) and feeds the systemd
watchdog; the control thread answers ping/status. ``reload`` swaps the model
while frames keep flowing; a bad new model leaves the old one serving.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial
from typing import Any

from edge.config import EdgeConfig
from edge.errors import AgluError, FrameError, LoadRefused
from edge.frame_queue import LatestWinsQueue
from edge.frames import Frame, StainedFrame
from edge.infer.model import LoadedModel
from edge.infer.serving import Active, check_planes, load_active, release_freed_memory
from edge.infer.stainer import Stainer
from edge.lifecycle import Outcome, Running, State, TooManyErrors
from edge.net.control import ControlServer
from edge.net.headers import StatusFields
from edge.net.messages import frame_message, model_info, status_document
from edge.net.publisher import ZmqPublisher
from edge.net.wire import encode_status
from edge.notify import Notifier, NullNotifier
from edge.sources import FrameSource, build_source
from edge.sources.zstack import StackingSource
from edge.stats import Counters, DistributionWatch, RateLimitedLog

logger = logging.getLogger(__name__)


class Daemon:
    """Serves ``source`` (built by the caller: ``Daemon.for_config`` builds the one the
    config's ``[source]`` describes) with the config's model."""

    def __init__(
        self,
        cfg: EdgeConfig,
        source: FrameSource,
        notifier: Notifier | None = None,
    ) -> None:
        self.cfg = cfg
        self.source = source
        self.state = State.STARTING
        self.counters = Counters()
        self.distribution = DistributionWatch()
        # Input statistics on a helper thread during inference: measured no faster on 2 cores
        # (onnxruntime's threads hold both; docs/speed.md), so off unless asked for.
        self.overlap_quality = False
        self.reloads = {"ok": 0, "failed": 0}
        self.failure: BaseException | None = None
        self.last_reload_error = ""  # why the last failed reload failed
        self._notifier = notifier or NullNotifier()
        self._queue: LatestWinsQueue[tuple[Frame, int]] = LatestWinsQueue(cfg.queue.capacity)
        self._stop = threading.Event()
        self._source_done = threading.Event()
        self._reload_lock = threading.Lock()  # one reload at a time
        self._state_lock = threading.Lock()  # state changes and their systemd notifications
        self._loading: Stainer | None = None  # the stainer a reload is warming up
        self._active: Active | None = None  # the model serving (set by start, swapped by reload)
        self._run: Running | None = None
        self._bad_input_log = RateLimitedLog(logger)
        self._failure_log = RateLimitedLog(logger, level=logging.ERROR)

    @classmethod
    def for_config(cls, cfg: EdgeConfig, notifier: Notifier | None = None) -> Daemon:
        """A daemon of the source ``cfg.source`` describes (built here, by the caller)."""
        return cls(cfg, build_source(cfg.source), notifier)

    @property
    def active(self) -> Active:
        if self._active is None:
            raise RuntimeError("the daemon has not started")
        return self._active

    @property
    def running(self) -> Running:
        if self._run is None:
            raise RuntimeError("the daemon has not started")
        return self._run

    @property
    def endpoint(self) -> str:
        return self.running.publisher.endpoint

    @property
    def control_endpoint(self) -> str | None:
        control = self.running.control
        return None if control is None else control.endpoint

    @property
    def model(self) -> LoadedModel:
        return self.active.model

    @property
    def stainer(self) -> Stainer:
        return self.active.stainer

    def check(self) -> Active:
        """What start() validates but binding: CURVE keys, source, model, warm-up, that
        the source's frames fit the model's planes. The source is closed afterwards."""
        curve = self.cfg.publish.curve()
        if curve is not None:
            curve.keys()  # run would refuse unusable key files: so does check
        try:
            active = load_active(self.cfg, self._frame_shape())
            check_planes(self.source, active.model)
            return active
        finally:
            self.source.close()

    def _frame_shape(self) -> tuple[int, int]:
        """Sources that know their frame size (replay) say so; else the configured size."""
        return self.source.frame_shape_px or (self.cfg.source.height_px, self.cfg.source.width_px)

    def start(self) -> None:
        """Load the model, warm up, bind; then READY. Fails fast on any of them (and
        closes what it opened, the source included)."""
        publisher, control = None, None
        try:
            shape = self._frame_shape()
            self._active = load_active(self.cfg, shape)
            check_planes(self.source, self._active.model)
            planes = self._active.model.card.input_planes
            if planes > 1:  # planes tagged with a z index become (Z, Y, X) stacks
                self.source = StackingSource(self.source, planes)
            publisher = ZmqPublisher(self.cfg.publish.publisher())
            if self.cfg.control.endpoint:
                control = ControlServer(self.cfg.control.control(), self._on_control)
        except BaseException:
            if publisher is not None:
                publisher.close()
            self.source.close()  # e.g. the ingest socket it bound
            raise
        run = self._run = Running(publisher, control, shape)
        run.threads = [
            threading.Thread(target=self._source_loop, name="aglu-source", daemon=True),
            threading.Thread(target=self._worker_loop, name="aglu-worker", daemon=True),
        ]
        self.state = State.READY
        self._notifier.notify("READY=1", f"STATUS=serving on {self.endpoint}")
        for t in run.threads:
            t.start()
        if control is not None:
            control.start()
        logger.info("READY: %s -> %s", self.source.name, self.endpoint)

    def reload_failed(self, reason: BaseException) -> None:
        """A reload that never reached ``reload`` (e.g. the new config is invalid)."""
        self.reloads["failed"] += 1
        logger.error("reload failed, keeping the running config: %s", reason)

    def reload(self, new: EdgeConfig) -> bool:
        """Apply the model/run sections (and publish timing) of ``new``; False keeps the old.

        The old model serves until the new one has loaded and warmed up. A stop, before
        or during the reload, wins: the new model's warm-up is cancelled and nothing of
        the reload is announced after STOPPING.
        """
        with self._reload_lock:
            with self._state_lock:  # a stop that came first wins: no RELOADING after STOPPING
                if self._stop.is_set() or self.state is not State.READY:
                    logger.info("reload not started: the daemon is %s", self.state.value)
                    return False
                self.state = State.RELOADING
                self._notifier.notify(
                    "RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}"
                )
            ok = self._swap_in(self.cfg.reloaded_with(new))
            with self._state_lock:  # a stop during the load: STOPPING stays, no READY
                if self.state is State.RELOADING:
                    self.state = State.READY
                    self._notifier.notify("READY=1", f"STATUS=serving on {self.endpoint}")
            return ok

    def _track_loading(self, stainer: Stainer | None) -> None:
        """The stainer a reload is warming up, so that ``stop`` can cancel it too."""
        with self._state_lock:
            self._loading = stainer
            if stainer is not None and self._stop.is_set():
                stainer.cancel()

    def _swap_in(self, merged: EdgeConfig) -> bool:
        """Load and warm up ``merged``'s model and make it the active one; False (and the
        old one serving) on any failure or a stop."""
        why: str | None = None
        try:
            planes = self.model.card.input_planes  # a change of planes needs a restart
            active = load_active(merged, self.running.shape_px, self._track_loading, planes)
        except Exception as exc:  # a bad model of any kind leaves the old one serving
            # Only text leaves this block: the exception's frames hold the refused session.
            why = str(exc) if isinstance(exc, AgluError) else f"{type(exc).__name__}: {exc}"
        finally:
            self._track_loading(None)
        if why is not None:
            self.last_reload_error = why
            release_freed_memory()  # the refused session's arena (RSS stays flat)
            if self._stop.is_set():
                logger.info("reload abandoned: the daemon is stopping")
                return False
            self.reloads["failed"] += 1
            logger.error("reload failed, keeping %s: %s", self.model.card.name, why)
            return False
        if self._stop.is_set():  # SIGTERM came during the load: stopping wins
            logger.info("reload abandoned: the daemon is stopping")
            return False
        self.cfg, self._active = merged, active
        release_freed_memory()  # the old session's arena
        self.reloads["ok"] += 1
        logger.info("reloaded: model %s (%s)", active.model.card.name, active.model.sha256)
        return True

    def stop(self, timeout_s: float = 1.5) -> None:
        """Stop: the source ends, an inference in flight is aborted (its frame counted as
        dropped), the worker publishes the final status and ends, then the sockets close.

        Only the worker thread uses the PUB socket (libzmq sockets are not thread-safe):
        if it has not ended within ``timeout_s``, its socket is left to the process exit,
        never closed under it, and the state stays ``stopping``.
        """
        with self._state_lock:
            if self.state in (State.READY, State.STARTING, State.RELOADING):
                self.state = State.STOPPING
            self._notifier.notify("STOPPING=1")
            self._stop.set()
            if self._loading is not None:  # a reload's warm-up: abandon it now
                self._loading.cancel()
        active, run = self._active, self._run
        if active is not None:
            active.stainer.cancel()
        if run is None:  # never started: nothing runs
            self.state = State.STOPPED if self.state is not State.FAILED else self.state
            return
        deadline = time.monotonic() + timeout_s
        for t in run.threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                logger.error("%s did not stop within %.1f s", t.name, timeout_s)
        worker_done = not run.threads[1].is_alive()
        if run.control is not None:
            run.control.close()
        if worker_done:
            run.publisher.close()
            if active is not None:
                active.stainer.uncancel()  # the stainer stays usable (e.g. offline, in tests)
            if self.state is not State.FAILED:
                self.state = State.STOPPED

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker ends (source exhausted, stopped or failed)."""
        if self._run is None:
            return True
        self._run.threads[1].join(timeout_s)
        return not self._run.threads[1].is_alive()

    def status(self) -> StatusFields:
        """The status document (status topic and control socket)."""
        snap = self.counters.snapshot()
        source = {"name": self.source.name, **self.source.stats()}
        return status_document(
            self.state.value,
            snap,
            model_info(self.model),
            self.endpoint,
            dict(self.reloads),
            source,
            self.distribution.counts(),
        )

    def _on_control(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        if command == "ping":
            return {"state": self.state.value, "t_ns": time.time_ns()}
        if command == "load":
            return self._load(str(args["model"]), args.get("precision"))
        return dict(self.status())

    def _load(self, target: str, precision: str | None) -> dict[str, Any]:
        """``aglu-edge ctl load``: the model ``target`` (a file, or a shipped model's name)
        swapped in as a reload does (checked and warmed up first; on any failure the
        running model keeps serving and LoadRefused says why)."""
        if not self.reload(self.cfg.for_load(target, precision)):
            raise LoadRefused(
                f"not loaded; {self.model.card.name} keeps serving: {self.last_reload_error}"
            )
        return {"model": dict(model_info(self.model)), "reloads": dict(self.reloads)}

    def _source_loop(self) -> None:
        try:
            for frame in self.source.frames(self._stop):
                self.running.source_alive_s = time.monotonic()
                if frame is None:  # the source is alive with nothing new (an idle tick)
                    continue
                self.counters.add(received=1)
                if self._queue.put((frame, time.time_ns())) is not None:
                    self.counters.add(dropped=1)
        except Exception as exc:
            logger.exception("source %s failed", self.source.name)
            self.failure = exc  # `aglu-edge run` exits non-zero: systemd restarts us
            self.state = State.FAILED
        finally:
            self._source_done.set()

    def _feed_watchdog(self) -> None:
        """WATCHDOG=1 only while both loops live: this one, and the source (a frame or an
        idle tick within ``run.source_stall_s``), so a hung camera call gets us restarted."""
        run = self.running
        stalled_s = time.monotonic() - run.source_alive_s
        if stalled_s <= self.active.cfg.run.source_stall_s:
            self._notifier.watchdog()
        elif not run.stall_logged:
            logger.error(
                "source %s silent for %.0f s: withholding WATCHDOG", self.source.name, stalled_s
            )
        run.stall_logged = stalled_s > self.active.cfg.run.source_stall_s

    def _worker_loop(self) -> None:
        next_status = time.monotonic()
        failures = 0  # consecutive model failures on valid frames (bad input never counts)
        while True:
            self._feed_watchdog()
            item = None if self._stop.is_set() else self._queue.get(timeout_s=0.05)
            if item is not None:
                outcome = self._process(*item)
                if outcome is Outcome.FAILED:
                    failures += 1
                elif outcome is Outcome.PUBLISHED:
                    failures = 0
                if failures >= self.active.cfg.run.max_consecutive_errors:
                    self.failure = TooManyErrors(
                        f"the model failed on {failures} valid frames in a row"
                    )
                    logger.error("stopping: %s", self.failure)
                    self.state = State.FAILED
                    self._stop.set()
            elif self._source_done.is_set() or self._stop.is_set():
                break
            if time.monotonic() >= next_status:
                self._publish_status()
                next_status = time.monotonic() + self.active.cfg.publish.status_interval_s
        self._drain_as_dropped()
        self._publish_status()

    def _drain_as_dropped(self) -> None:
        """Frames still queued at stop are counted, so the counters add up."""
        self._source_done.wait(1.0)  # a frame the source is handing over right now
        while self._queue.get(timeout_s=0) is not None:
            self.counters.add(dropped=1)

    def _process(self, frame: Frame, t_received_ns: int) -> Outcome:
        """Stain and publish one frame; count and log (rate-limited) any problem.

        Bad input (the frame's fault) is only counted: a sender of bad frames cannot stop
        the daemon. A failure on a valid frame (an onnxruntime error, non-finite outputs)
        is the model's: never published, and enough in a row stop the daemon."""
        active = self.active  # one model for the whole frame, even across a reload
        try:
            meter, finish = active.meter, None
            if meter is not None:  # beside the inference (never on a bad frame), or after it
                early = self.overlap_quality and active.stainer.validate(frame.image) is None
                finish = meter.begin(frame.image) if early else partial(meter.measure, frame.image)
            try:
                outputs = active.stainer.stain(frame.image)
            except ValueError as exc:
                raise FrameError(frame.index, str(exc)) from None
            quality = None if finish is None else finish(outputs)
            self.distribution.observe(frame.index, quality)
            header = None if quality is None else quality.header()
            sf = StainedFrame(frame, outputs, t_received_ns, time.time_ns(), header)
            publish = active.cfg.publish
            message = frame_message(sf, active.model, publish.publish_input, publish.encoding)
            self.running.publisher.send(message)
        except FrameError as exc:
            self._bad_input_log.log("bad input, not stained: %s", exc)
            self.counters.add(rejected=1)
            return Outcome.REJECTED
        except Exception as exc:
            if active.stainer.cancelled:  # stop() aborted this inference
                logger.info("frame %d: inference aborted by stop, counted as dropped", frame.index)
                self.counters.add(dropped=1)
                return Outcome.DROPPED
            why = exc if isinstance(exc, AgluError) else f"{type(exc).__name__}: {exc}"
            self._failure_log.log("frame %d failed: %s", frame.index, why)
            logger.debug("frame %d failed", frame.index, exc_info=True)
            self.counters.add(errors=1)
            return Outcome.FAILED
        self.counters.published_one((time.time_ns() - frame.t_acquired_ns) / 1e6)
        return Outcome.PUBLISHED

    def _publish_status(self) -> None:
        try:
            self.running.publisher.send(encode_status(self.status()))
        except Exception:
            logger.exception("status publish failed")
