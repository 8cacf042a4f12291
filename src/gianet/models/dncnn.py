"""DnCNN (Zhang, Zuo, Chen, Meng, Zhang; IEEE TIP 2017), adapted to packed raw in, RGB out.

The original: ``depth = 17`` 3x3 convolutions with 64 channels at full resolution; the first
is followed by ReLU, the ``depth - 2`` middle ones by batch normalisation and ReLU, the last
maps back to the image channels; the network predicts the noise and the output is
``input - prediction`` (residual learning).

Adaptation for SID, retrained as in the GIA-Net paper (Table 1):

- Input: the packed raw ``(N, in_channels, H, W)`` (4 Bayer / 9 X-Trans channels, amplified,
  in [0, 1]) instead of a noisy RGB or grey image; the first convolution takes
  ``in_channels``.
- Output: the last convolution maps to ``3 * upscale**2`` channels and a pixel shuffle gives
  RGB at ``upscale`` x the packed resolution, like SID-Net's head.
- Residual: ``input - prediction`` is impossible when input and output differ in channels and
  resolution. The identity is replaced by a learned 1x1 projection of the packed input onto
  the sub-pixel RGB channels (a per-pixel linear demosaick and colour estimate) and the body's
  output is added to it before the pixel shuffle
  (:class:`~gianet.models.blocks.ResidualRGBHead`); the subtraction's sign is absorbed in the
  learned weights. The body still learns a correction to a simple estimate.
- Convolutions followed by batch normalisation have no bias (BN's shift replaces it).
- Sizes stay the original's by default (17 layers, 64 channels, 0.56 M parameters); ``depth``
  and ``channels`` make it small for tests.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ResidualRGBHead
from .registry import register


def conv_bn_relu(channels: int) -> nn.Sequential:
    """A DnCNN middle layer: 3x3 convolution (no bias), batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
    )


@register("dncnn")
class DnCNN(nn.Module):
    """Packed raw ``(N, in_channels, H, W)`` in [0, 1] to RGB ``(N, 3, up * H, up * W)``.

    Args:
        in_channels: 4 for packed Bayer, 9 for packed X-Trans.
        upscale: 2 for Bayer, 3 for X-Trans.
        depth: number of 3x3 convolutions, first and last included (original: 17).
        channels: feature channels (original: 64).
    """

    def __init__(self, in_channels: int, upscale: int, depth: int = 17, channels: int = 64) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be >= 2 (first and last layer), got {depth}")
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            *(conv_bn_relu(channels) for _ in range(depth - 2)),
        )
        self.head = ResidualRGBHead(channels, in_channels, upscale, kernel_size=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x), x)
