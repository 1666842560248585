"""pycromanager acquisitions on a real Micro-Manager core with the AGLU hook."""

from __future__ import annotations

import gc
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq

from edge.daemon import Daemon
from edge.errors import BindError
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage
from edge.sources.mm.hook import StainHook, hook_in_process, hook_to_daemon
from tests.edge.helpers import local_config

T, Z = 3, 3  # a multi-dimensional acquisition: 3 time points x 3 z planes


def _events() -> list[dict[str, Any]]:
    from pycromanager import multi_d_acquisition_events

    return multi_d_acquisition_events(num_time_points=T, z_start=0, z_end=Z - 1, z_step=1)


def _run_acquisition(
    core: Any, root: Path, name: str, hook: StainHook | None, events: Any, read: Any
) -> Any:
    """Run one acquisition (NDTiff on disk); ``read(dataset)`` what it saved.

    ndstorage's writer (inside pycromanager) leaves read handles open after close();
    they are collected here with ResourceWarning ignored, so our own leaks still fail."""
    from pycromanager import Acquisition

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with Acquisition(
            directory=str(root), name=name, image_process_fn=hook, show_display=False
        ) as acq:
            acq.acquire(events)
        ds = acq.get_dataset()
        try:
            saved = read(ds)
        finally:
            ds.close()
        del acq, ds
        gc.collect()
    assert not core.is_buffer_overflowed()
    return saved


def _acquire(core: Any, root: Path, name: str, hook: StainHook | None = None) -> np.ndarray:
    """Every image a T x Z acquisition saved, in axis order."""

    def read(ds: Any) -> np.ndarray:
        return np.stack([ds.read_image(time=t, z=z) for t in range(T) for z in range(Z)])

    images: np.ndarray = _run_acquisition(core, root, name, hook, _events(), read)
    return images


def _collect(sub: Subscriber, n: int) -> list[FrameMessage]:
    got: list[FrameMessage] = []
    while len(got) < n:
        msg = sub.recv(timeout_s=20)
        if isinstance(msg, FrameMessage):
            got.append(msg)
    return got


def test_in_process_hook_every_frame_arrives_with_its_axes(mm_core: Any, tmp_path: Path) -> None:
    hook = hook_in_process(local_config(queue={"capacity": 64}))
    try:
        with Subscriber(hook.target.endpoint, topics=(b"frame",)) as sub:
            time.sleep(0.3)  # the subscription reaches the publisher
            saved = _acquire(mm_core, tmp_path, "inproc", hook)
            got = _collect(sub, T * Z)
    finally:
        hook.close()
    axes = sorted((m.header["axes"]["time"], m.header["axes"]["z"]) for m in got)
    assert axes == [(t, z) for t in range(T) for z in range(Z)]
    first = next(m for m in got if m.header["axes"] == {"time": 1, "z": 2})
    np.testing.assert_array_equal(first.arrays["qpi"], saved[1 * Z + 2])  # what was saved
    assert first.header["metadata"]["source"] == "pycromanager" and hook.errors == 0


def test_hook_to_daemon_over_ingest(mm_core: Any, tmp_path: Path) -> None:
    daemon = Daemon.for_config(
        local_config(
            source={"kind": "ingest", "endpoint": "tcp://127.0.0.1:0"}, queue={"capacity": 64}
        )
    )
    daemon.start()
    try:
        with (
            Subscriber(daemon.endpoint, topics=(b"frame",)) as sub,
            hook_to_daemon(daemon.source.endpoint, hwm=64) as hook,
        ):
            time.sleep(0.3)
            saved = _acquire(mm_core, tmp_path, "ingest", hook)
            got = _collect(sub, T * Z)
    finally:
        daemon.stop()
    assert hook.target.sent == T * Z and hook.target.dropped == 0
    by_axes = {(m.header["axes"]["time"], m.header["axes"]["z"]): m for m in got}
    np.testing.assert_array_equal(by_axes[2, 0].arrays["qpi"], saved[2 * Z])
    np.testing.assert_array_equal(
        by_axes[2, 0].arrays["dapi"], daemon.stainer.stain(saved[2 * Z])["dapi"]
    )


