"""AGLU: attention-gated latent U-Net.

Training holds two VAEs (input and DAPI) and the latent translator. Inference,
``forward``, is one deterministic pass: input encoder (posterior mean) ->
translator -> DAPI decoder, giving the predicted DAPI and a per-pixel
uncertainty ``sigma`` (Laplace scale; heteroscedastic head). With ``skips``
(the default) the DAPI decoder also receives the input encoder's /2 and /4
features through attention gates; without, everything passes the /8 latent
(the original, pure-latent AGLU, kept as an ablation). The DAPI encoder and the
input decoder exist only to shape the latent spaces during training and are
not part of the exported graph.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from training.models.translator import Translator
from training.models.vae import VAE, Skips


class AGLU(nn.Module):
    """Input (B, planes, H, W) -> (DAPI, sigma), H and W divisible by ``stride_px``."""

    stride_px = 32  # /8 VAEs times the translator's two /2 levels

    def __init__(
        self,
        encoder_widths: tuple[int, int, int] = (16, 32, 64),
        latent_channels: int = 8,
        translator_width: int = 48,
        in_planes: int = 1,
        skips: bool = True,
    ) -> None:
        super().__init__()
        self.in_planes, self.skips = in_planes, skips
        self.qpi_vae = VAE(encoder_widths, latent_channels, out_ch=in_planes, in_ch=in_planes)
        # DAPI: mean and sigma; skips come from the input encoder (the inference path).
        self.dapi_vae = VAE(encoder_widths, latent_channels, out_ch=2, skips=skips)
        self.translator = Translator(latent_channels, translator_width)

    @staticmethod
    def split_output(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """DAPI decoder output -> (dapi, sigma > 0)."""
        return out[:, :1], F.softplus(out[:, 1:]) + 1e-3

    def encode(self, qpi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Skips | None]:
        """Input -> posterior mean, log-variance, and the skips the decoder uses (or None)."""
        mean, logvar, skips = self.qpi_vae.encoder(qpi)
        return mean, logvar, skips if self.skips else None

    def translate(self, qpi: torch.Tensor) -> torch.Tensor:
        """Input image -> predicted DAPI latent (deterministic: posterior mean)."""
        return self.translator(self.qpi_vae.encoder(qpi)[0])

    def forward(self, qpi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, _, skips = self.encode(qpi)
        return self.split_output(self.dapi_vae.decoder(self.translator(mean), skips))
