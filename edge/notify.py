"""systemd's notify protocol (sd_notify), without libsystemd.

Type=notify services tell systemd READY=1 once they serve, WATCHDOG=1 at least
every WatchdogSec from the loop that proves they work, RELOADING=1 / READY=1
around a reload and STOPPING=1 on shutdown. The CLI builds the notifier from
``$NOTIFY_SOCKET`` (components never read the environment themselves).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Protocol

logger = logging.getLogger(__name__)


class Notifier(Protocol):
    def notify(self, *fields: str) -> None: ...

    def watchdog(self) -> None: ...


class NullNotifier:
    """Not under systemd: every notification is a no-op."""

    def notify(self, *fields: str) -> None:
        return None

    def watchdog(self) -> None:
        return None


class SystemdNotifier:
    """Datagrams to systemd's notify socket; WATCHDOG=1 at most every half period."""

    def __init__(self, socket_path: str, watchdog_period_s: float | None = None) -> None:
        # An abstract socket is given as "@name" and addressed with a leading NUL.
        self._address = "\0" + socket_path[1:] if socket_path.startswith("@") else socket_path
        self._min_interval_s = watchdog_period_s / 2 if watchdog_period_s else None
        self._last_watchdog = 0.0

    def notify(self, *fields: str) -> None:
        try:  # a socket per message, as libsystemd's sd_notify does
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:  # systemd gone or socket full: never stop the frame loop
            logger.warning("sd_notify %s failed: %s", fields, exc)

    def watchdog(self) -> None:
        if self._min_interval_s is None:
            return
        now = time.monotonic()
        if now - self._last_watchdog >= self._min_interval_s:
            self._last_watchdog = now
            self.notify("WATCHDOG=1")


def notifier_from_env(environ: Mapping[str, str]) -> Notifier:
    """A SystemdNotifier when started by systemd (``NOTIFY_SOCKET``), else a no-op."""
    path = environ.get("NOTIFY_SOCKET")
    if not path:
        return NullNotifier()
    usec = environ.get("WATCHDOG_USEC", "")
    period_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
    if environ.get("WATCHDOG_PID", str(os.getpid())) != str(os.getpid()):
        period_s = None  # the watchdog is meant for another process
    return SystemdNotifier(path, period_s)
