"""The training recipe: one TOML file, validated once, saved resolved beside checkpoints."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edge.errors import ConfigError
from edge.infer.card import Modality
from edge.settings import Section as _Section
from edge.settings import read_toml, validate
from edge.sim.phantom import SimulationConfig


class DataSection(_Section):
    """What every kind of data has: the split, normalisation and nucleus rules. Each kind
    (``source``) is a section of its own below, with its own fields."""

    source: str
    modality: Modality = Field("qpi", description="the label-free input's imaging modality")
    group_pattern: str | None = Field(
        None, description="regex on each pair's file path; its first group names the experiment"
    )
    val_groups: tuple[str, ...] = Field((), description="experiments held out for validation")
    test_groups: tuple[str, ...] = Field((), description="experiments held out for testing")
    train_groups: tuple[str, ...] = Field(
        (), description="train on these experiments only (default: every one not held out)"
    )
    val_fraction: float = Field(0.1, gt=0, lt=1, description="real data held out for validation")
    validation: Literal["held-out", "training"] = Field(
        "held-out",
        description="training: no validation split of its own, the validation figures are "
        "the training fields' (adapting on one or two fields); needs optim.val_every = 0",
    )
    crop_px: int = Field(128, ge=32)
    nucleus_crop_fraction: float = Field(
        0.0, ge=0, le=1, description="fraction of crops centred on a random nucleus pixel"
    )
    seed: int = 0
    nucleus_floor: float = Field(
        0.1,
        ge=0,
        description="a target object must peak this far above background (normalised units) to "
        "count as a nucleus, for loss weights and metrics (keeps haze out)",
    )
    normalize: Literal["frame", "dataset"] = Field(
        "frame",
        description="frame: percentiles of each image; dataset: values at those percentiles "
        "of the training split, fixed for every split and stored in the model card",
    )
    low_percentile: float = Field(1.0, ge=0, le=100)
    high_percentile: float = Field(99.8, ge=0, le=100)
    target_low_percentile: float | None = Field(None, ge=0, le=100, description="default: input's")
    target_high_percentile: float | None = Field(None, ge=0, le=100, description="default: input's")

    @property
    def planes(self) -> int:
        """Input planes per frame (channels of the model's input)."""
        return 1

    @property
    def where(self) -> Path | None:
        """The data's file or folder (None: simulated)."""
        return None

    @model_validator(mode="after")
    def _common(self) -> DataSection:
        if self.crop_px % 32:
            raise ValueError(
                f"crop_px must be a multiple of 32 (the model stride), got {self.crop_px}"
            )
        if self.group_pattern is not None:
            try:
                if re.compile(self.group_pattern).groups < 1:
                    raise ValueError("group_pattern needs one capture group (the experiment)")
            except re.error as exc:
                raise ValueError(f"group_pattern is not a valid regex ({exc})") from None
        elif self.val_groups or self.test_groups or self.train_groups:
            raise ValueError("train_groups/val_groups/test_groups need data.group_pattern")
        if self.validation == "training" and self.val_groups:
            raise ValueError("data.validation = 'training' and val_groups contradict each other")
        named = [*self.val_groups, *self.test_groups, *self.train_groups]
        if len(set(named)) != len(named):
            raise ValueError("an experiment is named in more than one of the group lists")
        return self


class SimulatedData(DataSection):
    """``source = "simulated"`` (the default): fields of the phantom simulator."""

    source: Literal["simulated"] = "simulated"
    field_px: int = Field(256, ge=32, description="simulated field side")
    train_fields: int = Field(64, ge=1, description="simulated training fields")
    val_fields: int = Field(8, ge=1, description="simulated validation fields")


class FilesData(DataSection):
    """``source = "files"``: one input image or stack and one target image."""

    source: Literal["files"]
    input_path: Path = Field(description="the input image or stack")
    target_path: Path = Field(description="the target image")
    input_planes: tuple[int, int] | None = Field(
        None, description="first and last plane (inclusive) of an input stack, as channels"
    )
    test_columns_from: int | None = Field(
        None, ge=1, description="one image: columns from here on are the test split"
    )

    @property
    def planes(self) -> int:
        return 1 if self.input_planes is None else self.input_planes[1] - self.input_planes[0] + 1

    @property
    def where(self) -> Path | None:
        return self.input_path

    @model_validator(mode="after")
    def _planes(self) -> FilesData:
        if self.input_planes is not None:
            first, last = self.input_planes
            if not 0 <= first <= last:
                raise ValueError("input_planes must be [first, last] with 0 <= first <= last")
        return self


class FolderData(DataSection):
    """A folder, store or dataset of pairs by channel name: ``tiff``, ``omezarr``,
    ``ndtiff`` (``FoldersData``: per-channel folders, with reference masks)."""

    source: Literal["tiff", "omezarr", "ndtiff"]
    path: Path = Field(description="the folder, store or dataset")
    input_channel: str = "QPI"
    target_channel: str = "DAPI"

    @property
    def where(self) -> Path | None:
        return self.path


class FoldersData(DataSection):
    """``source = "folders"``: one folder per channel, paired by file name."""

    source: Literal["folders"]
    path: Path = Field(description="the folder holding one folder per channel")
    input_channel: str = "QPI"
    target_channel: str = "DAPI"
    mask_channel: str | None = Field(
        None, description="a folder of reference nucleus masks (e.g. the authors')"
    )

    @property
    def where(self) -> Path | None:
        return self.path


DATA_KINDS = ("simulated", "files", "tiff", "omezarr", "ndtiff", "folders")
# Before issue 26 one flat [data] section held every kind's fields; its full dumps (the
# config saved in checkpoints and config.resolved.json) carry the other kinds' fields at
# these values. They are dropped on reading, so old runs load; any other value of a field
# that is not the kind's own is still refused.
FLAT_DEFAULTS: dict[str, object] = {
    "path": None,
    "input_path": None,
    "target_path": None,
    "input_planes": None,
    "test_columns_from": None,
    "input_channel": "QPI",
    "target_channel": "DAPI",
    "mask_channel": None,
    "field_px": 256,
    "train_fields": 64,
    "val_fields": 8,
}


def _without_flat_defaults(data: dict[str, object]) -> dict[str, object]:
    kinds: dict[str, type[DataSection]] = {
        "simulated": SimulatedData,
        "files": FilesData,
        "folders": FoldersData,
    }
    own = kinds.get(str(data["source"]), FolderData).model_fields
    return {
        k: v for k, v in data.items() if k in own or k not in FLAT_DEFAULTS or v != FLAT_DEFAULTS[k]
    }


RealData = FilesData | FolderData | FoldersData
AnyData = Annotated[
    SimulatedData | FilesData | FolderData | FoldersData, Field(discriminator="source")
]


class AugmentSection(_Section):
    """Input-only intensity changes (a different microscope, lamp, focus) and geometry."""

    flips: bool = Field(True, description="random flips and 90-degree rotations (all arrays)")
    intensity_scale: tuple[float, float] = Field((0.9, 1.1), description="input contrast range")
    intensity_shift: float = Field(0.05, ge=0)
    gamma: tuple[float, float] = Field((1.0, 1.0), description="input gamma range")
    blur_sigma_px: tuple[float, float] = Field((0.0, 0.0), description="defocus blur range")
    blur_probability: float = Field(0.0, ge=0, le=1)
    noise_std: float = Field(0.01, ge=0)
    plane_shift: int = Field(0, ge=0, description="stacks: shift the planes by up to this many")
    zoom: tuple[float, float] = Field(
        (1.0, 1.0),
        description="magnification range (log-uniform; all arrays), e.g. [0.5, 2.0] for "
        "nuclei from half to twice their size; [1, 1]: off (no random draw)",
    )

    @field_validator("zoom")
    @classmethod
    def _zoom(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not 0.25 <= lo <= hi <= 4.0:
            raise ValueError(f"zoom must be [low, high] with 0.25 <= low <= high <= 4, got {value}")
        return value


class ModelSection(_Section):
    # unet: the pixel-space baseline (from /2); fnet: the full-resolution fnet/CARE U-Net
    kind: Literal["aglu", "unet", "fnet"] = "aglu"
    unet_depth_width: int = Field(128, ge=4, description="unet: channels at /16 (x2 at /32)")
    fnet_widths: tuple[int, int, int, int] = Field(
        (32, 64, 128, 256), description="fnet: channels per level, full resolution first"
    )
    encoder_widths: tuple[int, int, int] = (16, 32, 64)
    latent_channels: int = Field(8, ge=1)
    translator_width: int = Field(48, ge=4)
    skips: bool = Field(
        True, description="aglu: attention-gated skips from the input encoder at /2 and /4"
    )


class LossSection(_Section):
    # mse: plain, unweighted (CARE/fnet); recall_*: weighted toward nuclei (training.fit.loss)
    pixel: Literal["recall_l1", "recall_mse", "mse"] = "recall_l1"
    nucleus_weight: float = Field(20.0, ge=1.0, description="W: pixel weight inside nuclei")
    per_nucleus: bool = Field(
        False, description="scale each nucleus' weight by median/its intensity (faint = bright)"
    )
    under_factor: float = Field(2.0, ge=1.0, description="extra cost of under-prediction in nuclei")
    warmup_steps: int = Field(
        0, ge=0, description="plain L1 (W = 1) this long, then W ramps up over as many steps"
    )
    ssim_weight: float = Field(0.0, ge=0.0, description="structural term: weight x (1 - SSIM)")
    nll_weight: float = Field(0.1, ge=0.0, description="uncertainty (Laplace NLL) term")
    kl_weight: float = Field(1e-4, ge=0.0, description="KL of the VAE posteriors")
    latent_weight: float = Field(1.0, ge=0.0, description="translator latent L1 term")
    dapi_rec_weight: float = Field(
        0.5, ge=0.0, description="end_to_end: DAPI VAE reconstruction (auxiliary)"
    )
    qpi_rec_weight: float = Field(
        0.1, ge=0.0, description="end_to_end: input VAE reconstruction (auxiliary)"
    )


class StagesSection(_Section):
    vae_steps: int = Field(1000, ge=0)
    translator_steps: int = Field(1000, ge=0)
    joint_steps: int = Field(1000, ge=0)
    pixel_steps: int = Field(3000, ge=0, description="unet, fnet: their single stage")
    end_to_end_steps: int = Field(
        0, ge=0, description="aglu: one schedule, inference path plus auxiliary VAE/KL/latent terms"
    )


class OptimSection(_Section):
    batch_size: int = Field(8, ge=1)
    lr: float = Field(2e-3, gt=0)
    seed: int = 0
    threads: int = Field(0, ge=0, description="torch CPU threads (0: one per core)")
    amp: Literal["auto", "on", "off"] = "auto"  # auto: bf16 autocast on CUDA only
    checkpoint_every: int = Field(250, ge=1)
    val_every: int = Field(
        0,
        ge=0,
        description="score Pearson r on the whole validation split this often and keep "
        "the best weights (0: keep the last)",
    )


class TrainConfig(_Section):
    name: str = "aglu"
    data: AnyData = SimulatedData()
    simulation: SimulationConfig = SimulationConfig()
    augment: AugmentSection = AugmentSection()
    model: ModelSection = ModelSection()
    loss: LossSection = LossSection()
    stages: StagesSection = StagesSection()
    optim: OptimSection = OptimSection()
    init: Path | None = Field(None, description="fine-tune: start from this checkpoint's weights")

    @field_validator("data", mode="before")
    @classmethod
    def _simulated_by_default(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        value = {"source": "simulated", **value}
        return _without_flat_defaults(value)

    @model_validator(mode="after")
    def _no_selection_on_training(self) -> TrainConfig:
        if self.data.validation == "training" and self.optim.val_every:
            raise ValueError(
                "data.validation = 'training' keeps the last step: optim.val_every must be 0 "
                "(selection on the training fields would choose by fit, not by generalisation)"
            )
        return self

    def sha256(self) -> str:
        """Hash of the recipe as written: fields left at their defaults are not part of it,
        so adding a field (with a default that keeps old behaviour) keeps old hashes."""
        text = json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def parse_train_config(data: dict[str, object], origin: str) -> TrainConfig:
    """A recipe from a mapping (a TOML file, a checkpoint's saved config); ConfigError
    naming the first bad field."""
    return validate(TrainConfig, data, origin, DATA_KINDS)


def load_train_config(path: Path) -> TrainConfig:
    return resolve_paths(parse_train_config(read_toml(path), str(path)), path.parent)


def resolve_paths(cfg: TrainConfig, base: Path) -> TrainConfig:
    """Relative data paths in a recipe are relative to the recipe's folder."""
    d = cfg.data
    paths: dict[str, Path] = (
        {"input_path": d.input_path, "target_path": d.target_path}
        if isinstance(d, FilesData)
        else {"path": d.path}
        if isinstance(d, FolderData | FoldersData)
        else {}
    )
    updates = {key: base / v for key, v in paths.items() if not v.is_absolute()}
    if updates:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update=updates)})
    if cfg.init is not None and not cfg.init.is_absolute():
        cfg = cfg.model_copy(update={"init": base / cfg.init})
    return cfg


def apply_overrides(
    cfg: TrainConfig,
    overrides: tuple[str, ...] = (),
    name: str | None = None,
    init: Path | None = None,
) -> TrainConfig:
    """The recipe with ``SECTION.FIELD=VALUE`` overrides (VALUE in TOML syntax), a run name
    and a fine-tuning checkpoint applied, validated again as a whole."""
    data = cfg.model_dump(mode="python")
    for item in overrides:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ConfigError(f"--set {item}", "expected SECTION.FIELD=VALUE")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value  # a bare word: a string
        target = data
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                raise ConfigError(f"--set {item}", f"no recipe section '{part}'")
            target = target[part]
        target[parts[-1]] = parsed
    if name is not None:
        data["name"] = name
    if init is not None:
        data["init"] = init
    return parse_train_config(data, "recipe with --set overrides")
