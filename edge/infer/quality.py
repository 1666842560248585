"""Per-frame quality: calibrated uncertainty, and whether the input looks like training data.

Pure numpy. The model card carries what this needs, measured by ``aglu-ship`` on the
model's own data (``edge.infer.card``):
- ``calibration.sigma_scale``: the factor that makes the model's Laplace ``sigma``
  honest on validation pixels (its 90% interval ``|error| <= ln(10) * sigma`` then
  covers 90% of them); ``calibration.sigma_high``: the 99th percentile of calibrated
  sigma on validation pixels. A frame's ``sigma_high_fraction`` is the fraction of its
  pixels above it (about 1% on data like the validation data).
- ``input_stats``: where a few statistics of the training inputs lie. A frame's
  statistics are averaged over 2 x 2 tiles of 256 px spread over it, each normalised
  as the model normalises it: a 10-bin intensity histogram, the share of local
  contrast in five spatial bands (1, 2, 4, 8, 16 px: magnification and texture), the
  fractions of pixels at the tile's minimum and maximum (blank or saturated), and, for
  stacks, how much the planes differ (focus). Each statistic's robust z-score (median,
  MAD) is divided by its bound (its training 99.5th percentile x 1.25, at least 4);
  the distance is the largest of these, and the frame is in distribution when it is
  at most 1. ``unusual`` names the statistic that sets it.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.infer.card import ModelCard
from edge.infer.preprocess import Normalization, normalize
from edge.net.headers import QualityBlock

HIST_BINS = 10
BANDS_PX = (1, 2, 4, 8, 16)
TILE_PX = 256
GRID = 2  # 2 x 2 tiles per frame
MAX_DISTANCE = 1.0  # input_distance up to this: in distribution
# The widest band statistic averages 33 px boxes: a frame with a shorter side (a 1 x N
# strip) cannot be compared with training frames and is never "in distribution".
MIN_SIDE_PX = 2 * BANDS_PX[-1] + 1
TOO_SMALL = "frame_side_under_33px"


def feature_names(planes: int) -> tuple[str, ...]:
    names = [f"hist_{i}" for i in range(HIST_BINS)]
    names += [f"band_{b}px" for b in BANDS_PX]
    names += ["at_min", "at_max"]
    if planes > 1:
        names.append("plane_spread")
    return tuple(names)


def _boxes(x: npt.NDArray[np.float32], radii: tuple[int, ...]) -> list[npt.NDArray[np.float64]]:
    """Means over (2r+1)^2 boxes for each radius, edges replicated: one integral image."""
    pad = max(radii) + 1
    c = np.zeros((x.shape[0] + 2 * pad + 1, x.shape[1] + 2 * pad + 1))
    c[1:, 1:] = np.pad(x, pad, mode="edge")
    c.cumsum(axis=0, out=c)
    c.cumsum(axis=1, out=c)
    h, w = x.shape
    out = []
    for r in radii:
        lo, hi = pad - r, pad + r + 1
        s = c[hi : hi + h, hi : hi + w] - c[lo : lo + h, hi : hi + w]
        s -= c[hi : hi + h, lo : lo + w] - c[lo : lo + h, lo : lo + w]
        out.append(s / (2 * r + 1) ** 2)
    return out


def tile_features(tile: npt.NDArray[Any], norm: Normalization) -> npt.NDArray[np.float64]:
    """The statistics of one raw tile (Y, X) or (Z, Y, X), as ``feature_names``."""
    x = normalize(tile, norm)
    plane = x if x.ndim == 2 else x[x.shape[0] // 2]
    raw = tile if tile.ndim == 2 else tile[tile.shape[0] // 2]
    bins = np.clip((plane * HIST_BINS).astype(np.int64), 0, HIST_BINS - 1)
    feats = list(np.bincount(bins.ravel(), minlength=HIST_BINS) / plane.size)
    levels = [plane.astype(np.float64), *_boxes(plane, BANDS_PX)]
    energy = np.array([np.mean((a - b) ** 2) for a, b in itertools.pairwise(levels)])
    share = energy / energy.sum() if energy.sum() > 0 else np.zeros(len(BANDS_PX))
    feats += list(np.log10(share + 1e-4))
    feats += [float(np.mean(raw == raw.min())), float(np.mean(raw == raw.max()))]
    if x.ndim == 3:
        within = float(np.std(plane)) or 1.0
        feats.append(float(np.mean(np.std(x, axis=0))) / within)
    return np.asarray(feats, dtype=np.float64)


def tile_origins(shape: tuple[int, ...], tile_px: int, grid: int) -> list[tuple[int, int]]:
    """Top-left corners of up to ``grid`` x ``grid`` tiles spread evenly over (Y, X)."""
    h, w = shape[-2:]
    ys = np.unique(np.linspace(0, max(0, h - tile_px), grid).astype(int))
    xs = np.unique(np.linspace(0, max(0, w - tile_px), grid).astype(int))
    return [(int(y), int(x)) for y in ys for x in xs]


def input_features(
    image: npt.NDArray[Any], norm: Normalization, tile_px: int = TILE_PX, grid: int = GRID
) -> npt.NDArray[np.float64]:
    """A frame's statistics: the mean of ``tile_features`` over a ``grid`` x ``grid`` of
    tiles spread over the frame (the whole frame seen, at a fixed cost)."""
    tiles = [
        tile_features(image[..., y : y + tile_px, x : x + tile_px], norm)
        for y, x in tile_origins(image.shape, tile_px, grid)
    ]
    return np.asarray(np.mean(tiles, axis=0), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class InputModel:
    """Where the training inputs' statistics lie (``input_stats`` of the card): a robust
    centre and scale per statistic, and a bound on each statistic's |z|. The distance is
    the largest |z| / bound: up to ``MAX_DISTANCE`` is in distribution."""

    names: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    bound: tuple[float, ...]
    tile_px: int = TILE_PX
    grid: int = GRID

    def ratios(self, feats: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if feats.shape != (len(self.center),):
            raise ValueError(f"{feats.shape[0]} statistics for a model of {len(self.center)}")
        z = np.abs(feats - np.asarray(self.center)) / np.asarray(self.scale)
        return np.asarray(z / np.asarray(self.bound), dtype=np.float64)

    def distance(self, feats: npt.NDArray[np.float64]) -> tuple[float, str]:
        """(largest |z| / bound, the statistic that has it)."""
        r = self.ratios(feats)
        i = int(np.argmax(r))
        return float(r[i]), self.names[i]


# Smallest robust scale per statistic: fractions that barely vary in training
# (e.g. saturated pixels) must not make a tiny change look enormous; smallest bound,
# in robust z units, for the same reason.
SCALE_FLOOR = 0.025
BOUND_FLOOR_Z = 4.0


def fit_input_model(
    names: tuple[str, ...],
    feats: npt.NDArray[np.float64],
    margin: float = 1.25,
    percentile: float = 99.5,
    tile_px: int = TILE_PX,
    grid: int = GRID,
) -> InputModel:
    """From training frames' statistics ``feats`` (n, d): median, MAD scale, and per
    statistic ``margin`` x the ``percentile`` of the training |z| as its bound."""
    center = np.median(feats, axis=0)
    scale = np.maximum(np.median(np.abs(feats - center), axis=0) * 1.4826, SCALE_FLOOR)
    z = np.abs(feats - center) / scale
    bound = np.maximum(np.percentile(z, percentile, axis=0) * margin, BOUND_FLOOR_Z)
    return InputModel(names, _floats(center), _floats(scale), _floats(bound), tile_px, grid)


def _floats(a: npt.NDArray[np.float64]) -> tuple[float, ...]:
    return tuple(float(v) for v in a)


@dataclass(frozen=True, slots=True)
class Quality:
    """The ``quality`` block of one published frame."""

    sigma_mean: float
    sigma_high_fraction: float
    input_distance: float
    unusual: str  # the statistic farthest from training
    in_distribution: bool

    def header(self) -> QualityBlock:
        return {
            "sigma_mean": round(self.sigma_mean, 6),
            "sigma_high_fraction": round(self.sigma_high_fraction, 6),
            "input_distance": round(self.input_distance, 4),
            "unusual": self.unusual,
            "in_distribution": self.in_distribution,
        }


_HELPER: list[ThreadPoolExecutor] = []
_HELPER_LOCK = threading.Lock()


def _helper() -> ThreadPoolExecutor:
    """One helper thread for the whole process, made on first use."""
    with _HELPER_LOCK:
        if not _HELPER:
            _HELPER.append(ThreadPoolExecutor(1, thread_name_prefix="aglu-quality"))
        return _HELPER[0]


@dataclass(frozen=True, slots=True)
class QualityMeter:
    """Computes ``Quality`` for a model's frames (one per loaded model)."""

    norm: Normalization
    sigma_scale: float
    sigma_high: float
    inputs: InputModel
    sample_stride: int = 4  # sigma statistics on every 4th row and column

    def measure(self, image: npt.NDArray[Any], outputs: dict[str, npt.NDArray[Any]]) -> Quality:
        """The quality of one frame from its raw input and the model's outputs."""
        return self._finish(self.features(image), outputs)

    def features(self, image: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        return input_features(image, self.norm, self.inputs.tile_px, self.inputs.grid)

    def begin(self, image: npt.NDArray[Any]) -> Callable[[dict[str, npt.NDArray[Any]]], Quality]:
        """Start the input statistics on a helper thread, so they overlap the inference
        (onnxruntime and numpy release the GIL); call the result with the outputs."""
        future = _helper().submit(self.features, image)
        return lambda outputs: self._finish(future.result(), outputs)

    def _finish(
        self, feats: npt.NDArray[np.float64], outputs: dict[str, npt.NDArray[Any]]
    ) -> Quality:
        step = self.sample_stride
        sigma = outputs["sigma"]
        s = sigma[::step, ::step] * np.float32(self.sigma_scale)
        distance, unusual = self.inputs.distance(feats)
        judged = min(sigma.shape[-2:]) >= MIN_SIDE_PX
        return Quality(
            float(np.mean(s)),
            float(np.mean(s > self.sigma_high)),
            distance,
            unusual if judged else TOO_SMALL,
            judged and distance <= MAX_DISTANCE,
        )


def laplace_coverage(
    error: npt.NDArray[np.float32], sigma: npt.NDArray[np.float32], level: float
) -> float:
    """Fraction of pixels inside the central ``level`` Laplace interval
    ``|error| <= -ln(1 - level) * sigma``."""
    return float(np.mean(np.abs(error) <= -math.log(1.0 - level) * sigma))


def fit_sigma_scale(
    error: npt.NDArray[np.float32], sigma: npt.NDArray[np.float32], level: float = 0.9
) -> float:
    """The factor k such that ``k * sigma``'s central ``level`` Laplace interval covers that
    share of pixels (quantile recalibration at one level)."""
    ratio = np.abs(error) / np.maximum(sigma, 1e-12)
    return float(np.percentile(ratio, level * 100) / -math.log(1.0 - level))


def meter_for(card: ModelCard) -> QualityMeter | None:
    """The quality meter a card describes; None for a card without calibration (before
    version 3). ValueError when its statistics are not the ones this edge computes."""
    cal, stats = card.calibration, card.input_stats
    if cal is None or stats is None:
        return None
    expected = feature_names(card.input_planes)
    if tuple(stats.features) != expected:
        raise ValueError(
            f"input_stats describe statistics {list(stats.features)}; this edge computes "
            f"{list(expected)}"
        )
    inputs = InputModel(
        tuple(stats.features), stats.center, stats.scale, stats.bound, stats.tile_px, stats.grid
    )
    return QualityMeter(
        card.normalization.to_normalization(), cal.sigma_scale, cal.sigma_high, inputs
    )
