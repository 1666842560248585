"""ZeroMQ PUB adapter: binds, sends wire messages zero-copy, never blocks.

A PUB socket drops messages for a subscriber whose queue reached ``send_hwm``,
so a slow or dead subscriber can never stall the daemon. Loopback and ipc
binds are open to local processes; any other bind must use CURVE
(``edge.net.security``), so frames never leave the PC unencrypted or to strangers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import zmq

from edge.errors import ConfigError
from edge.net.endpoints import bind_socket, check_endpoint, is_local_endpoint
from edge.net.security import CurveServer, CurveServerConfig
from edge.net.wire import Part

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    endpoint: str = "tcp://127.0.0.1:5555"  # port 0: a random free port
    send_hwm: int = 16
    linger_ms: int = 500
    curve: CurveServerConfig | None = None


def check_publish_endpoint(endpoint: str, curve: bool) -> None:
    """A well-formed endpoint; beyond loopback only with CURVE keys."""
    check_endpoint(endpoint, "publish.endpoint")
    if not curve and not is_local_endpoint(endpoint):
        raise ConfigError(
            "publish.endpoint",
            f"binding {endpoint!r} would expose frames to the network without CURVE; set "
            "publish.curve_secret_key and publish.curve_authorized_dir (aglu-edge keys) "
            "or bind 127.0.0.1",
        )


class ZmqPublisher:
    def __init__(self, cfg: PublisherConfig) -> None:
        check_publish_endpoint(cfg.endpoint, cfg.curve is not None)
        # CURVE gets its own context: its ZAP authenticator is per context.
        self._own_ctx = cfg.curve is not None
        self._ctx: zmq.Context[Any] = zmq.Context() if self._own_ctx else zmq.Context.instance()
        self._curve: CurveServer | None = None
        try:
            if cfg.curve is not None:
                self._curve = CurveServer(cfg.curve, self._ctx)
            self._sock = self._ctx.socket(zmq.PUB)
            self._sock.setsockopt(zmq.SNDHWM, cfg.send_hwm)
            self._sock.setsockopt(zmq.LINGER, cfg.linger_ms)
            if self._curve is not None:
                self._curve.apply(self._sock)
            self.endpoint = bind_socket(self._sock, cfg.endpoint)
        except BaseException:
            self._close_context()
            raise
        if self._curve is not None:
            logger.info(
                "publishing on %s with CURVE; %d authorised subscriber key(s)",
                self.endpoint,
                len(self._curve.authorized),
            )
        else:
            logger.info("publishing on %s", self.endpoint)

    def send(self, parts: list[Part]) -> None:
        """Send one multipart message without copying buffers; drops at the HWM."""
        frames: list[Any] = list(parts)  # bytes and buffer-protocol arrays
        self._sock.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)

    def _close_context(self) -> None:
        if self._curve is not None:
            self._curve.stop()
        if self._own_ctx:
            self._ctx.destroy(linger=0)

    def close(self) -> None:
        self._sock.close()
        self._close_context()
