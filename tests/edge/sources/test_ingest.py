"""The ingest source on real PUSH/PULL sockets (127.0.0.1, random port)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq

from edge.frames import Frame, pixel_size_or_none
from edge.sources.ingest import IngestClient, IngestConfig, IngestSource


@pytest.fixture
def source() -> Iterator[IngestSource]:
    src = IngestSource(IngestConfig(endpoint="tcp://127.0.0.1:0"))
    yield src
    src.close()


def _header(**over: object) -> bytes:
    h = {
        "format": "aglu-frame",
        "version": 1,
        "frame_index": 0,
        "t_ns": {"acquired": 1},
        "channels": [{"name": "qpi", "dtype": "uint8", "shape": [2, 2]}],
    }
    h.update(over)
    return json.dumps(h).encode()


HOSTILE = [
    [b"frame", b"[" * 5000],  # RecursionError in json
    [b"frame", _header(channels=[{"name": "qpi", "dtype": "uint8", "shape": [2**32, 2**32]}]), b""],
    [b"frame", _header(channels=[{"name": "qpi", "dtype": "uint8", "shape": [2**70]}]), b""],
    [b"frame", _header(pixel_size_um=2**2000), bytes(4)],  # accepted: the size is unknown
    [b"frame", _header(frame_index="x"), bytes(4)],
    [b"frame", _header(t_ns={"acquired": 10**30}), bytes(4)],  # issue 25: poisoned latency
    [b"frame", _header(t_ns={"acquired": -5}), bytes(4)],
    [b"status", json.dumps({"format": "aglu-status", "version": 1}).encode()],
    [b"junk"],
]


def test_one_hostile_message_costs_one_rejection_and_nothing_else(source: IngestSource) -> None:
    """Issue 14 bug 2: these messages raised RecursionError/ValueError/OverflowError and
    ended the source (and the daemon). Now each is counted and the next frame still comes."""
    got: list[Frame] = []
    stop = threading.Event()

    def read() -> None:
        for f in source.frames(stop):
            if f is not None:
                got.append(f)

    reader = threading.Thread(target=read)
    reader.start()
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(source.endpoint)
    client = IngestClient(source.endpoint)
    try:
        for parts in HOSTILE:
            push.send_multipart(parts)
        time.sleep(0.3)  # both senders' messages are fair-queued: let the hostile ones in
        image = np.arange(12, dtype=np.uint16).reshape(3, 4)
        assert client.send(Frame(7, image, 5, {"z": 1}, {"k": "v"}, 0.5))
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reader.is_alive()
    finally:
        stop.set()
        reader.join(5)
        push.close(0)
        client.close()
    assert source.rejected == len(HOSTILE) - 1  # all but the unknown pixel size
    assert [f.index for f in got] == [0, 7]
    assert got[0].pixel_size_um is None
    np.testing.assert_array_equal(got[1].image, image)
    assert got[1].axes == {"z": 1} and got[1].pixel_size_um == 0.5


def test_pixel_size_beyond_float_range_is_unknown() -> None:
    assert pixel_size_or_none(2**2000) is None
    assert pixel_size_or_none(0.65) == 0.65


def test_frames_still_in_the_socket_at_stop_are_counted(source: IngestSource) -> None:
    """The hook counts them as sent; the daemon used to never see them. Now the final
    status says how many were unread (source.unread_at_stop)."""
    client = IngestClient(source.endpoint)
    try:
        deadline = time.monotonic() + 5
        while not client.send(Frame(0, np.zeros((4, 4), np.uint16), 1)):  # until connected
            assert time.monotonic() < deadline
            time.sleep(0.02)
        for i in (1, 2):
            assert client.send(Frame(i, np.zeros((4, 4), np.uint16), 1))
        time.sleep(0.3)  # in the daemon's socket, not read
        stop = threading.Event()
        stop.set()
        assert list(source.frames(stop)) == []
    finally:
        client.close()
    assert source.stats() == {"rejected": 0, "unread_at_stop": 3}


def test_an_ipc_ingest_socket_is_owner_only_by_default(tmp_path: Path) -> None:
    """Issue 25: frames can be pushed only by the daemon's user (or its group, with
    source.ipc_mode = 0o660); a mode open to everyone is refused in one line."""
    import stat

    from edge.config import parse_config
    from edge.errors import ConfigError

    path = tmp_path / "ingest.sock"
    src = IngestSource(IngestConfig(endpoint=f"ipc://{path}"))
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        src.close()
    with pytest.raises(ConfigError, match="every user"):
        parse_config({"source": {"kind": "ingest", "ipc_mode": 0o666}})
