"""The training recipe: one TOML file, validated once, saved resolved beside checkpoints."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSection(_Section):
    source: str = "simulated"
    field_px: int = Field(256, ge=32)
    crop_px: int = Field(128, ge=32)
    train_fields: int = Field(64, ge=1)
    val_fields: int = Field(8, ge=1)
    seed: int = 0
    low_percentile: float = Field(1.0, ge=0, le=100)
    high_percentile: float = Field(99.8, ge=0, le=100)


class ModelSection(_Section):
    encoder_widths: tuple[int, int, int] = (16, 32, 64)
    latent_channels: int = Field(8, ge=1)
    translator_width: int = Field(48, ge=4)


class LossSection(_Section):
    nucleus_weight: float = Field(20.0, ge=1.0, description="W: pixel weight inside nuclei")
    under_factor: float = Field(2.0, ge=1.0, description="extra cost of under-prediction in nuclei")
    nll_weight: float = Field(
        0.1, ge=0.0, description="weight of the uncertainty (Laplace NLL) term"
    )


class OptimSection(_Section):
    steps: int = Field(1500, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(2e-3, gt=0)
    time_limit_s: float = Field(0.0, ge=0, description="stop early after this wall time (0: none)")
    seed: int = 0
    threads: int = Field(0, ge=0, description="torch CPU threads (0: one per core)")


class TrainConfig(_Section):
    name: str = "aglu"
    data: DataSection = DataSection()
    model: ModelSection = ModelSection()
    loss: LossSection = LossSection()
    optim: OptimSection = OptimSection()

    def sha256(self) -> str:
        return hashlib.sha256(
            json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        ).hexdigest()


def parse_train_config(data: dict[str, object], origin: str) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{origin}: field '{where}'", err["msg"]) from None


def load_train_config(path: Path) -> TrainConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})") from None
    return parse_train_config(data, str(path))
