"""Building blocks chosen for int8 CPU speed (docs/speed.md): BatchNorm+ReLU, PixelShuffle."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(ch, ch), nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Upsample(nn.Sequential):
    """1x1 conv to 4x channels, then PixelShuffle(2) (quantises well, unlike ConvTranspose)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout * 4, 1), nn.PixelShuffle(2))


class AttentionGate(nn.Module):
    """Additive attention gate (Oktay et al. 2018) on a skip, gated by the coarser level."""

    def __init__(self, skip_ch: int, gate_ch: int, inter_ch: int) -> None:
        super().__init__()
        self.theta = nn.Conv2d(skip_ch, inter_ch, 1, bias=False)
        self.phi = nn.Conv2d(gate_ch, inter_ch, 1)
        self.psi = nn.Conv2d(inter_ch, 1, 1)

    def forward(self, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        g = F.interpolate(self.phi(gate), scale_factor=2.0, mode="nearest")
        alpha = torch.sigmoid(self.psi(F.relu(self.theta(skip) + g)))
        return skip * alpha


class SkipGate(nn.Module):
    """Attention gate of Oktay et al. (2018) in its original, cheap form, for a skip at
    twice the resolution of the gating signal: the skip is brought to the gate's
    resolution by a strided 2x2 convolution, the attention map is computed there, and
    only that one-channel map is upsampled (nearest) to weight the skip.

    Versus gating at the skip's resolution (``AttentionGate``), the fine level runs just
    one multiply and one 1-channel resize: measured on the /2 skip of a 2048 px frame in
    int8 it keeps the skip model within the speed of the pure-latent one.
    """

    def __init__(self, skip_ch: int, gate_ch: int, inter_ch: int) -> None:
        super().__init__()
        self.theta = nn.Conv2d(skip_ch, inter_ch, 2, 2, bias=False)
        self.phi = nn.Conv2d(gate_ch, inter_ch, 1)
        self.psi = nn.Conv2d(inter_ch, 1, 1)

    def forward(self, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid(self.psi(F.relu(self.theta(skip) + self.phi(gate))))
        return skip * F.interpolate(alpha, scale_factor=2.0, mode="nearest")
