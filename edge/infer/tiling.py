"""Tiling for frames larger than the configured tile (pure numpy).

The frame is cut into a grid of core tiles of ``tile_px``; each runs with
``halo_px`` of real neighbouring context (the model card's receptive-field
halo) and only its core is kept. Tile origins and halo are multiples of the
model stride, so every tile sees the same downsampling phase as the whole
frame: with halo >= receptive field, the stitched result equals whole-frame
inference up to float rounding, and no seam blending is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.infer.preprocess import crop, pad_to_multiple

F32 = npt.NDArray[np.float32]
Run = Callable[[F32], dict[str, F32]]  # normalised, stride-multiple (H, W) -> outputs (H, W)


@dataclass(frozen=True, slots=True)
class Tile:
    core: tuple[slice, slice]  # where the result goes in the frame
    window: tuple[slice, slice]  # what the model sees
    inner: tuple[slice, slice]  # the core inside the window's result


def plan(shape: tuple[int, int], tile_px: int, halo_px: int, stride_px: int) -> Iterator[Tile]:
    if tile_px % stride_px or halo_px % stride_px:
        raise ValueError(f"tile {tile_px} and halo {halo_px} px must be multiples of {stride_px}")
    h, w = shape
    for y in range(0, h, tile_px):
        for x in range(0, w, tile_px):
            y1, x1 = min(y + tile_px, h), min(x + tile_px, w)
            wy, wx = max(0, y - halo_px), max(0, x - halo_px)
            wy1, wx1 = min(h, y1 + halo_px), min(w, x1 + halo_px)
            yield Tile(
                (slice(y, y1), slice(x, x1)),
                (slice(wy, wy1), slice(wx, wx1)),
                (slice(y - wy, y1 - wy), slice(x - wx, x1 - wx)),
            )


def run_tiled(image: F32, run: Run, tile_px: int, halo_px: int, stride_px: int) -> dict[str, F32]:
    """Run ``run`` tile by tile over a normalised (planes, H, W) stack; outputs are (H, W)."""
    out: dict[str, F32] = {}
    h, w = image.shape[-2:]
    for tile in plan((h, w), tile_px, halo_px, stride_px):
        window, size = pad_to_multiple(image[(..., *tile.window)], stride_px)
        for name, result in run(window).items():
            if name not in out:
                out[name] = np.empty((h, w), np.float32)
            out[name][tile.core] = crop(result, size)[tile.inner]
    return out
