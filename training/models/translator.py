"""Latent translator: residual U-Net (/8 -> /16 -> /32) with attention-gated skips."""

from __future__ import annotations

import torch
from torch import nn

from training.models.blocks import AttentionGate, ResBlock, Upsample, conv_bn_relu


class Translator(nn.Module):
    """QPI latent (B, latent, h, w) -> DAPI latent, h and w divisible by 4."""

    def __init__(self, latent: int, width: int) -> None:
        super().__init__()
        c = width
        self.enc0 = nn.Sequential(conv_bn_relu(latent, c), ResBlock(c))
        self.enc1 = nn.Sequential(conv_bn_relu(c, 2 * c, 2), ResBlock(2 * c))
        self.bottom = nn.Sequential(conv_bn_relu(2 * c, 4 * c, 2), ResBlock(4 * c), ResBlock(4 * c))
        self.up1, self.gate1 = Upsample(4 * c, 2 * c), AttentionGate(2 * c, 4 * c, c)
        self.dec1 = nn.Sequential(conv_bn_relu(4 * c, 2 * c), ResBlock(2 * c))
        self.up0, self.gate0 = Upsample(2 * c, c), AttentionGate(c, 2 * c, max(1, c // 2))
        self.dec0 = nn.Sequential(conv_bn_relu(2 * c, c), ResBlock(c))
        self.out = nn.Conv2d(c, latent, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s0 = self.enc0(z)
        s1 = self.enc1(s0)
        b = self.bottom(s1)
        d1 = self.dec1(torch.cat([self.up1(b), self.gate1(s1, b)], 1))
        d0 = self.dec0(torch.cat([self.up0(d1), self.gate0(s0, d1)], 1))
        return self.out(d0)
