"""AGLU: attention-gated latent U-Net (QPI encoder -> latent translator -> DAPI decoder).

Speed rules from DESIGN.md: /8 compression, BatchNorm+ReLU, PixelShuffle
upsampling, no thin convolution at full resolution (the stem unshuffles to /2 and
the decoder ends with a PixelShuffle from /2). One deterministic pass returns the
predicted DAPI and a per-pixel uncertainty ``sigma`` (Laplace scale).
"""

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


class Encoder(nn.Module):
    """Image (B, 1, H, W) -> latent (B, latent, H/8, W/8)."""

    def __init__(self, widths: tuple[int, int, int], latent: int) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), conv_bn_relu(4, w0))
        self.down1 = nn.Sequential(conv_bn_relu(w0, w1, 2), ResBlock(w1))
        self.down2 = nn.Sequential(conv_bn_relu(w1, w2, 2), ResBlock(w2))
        self.to_latent = nn.Conv2d(w2, latent, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.down2(self.down1(self.stem(x))))


class Decoder(nn.Module):
    """Latent (B, latent, H/8, W/8) -> (B, out, H, W)."""

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


class Translator(nn.Module):
    """Residual latent U-Net (/8 -> /16 -> /32) with attention-gated skips."""

    def __init__(self, latent: int, width: int) -> None:
        super().__init__()
        c = width
        self.enc0 = nn.Sequential(conv_bn_relu(latent, c), ResBlock(c))
        self.enc1 = nn.Sequential(conv_bn_relu(c, 2 * c, 2), ResBlock(2 * c))
        self.bottom = nn.Sequential(conv_bn_relu(2 * c, 4 * c, 2), ResBlock(4 * c))
        self.up1, self.gate1 = Upsample(4 * c, 2 * c), AttentionGate(2 * c, 4 * c, c)
        self.dec1 = conv_bn_relu(4 * c, 2 * c)
        self.up0, self.gate0 = Upsample(2 * c, c), AttentionGate(c, 2 * c, c // 2)
        self.dec0 = conv_bn_relu(2 * c, c)
        self.out = nn.Conv2d(c, latent, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s0 = self.enc0(z)
        s1 = self.enc1(s0)
        b = self.bottom(s1)
        d1 = self.dec1(torch.cat([self.up1(b), self.gate1(s1, b)], 1))
        d0 = self.dec0(torch.cat([self.up0(d1), self.gate0(s0, d1)], 1))
        return z + self.out(d0)


class AGLU(nn.Module):
    """QPI -> (DAPI, sigma). Inputs must have H and W divisible by ``stride_px``."""

    stride_px = 32

    def __init__(
        self,
        encoder_widths: tuple[int, int, int] = (16, 32, 64),
        latent_channels: int = 8,
        translator_width: int = 48,
    ) -> None:
        super().__init__()
        self.qpi_encoder = Encoder(encoder_widths, latent_channels)
        self.translator = Translator(latent_channels, translator_width)
        self.dapi_decoder = Decoder(encoder_widths, latent_channels, out_ch=2)

    def forward(self, qpi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.dapi_decoder(self.translator(self.qpi_encoder(qpi)))
        dapi, raw_sigma = out[:, :1], out[:, 1:]
        return dapi, F.softplus(raw_sigma) + 1e-3
