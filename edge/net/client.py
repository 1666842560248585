"""Subscriber client library: connect, receive, decode AGLU messages.

with Subscriber("tcp://127.0.0.1:5555") as sub:
    msg = sub.recv(timeout_s=5)   # FrameMessage | StatusMessage
"""

from __future__ import annotations

import zmq

from edge.net.closing import Closing
from edge.net.security import CurveClientConfig
from edge.net.wire import TOPIC_FRAME, TOPIC_STATUS, FrameMessage, StatusMessage, decode


class Subscriber(Closing):
    def __init__(
        self,
        endpoint: str,
        topics: tuple[bytes, ...] = (TOPIC_FRAME, TOPIC_STATUS),
        recv_hwm: int = 16,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        curve: CurveClientConfig | None = None,
    ) -> None:
        """``curve``: this subscriber's keys, for a daemon that binds with CURVE."""
        self.endpoint = endpoint
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.SUB)
        if curve is not None:
            try:
                curve.apply(self._sock)
            except BaseException:
                self._sock.close(0)
                raise
        self._sock.setsockopt(zmq.RCVHWM, recv_hwm)
        self._sock.setsockopt(zmq.LINGER, 0)
        for topic in topics:
            self._sock.setsockopt(zmq.SUBSCRIBE, topic)
        self._sock.connect(endpoint)

    def recv(self, timeout_s: float) -> FrameMessage | StatusMessage:
        """The next message; TimeoutError if none in ``timeout_s``, WireError if malformed."""
        if not self._sock.poll(int(timeout_s * 1000)):
            raise TimeoutError(f"no message from {self.endpoint} within {timeout_s} s")
        return decode(self._sock.recv_multipart())

    def pending(self) -> bool:
        """True if a message is waiting (recv would not block)."""
        return bool(self._sock.poll(0))

    def close(self) -> None:
        self._sock.close(0)
