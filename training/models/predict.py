"""One torch predict helper: pad a field to the model's stride, run it, crop back.

Used by training's validation (``training.fit.monitor``), the evaluation's predict
functions (``training.evaluate.predictors``) and the export (``export``): every model
class declares its ``stride_px`` (AGLU and the U-Net 32, fnet 8), read here, never guessed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from edge.infer.preprocess import as_planes, crop, pad_to_multiple

F32 = npt.NDArray[np.float32]


def stride_of(model: nn.Module) -> int:
    """The multiple a model's input sides must have (its class's ``stride_px``)."""
    stride = getattr(type(model), "stride_px", None)
    if not isinstance(stride, int) or stride < 1:
        raise TypeError(f"{type(model).__name__} declares no stride_px")
    return stride


def predict_field(
    model: nn.Module, qpi: F32, device: torch.device | str = "cpu"
) -> tuple[F32, F32]:
    """(dapi, sigma) of one normalised (planes, H, W) or (H, W) field of any size, without
    gradients, in the model's current mode (callers put it in eval mode)."""
    x, shape = pad_to_multiple(as_planes(qpi), stride_of(model))
    with torch.no_grad():
        pred, sigma = model(torch.from_numpy(np.ascontiguousarray(x))[None].to(device))
    return (
        crop(pred[0, 0].float().cpu().numpy(), shape),
        crop(sigma[0, 0].float().cpu().numpy(), shape),
    )
