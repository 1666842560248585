"""The whole slice on tiny sizes: simulate -> train -> export -> daemon -> ZeroMQ -> subscriber."""

from __future__ import annotations

import threading

import numpy as np

from edge.daemon import Daemon
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage, StatusMessage
from tests.edge.helpers import local_config


def test_trained_exported_model_serves_frames_to_a_subscriber(tiny_export) -> None:  # type: ignore[no-untyped-def]
    cfg = local_config(
        source={"height_px": 64, "width_px": 96, "fps": 20},
        model={"path": str(tiny_export.int8)},
        publish={"status_interval_s": 0.05},
    )
    daemon = Daemon.for_config(cfg)
    daemon.start()
    got: list[FrameMessage] = []
    try:
        with Subscriber(daemon.endpoint) as sub:
            while len(got) < 3:
                msg = sub.recv(timeout_s=10)
                if isinstance(msg, FrameMessage):
                    got.append(msg)
                else:
                    assert isinstance(msg, StatusMessage) and msg.header["state"] == "ready"
    finally:
        daemon.stop()
    assert daemon.model.card.name == "tiny" and daemon.model.card.precision == "int8"
    for msg in got:
        assert msg.header["model"]["sha256"] == daemon.model.sha256
        assert msg.arrays["dapi"].shape == msg.arrays["sigma"].shape == (64, 96)
        expected = daemon.stainer.stain(msg.arrays["qpi"])["dapi"]
        np.testing.assert_array_equal(msg.arrays["dapi"], expected)
    assert threading.active_count() < 50
