"""The full-resolution pixel U-Net of the fnet / CARE kind: the speed peer of ``aglu-train
bench`` (issue 16). Four levels of 32, 64, 128 and 256 channels, two 3x3 conv +
BatchNorm + ReLU per level at full resolution first, max-pool down, transposed-conv up,
concatenated skips; a 1x1 head with AGLU's two outputs (prediction, sigma), so it runs
through the same ONNX export and the same stainer.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FnetUNet(nn.Module):
    stride_px = 8

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), in_ch: int = 1) -> None:
        super().__init__()
        chans = (in_ch, *widths)
        self.down = nn.ModuleList([_double_conv(chans[i], chans[i + 1]) for i in range(4)])
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(3)]
        )
        self.merge = nn.ModuleList([_double_conv(2 * widths[i], widths[i]) for i in range(3)])
        self.head = nn.Conv2d(widths[0], 2, 1)

    def forward(self, qpi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, skips = qpi, []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for i in reversed(range(3)):
            x = self.merge[i](torch.cat([self.up[i](x), skips[i]], 1))
        out = self.head(x)
        return out[:, :1], F.softplus(out[:, 1:]) + 1e-3
