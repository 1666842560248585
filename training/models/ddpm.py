"""A small conditional DDPM, for the speed side of the comparison.

Denoiser: the baseline U-Net on [x_t, QPI] (2 channels) with a sinusoidal
timestep embedding added at /32, predicting the noise. Sampling: 50 deterministic
DDIM steps (eta = 0) over a linear-beta, 1000-step schedule. Its per-frame cost
is 50 denoiser passes whatever the weights, so the comparison times it untrained.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from training.models.unet import UNet


class ConditionalDenoiser(nn.Module):
    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), depth_width: int = 96) -> None:
        super().__init__()
        self.unet = UNet(widths, depth_width, in_ch=2)
        dim = self.unet.bottom_ch
        self.embed = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, x_t: torch.Tensor, qpi: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        half = self.unet.bottom_ch // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        angles = t.float()[:, None] * freqs[None]
        emb = self.embed(torch.cat([angles.sin(), angles.cos()], 1))
        return self.unet(torch.cat([x_t, qpi], 1), emb)[0]


class DDPM(nn.Module):
    def __init__(self, denoiser: ConditionalDenoiser, train_steps: int = 1000) -> None:
        super().__init__()
        self.denoiser = denoiser
        betas = torch.linspace(1e-4, 0.02, train_steps)
        self.register_buffer("alpha_bar", torch.cumprod(1.0 - betas, 0))

    @torch.no_grad()
    def sample(self, qpi: torch.Tensor, steps: int = 50, seed: int = 0) -> torch.Tensor:
        """DDIM (eta = 0): ``steps`` denoiser passes from Gaussian noise to a DAPI sample."""
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(qpi.shape, generator=g)
        alpha_bar: torch.Tensor = self.alpha_bar  # type: ignore[assignment]
        ts = torch.linspace(len(alpha_bar) - 1, 0, steps).long()
        for i, t in enumerate(ts):
            a = alpha_bar[t]
            a_prev = alpha_bar[ts[i + 1]] if i + 1 < steps else torch.tensor(1.0)
            eps = self.denoiser(x, qpi, t.repeat(qpi.shape[0]))
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        return x
