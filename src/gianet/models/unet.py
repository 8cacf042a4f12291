"""SID-Net, the U-Net of "Learning to See in the Dark" (Chen et al., CVPR 2018), and the
variants of the GIA-Net paper built on it.

Layout, read from SID's ``train_Sony.py`` / ``train_Fuji.py``: four encoder levels of two
3x3 convolutions (32, 64, 128, 256 channels), each followed by a 2x2 max-pool; a bottleneck of
two 3x3 convolutions (512); four decoder levels, each a 2x2 stride-2 transposed convolution
without bias (256, 128, 64, 32) concatenated with the encoder skip and followed by two 3x3
convolutions; a 1x1 convolution to ``3 * upscale**2`` channels and a pixel shuffle. Every 3x3
convolution has a bias and LeakyReLU(0.2). 18 3x3 convolutions; 7,760,268 parameters for
Sony (paper: 7.76 M).

Odd sizes, as TensorFlow: SID pools with ``padding='SAME'`` (``ceil(H / 2)`` rows, the last
window partial) and gives each transposed convolution the skip's shape, which for 'SAME'
keeps the first ``H_skip`` rows of its ``2 * ceil(H_skip / 2)``. Here: ``ceil_mode=True``
pooling and a crop of the transposed convolution's output to the skip's size. So any
``H, W >= 1`` works with no padding, including full 1416 x 2120 Sony frames; every output
pixel is computed as in SID's code. (PyTorch's ``output_size=`` cannot express this: it
only extends, after floor pooling, with rows that get no kernel contribution.)

Variants (constructor arguments):

- ``gia``: the GIA module in the bottleneck, after the two 512-channel convolutions
  (GIA-Net, GIA-l1; Table 3 models 6-9). ``gia_pool_window``: see :mod:`gianet.models.gia`.
- ``extra_bottleneck_convs``, ``extra_bottleneck_kernel``: Table 3 model 2, "two
  convolutional layers added to the bottleneck" to match the depth the GIA module adds:
  convolutions 512 -> 512 with LeakyReLU after the bottleneck, of the kernel
  ``train.extra_convs_kernel`` gives (the paper names none): 3, as every other bottleneck
  convolution of SID's code (4.7 M parameters more, x1.61), or 1, as the GIA module's two
  layers (525,312 more against the module's 525,056, x1.068 either way).
- ``dilation``: SID-dilated (Table 2), every 3x3 convolution dilated by 2.
- ``sw_blocks``: SW-Net (Table 2), every 3x3 convolution replaced by a
  :class:`~gianet.models.blocks.SeeWiderConv` (``C_l = C_g = C_out / 2``, dilation 2).
- ``se_bottleneck``: SE-UNet (Table 1), a squeeze-and-excitation block after the bottleneck
  convolutions; reduction 16, Hu et al.'s default (the GIA-Net paper gives none).

Options compose; in the bottleneck the order is convolutions, extra convolutions, SE, GIA.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from .blocks import ConvLReLU, DoubleConv, RGBHead, SqueezeExcitation
from .gia import GIAModule
from .registry import register

#: Pooling levels. Encoder widths are ``base_channels * (1, 2, 4, 8)``, the bottleneck
#: ``base_channels * 16`` (SID: 32, 64, 128, 256 and 512).
LEVELS = 4


class CroppedTransposedUp(nn.Module):
    """2x2 stride-2 transposed convolution without bias, cropped to the skip's size.

    ``(N, C_in, h, w) -> (N, C_out, H, W)`` for a skip of size ``H x W`` with
    ``h = ceil(H / 2)``, ``w = ceil(W / 2)``: TensorFlow's ``conv2d_transpose`` with
    ``output_shape`` = the skip's shape and 'SAME' padding.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2, bias=False)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.conv(x)[..., : size[0], : size[1]]


