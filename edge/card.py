"""The model card: what the edge needs to trust and run a model.

``export`` writes it as JSON into the ONNX metadata under ``CARD_KEY``; the edge
reads it through onnxruntime (no ``onnx`` import) and refuses a model without a
valid one. Pydantic is used for the schema so a bad field is named in the error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CARD_KEY = "aglu.model_card"
CARD_FORMAT = "aglu-model-card"
CARD_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NormalizationCard(_Frozen):
    method: Literal["percentile"] = "percentile"
    low_percentile: float = Field(ge=0, le=100)
    high_percentile: float = Field(ge=0, le=100)


class TensorCard(_Frozen):
    name: str
    units: str
    description: str = ""


class ModelCard(_Frozen):
    """Schema version 1 of the AGLU model card."""

    format: Literal["aglu-model-card"]
    version: Literal[1]
    name: str = Field(min_length=1)
    model_version: str
    precision: Literal["fp32", "int8"]
    weights_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    recipe_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    input: TensorCard
    outputs: tuple[TensorCard, ...] = Field(min_length=1)
    normalization: NormalizationCard
    stride_px: int = Field(ge=1, description="H and W must be multiples of this")
    halo_px: int = Field(ge=0, description="receptive-field margin for tiling")
    pixel_size_um: float | None = None
    dataset: str
    metrics: dict[str, float] = Field(default_factory=dict)


def parse_card(text: str) -> ModelCard:
    """Parse and validate card JSON; raises ValueError naming the first bad field."""
    try:
        return ModelCard.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "card"
        raise ValueError(f"invalid model card field '{where}': {err['msg']}") from None
