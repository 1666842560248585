"""The daemon on real ZeroMQ sockets (127.0.0.1, random ports) and the shipped model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zmq

from edge.config import EdgeConfig
from edge.daemon import Daemon
from edge.errors import BindError
from edge.lifecycle import State
from edge.net.client import Subscriber
from edge.net.wire import DTYPES, FrameMessage, StatusMessage
from edge.sources import FrameSource
from edge.stats import Snapshot
from tests.edge.helpers import GatedSource, local_config


def _config(**publish: object) -> EdgeConfig:
    return local_config(
        source={"height_px": 64, "width_px": 64},
        publish={"status_interval_s": 0.05, **publish},
        queue={"capacity": 64},
        run={"max_consecutive_errors": 50},
    )


def _run(images: list[np.ndarray]) -> tuple[Daemon, list[FrameMessage], list[StatusMessage]]:
    source = GatedSource(images)
    daemon = Daemon(_config(), source=source)
    daemon.start()
    frames: list[FrameMessage] = []
    statuses: list[StatusMessage] = []
    try:
        with Subscriber(daemon.endpoint) as sub:
            while not statuses:  # connected once a status arrives
                msg = sub.recv(timeout_s=10)
                if isinstance(msg, StatusMessage):
                    statuses.append(msg)
            source.gate.set()
            while True:
                msg = sub.recv(timeout_s=10)
                if isinstance(msg, FrameMessage):
                    frames.append(msg)
                else:
                    statuses.append(msg)
                    if msg.header["counters"]["received"] == len(images) and (
                        msg.header["counters"]["published"] + msg.header["counters"]["errors"]
                        == len(images)
                    ):
                        break
    finally:
        daemon.stop()
    return daemon, frames, statuses


def test_frames_arrive_with_full_headers_and_counters_add_up() -> None:
    rng = np.random.default_rng(0)
    images = [rng.standard_normal((64, 80)).astype(np.float32) for _ in range(5)]
    daemon, frames, statuses = _run(images)
    assert statuses[-1].header["counters"]["published"] == 5
    assert [f.header["frame_index"] for f in frames] == list(range(5))
    h = frames[0].header
    assert h["format"] == "aglu-frame" and h["version"] == 1
    assert h["model"]["sha256"] == daemon.model.sha256
    assert h["axes"] == {"time": 0} and h["pixel_size_um"] == 0.5
    t = h["t_ns"]
    assert t["acquired"] <= t["received"] <= t["inferred"] <= t["published"]
    assert set(frames[0].arrays) == {"qpi", "dapi", "sigma"}
    np.testing.assert_array_equal(frames[0].arrays["qpi"], images[0])  # raw frame unchanged
    expected = daemon.stainer.stain(images[0])["dapi"]
    np.testing.assert_array_equal(frames[0].arrays["dapi"], expected)
    snap = daemon.counters.snapshot()
    assert snap.received == snap.published + snap.dropped + snap.errors == 5
    assert daemon.state is State.STOPPED


def test_bad_frames_are_counted_and_the_daemon_keeps_serving() -> None:
    good = np.ones((64, 64), np.float32)
    images = [
        good,
        np.full((64, 64), np.nan, np.float32),
        np.zeros((3, 4, 4)),
        np.zeros((0, 5)),
        good,
    ]
    daemon, frames, _ = _run(images)
    assert [f.header["frame_index"] for f in frames] == [0, 4]
    snap = daemon.counters.snapshot()
    assert (snap.received, snap.published, snap.errors) == (5, 2, 3)


def test_port_in_use_is_one_clear_error() -> None:
    ctx = zmq.Context.instance()
    blocker = ctx.socket(zmq.PUB)
    port = blocker.bind_to_random_port("tcp://127.0.0.1")
    try:
        daemon = Daemon(_config(endpoint=f"tcp://127.0.0.1:{port}"), source=GatedSource([]))
        with pytest.raises(BindError, match=f"127.0.0.1:{port}"):
            daemon.start()
    finally:
        blocker.close(0)


def _until_done(daemon: Daemon, gate: GatedSource | None = None) -> Snapshot:
    """Start the daemon (open ``gate``'s source), run it until its worker ends; its counters."""
    daemon.start()
    if gate is not None:
        gate.gate.set()
    try:
        assert daemon.wait(30)
    finally:
        daemon.stop()
    return daemon.counters.snapshot()


def _run_to_end(source: dict[str, object], **sections: dict[str, object]) -> Snapshot:
    """Run the daemon on a finite simulated source until it ends; its final counters."""
    return _until_done(Daemon.for_config(local_config(source=source, **sections)))


def test_simulated_source_streams_until_max_frames() -> None:
    snap = _run_to_end({"height_px": 64, "width_px": 64, "fps": 200, "max_frames": 30})
    assert snap.received == 30 == snap.published + snap.dropped + snap.errors
    assert snap.errors == 0


def test_daemon_tiles_frames_larger_than_the_tile() -> None:
    snap = _run_to_end(
        {"height_px": 96, "width_px": 200, "fps": 100, "max_frames": 3}, model={"tile_px": 64}
    )
    assert snap.errors == 0 and snap.received == 3 == snap.published + snap.dropped


def test_every_real_dtype_and_byte_order_is_stained_and_published() -> None:
    """Issue 14 bug 3: uint32, int64, int8, float16 and big-endian frames were stained, then
    refused by the wire each frame (a uint32 replay ended in too-many-errors)."""
    base = np.random.default_rng(1).integers(0, 120, (64, 80))
    images = [base.astype(np.dtype(d).newbyteorder(o)) for d in sorted(DTYPES) for o in "<>"]
    daemon, frames, statuses = _run(images)
    assert statuses[-1].header["counters"]["errors"] == 0
    assert sorted(m.header["frame_index"] for m in frames) == list(range(len(images)))
    reference = daemon.stainer.stain(base.astype(np.float32))["dapi"]
    for msg in frames:
        sent = images[msg.header["frame_index"]]
        assert msg.arrays["qpi"].dtype == sent.dtype.newbyteorder("<")  # same dtype, LE
        np.testing.assert_array_equal(msg.arrays["qpi"], sent)
        np.testing.assert_allclose(msg.arrays["dapi"], reference, atol=1e-6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # as in production: warnings are no errors
def test_unstainable_frames_are_one_counted_error_each() -> None:
    """Complex, boolean and float64 beyond the float32 range (issue 14 bug 3: it was stained
    as garbage and published): one counted error each, the rest flows."""
    good = np.ones((64, 80), np.float32)
    bad = [
        np.ones((64, 80), np.complex64),
        np.ones((64, 80), bool),
        np.where(np.arange(64 * 80).reshape(64, 80) % 97 == 0, 1e300, 1.0),  # a few huge
    ]
    _, frames, statuses = _run([*bad, good])
    assert statuses[-1].header["counters"]["errors"] == 3
    assert [m.header["frame_index"] for m in frames] == [3]


def test_stop_aborts_a_slow_inference_and_the_final_status_adds_up() -> None:
    """Issue 14 bug 7: with a slow inference, stop() returned with the worker alive, state
    `stopped`, counters that did not add up, and closed the PUB socket under the worker."""
    import time

    big = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    source = GatedSource([big])
    daemon = Daemon(_config(), source=source)
    daemon.start()
    try:
        with Subscriber(daemon.endpoint) as sub:
            while not isinstance(sub.recv(timeout_s=10), StatusMessage):
                pass  # connected
            source.gate.set()
            while daemon.counters.snapshot().received == 0:
                time.sleep(0.01)
            time.sleep(0.3)  # the 4096 px inference (about 1.5 s here) is in flight
            t0 = time.monotonic()
            daemon.stop()
            stop_s = time.monotonic() - t0
            final = sub.recv(timeout_s=5)
            while not (isinstance(final, StatusMessage) and final.header["state"] == "stopping"):
                final = sub.recv(timeout_s=5)
    finally:
        daemon.stop()
    assert stop_s < 1.0, stop_s
    assert not any(t.is_alive() for t in daemon.running.threads)
    assert daemon.state is State.STOPPED
    c = final.header["counters"]
    assert c == {"received": 1, "published": 0, "dropped": 1, "errors": 0, "rejected": 0}


class _BrokenSource(FrameSource):
    """A source whose camera call raises after two frames."""

    name = "broken"

    def frames(self, stop: object) -> object:
        import time

        from edge.frames import Frame

        for i in range(2):
            yield Frame(i, np.ones((64, 80), np.float32), time.time_ns())
        raise OSError("camera unplugged")


def test_a_source_failure_fails_the_daemon_with_a_final_status() -> None:
    """`aglu-edge run` exits 1 on `daemon.failure` (systemd restarts it)."""
    daemon = Daemon(_config(), source=_BrokenSource())
    c = _until_done(daemon)
    assert isinstance(daemon.failure, OSError) and daemon.state is State.FAILED
    assert c.received == 2 == c.published + c.dropped + c.errors


def test_bad_input_never_stops_the_daemon(fixed_64px_model: Path) -> None:
    """Thirty unstainable frames in a row with max_consecutive_errors = 3: every one is
    counted as rejected (bad input) and the daemon goes on serving good frames."""
    frames = [np.ones((64, 80), np.complex64)] * 30 + [np.ones((64, 64), np.float32)] * 2
    source = GatedSource(frames, period_s=0.001)
    cfg = local_config(
        source={"height_px": 64, "width_px": 64},
        run={"max_consecutive_errors": 3},
        model={"path": str(fixed_64px_model), "quality": False},
        queue={"capacity": 64},  # nothing dropped: every frame is judged
    )
    daemon = Daemon(cfg, source=source)
    c = _until_done(daemon, source)
    assert daemon.failure is None and daemon.state is State.STOPPED
    assert (c.rejected, c.errors, c.published) == (30, 30, 2)
    assert c.received == c.published + c.dropped + c.errors


def test_a_model_failing_on_valid_frames_stops_the_daemon(fixed_64px_model: Path) -> None:
    """Valid 64x96 frames that the model (fixed at 64x64) fails on: model failures, not
    bad input; three in a row stop the daemon for systemd to restart it."""
    from edge.lifecycle import TooManyErrors

    source = GatedSource([np.ones((64, 96), np.float32)] * 8, period_s=0.001)
    cfg = local_config(
        source={"height_px": 64, "width_px": 64},
        run={"max_consecutive_errors": 3},
        model={"path": str(fixed_64px_model), "quality": False},
    )
    daemon = Daemon(cfg, source=source)
    c = _until_done(daemon, source)
    assert isinstance(daemon.failure, TooManyErrors) and daemon.state is State.FAILED
    assert c.errors == 3 and c.rejected == 0 and c.received == c.published + c.dropped + c.errors
