"""The true stain of replayed frames: ``aglu-edge subscribe --truth FILE``.

A recording that carries the true nuclear channel beside the label-free one (the
demo's sample does) lets a subscriber score every prediction it receives. A frame is
matched to its true plane by its coordinates (the ``axes`` the replay source puts
in the header) other than the channel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.io.readers import Coords, PlaneReader, open_reader
from edge.net.wire import FrameMessage
from edge.stats import pearson_r

CHANNEL_AXES = frozenset({"C", "c", "channel"})


def _key(coords: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in coords.items() if k not in CHANNEL_AXES))


class Truth:
    """Planes of one channel of a recording, looked up by a frame's coordinates."""

    def __init__(self, path: Path, channel: str | None) -> None:
        self.path = path
        self._reader: PlaneReader = open_reader(path, channel)  # a ConfigError if bad
        self._planes: dict[tuple[tuple[str, str], ...], Coords] = {
            _key(c): c for c in self._reader.planes
        }

    def plane_for(self, msg: FrameMessage) -> np.ndarray[Any, Any] | None:
        axes = msg.header.get("axes")
        coords = self._planes.get(_key(axes)) if isinstance(axes, dict) else None
        return None if coords is None else self._reader.read(coords)

    def score(self, msg: FrameMessage, output: str = "dapi") -> tuple[float | None, str]:
        """(Pearson r of the prediction against the true plane, "r vs truth 0.512"), or
        (None, why there is no figure)."""
        truth = self.plane_for(msg)
        pred = msg.arrays.get(output)
        if truth is None:
            return None, "r vs truth: no plane at these coordinates"
        if pred is None or pred.shape != truth.shape:
            return None, f"r vs truth: shapes differ ({None if pred is None else pred.shape})"
        r = pearson_r(pred, truth)
        if not np.isfinite(r):
            return None, "r vs truth: constant image"
        return r, f"r vs truth {r:.3f}"

    def close(self) -> None:
        self._reader.close()
