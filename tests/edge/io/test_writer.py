"""The background writer: real threads, real Linux scheduling policies."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from edge.io.writer import BackgroundWriter, others_busy

needs_idle = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="no SCHED_IDLE here")


def _quiet() -> Callable[[], float]:
    """A machine with nothing else running (whatever else this one runs meanwhile)."""
    return lambda: 0.0


class _Log:
    """What the work saw: each item and the scheduling policy of the thread that did it."""

    def __init__(self, hold_first: threading.Event | None = None) -> None:
        self.items: list[int] = []
        self.policies: list[int] = []
        self._hold = hold_first

    def __call__(self, item: int) -> None:
        if self._hold is not None and not self.items:
            self._hold.wait(10)  # a writer that gets no CPU for a while
        self.items.append(item)
        self.policies.append(os.sched_getscheduler(0))


@needs_idle
def test_items_are_written_in_order_at_idle_priority() -> None:
    log = _Log()
    writer = BackgroundWriter(log, load_probe=_quiet)
    for i in range(5):
        writer.put(i)
    writer.close()
    assert log.items == [0, 1, 2, 3, 4]
    assert set(log.policies) == {os.SCHED_IDLE} and not writer.starved
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller's own thread is untouched


@needs_idle
def test_a_starved_writer_hands_the_rest_to_a_normal_priority_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No free slot for patience_s: the idle writer finishes the item in hand, and a
    normal-priority writer takes the rest, in order, one thread at a time."""
    release = threading.Event()
    log = _Log(hold_first=release)
    writer = BackgroundWriter(log, depth=1, load_probe=_quiet)
    timer = threading.Timer(0.5, release.set)
    timer.start()
    with caplog.at_level(logging.WARNING):
        for i in range(4):
            writer.put(i, patience_s=0.1)
        writer.close()
    timer.join()
    assert log.items == [0, 1, 2, 3]
    assert log.policies[0] == os.SCHED_IDLE and set(log.policies[1:]) == {os.SCHED_OTHER}
    assert writer.starved and not writer.polite
    assert "starved at idle priority" in caplog.text


def test_a_normal_priority_writer_waits_as_long_as_it_takes() -> None:
    release = threading.Event()
    log = _Log(hold_first=release)
    writer = BackgroundWriter(log, depth=1, polite=False)
    timer = threading.Timer(0.3, release.set)
    timer.start()
    for i in range(3):
        writer.put(i, patience_s=0.01)
    writer.close()
    timer.join()
    assert log.items == [0, 1, 2] and not writer.starved
    assert set(log.policies) == {os.sched_getscheduler(0)}


def test_an_error_is_raised_in_the_caller_and_later_items_are_dropped() -> None:
    done: list[int] = []

    def work(item: int) -> None:
        if item == 1:
            raise OSError("disk full")
        done.append(item)

    writer = BackgroundWriter(work)
    writer.put(0)
    writer.put(1)
    for _ in range(100):
        if writer.error is not None:
            break
        threading.Event().wait(0.05)
    with pytest.raises(OSError, match="disk full"):
        writer.put(2)
    with pytest.raises(OSError, match="disk full"):
        writer.close()  # the thread ends all the same
    assert done == [0]


@needs_idle
def test_a_busy_machine_gets_a_normal_priority_writer_from_the_first_item() -> None:
    """Another process keeps a core busy up to the first item: no idle-priority writer
    (it would starve), no stall waiting for one."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        log = _Log()
        writer = BackgroundWriter(log)
        threading.Event().wait(1.0)
        for i in range(3):
            writer.put(i, patience_s=60)
        writer.close()
    finally:
        busy.kill()
        busy.wait()
    assert log.items == [0, 1, 2] and set(log.policies) == {os.SCHED_OTHER}
    assert not writer.starved and not writer.polite


def test_others_busy_counts_other_processes_not_this_one() -> None:
    since = others_busy()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:  # this process keeps a core busy
        pass
    here = since()
    if math.isnan(here):
        pytest.skip("no /proc/stat here")
    assert here < 0.5
