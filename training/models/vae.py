"""A small KL-regularised VAE per modality: /8 spatial compression to a few latent channels.

The encoder also returns its /2 and /4 features. A decoder built with
``skips=True`` adds them back through attention gates (Oktay et al.,
``SkipGate``) gated by its own coarser level: the /8 latent says which cell has
a nucleus, the gated skips say where exactly its edge is. The merge is additive
(the skip has the channels of the upsampled path), which costs two small gates,
not a wider conv: the inference graph stays about as fast as the pure-latent one.
"""

from __future__ import annotations

import torch
from torch import nn

from training.models.blocks import ResBlock, SkipGate, Upsample, conv_bn_relu

Skips = tuple[torch.Tensor, torch.Tensor]  # encoder features at /2 and /4


class Encoder(nn.Module):
    """Image (B, in_ch, H, W) -> posterior mean and log-variance (B, latent, H/8, W/8), skips.

    The stem unshuffles to /2 first: no thin convolution runs at full resolution.
    """

    def __init__(self, widths: tuple[int, int, int], latent: int, in_ch: int = 1) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), conv_bn_relu(4 * in_ch, w0))
        self.down1 = nn.Sequential(conv_bn_relu(w0, w1, 2), ResBlock(w1))
        self.down2 = nn.Sequential(conv_bn_relu(w1, w2, 2), ResBlock(w2))
        self.to_latent = nn.Conv2d(w2, 2 * latent, 1)
        self.latent = latent

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Skips]:
        s2 = self.stem(x)
        s4 = self.down1(s2)
        stats = self.to_latent(self.down2(s4))
        mean, logvar = stats[:, : self.latent], stats[:, self.latent :]
        return mean, logvar.clamp(-30.0, 20.0), (s2, s4)


class Decoder(nn.Module):
    """Latent (B, latent, H/8, W/8) [+ skips] -> (B, out, H, W), ending in a PixelShuffle."""

    def __init__(
        self, widths: tuple[int, int, int], latent: int, out_ch: int, skips: bool = False
    ) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.body8 = nn.Sequential(conv_bn_relu(latent, w2), ResBlock(w2))
        self.up4, self.body4 = Upsample(w2, w1), conv_bn_relu(w1, w1)
        self.up2, self.body2 = Upsample(w1, w0), conv_bn_relu(w0, w0)
        self.gate4 = SkipGate(w1, w2, max(1, w1 // 2)) if skips else None
        self.gate2 = SkipGate(w0, w1, max(1, w0 // 2)) if skips else None
        self.head = nn.Sequential(nn.Conv2d(w0, out_ch * 4, 3, 1, 1), nn.PixelShuffle(2))

    def forward(self, z: torch.Tensor, skips: Skips | None = None) -> torch.Tensor:
        x8 = self.body8(z)
        x = self.up4(x8)
        if self.gate4 is not None and skips is not None:
            x = x + self.gate4(skips[1], x8)
        x4 = self.body4(x)
        x = self.up2(x4)
        if self.gate2 is not None and skips is not None:
            x = x + self.gate2(skips[0], x4)
        return self.head(self.body2(x))


class VAE(nn.Module):
    def __init__(
        self,
        widths: tuple[int, int, int],
        latent: int,
        out_ch: int,
        in_ch: int = 1,
        skips: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(widths, latent, in_ch)
        self.decoder = Decoder(widths, latent, out_ch, skips)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction from the latent alone, mean, log-variance; samples the posterior
        only in training mode."""
        mean, logvar, _ = self.encoder(x)
        return self.decoder(sample(mean, logvar, self.training)), mean, logvar


def sample(mean: torch.Tensor, logvar: torch.Tensor, training: bool) -> torch.Tensor:
    """A posterior sample in training, the mean otherwise (deterministic inference)."""
    return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if training else mean


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)), averaged over all latent elements."""
    return 0.5 * torch.mean(mean.pow(2) + logvar.exp() - 1.0 - logvar)
