"""Measure the receptive-field halo of a model (for tiling) from its gradients."""

from __future__ import annotations

import torch


def measure_halo_px(model: torch.nn.Module, stride_px: int, side_px: int = 256) -> int:
    """Largest distance from the centre pixel at which the input still affects it.

    Eval mode (BatchNorm frozen) so the measurement is the inference graph's.
    Rounded up to a multiple of ``stride_px`` so tiles stay aligned.
    """
    model.eval()
    x = torch.zeros(1, 1, side_px, side_px, requires_grad=True)
    dapi = model(x)[0]
    c = side_px // 2
    dapi[0, 0, c, c].backward()
    assert x.grad is not None
    ys, xs = torch.nonzero(x.grad[0, 0].abs() > 0, as_tuple=True)
    if ys.numel() == 0:
        return 0
    reach = int(max((ys - c).abs().max(), (xs - c).abs().max()))
    return -(-reach // stride_px) * stride_px
