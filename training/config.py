"""The training recipe: one TOML file, validated once, saved resolved beside checkpoints."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.errors import ConfigError
from edge.infer.card import Modality
from edge.sim.phantom import SimulationConfig


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSection(_Section):
    source: Literal["simulated", "tiff", "omezarr", "ndtiff", "files", "folders"] = "simulated"
    path: Path | None = Field(None, description="folder/store for tiff, omezarr, ndtiff, folders")
    input_path: Path | None = Field(None, description="files: the input image or stack")
    target_path: Path | None = Field(None, description="files: the target image")
    input_planes: tuple[int, int] | None = Field(
        None, description="files: first and last plane (inclusive) of an input stack, as channels"
    )
    modality: Modality = Field("qpi", description="the label-free input's imaging modality")
    test_columns_from: int | None = Field(
        None, ge=1, description="one image: columns from here on are the test split"
    )
    input_channel: str = "QPI"
    target_channel: str = "DAPI"
    mask_channel: str | None = Field(
        None, description="folders: a folder of reference nucleus masks (e.g. the authors')"
    )
    group_pattern: str | None = Field(
        None, description="regex on each pair's file path; its first group names the experiment"
    )
    val_groups: tuple[str, ...] = Field((), description="experiments held out for validation")
    test_groups: tuple[str, ...] = Field((), description="experiments held out for testing")
    train_groups: tuple[str, ...] = Field(
        (), description="train on these experiments only (default: every one not held out)"
    )
    field_px: int = Field(256, ge=32, description="simulated field side")
    train_fields: int = Field(64, ge=1, description="simulated training fields")
    val_fields: int = Field(8, ge=1, description="simulated validation fields")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="real data held out for validation")
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
        return 1 if self.input_planes is None else self.input_planes[1] - self.input_planes[0] + 1

    @model_validator(mode="after")
    def _path_for_real_data(self) -> DataSection:
        if self.source == "files" and (self.input_path is None or self.target_path is None):
            raise ValueError("source 'files' needs data.input_path and data.target_path")
        if self.source not in ("simulated", "files") and self.path is None:
            raise ValueError(f"source {self.source!r} needs data.path")
        if self.crop_px % 32:
            raise ValueError(
                f"crop_px must be a multiple of 32 (the model stride), got {self.crop_px}"
            )
        if self.input_planes is not None:
            first, last = self.input_planes
            if self.source != "files":
                raise ValueError("input_planes needs source 'files' (an input stack)")
            if not 0 <= first <= last:
                raise ValueError("input_planes must be [first, last] with 0 <= first <= last")
        if self.group_pattern is not None:
            try:
                if re.compile(self.group_pattern).groups < 1:
                    raise ValueError("group_pattern needs one capture group (the experiment)")
            except re.error as exc:
                raise ValueError(f"group_pattern is not a valid regex ({exc})") from None
        elif self.val_groups or self.test_groups or self.train_groups:
            raise ValueError("train_groups/val_groups/test_groups need data.group_pattern")
        named = [*self.val_groups, *self.test_groups, *self.train_groups]
        if len(set(named)) != len(named):
            raise ValueError("an experiment is named in more than one of the group lists")
        return self


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
    data: DataSection = DataSection()
    simulation: SimulationConfig = SimulationConfig()
    augment: AugmentSection = AugmentSection()
    model: ModelSection = ModelSection()
    loss: LossSection = LossSection()
    stages: StagesSection = StagesSection()
    optim: OptimSection = OptimSection()
    init: Path | None = Field(None, description="fine-tune: start from this checkpoint's weights")

    def sha256(self) -> str:
        """Hash of the recipe as written: fields left at their defaults are not part of it,
        so adding a field (with a default that keeps old behaviour) keeps old hashes."""
        text = json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def parse_train_config(data: dict[str, object], origin: str) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "recipe"
        raise ConfigError(f"{origin}: field '{where}'", err["msg"]) from None


def load_train_config(path: Path) -> TrainConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})") from None
    return resolve_paths(parse_train_config(data, str(path)), path.parent)


def resolve_paths(cfg: TrainConfig, base: Path) -> TrainConfig:
    """Relative data paths in a recipe are relative to the recipe's folder."""
    updates = {
        key: base / value
        for key in ("path", "input_path", "target_path")
        if (value := getattr(cfg.data, key)) is not None and not value.is_absolute()
    }
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
