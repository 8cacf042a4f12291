"""From the cache's uint16 arrays to network tensors, on whatever device they are on.

SID's arithmetic, in float32 (tested bit for bit against its code): a packed input is
``min(raw / (white - black) * ratio, max_input)``, the ground truth ``gt / 65535``. A training
batch is converted, flipped and transposed where it will be used (:func:`to_network`; on a
GPU, on the GPU), so loader processes only copy uint16 crops.
"""

from __future__ import annotations

import numpy as np
import torch

from gianet.domain.cameras import CFAS

GT_MAX = 65535.0


def amplify_tensor(
    packed: torch.Tensor,
    scale: torch.Tensor,
    ratio: float | torch.Tensor,
    max_input: float,
) -> torch.Tensor:
    """Packed raw units to the network input, as SID does, on ``packed``'s device.

    Args:
        packed: (..., C, h, w) uint16 raw values above black.
        scale: (..., C) float32 ``white - black`` per channel.
        ratio: exposure ratio (amplification), a number or a (...,) float32 tensor.
        max_input: the clip, 1.0 in SID's code.

    Returns:
        (..., C, h, w) float32 ``min(packed / scale * ratio, max_input)``, each operation
        rounded in float32.
    """
    if isinstance(ratio, torch.Tensor):
        ratio = ratio.to(torch.float32)[..., None, None, None]
    # In place: the same float32 roundings as out of place, without fresh buffers.
    return packed.to(torch.float32).div_(scale[..., None, None]).mul_(ratio).clamp_max_(max_input)


def amplify(packed: np.ndarray, scale: np.ndarray, ratio: float, max_input: float) -> torch.Tensor:
    """:func:`amplify_tensor` of a (C, h, w) uint16 array and a (C,) float32 scale, on the CPU."""
    return amplify_tensor(
        torch.from_numpy(np.require(packed, requirements=["C", "W"])),  # copies a memmap
        torch.from_numpy(np.asarray(scale, np.float32)),
        float(np.float32(ratio)),
        max_input,
    )


def ground_truth_tensor(gt: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) uint16 ground truth -> float32 sRGB in [0, 1] (``gt / 65535``)."""
    return gt.to(torch.float32).div_(GT_MAX)


def _flipped(tensor: torch.Tensor, flips: list[bool]) -> torch.Tensor:
    """``tensor (..., h, w)`` flipped along W, along H, then transposed, as ``flips`` say."""
    flip_w, flip_h, transpose = flips
    dims = [dim for dim, flip in ((-2, flip_h), (-1, flip_w)) if flip]
    if dims:
        tensor = tensor.flip(dims)  # one copy for both flips
    return tensor.transpose(-1, -2) if transpose else tensor


def to_network(
    batch: dict[str, torch.Tensor],
    device: torch.device,
    max_input: float,
    memory_format: torch.memory_format = torch.contiguous_format,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A collated batch of :class:`TrainPatches` items as network tensors on ``device``.

    The uint16 crops travel as they are (from pinned memory when the loader pins it) and are
    converted, amplified, clipped, flipped and transposed on ``device``: per sample, as
    ``flips`` says (those flags are read on the host, where the loader left them).

    Returns:
        ``(inputs, target)``: (N, C, p, p) float32 in [0, max_input], in ``memory_format``,
        and (N, 3, u*p, u*p) float32 in [0, 1].
    """
    packed = batch["input"].to(device, non_blocking=True)
    gt = batch["target"].to(device, non_blocking=True)
    scale = batch["scale"].to(device, non_blocking=True)
    ratio = batch["ratio"].to(device, non_blocking=True)
    inputs = amplify_tensor(packed, scale, ratio, max_input)
    target = ground_truth_tensor(gt)
    flips = batch["flips"].tolist()
    if all(f == flips[0] for f in flips):
        inputs, target = _flipped(inputs, flips[0]), _flipped(target, flips[0])
    else:
        inputs = torch.stack([_flipped(x, f) for x, f in zip(inputs, flips, strict=True)])
        target = torch.stack([_flipped(t, f) for t, f in zip(target, flips, strict=True)])
    return inputs.contiguous(memory_format=memory_format), target.contiguous()


def frame_to_network(
    frame: dict, device: torch.device, max_input: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """A :class:`FullFrames` item on ``device``: ``(inputs (C, h, w) float32 amplified and
    clipped at max_input, target (3, u*h, u*w) float32 in [0, 1])``."""
    inputs = amplify_tensor(
        frame["input"].to(device, non_blocking=True),
        frame["scale"].to(device, non_blocking=True),
        frame["ratio"].to(device, non_blocking=True),
        max_input,
    )
    return inputs, ground_truth_tensor(frame["target"].to(device, non_blocking=True))


def preview_input(inputs: torch.Tensor, cfa: str) -> torch.Tensor:
    """A conventional-looking rendering of an amplified packed input, for figures.

    Averages the packed channels of each colour (a naive half-resolution demosaic), applies
    grey-world white balance and the sRGB gamma, and upsamples to the output size.

    Args:
        inputs: (C, h, w) amplified packed raw in [0, max_input].
        cfa: ``"bayer"`` or ``"xtrans"``.

    Returns:
        (3, u*h, u*w) float32 sRGB in [0, 1].
    """
    colours = torch.tensor(CFAS[cfa].channel_colours, device=inputs.device)
    rgb = torch.stack([inputs[colours == c].mean(0) for c in range(3)]).clamp(0, 1)
    means = rgb.mean(dim=(1, 2), keepdim=True).clamp_min(1e-6)
    rgb = (rgb * means[1] / means).clamp(0, 1)
    srgb = torch.where(
        rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb.clamp_min(1e-8) ** (1 / 2.4) - 0.055
    )
    return torch.nn.functional.interpolate(
        srgb[None], scale_factor=CFAS[cfa].upscale, mode="nearest"
    )[0]
