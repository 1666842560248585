"""AGLU: attention-gated latent U-Net.

Training holds two VAEs (QPI and DAPI) and the latent translator. Inference,
``forward``, is one deterministic pass: QPI encoder (posterior mean) ->
translator -> DAPI decoder, giving the predicted DAPI and a per-pixel
uncertainty ``sigma`` (Laplace scale; heteroscedastic head). The DAPI encoder
and the QPI decoder exist only to shape the latent spaces during training and
are not part of the exported graph.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from training.models.translator import Translator
from training.models.vae import VAE


class AGLU(nn.Module):
    """QPI -> (DAPI, sigma). Inputs must have H and W divisible by ``stride_px``."""

    stride_px = 32  # /8 VAEs times the translator's two /2 levels

    def __init__(
        self,
        encoder_widths: tuple[int, int, int] = (16, 32, 64),
        latent_channels: int = 8,
        translator_width: int = 48,
    ) -> None:
        super().__init__()
        self.qpi_vae = VAE(encoder_widths, latent_channels, out_ch=1)
        self.dapi_vae = VAE(encoder_widths, latent_channels, out_ch=2)  # mean and sigma
        self.translator = Translator(latent_channels, translator_width)

    @staticmethod
    def split_output(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """DAPI decoder output -> (dapi, sigma > 0)."""
        return out[:, :1], F.softplus(out[:, 1:]) + 1e-3

    def translate(self, qpi: torch.Tensor) -> torch.Tensor:
        """QPI image -> predicted DAPI latent (deterministic: posterior mean)."""
        return self.translator(self.qpi_vae.encoder(qpi)[0])

    def forward(self, qpi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.split_output(self.dapi_vae.decoder(self.translate(qpi)))
