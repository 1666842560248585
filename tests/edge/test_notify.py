"""sd_notify over a real unix datagram socket, as systemd listens on it."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.daemon import Daemon
from edge.notify import NullNotifier, SystemdNotifier, notifier_from_env
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
    daemon = Daemon(
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
