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
