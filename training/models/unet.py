"""Pixel-space U-Net baseline (fnet / CARE style), built from the same blocks as AGLU.

Four levels (/1 -> /8 -> /32 ... as AGLU's receptive field), BatchNorm+ReLU,
PixelShuffle upsampling, plain (non-gated) skips. Same outputs as AGLU
(prediction and a sigma head) so training, export and evaluation are shared.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from training.models.blocks import ResBlock, Upsample, conv_bn_relu


class UNet(nn.Module):
    stride_px = 32

    def __init__(
        self, widths: tuple[int, int, int] = (16, 32, 64), depth_width: int = 128, in_ch: int = 1
    ) -> None:
        super().__init__()
        w0, w1, w2 = widths
        w3, w4 = depth_width, depth_width * 2
        self.bottom_ch = w4
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), conv_bn_relu(4 * in_ch, w0))  # /2
        self.down = nn.ModuleList(
            [
                nn.Sequential(conv_bn_relu(w0, w1, 2), ResBlock(w1)),  # /4
                nn.Sequential(conv_bn_relu(w1, w2, 2), ResBlock(w2)),  # /8
                nn.Sequential(conv_bn_relu(w2, w3, 2), ResBlock(w3)),  # /16
                nn.Sequential(conv_bn_relu(w3, w4, 2), ResBlock(w4)),  # /32
            ]
        )
        chans = [w0, w1, w2, w3, w4]
        self.up = nn.ModuleList([Upsample(chans[i + 1], chans[i]) for i in range(4)])
        self.merge = nn.ModuleList([conv_bn_relu(2 * chans[i], chans[i]) for i in range(4)])
        self.head = nn.Sequential(nn.Conv2d(w0, 2 * 4, 3, 1, 1), nn.PixelShuffle(2))

    def forward(
        self, qpi: torch.Tensor, bottom_bias: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``bottom_bias`` (B, bottom_ch): added at /32 (a DDPM's timestep embedding)."""
        skips = [self.stem(qpi)]
        for down in self.down:
            skips.append(down(skips[-1]))
        x = skips.pop()
        if bottom_bias is not None:
            x = x + bottom_bias[:, :, None, None]
        for i in reversed(range(4)):
            x = self.merge[i](torch.cat([self.up[i](x), skips[i]], 1))
        out = self.head(x)
        return out[:, :1], F.softplus(out[:, 1:]) + 1e-3
