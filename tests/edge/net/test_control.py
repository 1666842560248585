"""The control socket on a real REP socket (127.0.0.1, random port)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.errors import ConfigError
from edge.net.control import ControlConfig, ControlError, ControlServer, parse_request, request


@pytest.fixture
def server() -> Iterator[ControlServer]:
    srv = ControlServer(ControlConfig("tcp://127.0.0.1:0"), lambda cmd, args: {"echo": cmd})
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
        ControlServer(ControlConfig("tcp://0.0.0.0:0"), lambda cmd, args: {})


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ([b'{"command": "status"}', b"x"], "2 parts"),
        ([b"\xff\xfe"], "not UTF-8 JSON"),
        ([b"[1, 2]"], "unknown command"),
        ([b'{"command": "shutdown"}'], "unknown command 'shutdown'"),
        ([b" " * 5000], "over 4096"),
        ([b'{"command": "load"}'], "load needs"),
        ([b'{"command": "load", "model": "x", "precision": "int4"}'], "int8 or fp32"),
    ],
)
def test_malformed_requests_are_named(parts: list[bytes], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_request(parts)


def hostile_payloads() -> st.SearchStrategy[bytes]:
    """Short junk, deep nesting, huge numbers and sizes either side of the 4096-byte cap
    (below libzmq's MAXMSGSIZE: a bigger frame drops the connection, tested apart)."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=30,
    )
    return st.one_of(
        st.binary(max_size=64),
        st.builds(
            lambda c, n: c * n,
            st.sampled_from([b"[", b"{", b'{"a":', b"-", b"9"]),
            st.integers(1, 3_000),
        ),
        json_values.map(lambda v: json.dumps({"command": v}).encode()),
        st.sampled_from([b"1e999", b"-1e999", b"NaN", b'{"command": 1e400}', b"9" * 4000]),
    )


def _raw_request(endpoint: str, parts: list[bytes], wait_ms: int = 2000) -> Any:
    """Send raw parts on a fresh REQ socket; the JSON reply, or None on silence."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart(parts)
        return json.loads(sock.recv()) if sock.poll(wait_ms) else None
    finally:
        sock.close(0)


def test_a_deeply_nested_request_is_refused_and_the_socket_keeps_serving(
    server: ControlServer,
) -> None:
    """Issue 14, bug 1: ``b"[" * 4000`` raised RecursionError and killed the control thread."""
    reply = _raw_request(server.endpoint, [b"[" * 4000])
    assert reply is not None and not reply["ok"] and "nested too deeply" in reply["error"]
    assert request(server.endpoint, "ping")["ok"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(hostile_payloads(), min_size=1, max_size=3))
def test_random_requests_get_an_answer_and_the_socket_keeps_serving(
    server: ControlServer, parts: list[bytes]
) -> None:
    """Whatever a client sends, it gets one reply (ok or a named error), then ping works."""
    reply = _raw_request(server.endpoint, parts)
    assert reply is not None, "no reply to a malformed request"
    assert reply["ok"] or reply["error"]
    assert request(server.endpoint, "ping")["ok"]


def test_a_message_over_the_transport_limit_leaves_the_socket_serving(
    server: ControlServer,
) -> None:
    """libzmq drops the sender of a frame over MAXMSGSIZE; others are still answered."""
    assert _raw_request(server.endpoint, [b"[" * 100_000], wait_ms=300) is None  # silence
    assert request(server.endpoint, "ping")["ok"]


def test_two_thousand_malformed_requests_write_a_few_log_lines(
    server: ControlServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 25: each malformed request wrote a log line (2000 lines); all are answered."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    try:
        for _ in range(2000):
            sock.send_multipart([b"not json"])
            assert sock.poll(2000) and not json.loads(sock.recv())["ok"]
    finally:
        sock.close(0)
    lines = [r for r in caplog.records if r.name == "edge.net.control"]
    assert 1 <= len(lines) <= 5
    assert request(server.endpoint, "ping")["ok"]


@pytest.mark.parametrize("mode", [0o600, 0o660])
def test_an_ipc_control_socket_is_created_with_its_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "control.sock"
    srv = ControlServer(ControlConfig(f"ipc://{path}", mode), lambda cmd, args: {"echo": cmd})
    srv.start()
    try:
        assert stat.S_IMODE(path.stat().st_mode) == mode
        assert request(srv.endpoint, "ping")["ok"]
    finally:
        srv.close()


def test_another_user_cannot_reach_an_owner_only_ipc_socket(tmp_path: Path) -> None:
    """Issue 25: anyone on the PC could talk to the control socket (and push ingest
    frames). Over ipc:// with mode 0o600 the kernel refuses other users, whatever the
    umask: a process running as `nobody` gets no answer, this user gets one."""
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    os.chmod(tmp_path, 0o755)  # the folder is traversable: only the socket's mode guards it
    path = tmp_path / "control.sock"
    umask = os.umask(0)  # the service's umask must not matter (0: files 0o777 by default)
    try:
        srv = ControlServer(ControlConfig(f"ipc://{path}", 0o600), lambda cmd, args: {"echo": cmd})
    finally:
        os.umask(umask)
    srv.start()
    probe = (
        "import os, sys, zmq\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = zmq.Context().socket(zmq.REQ); s.setsockopt(zmq.LINGER, 0)\n"
        f"s.connect('ipc://{path}')\n"
        's.send_multipart([b\'{"format": "aglu-control", "version": 1, "command": "ping"}\'])\n'
        "sys.exit(0 if s.poll(1500) else 3)\n"
    )
    try:
        other = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30)
        assert other.returncode == 3, other.stderr
        assert request(srv.endpoint, "ping")["ok"]
    finally:
        srv.close()
