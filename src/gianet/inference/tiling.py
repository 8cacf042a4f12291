"""Running a network over a large packed frame in overlapping tiles, to bound memory.

The frame is cut into a grid of cores; each core is processed inside a window that extends
it by ``margin`` packed pixels on every side (clipped at the frame), and only the core's
output is kept. Window starts and core sizes are multiples of 16, the U-Net's total pooling
factor, so every window's 2x2 pooling grid coincides with the whole frame's; a window ends
either on a multiple of 16 or at the frame's own edge.

SID-Net's receptive field reaches 94 packed pixels from an output pixel (18 3x3 convolutions
over four pooling levels), so with the default margin of 96 a plain SID-Net gives the
whole-frame output up to float rounding (tested at 80 and 96: only the latter is exact).
Two limits, which :func:`tiling_caveat` names for a given network:

- Layers that pool over the whole input see only the window: GIA's global average (GIA-Net),
  SE-UNet's squeeze and RIDNet's channel attention compute their statistics per tile, so
  tiled output of those networks differs from whole-frame output everywhere, most visibly as
  seams between tiles. Whole-frame inference is what the paper evaluates.
- Dilated variants (SID-dilated, SW-Net) reach 188 packed pixels: with a margin below that,
  pixels near a seam differ slightly. Pass ``margin=192`` for exact results.
"""

from __future__ import annotations

from itertools import product

import torch
from torch import nn

from gianet.models.blocks import SqueezeExcitation
from gianet.models.gia import GIAModule

TILE_ALIGN = 16
TILE_MARGIN = 96


def tiling_caveat(model: nn.Module) -> str | None:
    """Why tiles of ``model`` do not reproduce its whole-frame output, or ``None`` when they
    do (up to float rounding; see the module docstring)."""
    modules = list(model.modules())
    if any(isinstance(module, GIAModule | SqueezeExcitation) for module in modules):
        return (
            "the network pools over its whole input (GIA or squeeze-excitation), so each tile "
            "sees its own statistics and the result may show seams"
        )
    if any(isinstance(module, nn.Conv2d) and max(module.dilation) > 1 for module in modules):
        return (
            f"the network's dilated convolutions see further than the {TILE_MARGIN}-pixel tile "
            "margin, so pixels near tile seams differ slightly"
        )
    return None


def tile_spans(length: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Cut ``[0, length)`` into cores and their windows along one axis.

    Args:
        length: frame size along the axis, packed pixels.
        tile: window size, a multiple of ``TILE_ALIGN`` larger than ``2 * margin``.
        margin: context on each side of a core, a multiple of ``TILE_ALIGN``.

    Returns:
        ``(window_start, window_end, core_start, core_end)`` per tile; the cores partition
        ``[0, length)`` in order and each window holds at most ``tile`` pixels.
    """
    if tile % TILE_ALIGN or margin % TILE_ALIGN or tile <= 2 * margin:
        raise ValueError(
            f"tile ({tile}) and margin ({margin}) must be multiples of {TILE_ALIGN} with "
            f"tile > 2 * margin"
        )
    core = tile - 2 * margin
    return [
        (
            max(0, start - margin),
            min(length, start + core + margin),
            start,
            min(length, start + core),
        )
        for start in range(0, length, core)
    ]


@torch.inference_mode()
def run_tiled(
    model: nn.Module, inputs: torch.Tensor, tile: int, margin: int = TILE_MARGIN
) -> torch.Tensor:
    """Apply ``model`` to ``inputs`` window by window and stitch the cores' outputs.

    Args:
        model: maps ``(1, C, h, w)`` to ``(1, 3, u*h, u*w)`` for every size, ``u`` fixed.
        inputs: (1, C, H, W) on the model's device.
        tile: window side in packed pixels (see :func:`tile_spans`).
        margin: context kept around each core (see the module docstring).

    Returns:
        (1, 3, u*H, u*W) float32 on the CPU.
    """
    _, _, height, width = inputs.shape
    if height == 0 or width == 0:
        raise ValueError(f"cannot run a network on an empty frame of {height} x {width}")
    rows, cols = tile_spans(height, tile, margin), tile_spans(width, tile, margin)
    output: torch.Tensor | None = None
    for (y0, y1, core_y0, core_y1), (x0, x1, core_x0, core_x1) in product(rows, cols):
        result = model(inputs[..., y0:y1, x0:x1]).float().cpu()
        upscale = result.shape[-1] // (x1 - x0)
        if output is None:
            output = torch.empty(1, result.shape[1], upscale * height, upscale * width)
        # Core rows and columns relative to the window, in output pixels.
        top, bottom = upscale * (core_y0 - y0), upscale * (core_y1 - y0)
        left, right = upscale * (core_x0 - x0), upscale * (core_x1 - x0)
        output[
            ..., upscale * core_y0 : upscale * core_y1, upscale * core_x0 : upscale * core_x1
        ] = result[..., top:bottom, left:right]
    return output
