"""The model card: what the edge needs to trust and run a model.

``export`` writes it as JSON into the ONNX metadata under ``CARD_KEY``; the edge
reads it through onnxruntime (no ``onnx`` import) and refuses a model without a
valid one. Pydantic is used for the schema so a bad field is named in the error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, model_validator

from edge.infer.preprocess import Normalization
from edge.settings import Section, first_error

CARD_KEY = "aglu.model_card"
CARD_FORMAT = "aglu-model-card"
CARD_VERSION = 3  # 3: calibration, input statistics, training data; 2: modality, input
# planes, fixed normalisation (1 and 2 still read)


class NormalizationCard(Section):
    """``percentile``: measured on each frame; ``fixed``: the raw ``low_value``/``high_value``
    measured at those percentiles on the training data (``edge.infer.preprocess``)."""

    method: Literal["percentile", "fixed"] = "percentile"
    low_percentile: float = Field(ge=0, le=100)
    high_percentile: float = Field(ge=0, le=100)
    low_value: float | None = None
    high_value: float | None = None

    @model_validator(mode="after")
    def _values_for_fixed(self) -> NormalizationCard:
        has = (self.low_value is not None, self.high_value is not None)
        if self.method == "fixed" and not all(has):
            raise ValueError("method 'fixed' needs low_value and high_value")
        if self.method == "percentile" and any(has):
            raise ValueError("method 'percentile' takes no low_value/high_value")
        return self

    def to_normalization(self) -> Normalization:
        return Normalization(
            self.low_percentile,
            self.high_percentile,
            low_value=self.low_value,
            high_value=self.high_value,
        )

    @classmethod
    def from_normalization(cls, norm: Normalization) -> NormalizationCard:
        return cls(
            method=norm.method,
            low_percentile=norm.low_percentile,
            high_percentile=norm.high_percentile,
            low_value=norm.low_value,
            high_value=norm.high_value,
        )


Modality = Literal["qpi", "phase-contrast", "bright-field", "dic"]
MODALITY_NAMES: dict[str, str] = {
    "qpi": "quantitative phase (QPI)",
    "phase-contrast": "phase contrast",
    "bright-field": "bright-field",
    "dic": "differential interference contrast (DIC)",
}


class TensorCard(Section):
    name: str
    units: str
    description: str = ""


class CalibrationCard(Section):
    """How far to trust ``sigma`` (``edge.infer.quality``), measured on validation data."""

    split: str = Field(description="the data the scale was fitted on")
    sigma_scale: float = Field(gt=0, description="calibrated sigma = sigma_scale x sigma")
    level_scales: dict[str, float] = Field(
        default_factory=dict,
        description="per interval level (e.g. '50'): the factor for that interval's half-width",
    )
    sigma_high: float = Field(ge=0, description="99th percentile of calibrated sigma")
    coverage: dict[str, float] = Field(
        default_factory=dict, description="e.g. test_90: share of test pixels in the 90% interval"
    )


class InputStatsCard(Section):
    """Where the training inputs' statistics lie (``edge.infer.quality``)."""

    features: tuple[str, ...] = Field(min_length=1)
    center: tuple[float, ...]
    scale: tuple[float, ...]
    bound: tuple[float, ...] = Field(description="|z| / bound > 1 on any: out of distribution")
    tile_px: int = Field(ge=16)
    grid: int = Field(ge=1, le=8)
    flag_rates: dict[str, float] = Field(
        default_factory=dict, description="share of frames flagged, by kind, when measured"
    )

    @model_validator(mode="after")
    def _same_lengths(self) -> InputStatsCard:
        if not len(self.features) == len(self.center) == len(self.scale) == len(self.bound):
            raise ValueError("features, center, scale and bound must have the same length")
        if any(not v > 0 for v in (*self.scale, *self.bound)):
            raise ValueError("every scale and bound must be > 0")
        return self


class TrainingDataCard(Section):
    description: str = Field(min_length=1)
    licence: str = Field(min_length=1)
    source: str = ""


class ModelCard(Section):
    """Schema version 3 of the AGLU model card (version 1 and 2 cards read with the
    defaults: one QPI plane, per-frame percentile normalisation, no calibration)."""

    format: Literal["aglu-model-card"]
    version: Literal[1, 2, 3]
    name: str = Field(min_length=1)
    model_version: str
    precision: Literal["fp32", "int8"]
    weights_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    recipe_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    input: TensorCard
    outputs: tuple[TensorCard, ...] = Field(min_length=1)
    normalization: NormalizationCard
    target_normalization: NormalizationCard | None = Field(
        None, description="how training targets were scaled: the unit of the outputs"
    )
    modality: Modality = Field("qpi", description="the label-free input's imaging modality")
    input_planes: int = Field(1, ge=1, description="planes per frame: 1 (Y, X) or Z of (Z, Y, X)")
    stride_px: int = Field(ge=1, description="H and W must be multiples of this")
    halo_px: int = Field(ge=0, description="receptive-field margin for tiling")
    pixel_size_um: float | None = None
    dataset: str
    metrics: dict[str, float] = Field(default_factory=dict)
    calibration: CalibrationCard | None = None
    input_stats: InputStatsCard | None = None
    training_data: TrainingDataCard | None = None
    pixel_size_um_range: tuple[float, float] | None = Field(
        None, description="pixel sizes seen in training; None: the source does not say"
    )


def parse_card(text: str) -> ModelCard:
    """Parse and validate card JSON; raises ValueError naming the first bad field."""
    try:
        return ModelCard.model_validate_json(text)
    except ValidationError as exc:
        raise ValueError(str(first_error(exc, "invalid model card"))) from None
