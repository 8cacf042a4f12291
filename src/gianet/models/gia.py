"""The global information aware (GIA) module (paper section 3.2, Fig. 3, Table 4).

For an input ``X`` of shape ``(N, C, H, W)`` (the U-Net bottleneck, ``C = 512``):

- ``f1``: global average pooling, ``(N, C, 1, 1)``;
- a 1x1 convolution ``C -> C / 2`` shrinks the channels (``512 -> 256``);
- ``f2``: bilinear upsampling to ``H x W``;
- ``f3``: concatenation with ``X`` (``3C / 2 = 768`` channels), then a 1x1 convolution back to
  ``C`` channels, which feeds the decoder.

This is the one reading of the paper that reproduces both Table 4 ratios (parameters x1.07,
FLOPs x1.008 at 4240 x 2832). Each convolution is followed by LeakyReLU(0.2), as every
convolution of SID-Net except the output layer (the paper does not name the activation).
The shrinking convolution runs before the upsampling: upsampling a ``1 x 1`` map gives a
constant map, and a per-pixel affine map plus LeakyReLU commutes with that, so the result is
the paper's at no cost.

Training sees crops, testing whole frames, so the pooled statistics come from different
extents. ``pool_window`` makes that explicit (NAFNet's "TLSC", Chu et al., ECCV 2022):
``None`` pools over the whole input (the paper); an integer ``k`` averages over the
``k x k`` window (clipped to the input) around each position instead, so a model trained on
crops whose bottleneck is ``k x k`` (512-pixel packed crops: ``k = 32``) sees statistics of
the same extent on a full frame. When ``k`` covers the whole input both are identical.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvLReLU


def local_average(x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """Average ``x (N, C, H, W)`` over every ``window``-sized box it contains (stride 1).

    Returns ``(N, C, H - wh + 1, W - ww + 1)``; ``window`` is clipped to ``(H, W)`` first, so
    a window at least as large as the input gives the global mean ``(N, C, 1, 1)``. The box
    filter runs separably (rows, then columns), which is exact.
    """
    height = min(window[0], x.shape[-2])
    width = min(window[1], x.shape[-1])
    rows = F.avg_pool2d(x, (height, 1), stride=1)
    return F.avg_pool2d(rows, (1, width), stride=1)


def spread_to(context: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bring a pooled map ``(N, C, h, w)`` back to ``size = (H, W)``, ``h <= H``, ``w <= W``.

    The ``h x w`` map holds one value per window position, centred; the border positions
    whose window would leave the input take the nearest window's value (replicate padding,
    as NAFNet's TLSC). For the global ``1 x 1`` map this is exactly the paper's bilinear
    upsampling of a constant.

    Built from broadcasts, never ``F.pad(mode="replicate")``: the values are the padding's,
    bit for bit, but the gradient of a broadcast is a plain sum, where the replicate pad's
    backward scatters with atomic additions (on an H100 in bf16 that backward took 25.6 ms of
    a 33 ms GIA-Net step). A global map is one ``expand`` (a view, no copy); a local one
    repeats its edge rows and columns by expanding them and concatenating.
    """
    if context.shape[-2:] == (1, 1):
        return context.expand(*context.shape[:-2], *size)
    return _replicate_edges(_replicate_edges(context, size[0], dim=-2), size[1], dim=-1)


def replicate_pad_spread(context: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The former :func:`spread_to`, ``F.pad(mode="replicate")``: the same values, a slow
    backward. Kept as the reference the tests and ``benchmarks/gpu_check.py`` compare with."""
    missing_h, missing_w = size[0] - context.shape[-2], size[1] - context.shape[-1]
    padding = (
        missing_w // 2,
        missing_w - missing_w // 2,
        missing_h // 2,
        missing_h - missing_h // 2,
    )
    return F.pad(context, padding, mode="replicate")


def _replicate_edges(values: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    """Extend ``values`` along ``dim`` to ``length``: ``before`` copies of its first slice in
    front, the rest of its last slice behind, with ``before = missing // 2``."""
    missing = length - values.shape[dim]
    if missing == 0:
        return values
    before = missing // 2

    def edge(index: int, count: int) -> torch.Tensor:
        shape = list(values.shape)
        shape[dim] = count
        return values.narrow(dim, index, 1).expand(shape)

    parts = [edge(0, before), values, edge(values.shape[dim] - 1, missing - before)]
    return torch.cat([part for part in parts if part.shape[dim]], dim=dim)


class GIAModule(nn.Module):
    """Global information aware module: ``(N, C, H, W) -> (N, C, H, W)``.

    Args:
        channels: ``C``, channels in and out.
        context_channels: ``C_1``, channels of the pooled branch (default ``C // 2``).
        pool_window: ``None`` for global average pooling (the paper), or the side ``k`` of a
            local averaging window, in pixels of this module's input (see module docstring).
    """

    def __init__(
        self, channels: int, context_channels: int | None = None, pool_window: int | None = None
    ) -> None:
        super().__init__()
        if pool_window is not None and pool_window < 1:
            raise ValueError(f"pool_window must be None or >= 1, got {pool_window}")
        context_channels = channels // 2 if context_channels is None else context_channels
        self.pool_window = pool_window
        self.shrink = ConvLReLU(channels, context_channels, kernel_size=1)
        self.fuse = ConvLReLU(channels + context_channels, channels, kernel_size=1)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """``f1``: ``(N, C, 1, 1)`` global mean, or local means if ``pool_window`` is set."""
        if self.pool_window is None:
            return x.mean(dim=(-2, -1), keepdim=True)
        return local_average(x, (self.pool_window, self.pool_window))

    def context(self, x: torch.Tensor) -> torch.Tensor:
        """The global branch ``(N, C_1, H, W)``: pool, shrink, spread back (``f2``)."""
        return spread_to(self.shrink(self.pool(x)), (x.shape[-2], x.shape[-1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([x, self.context(x)], dim=1))
