"""Raw pairs -> normalised fields with nucleus weight maps -> augmented random crops.

Normalisation is ``edge.infer.preprocess.normalize``: the very function the edge runs,
with the parameters the model card will carry. With ``data.normalize =
"dataset"`` the raw values at the recipe's percentiles are measured on the
training split only and applied unchanged to validation and test data (and by
the edge), so a test region is never rescaled by its own statistics.

Nuclei (for the loss weights): simulator ground truth when it exists, else the
reference masks of the data (e.g. the authors'), else the target segmented at
half maximum (``training.data.segment``) with ``data.nucleus_floor``: an object
must rise that far above background to count, which keeps haze out.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.infer.preprocess import Normalization, normalize
from training.config import (
    DataSection,
    FilesData,
    FolderData,
    FoldersData,
    SimulatedData,
    TrainConfig,
)
from training.data.readers.base import DataError, ImagePair
from training.data.readers.load import load_file_pair, load_pairs, simulated_pairs
from training.data.segment import Labels, segment_halfmax

F32 = npt.NDArray[np.float32]
Split = Literal["train", "val", "test"]
SEED_OFFSETS: dict[Split, int] = {"train": 0, "val": 1_000_000, "test": 2_000_000}
PER_NUCLEUS_CLIP = (0.25, 4.0)  # a nucleus weighs at most 4x (at least 1/4) the median one


@dataclass(frozen=True, slots=True)
class Fields:
    """Normalised whole fields with nucleus weights, truths and origins.

    ``qpi``: inputs (planes, H, W); ``dapi``: targets (H, W); ``mask``: nucleus
    weight map (0 outside nuclei; inside, 1, or the nucleus' per-nucleus weight);
    ``labels``/``brightness``: simulator truth; ``reference``: annotated nuclei.
    """

    qpi: list[F32]
    dapi: list[F32]
    mask: list[F32]
    labels: list[Labels | None]
    brightness: list[F32 | None]
    origins: list[str]
    reference: list[Labels | None] = dataclasses.field(default_factory=list)
    input_norm: Normalization = dataclasses.field(default_factory=Normalization)
    target_norm: Normalization = dataclasses.field(default_factory=Normalization)
    nucleus_px: list[npt.NDArray[np.intp]] = dataclasses.field(default_factory=list)
    experiments: list[str] = dataclasses.field(default_factory=list)

    def experiment(self, i: int) -> str:
        """The experiment (setup, day, cell line) field ``i`` belongs to: the unit that
        must generalise (``experiment_of``)."""
        return self.experiments[i] if i < len(self.experiments) else "all"

    def nucleus_pixels(self, i: int) -> npt.NDArray[np.intp]:
        """(n, 2) coordinates of (a subsample of) the nucleus pixels of field ``i``."""
        if i < len(self.nucleus_px):
            return self.nucleus_px[i]
        return np.argwhere(self.mask[i] > 0)


def _nucleus_px(mask: F32, max_points: int = 50_000) -> npt.NDArray[np.intp]:
    pts = np.argwhere(mask > 0)
    return pts[:: max(1, len(pts) // max_points)]


def nucleus_instances(dapi_norm: F32, pair: ImagePair, floor: float) -> Labels:
    if pair.labels is not None:
        return pair.labels
    if pair.reference is not None:
        return pair.reference
    return segment_halfmax(dapi_norm, floor=floor)


def weight_map(dapi_norm: F32, instances: Labels, per_nucleus: bool) -> F32:
    """0 outside nuclei; inside, 1, or (``per_nucleus``) median nucleus intensity over
    this nucleus' intensity, clipped to ``PER_NUCLEUS_CLIP``: a faint nucleus costs
    as much to miss as a bright one."""
    inside = instances > 0
    if not per_nucleus or not inside.any():
        return inside.astype(np.float32)
    n = int(instances.max())
    sums = np.bincount(instances.ravel(), dapi_norm.ravel().astype(np.float64), n + 1)[1:]
    counts = np.bincount(instances.ravel(), minlength=n + 1)[1:]
    present = counts > 0
    means = np.maximum(sums[present] / counts[present], 1e-3)
    rel = np.zeros(n + 1, np.float32)
    rel[1:][present] = np.clip(np.median(means) / means, *PER_NUCLEUS_CLIP)
    return rel[instances]


def normalizations(d: DataSection, train: list[ImagePair]) -> tuple[Normalization, Normalization]:
    """Input and target normalisation; measured on the training split for ``dataset``."""
    inp = Normalization(d.low_percentile, d.high_percentile)
    tgt = Normalization(
        d.target_low_percentile if d.target_low_percentile is not None else d.low_percentile,
        d.target_high_percentile if d.target_high_percentile is not None else d.high_percentile,
    )
    if d.normalize == "dataset":
        inp = inp.measured_on([p.qpi for p in train])
        tgt = tgt.measured_on([p.dapi for p in train])
    return inp, tgt


def experiment_of(origin: str, d: DataSection) -> str:
    """The experiment of a pair: the ``group_pattern``'s group, else one experiment for
    the whole dataset (its file or folder name; ``simulated`` for simulated data): without
    a pattern nothing says which files share a setup."""
    if d.group_pattern is not None:
        return group_of(origin, d.group_pattern)
    if d.where is None:
        return "simulated"
    return d.where.name


def to_fields(
    pairs: list[ImagePair],
    norms: tuple[Normalization, Normalization],
    d: DataSection,
    per_nucleus: bool = False,
) -> Fields:
    qpi = [normalize(p.qpi, norms[0]) for p in pairs]
    dapi = [normalize(p.dapi, norms[1]) for p in pairs]
    mask = [
        weight_map(t, nucleus_instances(t, p, d.nucleus_floor), per_nucleus)
        for t, p in zip(dapi, pairs, strict=True)
    ]
    return Fields(
        qpi,
        dapi,
        mask,
        [p.labels for p in pairs],
        [p.brightness for p in pairs],
        [p.origin for p in pairs],
        [p.reference for p in pairs],
        *norms,
        [_nucleus_px(m) for m in mask],
        [experiment_of(p.origin, d) for p in pairs],
    )


def _columns(p: ImagePair, cols: slice) -> ImagePair:
    return dataclasses.replace(
        p,
        qpi=p.qpi[..., cols],
        dapi=p.dapi[:, cols],
        reference=None if p.reference is None else p.reference[:, cols],
        origin=f"{p.origin}[:, {cols.start}:{cols.stop}]",
    )


def _split_columns(
    p: ImagePair, split: Split, val_fraction: float, test_from: int | None
) -> ImagePair:
    """One pair: test = columns from ``test_from`` (else = validation), validation = the
    last ``val_fraction`` of the columns before it."""
    return _columns(p, column_slice(p.qpi.shape[-1], split, val_fraction, test_from))


def column_slice(width: int, split: Split, val_fraction: float, test_from: int | None) -> slice:
    """The columns of ``split`` in a one-pair dataset of ``width`` columns."""
    end = test_from or width
    cut = round(end * (1 - val_fraction))
    cols = {"train": slice(0, cut), "val": slice(cut, end), "test": slice(end, None)}[split]
    if test_from is None and split == "test":
        cols = slice(cut, None)
    return cols


def group_of(origin: str, pattern: str) -> str:
    found = re.search(pattern, origin)
    if found is None:
        raise DataError(origin, f"data.group_pattern {pattern!r} does not match this file")
    return found.group(1)


def _selects(name: str, group: str) -> bool:
    """A listed name selects a group equal to it or starting with it and an underscore
    ("220524DS30" selects "220524DS30_p0005" when the pattern captures positions too)."""
    return group == name or group.startswith(name + "_")


def _split_groups(pairs: list[ImagePair], split: Split, d: DataSection) -> list[ImagePair]:
    """By experiment: the named test and validation groups are held out whole."""
    assert d.group_pattern is not None
    groups = [group_of(p.origin, d.group_pattern) for p in pairs]
    named = (*d.val_groups, *d.test_groups, *d.train_groups)
    missing = sorted(n for n in named if not any(_selects(n, g) for g in groups))
    if missing:
        raise DataError(
            str(d.where), f"no files of experiment(s) {missing}; found {sorted(set(groups))}"
        )

    def member(g: str, names: tuple[str, ...]) -> bool:
        return any(_selects(n, g) for n in names)

    test = [p for p, g in zip(pairs, groups, strict=True) if member(g, d.test_groups)]
    rest = [(p, g) for p, g in zip(pairs, groups, strict=True) if not member(g, d.test_groups)]
    if d.val_groups:
        val = [p for p, g in rest if member(g, d.val_groups)]
        train = [(p, g) for p, g in rest if not member(g, d.val_groups)]
    elif d.validation == "training":
        train, val = rest, []  # split_pairs reads "val" as "train"
    else:
        n_val = max(1, round(len(rest) * d.val_fraction))
        train, val = rest[:-n_val], [p for p, _ in rest[-n_val:]]
    if d.train_groups:
        train = [(p, g) for p, g in train if member(g, d.train_groups)]
    out = {"train": [p for p, _ in train], "val": val, "test": test or val}[split]
    if not out:
        raise DataError(str(d.where), f"the {split} split is empty")
    return out


def split_pairs(pairs: list[ImagePair], split: Split, d: DataSection) -> list[ImagePair]:
    """Several pairs: by experiment (``group_pattern``) or the last ``val_fraction`` are
    validation and test. One pair: by columns. ``data.validation = "training"``: the
    validation split is the training split."""
    if split == "val" and d.validation == "training":
        split = "train"
    if d.group_pattern is not None:
        return _split_groups(pairs, split, d)
    if len(pairs) == 1:
        test_from = d.test_columns_from if isinstance(d, FilesData) else None
        return [_split_columns(pairs[0], split, d.val_fraction, test_from)]
    n_val = max(1, round(len(pairs) * d.val_fraction))
    return pairs[:-n_val] if split == "train" else pairs[-n_val:]


@functools.lru_cache(maxsize=2)
def load_real_pairs(d: DataSection) -> tuple[ImagePair, ...]:
    """Every raw pair of the recipe's real data, read once per process (splits share it)."""
    return tuple(_read_real_pairs(d))


def _read_real_pairs(d: DataSection) -> list[ImagePair]:
    if isinstance(d, FilesData):
        return [load_file_pair(d.input_path, d.target_path, d.input_planes, d.crop_px)]
    if isinstance(d, FoldersData):
        channels = (d.input_channel, d.target_channel)
        return load_pairs(d.source, d.path, channels, d.crop_px, d.mask_channel)
    if isinstance(d, FolderData):
        return load_pairs(d.source, d.path, (d.input_channel, d.target_channel), d.crop_px)
    raise DataError(str(d.source), "simulated data has no pairs to read")


def build_fields(
    cfg: TrainConfig, split: Split, n_simulated: int | None = None, side_px: int | None = None
) -> Fields:
    """One split of the recipe's data. Simulated data: ``n_simulated`` fields (default:
    the recipe's count for the split) of ``side_px`` (default: ``data.field_px``)."""
    d = cfg.data
    per_nucleus = cfg.loss.per_nucleus
    if isinstance(d, SimulatedData):
        n = n_simulated or (d.train_fields if split == "train" else d.val_fields)
        side = side_px or d.field_px
        sim = dataclasses.replace(cfg.simulation, height_px=side, width_px=side)
        pairs = simulated_pairs(sim, n, d.seed + SEED_OFFSETS[split])
        train = (
            pairs
            if split == "train" or d.normalize == "frame"
            else simulated_pairs(
                dataclasses.replace(cfg.simulation, height_px=d.field_px, width_px=d.field_px),
                d.train_fields,
                d.seed,
            )
        )
        return to_fields(pairs, normalizations(d, train), d, per_nucleus)
    pairs = list(load_real_pairs(d))
    norms = normalizations(d, split_pairs(pairs, "train", d))
    return to_fields(split_pairs(pairs, split, d), norms, d, per_nucleus)
