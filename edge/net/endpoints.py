"""ZeroMQ endpoint rules shared by the publisher and the control socket."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import zmq

from edge.errors import BindError, ConfigError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_endpoint(endpoint: str, field: str) -> None:
    """``tcp://HOST:PORT`` or ``ipc://PATH``; ConfigError naming ``field`` otherwise."""
    url = urlparse(endpoint)
    if url.scheme == "ipc" and len(endpoint) > len("ipc://"):
        return
    try:
        port = url.port
    except ValueError:
        port = None
    if url.scheme != "tcp" or port is None or not url.hostname:
        raise ConfigError(field, f"expected tcp://HOST:PORT or ipc://PATH, got {endpoint!r}")


def is_local_endpoint(endpoint: str) -> bool:
    """True for ipc:// and loopback TCP: nothing reaches it from the network."""
    url = urlparse(endpoint)
    return url.scheme == "ipc" or (url.hostname or "") in LOOPBACK_HOSTS


IPC_MODE = 0o600  # ipc:// sockets that accept commands or frames: their owner only


def check_ipc_mode(mode: int, field: str) -> None:
    """Who may connect to an ipc:// socket of ours: owner and group bits only."""
    if not 0 <= mode <= 0o777:
        raise ConfigError(field, f"{mode:#o} is not a file mode (0o000-0o777)")
    if mode & 0o007:
        raise ConfigError(field, f"{mode:#o} lets every user of this PC connect; use 0o600/0o660")


def bind_socket(sock: zmq.Socket[Any], endpoint: str, ipc_mode: int | None = None) -> str:
    """Bind ``sock``; port 0 picks a free port. Returns the bound endpoint. For
    ``ipc://PATH`` with ``ipc_mode``, the socket file is created owner-only (umask 0o177
    during the bind: never a moment more open) and then given ``ipc_mode``: the kernel
    then refuses connections from other users."""
    try:
        if endpoint.startswith("tcp://") and endpoint.endswith(":0"):
            base = endpoint.rsplit(":", 1)[0]
            return f"{base}:{sock.bind_to_random_port(base)}"
        if endpoint.startswith("ipc://") and ipc_mode is not None:
            old = os.umask(0o177)
            try:
                sock.bind(endpoint)
            finally:
                os.umask(old)
            os.chmod(endpoint[len("ipc://") :], ipc_mode)
            return endpoint
        sock.bind(endpoint)
        return endpoint
    except zmq.ZMQError as exc:
        sock.close(0)
        raise BindError(endpoint, exc.strerror) from None
