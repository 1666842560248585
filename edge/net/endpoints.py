"""ZeroMQ endpoint rules shared by the publisher and the control socket."""

from __future__ import annotations

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


def bind_socket(sock: zmq.Socket[Any], endpoint: str) -> str:
    """Bind ``sock``; port 0 picks a free port. Returns the bound endpoint."""
    try:
        if endpoint.startswith("tcp://") and endpoint.endswith(":0"):
            base = endpoint.rsplit(":", 1)[0]
            return f"{base}:{sock.bind_to_random_port(base)}"
        sock.bind(endpoint)
        return endpoint
    except zmq.ZMQError as exc:
        sock.close(0)
        raise BindError(endpoint, exc.strerror) from None
