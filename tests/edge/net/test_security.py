"""CURVE on real sockets: trusted subscribers receive, everyone else gets nothing."""

from __future__ import annotations

import contextlib
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.daemon import Daemon
from edge.errors import ConfigError
from edge.net.client import Subscriber
from edge.net.security import CurveClientConfig, create_keypair
from edge.net.wire import FrameMessage, StatusMessage
from tests.edge.helpers import local_config


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    create_keypair(tmp_path / "server", "server")
    authorized = tmp_path / "authorized"
    pub, _ = create_keypair(tmp_path / "alice", "alice")
    create_keypair(tmp_path / "mallory", "mallory")
    authorized.mkdir()
    (authorized / "alice.key").write_bytes(pub.read_bytes())
    return {
        "server_secret": tmp_path / "server" / "server.key_secret",
        "server_public": tmp_path / "server" / "server.key",
        "authorized": authorized,
        "alice": tmp_path / "alice" / "alice.key_secret",
        "mallory": tmp_path / "mallory" / "mallory.key_secret",
    }


@pytest.fixture
def daemon(keys: dict[str, Path]) -> Iterator[Daemon]:
    d = Daemon.for_config(
        local_config(
            source={"height_px": 64, "width_px": 64, "fps": 20},
            # Beyond loopback: allowed only because CURVE keys are set.
            publish={
                "endpoint": "tcp://0.0.0.0:0",
                "status_interval_s": 0.05,
                "curve_secret_key": str(keys["server_secret"]),
                "curve_authorized_dir": str(keys["authorized"]),
            },
        )
    )
    d.start()
    yield d
    d.stop()


def _local(endpoint: str) -> str:
    return endpoint.replace("0.0.0.0", "127.0.0.1")


def test_secret_key_file_is_private_and_never_overwritten(keys: dict[str, Path]) -> None:
    assert stat.S_IMODE(keys["alice"].stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        create_keypair(keys["alice"].parent, "alice")


def test_authorised_subscriber_receives(daemon: Daemon, keys: dict[str, Path]) -> None:
    curve = CurveClientConfig(keys["server_public"], keys["alice"])
    with Subscriber(_local(daemon.endpoint), curve=curve) as sub:
        assert isinstance(sub.recv(timeout_s=10), FrameMessage | StatusMessage)


@pytest.mark.parametrize("who", ["mallory", "plain"])
def test_unauthorised_subscriber_gets_nothing(
    daemon: Daemon, keys: dict[str, Path], who: str
) -> None:
    """Status goes out every 50 ms, so 1.5 s of silence means the handshake refused us,
    while an authorised subscriber connected alongside receives frames in the same window."""
    curve = CurveClientConfig(keys["server_public"], keys["mallory"]) if who == "mallory" else None
    alice = CurveClientConfig(keys["server_public"], keys["alice"])
    with Subscriber(_local(daemon.endpoint), curve=alice) as ok:
        ok.recv(timeout_s=10)  # alice is connected
        before = daemon.counters.snapshot().published
        with Subscriber(_local(daemon.endpoint), curve=curve) as sub, pytest.raises(TimeoutError):
            sub.recv(timeout_s=1.5)
        assert daemon.counters.snapshot().published > before  # frames went out meanwhile
        frames = 0
        with contextlib.suppress(TimeoutError):
            while frames == 0:
                frames += isinstance(ok.recv(timeout_s=2), FrameMessage)
        assert frames > 0  # ... and reached the authorised subscriber


def test_network_bind_without_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="without CURVE"):
        local_config(publish={"endpoint": "tcp://0.0.0.0:5555"})
    with pytest.raises(ConfigError, match="both"):
        local_config(publish={"curve_secret_key": "/x.key_secret"})


def test_public_key_in_place_of_secret_is_named(keys: dict[str, Path]) -> None:
    cfg = local_config(
        publish={
            "curve_secret_key": str(keys["server_public"]),
            "curve_authorized_dir": str(keys["authorized"]),
        }
    )
    with pytest.raises(ConfigError, match="has no secret key"):
        Daemon.for_config(cfg).start()


def _subscribe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "subscribe", "--count", "1", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_subscribe_cli_with_keys(daemon: Daemon, keys: dict[str, Path]) -> None:
    server = ["--endpoint", _local(daemon.endpoint), "--server-key", str(keys["server_public"])]
    r = _subscribe(*server, "--secret-key", str(keys["alice"]))
    assert r.returncode == 0 and "received 1 frames" in r.stdout, r.stderr
    r = _subscribe(*server)
    assert r.returncode == 2 and "needs both --server-key and --secret-key" in r.stderr
