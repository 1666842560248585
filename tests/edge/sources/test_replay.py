"""Replaying real TIFF / OME-TIFF files through the daemon to a real subscriber."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import tifffile

from edge.config import parse_config
from edge.daemon import Daemon
from edge.errors import ConfigError
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage
from edge.sources.replay import ReplaySource, ReplaySourceConfig
from tests.edge.helpers import local_config


@pytest.fixture
def stack(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = np.random.default_rng(0).integers(0, 4000, (3, 2, 64, 96)).astype(np.uint16)
    path = tmp_path / "acq.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "TZYX"})
    return path, data


def test_planes_in_file_order_with_axes(stack: tuple[Path, np.ndarray]) -> None:
    path, data = stack
    frames = list(ReplaySource(ReplaySourceConfig(path=path, fps=1000)).frames(threading.Event()))
    assert len(frames) == 6
    assert frames[3].axes == {"T": 1, "Z": 1}
    np.testing.assert_array_equal(frames[3].image, data[1, 1])


def test_loop_and_max_frames(stack: tuple[Path, np.ndarray]) -> None:
    path, data = stack
    src = ReplaySource(ReplaySourceConfig(path=path, fps=1000, loop=True, max_frames=8))
    frames = list(src.frames(threading.Event()))
    assert len(frames) == 8 and frames[7].axes == {"T": 0, "Z": 1}
    np.testing.assert_array_equal(frames[7].image, data[0, 1])


def test_bad_file_is_one_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00not a tiff")
    with pytest.raises(ConfigError, match=r"broken\.tif: (not a readable TIFF|no image series)"):
        ReplaySource(ReplaySourceConfig(path=bad))
    with pytest.raises(ConfigError, match=r"source\.path"):
        parse_config({"source": {"kind": "replay"}}, "edge.toml")


def test_daemon_replays_a_stack_to_a_subscriber(stack: tuple[Path, np.ndarray]) -> None:
    path, data = stack
    cfg = local_config(
        source={"kind": "replay", "path": str(path), "fps": 20, "loop": True, "pixel_size_um": 0.3}
    )
    daemon = Daemon.for_config(cfg)
    daemon.start()
    try:
        with Subscriber(daemon.endpoint, topics=(b"frame",)) as sub:
            msg = sub.recv(timeout_s=10)
    finally:
        daemon.stop()
    assert isinstance(msg, FrameMessage)
    h = msg.header
    assert h["pixel_size_um"] == 0.3 and h["metadata"]["file"] == str(path)
    t, z = h["axes"]["T"], h["axes"]["Z"]
    np.testing.assert_array_equal(msg.arrays["qpi"], data[t, z])
    np.testing.assert_array_equal(msg.arrays["dapi"], daemon.stainer.stain(data[t, z])["dapi"])
