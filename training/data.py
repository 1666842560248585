"""Raw pairs -> normalised fields with nucleus masks -> augmented random crops.

Normalisation is ``edge.preprocess.normalize``: the very function the edge runs.
Nucleus masks (for the recall weighting) come from simulator ground truth when
it exists, else from the target by Otsu's threshold on the smoothed target.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.preprocess import Normalization, normalize
from edge.simulate import gaussian_blur
from training.config import AugmentSection, TrainConfig
from training.datasets import ImagePair, load_pairs
from training.datasets.load import load_file_pair, simulated_pairs

F32 = npt.NDArray[np.float32]
Split = Literal["train", "val", "test"]
SEED_OFFSETS: dict[Split, int] = {"train": 0, "val": 1_000_000, "test": 2_000_000}


@dataclass(frozen=True, slots=True)
class Fields:
    """Normalised whole fields (each (H, W), sizes may differ) with masks and origins."""

    qpi: list[F32]
    dapi: list[F32]
    mask: list[F32]
    labels: list[npt.NDArray[np.int32] | None]
    brightness: list[F32 | None]
    origins: list[str]


def otsu_threshold(image: F32, bins: int = 256) -> float:
    """Otsu's threshold; where the criterion is flat (an empty gap between modes) the
    middle of that plateau, not its first bin, so the split sits mid-gap."""
    hist, edges = np.histogram(image, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = ((hist * centres).sum() - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    return float(edges[(best[0] + best[-1]) // 2 + 1])


def nucleus_mask(dapi_norm: F32, labels: npt.NDArray[np.int32] | None) -> F32:
    if labels is not None:
        return (labels > 0).astype(np.float32)
    smooth = gaussian_blur(dapi_norm, 1.0)
    return (smooth > otsu_threshold(smooth)).astype(np.float32)


def to_fields(pairs: list[ImagePair], norm: Normalization) -> Fields:
    qpi = [normalize(p.qpi, norm) for p in pairs]
    dapi = [normalize(p.dapi, norm) for p in pairs]
    mask = [nucleus_mask(d, p.labels) for d, p in zip(dapi, pairs, strict=True)]
    return Fields(
        qpi,
        dapi,
        mask,
        [p.labels for p in pairs],
        [p.brightness for p in pairs],
        [p.origin for p in pairs],
    )


def _split_real(
    pairs: list[ImagePair], split: Split, val_fraction: float, test_from: int | None
) -> list[ImagePair]:
    """Several pairs: the last ``val_fraction`` are validation and test. One pair: split
    by columns, test = columns from ``test_from`` (else = validation), validation = the
    last ``val_fraction`` of the columns before it."""
    if len(pairs) == 1:
        p = pairs[0]
        end = test_from or p.qpi.shape[1]
        cut = round(end * (1 - val_fraction))
        cols = {"train": slice(0, cut), "val": slice(cut, end), "test": slice(end, None)}[split]
        if test_from is None and split == "test":
            cols = slice(cut, None)
        return [
            dataclasses.replace(
                p,
                qpi=p.qpi[:, cols],
                dapi=p.dapi[:, cols],
                origin=f"{p.origin}[:, {cols.start}:{cols.stop}]",
            )
        ]
    n_val = max(1, round(len(pairs) * val_fraction))
    return pairs[:-n_val] if split == "train" else pairs[-n_val:]


def build_fields(
    cfg: TrainConfig, split: Split, n_simulated: int | None = None, side_px: int | None = None
) -> Fields:
    """One split of the recipe's data. Simulated data: ``n_simulated`` fields (default:
    the recipe's count for the split) of ``side_px`` (default: ``data.field_px``)."""
    d = cfg.data
    norm = Normalization(d.low_percentile, d.high_percentile)
    if d.source == "simulated":
        n = n_simulated or (d.train_fields if split == "train" else d.val_fields)
        side = side_px or d.field_px
        sim = dataclasses.replace(cfg.simulation, height_px=side, width_px=side)
        return to_fields(simulated_pairs(sim, n, d.seed + SEED_OFFSETS[split]), norm)
    if d.source == "files":
        assert d.input_path is not None and d.target_path is not None  # validated recipe
        pairs = [load_file_pair(d.input_path, d.target_path, d.input_plane, d.crop_px)]
    else:
        assert d.path is not None  # the recipe validator guarantees it
        pairs = load_pairs(d.source, d.path, (d.input_channel, d.target_channel), d.crop_px)
    return to_fields(_split_real(pairs, split, d.val_fraction, d.test_columns_from), norm)


def random_batch(
    fields: Fields, batch: int, crop_px: int, rng: np.random.Generator, aug: AugmentSection
) -> tuple[F32, F32, F32]:
    """Random crops (B, 1, crop, crop) of input, target and mask, augmented.

    Geometry (flips, 90-degree rotations) applies to all three; intensity
    scale/shift and Gaussian noise to the input only.
    """
    out = np.empty((3, batch, 1, crop_px, crop_px), np.float32)
    for b in range(batch):
        i = int(rng.integers(len(fields.qpi)))
        h, w = fields.qpi[i].shape
        y, x = int(rng.integers(0, h - crop_px + 1)), int(rng.integers(0, w - crop_px + 1))
        k, flip = (int(rng.integers(4)), bool(rng.integers(2))) if aug.flips else (0, False)
        for c, arr in enumerate((fields.qpi[i], fields.dapi[i], fields.mask[i])):
            patch = np.rot90(arr[y : y + crop_px, x : x + crop_px], k)
            out[c, b, 0] = patch[:, ::-1] if flip else patch
    scale = rng.uniform(*aug.intensity_scale, size=(batch, 1, 1, 1)).astype(np.float32)
    shift = rng.uniform(-aug.intensity_shift, aug.intensity_shift, size=(batch, 1, 1, 1))
    noise = rng.normal(0, aug.noise_std, size=out[0].shape) if aug.noise_std else 0.0
    out[0] = out[0] * scale + shift.astype(np.float32) + np.asarray(noise, np.float32)
    return out[0], out[1], out[2]
