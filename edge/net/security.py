"""ZeroMQ CURVE: encrypted, authenticated subscribers for binds beyond loopback.

``aglu-edge keys DIR --name NAME`` writes a keypair (``NAME.key`` public,
``NAME.key_secret`` secret, mode 0600) with ``zmq.auth``. The daemon holds the
server secret and a folder of the public keys of the subscribers it trusts;
a subscriber holds its own secret and the server's public key. A subscriber
whose key is not in the folder (or who speaks no CURVE) is refused by the ZAP
handshake and receives nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from edge.errors import ConfigError


def _load(path: Path, field: str, need_secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{field} {path}", f"not a readable CURVE key file ({exc})") from None
    if need_secret and secret is None:
        raise ConfigError(f"{field} {path}", "has no secret key (use the .key_secret file)")
    return public, secret


def create_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` (0600) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for suffix in (".key", ".key_secret"):
        if (directory / f"{name}{suffix}").exists():
            raise ConfigError(str(directory / f"{name}{suffix}"), "exists; refusing to overwrite")
    public, secret = zmq.auth.create_certificates(directory, name)
    os.chmod(secret, 0o600)
    return Path(public), Path(secret)


@dataclass(frozen=True, slots=True)
class CurveServerConfig:
    secret_key_path: Path  # the daemon's NAME.key_secret
    authorized_dir: Path  # public keys (*.key) of the subscribers allowed in

    def keys(self) -> tuple[bytes, bytes]:
        """(public, secret) of the daemon; ConfigError naming the field if either the key
        file or the folder of authorised keys is unusable (what `aglu-edge check` checks)."""
        public, secret = _load(self.secret_key_path, "publish.curve_secret_key", True)
        assert secret is not None
        if not self.authorized_dir.is_dir():
            raise ConfigError(
                f"publish.curve_authorized_dir {self.authorized_dir}", "is not a folder"
            )
        return public, secret


class CurveServer:
    """Makes a socket a CURVE server and runs the ZAP authenticator of its context."""

    def __init__(self, cfg: CurveServerConfig, ctx: zmq.Context[Any]) -> None:
        self.public, self._secret = cfg.keys()
        self.authorized = sorted(p.name for p in cfg.authorized_dir.glob("*.key"))
        self._auth = ThreadAuthenticator(ctx)
        self._auth.start()
        self._auth.configure_curve(domain="*", location=cfg.authorized_dir)

    def apply(self, sock: zmq.Socket[Any]) -> None:
        sock.curve_secretkey = self._secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def stop(self) -> None:
        self._auth.stop()


@dataclass(frozen=True, slots=True)
class CurveClientConfig:
    server_public_key_path: Path  # the daemon's NAME.key
    secret_key_path: Path  # this subscriber's NAME.key_secret (its .key is authorised)

    def apply(self, sock: zmq.Socket[Any]) -> None:
        server_public, _ = _load(self.server_public_key_path, "server public key", False)
        public, secret = _load(self.secret_key_path, "client secret key", True)
        assert secret is not None
        sock.curve_serverkey = server_public
        sock.curve_publickey = public
        sock.curve_secretkey = secret
