"""Frame sources: where the daemon's frames come from.

Every source satisfies ``FrameSource``; the daemon knows no other. ``build_source``
makes the one that ``[source] kind`` names, importing only that source's module:

- ``simulated``: a simulated QPI microscope (``edge.sources.simulated``)
- ``replay``: a recording, TIFF/OME-Zarr/NDTiff (``edge.sources.replay``)
- ``watch``: new files in a folder (``edge.sources.watch``)
- ``ingest``: frames pushed by acquisition processes (``edge.sources.ingest``)
- ``mm-sidecar``: a running Micro-Manager, read beside it (``edge.sources.mm``)

``edge.sources.zstack`` stacks planes of any source for multi-plane models.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from edge.errors import ConfigError
from edge.frames import Frame

if TYPE_CHECKING:
    from edge.config import SourceSection


@runtime_checkable
class FrameSource(Protocol):
    """Yields frames until exhausted or ``stop`` is set. Must never block acquisition.

    A source that waits for frames it does not pace itself (a folder, a microscope)
    yields ``None`` now and then while idle: proof of life for the systemd watchdog.

    Optional members, read where present: ``frame_shape_px`` (Y, X) of its frames,
    ``stack_planes`` (focal planes per stack it delivers: 1 for single planes without
    a z index; absent where only the frames will tell, e.g. ingest), ``stats()`` and
    ``close()``.
    """

    name: str

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]: ...


def paced(fps: float, stop: threading.Event, count: int = 0) -> Iterator[int]:
    """Yield 0, 1, 2, ... at ``fps`` until ``stop`` is set (or ``count`` reached; 0: never).

    A late consumer does not cause a burst: the schedule never falls more than
    one period behind real time.
    """
    period_s = 1.0 / fps
    next_t = time.perf_counter()
    index = 0
    while not stop.is_set() and (count == 0 or index < count):
        delay = next_t - time.perf_counter()
        if delay > 0 and stop.wait(delay):
            return
        next_t = max(next_t + period_s, time.perf_counter() - period_s)
        yield index
        index += 1


# kind -> the module whose ``from_config(SourceSection)`` makes that source
SOURCE_MODULES = {
    "simulated": "edge.sources.simulated",
    "replay": "edge.sources.replay",
    "watch": "edge.sources.watch",
    "ingest": "edge.sources.ingest",
    "mm-sidecar": "edge.sources.mm.sidecar",
}


def build_source(cfg: SourceSection) -> FrameSource:
    """The source ``cfg.kind`` names; only its module is imported."""
    module = SOURCE_MODULES.get(cfg.kind)
    if module is None:
        raise ConfigError("source.kind", f"unknown kind {cfg.kind!r}")
    source: FrameSource = importlib.import_module(module).from_config(cfg)
    return source
