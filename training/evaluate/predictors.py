"""Predict functions (normalised input (planes, H, W) -> normalised DAPI (H, W)) for torch
and ONNX models."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from edge.infer.model import SessionConfig, load_model
from edge.infer.preprocess import as_planes, crop, pad_to_multiple
from training.config import TrainConfig
from training.evaluate.score import Predict
from training.models.build import load_checkpoint
from training.models.predict import predict_field


def default_recipe_path() -> Path:
    return Path(str(resources.files("training") / "recipes" / "qpi.toml"))


def torch_predictor(checkpoint: Path) -> tuple[Predict, TrainConfig]:
    model, cfg = load_checkpoint(checkpoint)

    def predict(qpi: np.ndarray) -> np.ndarray:
        return predict_field(model, qpi)[0]

    return predict, cfg


def onnx_predictor(path: Path) -> Predict:
    """The model as the edge runs it (same loader, same session options)."""
    loaded = load_model(path, SessionConfig())

    def predict(qpi: np.ndarray) -> np.ndarray:
        x, shape = pad_to_multiple(as_planes(qpi), loaded.card.stride_px)
        out = loaded.session.run(["dapi"], {loaded.input_name: x[None]})[0][0, 0]
        return crop(np.asarray(out, np.float32), shape)

    return predict
