"""Planes tagged with a z index become (Z, Y, X) stacks for multi-plane models."""

import threading

import numpy as np
import pytest

from edge.frames import Frame
from edge.sources import FrameSource
from edge.sources.zstack import PlaneStacker, StackingSource


def plane(index: int, z: int | None, t: int = 0, value: float | None = None) -> Frame:
    axes: dict[str, int | str] = {"t": t} if z is None else {"t": t, "z": z}
    image = np.full((4, 5), index if value is None else value, np.uint16)
    return Frame(index=index, image=image, t_acquired_ns=1000 + index, axes=axes)


def test_planes_of_one_stack_become_one_frame_in_z_order() -> None:
    s = PlaneStacker(3)
    assert s.push(plane(0, 2)) is None and s.push(plane(1, 0)) is None
    out = s.push(plane(2, 1))
    assert out is not None and out.image.shape == (3, 4, 5)
    np.testing.assert_array_equal(out.image[:, 0, 0], [1, 2, 0])  # z 0, 1, 2
    assert out.axes == {"t": 0} and out.metadata["planes"] == 3
    assert out.t_acquired_ns == 1002  # the last plane's acquisition time
    assert (s.stacks, s.incomplete) == (1, 0)


def test_an_incomplete_stack_is_dropped_and_counted_never_published() -> None:
    s = PlaneStacker(3)
    s.push(plane(0, 0, t=0))
    s.push(plane(1, 1, t=0))
    assert s.push(plane(2, 0, t=1)) is None  # time point 1 starts: t=0 lost its plane 2
    s.push(plane(3, 1, t=1))
    out = s.push(plane(4, 2, t=1))
    assert out is not None and out.axes == {"t": 1}
    np.testing.assert_array_equal(out.image[:, 0, 0], [2, 3, 4])
    assert (s.stacks, s.incomplete) == (1, 1)


def test_a_repeated_z_starts_a_new_stack() -> None:
    s = PlaneStacker(2)
    s.push(plane(0, 0))
    s.push(plane(1, 0))
    out = s.push(plane(2, 1))
    assert out is not None and out.image[0, 0, 0] == 1 and s.incomplete == 1


def test_stacks_and_untagged_frames_pass_through_unchanged() -> None:
    s = PlaneStacker(2)
    whole = Frame(0, np.zeros((2, 4, 5), np.uint16), 0)
    flat = plane(1, None)
    assert s.push(whole) is whole and s.push(flat) is flat  # the stainer refuses `flat`


def test_a_plane_beyond_the_model_is_counted_lost() -> None:
    s = PlaneStacker(2)
    assert s.push(plane(0, 5)) is None and s.incomplete == 1


def test_single_plane_models_need_no_stacker() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        PlaneStacker(1)


class _Planes(FrameSource):
    name = "planes"

    def __init__(self, frames: list[Frame | None]) -> None:
        self._frames = frames

    def frames(self, stop: threading.Event):  # type: ignore[no-untyped-def]
        yield from self._frames

    def stats(self) -> dict[str, int]:
        return {"offered": len(self._frames)}


def test_stacking_source_keeps_idle_ticks_and_reports_its_counts() -> None:
    src = StackingSource(_Planes([plane(0, 0), None, plane(1, 1), plane(2, 0)]), 2)
    out = list(src.frames(threading.Event()))
    assert [o is None for o in out] == [True, True, False, True]
    assert src.stats() == {"offered": 4, "stacks": 1, "incomplete_stacks": 0}


def test_daemon_stacks_a_replayed_z_series_for_a_multi_plane_model(
    tmp_path, tiny_stack_export
) -> None:  # type: ignore[no-untyped-def]
    """A (T, Z, Y, X) TIFF replayed plane by plane reaches a 3-plane model as (Z, Y, X)
    stacks; the published prediction equals the stainer's on that stack, and the input
    channel is its middle plane."""
    import tifffile

    from edge.daemon import Daemon
    from edge.net.client import Subscriber
    from edge.net.wire import FrameMessage
    from tests.edge.helpers import local_config

    data = np.random.default_rng(0).integers(900, 3000, (2, 3, 64, 96)).astype(np.uint16)
    path = tmp_path / "z.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "TZYX"})
    cfg = local_config(
        source={"kind": "replay", "path": str(path), "fps": 30, "loop": True},
        model={"path": str(tiny_stack_export.fp32)},
    )
    daemon = Daemon.for_config(cfg)
    daemon.start()
    try:
        with Subscriber(daemon.endpoint, topics=(b"frame",)) as sub:
            msg = sub.recv(timeout_s=10)
        status = daemon.status()
    finally:
        daemon.stop()
    assert isinstance(msg, FrameMessage)
    t = msg.header["axes"]["T"]
    assert "Z" not in msg.header["axes"] and msg.header["input_plane"] == {"index": 1, "of": 3}
    np.testing.assert_array_equal(msg.arrays["qpi"], data[t, 1])
    np.testing.assert_array_equal(msg.arrays["dapi"], daemon.stainer.stain(data[t])["dapi"])
    assert status["source"]["stacks"] >= 1
