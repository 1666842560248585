"""The training recipe: one TOML file, validated once, saved resolved beside checkpoints."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.errors import ConfigError
from edge.simulate import SimulationConfig


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSection(_Section):
    source: Literal["simulated", "tiff", "omezarr", "ndtiff", "files"] = "simulated"
    path: Path | None = Field(None, description="folder/store for tiff, omezarr, ndtiff")
    input_path: Path | None = Field(None, description="files: the input image or stack")
    target_path: Path | None = Field(None, description="files: the target image")
    input_plane: int | None = Field(None, ge=0, description="files: plane of an input stack")
    test_columns_from: int | None = Field(
        None, ge=1, description="one image: columns from here on are the test split"
    )
    input_channel: str = "QPI"
    target_channel: str = "DAPI"
    field_px: int = Field(256, ge=32, description="simulated field side")
    train_fields: int = Field(64, ge=1, description="simulated training fields")
    val_fields: int = Field(8, ge=1, description="simulated validation fields")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="real data held out for validation")
    crop_px: int = Field(128, ge=32)
    seed: int = 0
    low_percentile: float = Field(1.0, ge=0, le=100)
    high_percentile: float = Field(99.8, ge=0, le=100)

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
        return self


class AugmentSection(_Section):
    flips: bool = True
    intensity_scale: tuple[float, float] = (0.9, 1.1)
    intensity_shift: float = Field(0.05, ge=0)
    noise_std: float = Field(0.01, ge=0)


class ModelSection(_Section):
    kind: Literal["aglu", "unet"] = "aglu"  # unet: the pixel-space baseline
    unet_depth_width: int = Field(128, ge=4, description="unet: channels at /16 (x2 at /32)")
    encoder_widths: tuple[int, int, int] = (16, 32, 64)
    latent_channels: int = Field(8, ge=1)
    translator_width: int = Field(48, ge=4)


class LossSection(_Section):
    pixel: Literal["recall_l1", "mse"] = "recall_l1"  # mse: plain, unweighted (CARE/fnet)
    nucleus_weight: float = Field(20.0, ge=1.0, description="W: pixel weight inside nuclei")
    under_factor: float = Field(2.0, ge=1.0, description="extra cost of under-prediction in nuclei")
    nll_weight: float = Field(0.1, ge=0.0, description="uncertainty (Laplace NLL) term")
    kl_weight: float = Field(1e-4, ge=0.0, description="KL of the VAE posteriors")
    latent_weight: float = Field(1.0, ge=0.0, description="translator latent L1 term")


class StagesSection(_Section):
    vae_steps: int = Field(1000, ge=0)
    translator_steps: int = Field(1000, ge=0)
    joint_steps: int = Field(1000, ge=0)
    pixel_steps: int = Field(3000, ge=0, description="unet: its single stage")


class OptimSection(_Section):
    batch_size: int = Field(8, ge=1)
    lr: float = Field(2e-3, gt=0)
    seed: int = 0
    threads: int = Field(0, ge=0, description="torch CPU threads (0: one per core)")
    amp: Literal["auto", "on", "off"] = "auto"  # auto: bf16 autocast on CUDA only
    checkpoint_every: int = Field(250, ge=1)


class TrainConfig(_Section):
    name: str = "aglu"
    data: DataSection = DataSection()
    simulation: SimulationConfig = SimulationConfig()
    augment: AugmentSection = AugmentSection()
    model: ModelSection = ModelSection()
    loss: LossSection = LossSection()
    stages: StagesSection = StagesSection()
    optim: OptimSection = OptimSection()

    def sha256(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
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
    return cfg.model_copy(update={"data": cfg.data.model_copy(update=updates)}) if updates else cfg
