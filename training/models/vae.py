"""A small KL-regularised VAE per modality: /8 spatial compression to a few latent channels."""

from __future__ import annotations

import torch
from torch import nn

from training.models.blocks import ResBlock, Upsample, conv_bn_relu


class Encoder(nn.Module):
    """Image (B, 1, H, W) -> posterior mean and log-variance, each (B, latent, H/8, W/8).

    The stem unshuffles to /2 first: no thin convolution runs at full resolution.
    """

    def __init__(self, widths: tuple[int, int, int], latent: int) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), conv_bn_relu(4, w0))
        self.down1 = nn.Sequential(conv_bn_relu(w0, w1, 2), ResBlock(w1))
        self.down2 = nn.Sequential(conv_bn_relu(w1, w2, 2), ResBlock(w2))
        self.to_latent = nn.Conv2d(w2, 2 * latent, 1)
        self.latent = latent

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.to_latent(self.down2(self.down1(self.stem(x))))
        mean, logvar = stats[:, : self.latent], stats[:, self.latent :]
        return mean, logvar.clamp(-30.0, 20.0)


class Decoder(nn.Module):
    """Latent (B, latent, H/8, W/8) -> (B, out, H, W), ending in a PixelShuffle from /2."""

    def __init__(self, widths: tuple[int, int, int], latent: int, out_ch: int) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.body = nn.Sequential(
            conv_bn_relu(latent, w2),
            ResBlock(w2),
            Upsample(w2, w1),
            conv_bn_relu(w1, w1),
            Upsample(w1, w0),
            conv_bn_relu(w0, w0),
        )
        self.head = nn.Sequential(nn.Conv2d(w0, out_ch * 4, 3, 1, 1), nn.PixelShuffle(2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(z))


class VAE(nn.Module):
    def __init__(self, widths: tuple[int, int, int], latent: int, out_ch: int) -> None:
        super().__init__()
        self.encoder = Encoder(widths, latent)
        self.decoder = Decoder(widths, latent, out_ch)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction, mean, log-variance; samples the posterior only in training mode."""
        mean, logvar = self.encoder(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if self.training else mean
        return self.decoder(z), mean, logvar


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)), averaged over all latent elements."""
    return 0.5 * torch.mean(mean.pow(2) + logvar.exp() - 1.0 - logvar)
