"""RIDNet (Anwar and Barnes, "Real Image Denoising with Feature Attention", ICCV 2019),
adapted to packed raw in, RGB out.

The original (and its released code): a 3x3 convolution + ReLU head to 64 channels, four
enhancement attention modules (EAM), a 3x3 convolution tail to RGB and a long skip
``output = input + tail``, with a fixed RGB mean subtracted before the head and added back
after the tail. An EAM is, in sequence:

1. merge-and-run: two branches of two 3x3 convolutions with ReLU (dilations 1, 2 and 3, 4),
   concatenated, a 3x3 convolution + ReLU back to 64 channels, plus the EAM input;
2. a residual block: conv, ReLU, conv, plus input, ReLU;
3. an enhanced residual block: conv, ReLU, conv, ReLU, 1x1 conv, plus input, ReLU;
4. feature attention: global average pooling, 1x1 conv 64 -> 4 + ReLU, 1x1 conv 4 -> 64 +
   sigmoid, channel-wise rescaling (squeeze-excitation, reduction 16).

Adaptation for SID, retrained as in the GIA-Net paper (Table 1):

- Input: the packed raw ``(N, in_channels, H, W)`` (4 Bayer / 9 X-Trans channels, amplified,
  in [0, 1]); the head takes ``in_channels``.
- The RGB mean shift is dropped: it is a constant of RGB training data (DIV2K) and has no
  meaning for packed raw; the biases absorb any offset.
- Output: the tail maps to ``3 * upscale**2`` channels and a pixel shuffle gives RGB at
  ``upscale`` x the packed resolution, like SID-Net's head.
- Long skip: ``input + tail`` is impossible when input and output differ in channels and
  resolution; it becomes a learned 1x1 projection of the packed input onto the sub-pixel RGB
  channels, added to the tail before the pixel shuffle
  (:class:`~gianet.models.blocks.ResidualRGBHead`).
- Sizes stay the original's by default (64 channels, 4 EAMs, reduction 16); ``channels``
  and ``blocks`` make it small for tests.

Like GIA, the feature attention pools globally: over a crop in training, the whole frame
in testing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ResidualRGBHead, SqueezeExcitation
from .registry import register


def conv_relu(in_channels: int, out_channels: int, dilation: int = 1) -> nn.Sequential:
    """Same-padded 3x3 convolution with ``dilation``, then ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation),
        nn.ReLU(inplace=True),
    )


class MergeAndRun(nn.Module):
    """Two dilated branches (1, 2 and 3, 4), merged by a 3x3 convolution, plus the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.near = nn.Sequential(
            conv_relu(channels, channels, 1), conv_relu(channels, channels, 2)
        )
        self.far = nn.Sequential(conv_relu(channels, channels, 3), conv_relu(channels, channels, 4))
        self.merge = conv_relu(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.merge(torch.cat([self.near(x), self.far(x)], dim=1))


class ResidualBlock(nn.Module):
    """``relu(x + conv(relu(conv(x))))`` with 3x3 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_relu(channels, channels), nn.Conv2d(channels, channels, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class EnhancedResidualBlock(nn.Module):
    """``relu(x + conv1x1(relu(conv(relu(conv(x))))))`` with 3x3 ``conv``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_relu(channels, channels),
            conv_relu(channels, channels),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class EnhancementAttentionModule(nn.Sequential):
    """RIDNet's EAM: merge-and-run, residual, enhanced residual, feature attention."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__(
            MergeAndRun(channels),
            ResidualBlock(channels),
            EnhancedResidualBlock(channels),
            SqueezeExcitation(channels, reduction),
        )


@register("ridnet")
class RIDNet(nn.Module):
    """Packed raw ``(N, in_channels, H, W)`` in [0, 1] to RGB ``(N, 3, up * H, up * W)``.

    Args:
        in_channels: 4 for packed Bayer, 9 for packed X-Trans.
        upscale: 2 for Bayer, 3 for X-Trans.
        channels: feature channels (original: 64).
        blocks: number of EAMs (original: 4).
        reduction: channel reduction of the feature attention (original: 16).
    """

    def __init__(
        self,
        in_channels: int,
        upscale: int,
        channels: int = 64,
        blocks: int = 4,
        reduction: int = 16,
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_relu(in_channels, channels),
            *(EnhancementAttentionModule(channels, reduction) for _ in range(blocks)),
        )
        self.head = ResidualRGBHead(channels, in_channels, upscale, kernel_size=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x), x)
