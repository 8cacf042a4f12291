"""Parameters and FLOPs of the architectures at full camera frames (paper Table 4).

FLOPs are ``torch.utils.flop_counter``'s: 2 per multiply-add of convolutions (transposed
ones included) and matrix products; pooling, activations, bias additions, normalisation and
interpolation count 0. The forward pass runs on the ``meta`` device, so a full 12-megapixel
frame is counted from shapes alone in milliseconds, without memory or arithmetic.

The paper's SID-Net figure, 1112.92 B at 4240 x 2832, is 0.2 % above ours (1110.60 B):
adding what TensorFlow's profiler also counts, one operation per bias addition (0.77 G) and
two per LeakyReLU element (``maximum(0.2 * x, x)``, 2 x 0.73 G), gives 1112.84 B, within
0.01 % of the paper (and only with SID's 'SAME' pooling; floor pooling gives 1111.04 B).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from gianet.domain.cameras import CAMERAS, Camera

from .registry import build_model


@dataclass(frozen=True)
class Frame:
    """A packed input frame ``(in_channels, height, width)`` and its RGB ``upscale``."""

    in_channels: int
    height: int
    width: int
    upscale: int

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Batch-of-one input shape ``(1, in_channels, height, width)``."""
        return (1, self.in_channels, self.height, self.width)


def cost_frame(camera: Camera) -> Frame:
    """The frame Table 4 counts a camera's costs on (:data:`gianet.domain.cameras.CAMERAS`):
    Sony at the paper's 4240 x 2832 (packed 4 x 1416 x 2120), Fuji's full SID frame (packed
    9 x 1344 x 2010)."""
    height, width = camera.cost_frame
    return Frame(camera.channels, height, width, camera.upscale)


#: Each camera's Table 4 frame, by camera name.
FULL_FRAMES: dict[str, Frame] = {name: cost_frame(camera) for name, camera in CAMERAS.items()}
SONY_FULL_FRAME = FULL_FRAMES["Sony"]
FUJI_FULL_FRAME = FULL_FRAMES["Fuji"]


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers such as BN statistics excluded)."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs (2 x multiply-adds) of one forward pass of ``model`` on ``input_shape``.

    ``input_shape`` is the full ``(N, C, H, W)``. The model's own tensors are not touched: the
    pass runs on meta-device stand-ins of its parameters and buffers.
    """
    stand_ins = {
        name: torch.empty_like(tensor, device="meta")
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]
    }
    x = torch.empty(input_shape, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        functional_call(model, stand_ins, (x,))
    return counter.get_total_flops()


def cost_table(
    archs: dict[str, dict[str, Any]],
    camera_frames: dict[str, Frame] = FULL_FRAMES,
    reference: str | None = None,
) -> list[dict[str, Any]]:
    """Parameters and FLOPs of each model on each camera's frame, relative to a reference.

    Args:
        archs: model name -> ``{"arch": registered name, **constructor arguments}`` without
            ``in_channels`` and ``upscale``, which come from the frame.
        camera_frames: camera name -> :class:`Frame` (default: full Sony and Fuji frames).
        reference: the model the ratios divide by (default: the first of ``archs``, as
            SID-Net in Table 4).

    Returns:
        One row per camera and model, in that order: ``camera``, ``model``, ``arch``,
        ``input_shape`` (``"CxHxW"``), ``params``, ``flops``, ``params_ratio``,
        ``flops_ratio``.
    """
    reference = next(iter(archs)) if reference is None else reference
    if reference not in archs:
        raise ValueError(f"reference {reference!r} is not one of the models {list(archs)}")
    rows = []
    for camera, frame in camera_frames.items():
        costs = {}
        for name, spec in archs.items():
            arguments = dict(spec)
            arch = arguments.pop("arch")
            with torch.device("meta"):
                model = build_model(
                    arch, in_channels=frame.in_channels, upscale=frame.upscale, **arguments
                )
            costs[name] = (arch, count_parameters(model), count_flops(model, frame.input_shape))
        _, reference_params, reference_flops = costs[reference]
        for name, (arch, params, flops) in costs.items():
            rows.append(
                {
                    "camera": camera,
                    "model": name,
                    "arch": arch,
                    "input_shape": f"{frame.in_channels}x{frame.height}x{frame.width}",
                    "params": params,
                    "flops": flops,
                    "params_ratio": params / reference_params,
                    "flops_ratio": flops / reference_flops,
                }
            )
    return rows
