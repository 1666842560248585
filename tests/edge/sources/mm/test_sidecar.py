"""The live sidecar on a real Micro-Manager core (pymmcore + DemoCamera)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from edge.frames import Frame
from edge.sources.mm.sidecar import PymmcoreReader, SidecarConfig, SidecarSource

FAST = SidecarConfig(poll_s=0.002, idle_poll_s=0.01, backoff_s=(0.01, 0.04))


def _take(src: SidecarSource, n: int, stop: threading.Event) -> list[Frame]:
    got: list[Frame] = []
    for f in src.frames(stop):
        if f is not None:
            got.append(f)
        if len(got) >= n:
            break
    return got


def test_follows_a_sequence_without_taking_its_frames(mm_core: Any) -> None:
    """A 40-image sequence: the sidecar sees frames in order, once each, and Micro-Manager's
    own buffer still holds all 40 (nothing was popped)."""
    mm_core.start_sequence_acquisition(40, 0, True)
    src = SidecarSource(lambda: PymmcoreReader(mm_core), FAST)
    got = _take(src, 5, threading.Event())
    while mm_core.is_sequence_running():
        threading.Event().wait(0.01)
    numbers = [int(f.metadata["ImageNumber"]) for f in got]
    assert numbers == sorted(set(numbers))  # increasing, no frame twice
    assert mm_core.get_remaining_image_count() == 40
    assert got[0].image.shape == (96, 128) and got[0].metadata["source"] == "mm-sidecar"
    mm_core.clear_circular_buffer()


def test_reconnects_with_backoff_when_the_core_is_gone(mm_core: Any) -> None:
    attempts: list[int] = []

    def connect() -> PymmcoreReader:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("Micro-Manager not running")
        return PymmcoreReader(mm_core)

    src = SidecarSource(connect, FAST)
    mm_core.start_continuous_sequence_acquisition(0)
    try:
        got = _take(src, 2, threading.Event())
    finally:
        mm_core.stop_sequence_acquisition()
        mm_core.clear_circular_buffer()
    assert len(attempts) == 3 and len(got) == 2


def test_idle_core_yields_idle_ticks_only(mm_core: Any) -> None:
    src = SidecarSource(lambda: PymmcoreReader(mm_core), FAST)
    stop = threading.Event()
    items = []
    for item in src.frames(stop):
        items.append(item)
        if len(items) == 5:
            stop.set()
    assert items == [None] * 5


@pytest.fixture(autouse=True)
def _no_sequence_left(mm_core: Any) -> Any:
    yield
    if mm_core.is_sequence_running():
        mm_core.stop_sequence_acquisition()


def test_follows_snaps_but_not_the_image_there_at_connect(mm_core: Any) -> None:
    """Snapped images (no circular buffer) are taken once each; the one already in the
    camera when the sidecar connects is not news. "Noise" mode makes each snap differ."""
    mm_core.snap_image()  # already there at connect
    stop = threading.Event()
    got: list[Frame] = []
    src = SidecarSource(lambda: PymmcoreReader(mm_core), FAST)
    thread = threading.Thread(target=lambda: got.extend(f for f in src.frames(stop) if f))
    thread.start()
    mm_core.set_property("Camera", "Mode", "Noise")
    try:
        time.sleep(0.1)
        snapped = []
        for _ in range(2):
            mm_core.snap_image()
            snapped.append(np.asarray(mm_core.get_image()).copy())
            time.sleep(0.1)
    finally:
        mm_core.set_property("Camera", "Mode", "Color Test Pattern")
        stop.set()
        thread.join(5)
    assert [f.metadata["ImageNumber"] for f in got] == ["snap-1", "snap-2"]
    np.testing.assert_array_equal(got[1].image, snapped[1])


class _VanishingReader(PymmcoreReader):
    """A real core whose connection dies: every read after connect raises, as when
    Micro-Manager is closed mid-acquisition."""

    def __init__(self, core: Any, fail_snap: bool) -> None:
        super().__init__(core)
        self._fail_snap = fail_snap

    def snapped_image(self) -> Any:
        if self._fail_snap:
            raise RuntimeError("core vanished right after connect")
        return super().snapped_image()

    def last_image(self) -> Any:
        raise RuntimeError("core vanished mid-read")


@pytest.mark.parametrize("fail_snap", [False, True])
def test_a_lost_core_is_retried_with_backoff_not_hammered(mm_core: Any, fail_snap: bool) -> None:
    """Issue 14 bugs 5 and 6: losing the core mid-read reconnected with no back-off (445k
    connects in 0.5 s); a core gone right after connect ended the source (and the daemon)."""
    connects: list[float] = []

    def connect() -> PymmcoreReader:
        connects.append(time.monotonic())
        return _VanishingReader(mm_core, fail_snap)

    cfg = SidecarConfig(poll_s=0.002, idle_poll_s=0.01, backoff_s=(0.02, 0.08))
    src = SidecarSource(connect, cfg)
    stop = threading.Event()
    threading.Timer(0.6, stop.set).start()
    ticks = sum(1 for f in src.frames(stop) if f is None)  # ends only when stopped
    gaps = np.diff(connects)
    assert 3 <= len(connects) <= 12, len(connects)  # 0.02 + 0.04 + 0.08 + 0.08 ...
    expected = [min(0.02 * 2**i, 0.08) for i in range(len(gaps))]
    assert all(g >= 0.9 * e for g, e in zip(gaps, expected, strict=True)), (gaps, expected)
    assert src.reconnects == len(connects) and ticks >= len(connects)


def test_connect_failures_back_off_by_doubling(mm_core: Any) -> None:
    """The delays between failed connects double up to the cap (not just their count)."""
    attempts: list[float] = []

    def connect() -> PymmcoreReader:
        attempts.append(time.monotonic())
        raise ConnectionError("Micro-Manager not running")

    src = SidecarSource(connect, SidecarConfig(backoff_s=(0.02, 0.08)))
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    for _ in src.frames(stop):
        pass
    gaps = np.diff(attempts)
    expected = [min(0.02 * 2**i, 0.08) for i in range(len(gaps))]
    assert len(gaps) >= 3
    assert all(e * 0.9 <= g <= e + 0.25 for g, e in zip(gaps, expected, strict=True)), gaps


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def test_failed_connects_leak_no_socket_and_leave_no_stale_requests() -> None:
    """Issue 25: each failed connect to an absent Micro-Manager leaked a ZeroMQ socket and
    an fd (12 attempts, 12 fds), printed a traceback, and a server appearing later got
    every stale connect request at once. Now: fds flat over 12+ attempts, one-line logs,
    and a server bound afterwards hears nothing."""
    import socket

    import zmq

    pytest.importorskip("pycromanager", reason="needs the mm extra")
    from edge.sources.mm.sidecar import JavaCoreReader

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    attempts: list[float] = []

    def connect() -> JavaCoreReader:
        attempts.append(time.monotonic())
        return JavaCoreReader(port, timeout_ms=50)

    src = SidecarSource(connect, SidecarConfig(backoff_s=(0.01, 0.02)))
    stop = threading.Event()
    frames = src.frames(stop)
    next(frames)  # the first attempt (pyzmq's context and its fds are made here)
    before = _open_fds()
    while len(attempts) < 13:
        next(frames)
    after = _open_fds()
    stop.set()
    for _ in frames:
        pass
    # one fd per attempt leaked before (12 over these 12): 2 of slack for fds that other
    # tests' sockets release meanwhile
    assert after - before <= 2, (before, after)
    rep = zmq.Context.instance().socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    rep.bind(f"tcp://127.0.0.1:{port}")
    try:
        assert not rep.poll(500), "a stale connect request reached the new server"
    finally:
        rep.close()


class _OnePollReader(PymmcoreReader):
    """Answers one whole poll, then fails: a core that flaps."""

    def __init__(self, core: Any) -> None:
        super().__init__(core)
        self.polls = 0

    def last_image(self) -> Any:
        self.polls += 1
        if self.polls > 1:
            raise RuntimeError("core vanished again")
        return None


def test_a_core_that_answers_one_poll_does_not_reset_the_backoff(mm_core: Any) -> None:
    """Issue 25: one good poll reset the back-off, so a flapping core was reconnected every
    first delay forever. The back-off now starts over only after stable_s of good polls."""
    connects: list[float] = []

    def connect() -> PymmcoreReader:
        connects.append(time.monotonic())
        return _OnePollReader(mm_core)

    cfg = SidecarConfig(poll_s=0.002, idle_poll_s=0.002, backoff_s=(0.02, 0.32), stable_s=5.0)
    src = SidecarSource(connect, cfg)
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    for _ in src.frames(stop):
        pass
    # 0.02 + 0.04 + 0.08 + 0.16 + 0.32 + ...: at most 7 connects in 1 s (40 before)
    assert 3 <= len(connects) <= 7, len(connects)
