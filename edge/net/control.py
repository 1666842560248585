"""The control socket: a REP socket on loopback/ipc answering ``ping``, ``status`` and
``load``.

Request: one frame of UTF-8 JSON ``{"command": "ping" | "status"}``, or
``{"command": "load", "model": NAME_OR_PATH, "precision": "int8" | "fp32"}`` (swap the
serving model, as SIGHUP does; refused unless ``[control] allow_load``).
Reply: one frame of UTF-8 JSON ``{"format": "aglu-control", "version": 1, "ok": ...}``;
a malformed request gets ``ok: false`` and an ``error`` naming what was wrong,
and the socket keeps serving. Only loopback TCP or ipc binds are accepted: the
control socket is for the acquisition PC itself, never the network.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq

from edge.errors import AgluError, ConfigError
from edge.net.endpoints import IPC_MODE, bind_socket, is_local_endpoint
from edge.stats import RateLimitedLog

logger = logging.getLogger(__name__)

FORMAT = "aglu-control"
VERSION = 1
COMMANDS = ("ping", "status", "load")
MAX_REQUEST_BYTES = 4096

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]  # (command, its arguments)


@dataclass(frozen=True, slots=True)
class ControlConfig:
    endpoint: str = "tcp://127.0.0.1:5556"  # "": no control socket; port 0: random
    ipc_mode: int = IPC_MODE  # ipc:// endpoints: who may connect (file mode)


def _reply(ok: bool, **fields: Any) -> bytes:
    return json.dumps({"format": FORMAT, "version": VERSION, "ok": ok, **fields}).encode()


def parse_request(parts: list[bytes]) -> tuple[str, dict[str, Any]]:
    """The command of one request and its arguments; ValueError naming what is wrong."""
    if len(parts) != 1:
        raise ValueError(f"request has {len(parts)} parts, expected 1")
    if len(parts[0]) > MAX_REQUEST_BYTES:
        raise ValueError(f"request is {len(parts[0])} bytes, over {MAX_REQUEST_BYTES}")
    try:
        req = json.loads(parts[0])
    except RecursionError:
        raise ValueError("request is nested too deeply") from None
    except (UnicodeDecodeError, ValueError):
        raise ValueError("request is not UTF-8 JSON") from None
    command = req.get("command") if isinstance(req, dict) else None
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; expected one of {', '.join(COMMANDS)}")
    assert isinstance(req, dict)
    args = {k: v for k, v in req.items() if k != "command"}
    if command == "load":
        if not isinstance(args.get("model"), str) or not args["model"]:
            raise ValueError('load needs "model": a shipped model\'s name or a file path')
        if args.get("precision", "int8") not in ("int8", "fp32"):
            raise ValueError(f"precision {args.get('precision')!r}: int8 or fp32")
    return str(command), args


class ControlServer:
    """Serves requests on its own thread (a ZeroMQ socket never crosses threads)."""

    def __init__(self, cfg: ControlConfig, handler: Handler) -> None:
        if not is_local_endpoint(cfg.endpoint):
            raise ConfigError(
                "control.endpoint", f"{cfg.endpoint!r}: only 127.0.0.1 or ipc:// is allowed"
            )
        self._handler = handler
        self._sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES * 4)
        self.endpoint = bind_socket(self._sock, cfg.endpoint, cfg.ipc_mode)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="aglu-control", daemon=True)
        self._malformed_log = RateLimitedLog(logger)  # 2000 bad requests: a few lines

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                if self._sock.poll(100):
                    self._sock.send(self._answer(self._sock.recv_multipart()))
        finally:
            self._sock.close(0)

    def _answer(self, parts: list[bytes]) -> bytes:
        """Always a reply: a REP socket that skips one never answers again."""
        try:
            command, args = parse_request(parts)
        except ValueError as exc:
            self._malformed_log.log("control: malformed request: %s", exc)
            return _reply(False, error=str(exc))
        except Exception as exc:  # a parser bug must not end the control thread
            self._malformed_log.log("control: request could not be parsed: %r", exc)
            return _reply(False, error=f"unreadable request ({type(exc).__name__})")
        try:
            return _reply(True, command=command, **self._handler(command, args))
        except AgluError as exc:  # a refusal the handler names (e.g. a load that failed)
            return _reply(False, command=command, error=str(exc))
        except Exception as exc:  # the control socket outlives any handler bug
            logger.exception("control: %s failed", command)
            return _reply(False, command=command, error=f"{type(exc).__name__}: {exc}")

    def close(self, timeout_s: float = 1.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        else:
            self._sock.close(0)


class ControlError(AgluError):
    """The control socket did not answer, or answered ok: false."""


def request(endpoint: str, command: str, timeout_s: float = 2.0, **args: Any) -> dict[str, Any]:
    """Send one command (with ``args``) and return the reply; ControlError on silence or
    refusal."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send(json.dumps({"command": command, **args}).encode())
        if not sock.poll(int(timeout_s * 1000)):
            raise ControlError(f"no answer from {endpoint} within {timeout_s} s")
        reply: dict[str, Any] = json.loads(sock.recv())
    finally:
        sock.close(0)
    if not reply.get("ok"):
        raise ControlError(f"{endpoint}: {reply.get('error', 'refused')}")
    return reply
