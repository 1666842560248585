"""sd_notify over a real unix datagram socket, as systemd listens on it."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.daemon import Daemon
from edge.frames import Frame
from edge.notify import NullNotifier, SystemdNotifier, notifier_from_env
from edge.sources import FrameSource
from tests.edge.helpers import local_config


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def _messages(sock: socket.socket, until: str) -> list[str]:
    got: list[str] = []
    while until not in got:
        got += sock.recv(4096).decode().splitlines()
    return got


def test_from_env() -> None:
    assert isinstance(notifier_from_env({}), NullNotifier)
    n = notifier_from_env({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000"})
    assert isinstance(n, SystemdNotifier) and n._min_interval_s == 1.0
    other = notifier_from_env(
        {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    )
    assert isinstance(other, SystemdNotifier) and other._min_interval_s is None


def test_watchdog_is_throttled_to_half_the_period(
    notify_socket: tuple[str, socket.socket],
) -> None:
    path, sock = notify_socket
    n = SystemdNotifier(path, watchdog_period_s=0.2)
    t_end = time.monotonic() + 0.5
    while time.monotonic() < t_end:
        n.watchdog()
        time.sleep(0.005)
    sock.settimeout(0.1)
    pings = []
    try:
        while True:
            pings.append(sock.recv(100))
    except TimeoutError:
        pass
    assert set(pings) == {b"WATCHDOG=1"} and 4 <= len(pings) <= 7  # every 0.1 s over 0.5 s


def test_daemon_notifies_ready_watchdog_and_stopping(
    notify_socket: tuple[str, socket.socket],
) -> None:
    path, sock = notify_socket
    daemon = Daemon.for_config(
        local_config(source={"height_px": 64, "width_px": 64, "fps": 50}),
        notifier=SystemdNotifier(path, watchdog_period_s=0.1),
    )
    daemon.start()
    try:
        got = _messages(sock, "READY=1")
        got += _messages(sock, "WATCHDOG=1")  # from the frame loop
    finally:
        daemon.stop()
    got += _messages(sock, "STOPPING=1")
    assert got.index("READY=1") < got.index("STOPPING=1")


class HangingSource(FrameSource):
    """Streams frames until ``hang`` is set, then blocks like a stuck camera call."""

    name = "hanging"

    def __init__(self) -> None:
        self.hang = threading.Event()

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        i = 0
        while not self.hang.is_set():
            yield Frame(i, np.ones((64, 64), np.float32), time.time_ns())
            i += 1
            time.sleep(0.02)
        stop.wait()  # hung until the daemon stops


def test_watchdog_stops_when_the_source_hangs(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    source = HangingSource()
    daemon = Daemon(
        local_config(source={"height_px": 64, "width_px": 64}, run={"source_stall_s": 0.3}),
        source=source,
        notifier=SystemdNotifier(path, watchdog_period_s=0.1),
    )
    daemon.start()
    try:
        _messages(sock, "READY=1")
        _messages(sock, "WATCHDOG=1")  # frames flow: the watchdog is fed
        source.hang.set()
        time.sleep(0.6)  # past source_stall_s: feeding has stopped
        sock.settimeout(0.05)
        with contextlib.suppress(TimeoutError):
            while True:
                sock.recv(4096)  # discard what was sent before the stall was noticed
        sock.settimeout(0.7)
        with pytest.raises(TimeoutError):
            sock.recv(4096)  # 0.7 s = 14 watchdog half-periods of silence
        assert daemon.counters.snapshot().published > 0
    finally:
        daemon.stop()


class RecordingNotifier:
    """Records each notification with what the daemon had done by then."""

    def __init__(self) -> None:
        self.daemon: Daemon | None = None
        self.log: list[tuple[str, int]] = []

    def notify(self, *fields: str) -> None:
        assert self.daemon is not None
        warm = self.daemon.active.stainer.warm_runs if hasattr(self.daemon, "active") else 0
        self.log += [(f, warm) for f in fields]

    def watchdog(self) -> None:
        return None


def test_ready_only_after_warm_up_and_bind() -> None:
    rec = RecordingNotifier()
    daemon = Daemon.for_config(local_config(source={"height_px": 64, "width_px": 64}), notifier=rec)
    rec.daemon = daemon
    daemon.start()
    daemon.stop()
    ready = [warm for field, warm in rec.log if field == "READY=1"]
    assert ready == [2]  # exactly one READY, sent after both warm-up runs
    assert rec.log[-1] == ("STOPPING=1", 2)
