"""Models from recipes and checkpoints: what training, export and evaluation all build on.

``build_model`` makes the recipe's model (``[model] kind``); ``load_checkpoint`` rebuilds
a model and its recipe from a checkpoint written by ``training.fit.train.fit``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from edge.infer.preprocess import Normalization
from training.config import TrainConfig
from training.models.aglu import AGLU
from training.models.fnet import FnetUNet
from training.models.unet import UNet

Model = AGLU | UNet | FnetUNet


def build_model(cfg: TrainConfig) -> Model:
    m, planes = cfg.model, cfg.data.planes
    if m.kind == "unet":
        return UNet(m.encoder_widths, m.unet_depth_width, in_ch=planes)
    if m.kind == "fnet":
        return FnetUNet(m.fnet_widths, in_ch=planes)
    return AGLU(m.encoder_widths, m.latent_channels, m.translator_width, planes, m.skips)


def load_checkpoint(path: Path) -> tuple[Model, TrainConfig]:
    """Rebuild the model and its recipe from a checkpoint written by ``fit``."""
    from edge.errors import ModelError
    from training.config import parse_train_config

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(str(path), f"not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise ModelError(str(path), "checkpoint lacks 'state_dict' or 'config'")
    cfg = parse_train_config(ckpt["config"], f"{path} config")
    model = build_model(cfg)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError:
        raise ModelError(
            str(path), "weights do not fit the recipe's model (made by another AGLU version?)"
        ) from None
    model.eval()
    return model, cfg


def checkpoint_normalizations(path: Path) -> tuple[Normalization, Normalization] | None:
    """The input/target normalisation a checkpoint was trained with (None: older file)."""
    saved = torch.load(path, map_location="cpu", weights_only=True).get("normalization")
    if saved is None:
        return None
    return Normalization(**saved["input"]), Normalization(**saved["target"])
