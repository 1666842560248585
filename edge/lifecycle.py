"""The daemon's lifecycle vocabulary: its states, what became of a frame, its running state."""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field

from edge.errors import AgluError
from edge.net.control import ControlServer
from edge.net.publisher import ZmqPublisher


class State(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    RELOADING = "reloading"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class TooManyErrors(AgluError):
    """The model failed on ``run.max_consecutive_errors`` valid frames in a row."""


class Outcome(enum.Enum):
    """What became of one frame."""

    PUBLISHED = "published"
    REJECTED = "rejected"  # bad input: counted, never stops the daemon
    FAILED = "failed"  # the model failed on a valid frame
    DROPPED = "dropped"  # aborted by stop


@dataclass(eq=False)
class Running:
    """What ``start`` brought up (``None`` before it): the daemon's running state."""

    publisher: ZmqPublisher
    control: ControlServer | None
    shape_px: tuple[int, int]  # the frame size the model warmed up on
    threads: list[threading.Thread] = field(default_factory=list)
    source_alive_s: float = field(default_factory=time.monotonic)
    stall_logged: bool = False
