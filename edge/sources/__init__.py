"""Frame sources: where the daemon's frames come from.

Every source is a ``FrameSource``; the daemon knows no other. Each kind of source
lives in one module that owns its config section (``Section``: its ``kind`` and its
fields, and ``build()``, which makes the source). ``SOURCE_MODULES`` is the registry:
adding a kind is one module and one line there. ``[source]`` in the daemon's TOML is
validated as the section of the ``kind`` it names (``edge.config``).

- ``simulated``: a simulated QPI microscope (``edge.sources.simulated``)
- ``replay``: a recording, TIFF/OME-Zarr/NDTiff (``edge.sources.replay``)
- ``watch``: new files in a folder (``edge.sources.watch``)
- ``ingest``: frames pushed by acquisition processes (``edge.sources.ingest``)
- ``mm-sidecar``: a running Micro-Manager, read beside it (``edge.sources.mm.sidecar``)

``edge.sources.zstack`` stacks planes of any source for multi-plane models.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator

from pydantic import Field

from edge.errors import ConfigError
from edge.frames import Frame
from edge.settings import Section


class FrameSource:
    """Yields frames until exhausted or ``stop`` is set. Must never block acquisition.

    A source that waits for frames it does not pace itself (a folder, a microscope)
    yields ``None`` now and then while idle: proof of life for the systemd watchdog.

    Every member a caller may use is declared here with its default (as pymmcore-plus
    writes down its optional engine methods); a source overrides what it knows.
    """

    name: str = "source"
    frame_shape_px: tuple[int, int] | None = None  # (Y, X) of its frames, known up front
    # Focal planes per stack it delivers: 1 for single planes without a z index; None
    # where only the frames will tell (ingest, a microscope).
    stack_planes: int | None = None

    def frames(self, stop: threading.Event) -> Iterator[Frame | None]:
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        """The source's own counts for the status document (e.g. rejected messages)."""
        return {}

    def close(self) -> None:
        """Release what it holds (sockets, files); safe to call twice."""


class SourceSection(Section):
    """The fields every kind of source has; each source module subclasses it with its
    ``kind: Literal[...]`` and own fields, and implements ``build``."""

    kind: str
    # Simulated: its frame size. Every source: the warm-up frame size, unless the source
    # knows its frames' size (replay).
    height_px: int = Field(512, ge=8, le=16384)
    width_px: int = Field(512, ge=8, le=16384)

    def build(self) -> FrameSource:
        raise NotImplementedError


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


# kind -> the module that owns that kind: its ``Section`` (a ``SourceSection``) builds it.
SOURCE_MODULES = {
    "simulated": "edge.sources.simulated",
    "replay": "edge.sources.replay",
    "watch": "edge.sources.watch",
    "ingest": "edge.sources.ingest",
    "mm-sidecar": "edge.sources.mm.sidecar",
}


def section_types() -> tuple[type[SourceSection], ...]:
    """Every kind's section class, in registry order (imports each source module)."""
    out = []
    for kind, module in SOURCE_MODULES.items():
        section: type[SourceSection] = importlib.import_module(module).Section
        if section.model_fields["kind"].default != kind:
            raise ConfigError("source.kind", f"{module}.Section is not the section of {kind!r}")
        out.append(section)
    return tuple(out)


def build_source(section: SourceSection) -> FrameSource:
    """The source a validated ``[source]`` section describes."""
    return section.build()
