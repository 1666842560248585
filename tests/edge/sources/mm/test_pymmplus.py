"""pymmcore-plus: a UniMMCore whose Python camera streams simulated QPI, through the daemon."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest

from edge.daemon import Daemon
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage
from edge.sim.phantom import SimulationConfig, simulate_pair
from edge.sources.mm.pymmplus import PymmcorePlusSource
from tests.edge.helpers import local_config

unicore = pytest.importorskip(
    "pymmcore_plus.experimental.unicore", reason="needs the mm extra: pip install 'aglu[mm]'"
)
useq = pytest.importorskip("useq", reason="needs the mm extra")

SHAPE = (96, 128)


def _qpi_counts(seed: int) -> np.ndarray:
    """A simulated phase image as a 16-bit camera would deliver it (rad * 1000 + 2000)."""
    qpi = simulate_pair(SimulationConfig(height_px=SHAPE[0], width_px=SHAPE[1]), seed).qpi_rad
    return np.clip(qpi * 1000 + 2000, 0, 65535).astype(np.uint16)


class QpiCamera(unicore.SimpleCameraDevice):  # type: ignore[misc, name-defined]
    """A Python camera device: frame k is simulated field k mod 4."""

    def __init__(self) -> None:
        super().__init__()
        self.fields = [_qpi_counts(s) for s in range(4)]
        self.count = 0

    def sensor_shape(self) -> tuple[int, int]:
        return SHAPE

    def dtype(self) -> np.dtype:
        return np.dtype(np.uint16)

    def snap(self, buffer: np.ndarray) -> Mapping[str, Any]:
        buffer[:] = self.fields[self.count % 4]
        self.count += 1
        return {}

    def get_exposure(self) -> float:
        return 5.0

    def set_exposure(self, exposure: float) -> None:
        pass


@pytest.fixture
def core() -> Iterator[Any]:
    c = unicore.UniMMCore()
    c.loadPyDevice("Camera", QpiCamera())
    c.initializeDevice("Camera")
    c.setCameraDevice("Camera")
    c.setAutoShutter(False)  # no shutter device in this core
    yield c
    c.unloadAllDevices()


def test_mda_frames_are_stained_like_offline(core: Any) -> None:
    source = PymmcorePlusSource(core, capacity=32)
    daemon = Daemon(local_config(queue={"capacity": 32}), source=source)
    daemon.start()
    got: list[FrameMessage] = []
    try:
        with Subscriber(daemon.endpoint, topics=(b"frame",)) as sub:
            time.sleep(0.3)  # subscription in place before the first frame
            core.mda.run(useq.MDASequence(time_plan={"interval": 0.05, "loops": 6}))
            while len(got) < 6:
                msg = sub.recv(timeout_s=20)
                if isinstance(msg, FrameMessage):
                    got.append(msg)
    finally:
        daemon.stop()
    assert [m.header["axes"]["t"] for m in got] == list(range(6))
    for m in got:
        raw = m.arrays["qpi"]
        np.testing.assert_array_equal(raw, _qpi_counts(m.header["axes"]["t"] % 4))
        np.testing.assert_array_equal(m.arrays["dapi"], daemon.stainer.stain(raw)["dapi"])
    assert source.frames_seen == 6
    assert daemon.status()["source"] == {
        "name": "pymmcore-plus",
        "offered": 6,
        "dropped": 0,
        "refused": 0,
    }


def test_a_z_series_reaches_a_multi_plane_model_as_stacks(core: Any, tiny_stack_export) -> None:  # type: ignore[no-untyped-def]
    """An MDA of 2 time points x 3 z planes, through a 3-plane model: two (Z, Y, X) stacks,
    each the camera's three consecutive fields, stained exactly as offline."""
    source = PymmcorePlusSource(core, capacity=32)
    cfg = local_config(queue={"capacity": 32}, model={"path": str(tiny_stack_export.fp32)})
    daemon = Daemon(cfg, source=source)
    daemon.start()
    got: list[FrameMessage] = []
    try:
        with Subscriber(daemon.endpoint, topics=(b"frame",)) as sub:
            time.sleep(0.3)
            seq = useq.MDASequence(
                time_plan={"interval": 0.05, "loops": 2},
                z_plan={"range": 2, "step": 1},  # 3 planes; no Z stage here: positions unset
                axis_order="tpcz",
            )
            core.mda.run(seq)
            while len(got) < 2:
                msg = sub.recv(timeout_s=20)
                if isinstance(msg, FrameMessage):
                    got.append(msg)
        status = daemon.status()
    finally:
        daemon.stop()
    assert [m.header["axes"] for m in got] == [{"t": 0}, {"t": 1}]
    for m in got:
        t = m.header["axes"]["t"]
        stack = np.stack([_qpi_counts((3 * t + z) % 4) for z in range(3)])
        np.testing.assert_array_equal(m.arrays["qpi"], stack[1])
        np.testing.assert_array_equal(m.arrays["dapi"], daemon.stainer.stain(stack)["dapi"])
    assert status["source"]["stacks"] == 2 and status["source"]["incomplete_stacks"] == 0


class _BadIndex:
    def __init__(self) -> None:
        self.index = {"t": "not a number"}


def test_a_frame_that_cannot_be_taken_never_raises_into_the_mda_thread(core: Any) -> None:
    """The listener runs on the acquisition thread: a bad event is counted, not raised."""
    source = PymmcorePlusSource(core)
    try:
        source._on_frame(np.zeros(SHAPE, np.uint16), _BadIndex())
        source._on_frame(np.zeros(SHAPE, np.uint16), useq.MDAEvent(index={"t": 1}))
        assert source.stats()["refused"] == 1 and source.stats()["offered"] == 1
    finally:
        source.close()
