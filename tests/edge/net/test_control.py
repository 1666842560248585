"""The control socket on a real REP socket (127.0.0.1, random port)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.errors import ConfigError
from edge.net.control import ControlConfig, ControlError, ControlServer, parse_request, request


@pytest.fixture
def server() -> Iterator[ControlServer]:
    srv = ControlServer(ControlConfig("tcp://127.0.0.1:0"), lambda cmd: {"echo": cmd})
    srv.start()
    yield srv
    srv.close()


def test_ping_and_status_are_answered(server: ControlServer) -> None:
    assert request(server.endpoint, "ping")["echo"] == "ping"
    reply = request(server.endpoint, "status")
    assert reply["format"] == "aglu-control" and reply["version"] == 1 and reply["ok"]


def test_silence_is_a_control_error() -> None:
    with pytest.raises(ControlError, match="no answer"):
        request("tcp://127.0.0.1:1", "ping", timeout_s=0.2)


def test_network_bind_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"control\.endpoint"):
        ControlServer(ControlConfig("tcp://0.0.0.0:0"), lambda cmd: {})


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ([b'{"command": "status"}', b"x"], "2 parts"),
        ([b"\xff\xfe"], "not UTF-8 JSON"),
        ([b"[1, 2]"], "unknown command"),
        ([b'{"command": "shutdown"}'], "unknown command 'shutdown'"),
        ([b" " * 5000], "over 4096"),
    ],
)
def test_malformed_requests_are_named(parts: list[bytes], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_request(parts)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(st.binary(max_size=64), min_size=1, max_size=3))
def test_random_requests_get_an_answer_and_the_socket_keeps_serving(
    server: ControlServer, parts: list[bytes]
) -> None:
    """Whatever a client sends, it gets one reply (ok or a named error), then ping works."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(server.endpoint)
        sock.send_multipart(parts)
        assert sock.poll(2000), "no reply to a malformed request"
        reply = json.loads(sock.recv())
        assert reply["ok"] or reply["error"]
    finally:
        sock.close(0)
    assert request(server.endpoint, "ping")["ok"]