@pytest.mark.parametrize("daemon_state", ["absent", "stalled", "crashing"])
def test_saved_data_is_bit_identical_whatever_the_daemon_does(
    mm_core: Any, tmp_path: Path, daemon_state: str
) -> None:
    """The dataset written with the hook equals the one written without it, byte for byte,
    and the camera buffer never overflows, whether the daemon is absent (nothing listens),
    stalled (its ingest socket never reads; frames pile up in socket buffers, then drop)
    or stopped a few frames into the acquisition."""
    reference = _acquire(mm_core, tmp_path, "reference")
    daemon, stalled = None, None
    if daemon_state == "absent":
        endpoint = "tcp://127.0.0.1:1"
    elif daemon_state == "stalled":
        stalled = zmq.Context.instance().socket(zmq.PULL)
        stalled.setsockopt(zmq.RCVHWM, 1)
        endpoint = f"tcp://127.0.0.1:{stalled.bind_to_random_port('tcp://127.0.0.1')}"
    else:
        daemon = Daemon.for_config(
            local_config(source={"kind": "ingest", "endpoint": "tcp://127.0.0.1:0"})
        )
        daemon.start()
        endpoint = daemon.source.endpoint
        threading.Timer(0.05, daemon.stop).start()
    try:
        with hook_to_daemon(endpoint, hwm=2) as hook:
            hooked = _acquire(mm_core, tmp_path, f"hooked-{daemon_state}", hook)
    finally:
        if daemon is not None:
            daemon.stop()
        if stalled is not None:
            stalled.close(0)
    assert hooked.tobytes() == reference.tobytes()
    assert hook.frames == T * Z and hook.errors == 0
    assert hook.target.sent + hook.target.dropped == T * Z
    if daemon_state == "absent":
        assert hook.target.dropped == T * Z  # dropped at once, never queued against the camera


def test_frame_from_mm_makes_headers_json_safe() -> None:
    """Micro-Manager metadata carries strings and numpy scalars; headers must be JSON."""
    import json

    from edge.sources.mm.hook import frame_from_mm

    meta = {"Axes": {"time": np.int64(3)}, "PixelSizeUm": "0.65", "Exposure": np.float32(5)}
    f = frame_from_mm(np.zeros((4, 4), np.uint16), meta, 0, "test")
    assert f.pixel_size_um == 0.65 and f.axes == {"time": 3}
    json.dumps({"axes": f.axes, "metadata": f.metadata})
    assert frame_from_mm(f.image, {"PixelSizeUm": "0"}, 1, "t").pixel_size_um is None


TIME_TAGS = ("Time", "ElapsedTime", "TimeReceivedByCore", "ImageNumber", "StartTime", "Date")


def _dataset(root: Path, name: str, hook: StainHook | None, core: Any, t_points: int) -> Any:
    """A longer acquisition (``t_points`` x Z, 100 ms apart); every image's bytes and its
    metadata without the keys that differ between any two runs (times, counters)."""
    from pycromanager import multi_d_acquisition_events

    events = multi_d_acquisition_events(
        num_time_points=t_points, time_interval_s=0.1, z_start=0, z_end=Z - 1, z_step=1
    )

    def read(ds: Any) -> list[tuple[bytes, dict[str, Any]]]:
        out = []
        for t in range(t_points):
            for z in range(Z):
                meta = ds.read_metadata(time=t, z=z)
                kept = {k: v for k, v in meta.items() if not any(s in k for s in TIME_TAGS)}
                out.append((ds.read_image(time=t, z=z).tobytes(), kept))
        return out

    return _run_acquisition(core, root, name, hook, events, read)


def test_saved_data_is_identical_with_the_daemon_killed_and_restarted_mid_acquisition(
    mm_core: Any, tmp_path: Path
) -> None:
    """Issue 14: the old test stopped the daemon 0.05 s in, before frame 1. Here a 90-frame
    acquisition (3 s) runs while the daemon serves 5 frames, is stopped, and comes back on
    the same port; every saved image and its metadata (times aside) equal a run without
    the hook."""
    t_points = 30
    reference = _dataset(tmp_path, "reference", None, mm_core, t_points)
    with socket.socket() as probe:  # a free port (closed at once, unlike a zmq socket)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = local_config(source={"kind": "ingest", "endpoint": f"tcp://127.0.0.1:{port}"})
    daemons = [Daemon.for_config(cfg)]
    daemons[0].start()

    def restart() -> None:
        while daemons[0].counters.snapshot().received < 5:  # serving the acquisition
            time.sleep(0.01)
        daemons[0].stop()
        time.sleep(0.3)  # the hook keeps sending into nothing meanwhile
        for _ in range(50):  # libzmq releases the port asynchronously, as after a crash
            try:
                d = Daemon.for_config(cfg)
                d.start()
            except BindError:
                time.sleep(0.1)
                continue
            daemons.append(d)
            return

    timer = threading.Thread(target=restart, daemon=True)
    timer.start()
    try:
        with hook_to_daemon(f"tcp://127.0.0.1:{port}", hwm=2) as hook:
            hooked = _dataset(tmp_path, "hooked", hook, mm_core, t_points)
    finally:
        timer.join(30)
        for d in daemons:
            d.stop()
    assert len(hooked) == len(reference) == t_points * Z
    assert [h[0] for h in hooked] == [r[0] for r in reference]  # every pixel byte
    assert [h[1] for h in hooked] == [r[1] for r in reference]  # the rest of the metadata
    assert all({"Camera", "Width", "Height"} <= h[1].keys() for h in hooked)  # not vacuous
    assert hook.frames == t_points * Z and hook.errors == 0
    assert len(daemons) == 2 and all(d.counters.snapshot().received > 0 for d in daemons)
