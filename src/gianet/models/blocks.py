"""Building blocks shared by the architectures.

All blocks map ``(N, C_in, H, W)`` float tensors to ``(N, C_out, H, W)``: every convolution
here is "same"-padded with stride 1, so spatial sizes are preserved for any ``H, W >= 1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: SID's activation: ``tf.maximum(0.2 * x, x)``.
LRELU_SLOPE = 0.2


def rgb_subpixel_channels(upscale: int) -> int:
    """Channels a pixel-shuffle head needs for RGB at ``upscale`` x: ``3 * upscale**2``."""
    return 3 * upscale**2


class ConvLReLU(nn.Sequential):
    """Same-padded ``kernel_size`` convolution (with bias) followed by LeakyReLU(0.2)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                padding=dilation * (kernel_size // 2),
                dilation=dilation,
            ),
            nn.LeakyReLU(LRELU_SLOPE, inplace=True),
        )


class SeeWiderConv(nn.Module):
    """The paper's SW block (Fig. 2): a plain and a dilated 3x3 convolution side by side.

    The input goes through a plain 3x3 convolution to ``C_l = out_channels // 2`` channels and,
    in parallel, a dilation-2 3x3 convolution to ``C_g = out_channels - C_l`` channels; the two
    are concatenated (local channels first). It has the parameters of one plain 3x3 convolution
    ``in_channels -> out_channels`` and sees twice as far. No activation (callers add it).
    """

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 2) -> None:
        super().__init__()
        local_channels = out_channels // 2
        self.local = nn.Conv2d(in_channels, local_channels, 3, padding=1)
        self.wide = nn.Conv2d(
            in_channels, out_channels - local_channels, 3, padding=dilation, dilation=dilation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.local(x), self.wide(x)], dim=1)


class DoubleConv(nn.Sequential):
    """One U-Net level: two 3x3 convolutions, each followed by LeakyReLU(0.2).

    Args:
        dilation: dilation of both convolutions (SID-dilated uses 2).
        see_wider: replace each convolution by a :class:`SeeWiderConv` (SW-Net).
    """

    def __init__(
        self, in_channels: int, out_channels: int, dilation: int = 1, see_wider: bool = False
    ) -> None:
        if see_wider:
            super().__init__(
                SeeWiderConv(in_channels, out_channels),
                nn.LeakyReLU(LRELU_SLOPE, inplace=True),
                SeeWiderConv(out_channels, out_channels),
                nn.LeakyReLU(LRELU_SLOPE, inplace=True),
            )
        else:
            super().__init__(
                ConvLReLU(in_channels, out_channels, dilation=dilation),
                ConvLReLU(out_channels, out_channels, dilation=dilation),
            )


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., CVPR 2018), also RIDNet's feature attention.

    ``x * sigmoid(W2 relu(W1 mean_hw(x)))`` with ``W1: C -> max(C // reduction, 1)`` and
    ``W2`` back to ``C``, both 1x1 convolutions with bias (fully connected layers on the pooled
    vector). Shape-preserving; the gate lies in (0, 1).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.squeeze = nn.Conv2d(channels, hidden, 1)
        self.excite = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(-2, -1), keepdim=True)
        gate = torch.sigmoid(self.excite(F.relu(self.squeeze(pooled))))
        return x * gate


class RGBHead(nn.Module):
    """Sub-pixel RGB output: convolution to ``3 * upscale**2`` channels, pixel shuffle.

    ``(N, in_channels, H, W) -> (N, 3, upscale * H, upscale * W)``, no activation (SID's
    ``conv10`` + ``depth_to_space``).
    """

    def __init__(self, in_channels: int, upscale: int, kernel_size: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, rgb_subpixel_channels(upscale), kernel_size, padding=kernel_size // 2
        )
        self.shuffle = nn.PixelShuffle(upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


class ResidualRGBHead(nn.Module):
    """RGB head for residual denoisers whose input (packed raw) and output (RGB) differ.

    ``shuffle(conv_k(features) + conv_1x1(packed))``: the identity skip ``output = input +
    residual`` of an image-to-image denoiser becomes a learned 1x1 projection of the packed
    input onto the sub-pixel RGB channels (a per-pixel linear demosaick/colour estimate), and
    the deep body predicts the correction to it. Maps ``features (N, C, H, W)`` and
    ``packed (N, in_channels, H, W)`` to ``(N, 3, upscale * H, upscale * W)``.
    """

    def __init__(
        self, feature_channels: int, in_channels: int, upscale: int, kernel_size: int = 3
    ) -> None:
        super().__init__()
        out_channels = rgb_subpixel_channels(upscale)
        self.residual = nn.Conv2d(
            feature_channels, out_channels, kernel_size, padding=kernel_size // 2
        )
        self.skip = nn.Conv2d(in_channels, out_channels, 1)
        self.shuffle = nn.PixelShuffle(upscale)

    def forward(self, features: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.residual(features) + self.skip(packed))
