"""ZeroMQ PUB adapter: binds, sends wire messages zero-copy, never blocks.

A PUB socket drops messages for a subscriber whose queue reached ``send_hwm``,
so a slow or dead subscriber can never stall the daemon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import zmq

from edge.errors import BindError, ConfigError
from edge.wire import Part

logger = logging.getLogger(__name__)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    endpoint: str = "tcp://127.0.0.1:5555"  # port 0: a random free port
    send_hwm: int = 16
    linger_ms: int = 500


def check_endpoint(endpoint: str) -> None:
    """Only loopback TCP binds are allowed until CURVE authentication exists."""
    url = urlparse(endpoint)
    if url.scheme == "ipc":
        return
    if url.scheme != "tcp" or url.port is None:
        raise ConfigError(
            "publish.endpoint", f"expected tcp://HOST:PORT or ipc://PATH, got {endpoint!r}"
        )
    host = url.hostname or ""
    if host not in LOOPBACK_HOSTS and f"[{host}]" not in LOOPBACK_HOSTS:
        raise ConfigError(
            "publish.endpoint",
            f"binding {host!r} would expose frames to the network; only 127.0.0.1 is allowed "
            "without CURVE keys",
        )


class ZmqPublisher:
    def __init__(
        self, cfg: PublisherConfig, context: zmq.Context[zmq.Socket[bytes]] | None = None
    ) -> None:
        check_endpoint(cfg.endpoint)
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.PUB)
        self._sock.setsockopt(zmq.SNDHWM, cfg.send_hwm)
        self._sock.setsockopt(zmq.LINGER, cfg.linger_ms)
        try:
            if cfg.endpoint.startswith("tcp://") and cfg.endpoint.endswith(":0"):
                port = self._sock.bind_to_random_port(cfg.endpoint.rsplit(":", 1)[0])
                self.endpoint = f"{cfg.endpoint.rsplit(':', 1)[0]}:{port}"
            else:
                self._sock.bind(cfg.endpoint)
                self.endpoint = cfg.endpoint
        except zmq.ZMQError as exc:
            self._sock.close(0)
            raise BindError(cfg.endpoint, exc.strerror) from None
        logger.info("publishing on %s", self.endpoint)

    def send(self, parts: list[Part]) -> None:
        """Send one multipart message without copying buffers; drops at the HWM."""
        frames: list[Any] = list(parts)  # bytes and buffer-protocol arrays
        self._sock.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)

    def close(self) -> None:
        self._sock.close()
