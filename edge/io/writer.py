"""A background writer that takes only the CPU inference leaves idle, and never starves.

``aglu-edge stain`` builds and writes frame k (quality block, header, compression, the
file) while frame k+1 is inferred. onnxruntime keeps about 1.7 of 2 cores busy; a writer
at normal priority takes its share of the cores from onnxruntime's threads instead of
the idle remainder (2048 px: the pass 1.12x the stainer alone). At Linux's
``SCHED_IDLE`` it runs only where a core would idle (0.99x). But an idle-priority thread
gets next to nothing while other processes keep every core busy (beside two busy loops,
6 frames took over 100 s instead of 6 s). So a writer whose first item comes while
other processes keep more than ``OTHERS_BUSY_CORES`` busy starts at normal priority;
and when the caller has waited ``patience_s`` for a free slot (load that came later),
the writer counts as starved: it finishes the item in hand (a one-time stall: 30 s
beside two busy loops) and a writer at normal priority takes over for the rest. (An
unprivileged thread cannot leave ``SCHED_IDLE``: a new thread is the way back.) Items
are worked on one at a time, in order, whichever thread does it; an error is raised in
the caller at the next ``put`` or at ``close``, and later items are dropped.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Cores other processes keep busy (measured up to the first item) above which an idle
# writer would starve from the start: it starts at normal priority instead.
OTHERS_BUSY_CORES = 0.5
_STOP = object()


def others_busy() -> Callable[[], float]:
    """Start measuring; the result gives how many cores other processes kept busy since
    (Linux ``/proc/stat`` less this process's CPU time; NaN where it cannot be read)."""

    def sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                ticks = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        t = os.times()
        busy_s = (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")
        return busy_s, t.user + t.system, time.monotonic()

    start = sample()

    def since() -> float:
        end = sample()
        if start is None or end is None or end[2] <= start[2]:
            return float("nan")
        return max(0.0, (end[0] - start[0]) - (end[1] - start[1])) / (end[2] - start[2])

    return since


def lower_priority() -> bool:
    """Put the calling thread (and threads it starts) at ``SCHED_IDLE``; False where the
    system has no such policy or refuses it."""
    if not hasattr(os, "SCHED_IDLE"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread
    except OSError:
        return False
    return True


class BackgroundWriter(Generic[T]):
    """Runs ``work(item)`` for each ``put`` item on one thread at a time, at most
    ``depth`` items behind the caller. ``polite``: start at idle priority.
    ``load_probe``: how the other processes' load up to the first item is measured."""

    def __init__(
        self,
        work: Callable[[T], None],
        depth: int = 2,
        polite: bool = True,
        name: str = "writer",
        load_probe: Callable[[], Callable[[], float]] = others_busy,
    ) -> None:
        self._work = work
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._name = name
        self.error: Exception | None = None
        self.starved = False  # fell back to normal priority during the run
        self._retire = threading.Event()
        self._others = load_probe() if polite else None
        self._thread = self._start(polite)

    @property
    def polite(self) -> bool:
        """Whether the thread now writing runs at idle priority."""
        return self._polite

    def _start(self, polite: bool) -> threading.Thread:
        started = threading.Event()
        self._polite = polite

        def run() -> None:
            if polite and not lower_priority():
                self._polite = False
                logger.info("%s: no SCHED_IDLE here; writing at normal priority", self._name)
            started.set()
            self._run()

        thread = threading.Thread(target=run, name=f"aglu-{self._name}", daemon=True)
        thread.start()
        started.wait()
        return thread

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._retire.is_set():
                    return
                continue
            if item is _STOP:
                return
            if self.error is None:
                try:
                    self._work(item)  # type: ignore[arg-type]
                except Exception as exc:  # handed to the caller at the next put or close
                    self.error = exc
            if self._retire.is_set():
                return  # after the item in hand; the next writer takes the rest

    def put(self, item: T, patience_s: float = 1.0) -> None:
        """Queue ``item``; wait for a slot, at most ``patience_s`` while the writer is at
        idle priority, then hand the rest of the run to a normal-priority writer."""
        self._raise()
        if self._others is not None:  # the first item: is the machine busy elsewhere?
            cores, self._others = self._others(), None
            if cores > OTHERS_BUSY_CORES:
                logger.info(
                    "%s: other processes keep %.1f cores busy; writing at normal priority",
                    self._name,
                    cores,
                )
                self._hand_over()
        self._put(item, patience_s)

    def _put(self, item: object, patience_s: float) -> None:
        if self._polite:
            try:
                self._queue.put(item, timeout=patience_s)
                return
            except queue.Full:
                self._demote(patience_s)
        self._queue.put(item)

    def _demote(self, waited_s: float) -> None:
        logger.warning(
            "%s: starved at idle priority (no free slot for %.1f s: other processes keep "
            "every core busy); writing at normal priority from now on",
            self._name,
            waited_s,
        )
        self.starved = True
        self._hand_over()

    def _hand_over(self) -> None:
        """The idle writer ends after the item in hand; a normal-priority one goes on."""
        self._retire.set()
        self._thread.join()
        self._retire.clear()
        self._thread = self._start(polite=False)

    def close(self, patience_s: float = 1.0) -> None:
        """Write what is queued, end the thread; raise the first error."""
        self._put(_STOP, patience_s)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error