def build_bottleneck_extras(
    channels: int,
    extra_convs: int,
    se: bool,
    gia: bool,
    gia_pool_window: int | None,
    extra_kernel: int = 1,
) -> nn.Sequential:
    """The shape-preserving layers after the bottleneck convolutions, in order."""
    layers: list[nn.Module] = [
        ConvLReLU(channels, channels, kernel_size=extra_kernel) for _ in range(extra_convs)
    ]
    if se:
        layers.append(SqueezeExcitation(channels))
    if gia:
        layers.append(GIAModule(channels, pool_window=gia_pool_window))
    return nn.Sequential(*layers)


@register("unet")
class UNet(nn.Module):
    """SID-Net and its variants: packed raw ``(N, in_channels, H, W)`` in [0, 1], amplified,
    to RGB ``(N, 3, upscale * H, upscale * W)`` in the ground truth's space, nominally [0, 1]
    (not clipped).

    Args:
        in_channels: 4 for packed Bayer (Sony), 9 for packed X-Trans (Fuji).
        upscale: 2 for Bayer, 3 for X-Trans (pixel shuffle factor of the head).
        base_channels: width of the first level; level ``i`` has ``base * 2**i`` (SID: 32).
        gia: insert the GIA module in the bottleneck (GIA-Net).
        gia_pool_window: ``None`` = global pooling as the paper; ``k`` = local ``k x k``
            window in bottleneck pixels (input pixels / 16). Needs ``gia``.
        extra_bottleneck_convs: extra convolutions + LeakyReLU in the bottleneck (Table 3
            model 2 uses 2).
        extra_bottleneck_kernel: their kernel size, odd (1 or SID's 3; "same" padding).
        dilation: dilation of every 3x3 convolution (SID-dilated: 2).
        sw_blocks: every 3x3 convolution becomes an SW block (SW-Net).
        se_bottleneck: squeeze-and-excitation block in the bottleneck (SE-UNet).
    """

    def __init__(
        self,
        in_channels: int,
        upscale: int,
        base_channels: int = 32,
        gia: bool = False,
        gia_pool_window: int | None = None,
        extra_bottleneck_convs: int = 0,
        extra_bottleneck_kernel: int = 1,
        dilation: int = 1,
        sw_blocks: bool = False,
        se_bottleneck: bool = False,
    ) -> None:
        super().__init__()
        if gia_pool_window is not None and not gia:
            raise ValueError("gia_pool_window is set but gia is False")
        if sw_blocks and dilation != 1:
            raise ValueError("sw_blocks fixes its own dilation; leave dilation at 1")
        if dilation < 1 or extra_bottleneck_convs < 0:
            raise ValueError("dilation must be >= 1 and extra_bottleneck_convs >= 0")
        if extra_bottleneck_kernel < 1 or extra_bottleneck_kernel % 2 == 0:
            raise ValueError(
                f"extra_bottleneck_kernel must be odd and positive, got {extra_bottleneck_kernel}"
            )
        widths = [base_channels * 2**level for level in range(LEVELS + 1)]

        def level(cin: int, cout: int) -> DoubleConv:
            return DoubleConv(cin, cout, dilation=dilation, see_wider=sw_blocks)

        self.encoder = nn.ModuleList(
            level(cin, cout) for cin, cout in pairwise([in_channels, *widths[:-1]])
        )
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.bottleneck = level(widths[-2], widths[-1])
        self.bottleneck_extra = build_bottleneck_extras(
            widths[-1],
            extra_bottleneck_convs,
            se_bottleneck,
            gia,
            gia_pool_window,
            extra_bottleneck_kernel,
        )
        decoder_widths = widths[::-1]  # SID: 512, 256, 128, 64, 32
        self.upsample = nn.ModuleList(
            CroppedTransposedUp(cin, cout) for cin, cout in pairwise(decoder_widths)
        )
        self.decoder = nn.ModuleList(level(2 * cout, cout) for cout in decoder_widths[1:])
        self.head = RGBHead(widths[0], upscale, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for encode in self.encoder:
            x = encode(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck_extra(self.bottleneck(x))
        for upsample, decode, skip in zip(
            self.upsample, self.decoder, reversed(skips), strict=True
        ):
            x = decode(torch.cat([upsample(x, (skip.shape[-2], skip.shape[-1])), skip], dim=1))
        return self.head(x)
