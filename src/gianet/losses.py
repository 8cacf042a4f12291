"""Training losses: L1, or the paper's joint L1 + MS-SSIM loss (Eq. 1 and 6).

``build_loss`` maps a variant's loss name (:data:`gianet.variants.Loss`) to a module.
"""

from __future__ import annotations

import math
from typing import get_args

import piq
import torch
import torch.nn.functional as F
from torch import nn

from gianet.variants import Loss

#: piq's MS-SSIM defaults, which the paper's loss uses: 5 scales, 11 px Gaussian window.
MS_SSIM_SCALES = 5
MS_SSIM_WINDOW = 11
#: piq's rule: the window must fit the coarsest of the 5 scales, each half the one before.
MS_SSIM_MIN_SIDE = (MS_SSIM_WINDOW - 1) * 2 ** (MS_SSIM_SCALES - 1) + 1  # 161


class JointLoss(nn.Module):
    """``gamma * L1 + (1 - gamma) * (1 - MS-SSIM)``, or plain L1 when ``use_ms_ssim`` is False.

    L1 is the mean absolute error on the raw prediction, so it also pulls values outside
    ``[0, 1]`` back in. MS-SSIM is ``piq.multi_scale_ssim`` (5 scales, 11 px window, sigma 1.5,
    ``data_range=1.0``) on the prediction clamped to ``[0, 1]``, computed in float32 with
    autocast disabled. Its gradients stay finite at the start of training: clamping keeps
    inputs in piq's range, and piq applies a ReLU to each scale's contrast-structure term
    before the fractional powers, so a negative term gives a zero (not NaN) gradient.

    Args:
        gamma: weight of L1, in ``[0, 1]``; the paper uses 0.84.
        use_ms_ssim: add the MS-SSIM term; False gives plain L1 and ignores ``gamma``.
    """

    def __init__(self, gamma: float = 0.84, use_ms_ssim: bool = True) -> None:
        super().__init__()
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        self.gamma = gamma
        self.use_ms_ssim = use_ms_ssim

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of ``pred`` against ``target``, both ``(N, 3, H, W)``; ``target`` in ``[0, 1]``.

        With MS-SSIM, ``H`` and ``W`` must be at least :data:`MS_SSIM_MIN_SIDE` (161).

        Returns:
            scalar tensor, float32 when MS-SSIM is used.
        """
        l1 = F.l1_loss(pred, target)
        if not self.use_ms_ssim:
            return l1
        _check_ms_ssim_size(pred)
        with torch.autocast(device_type=pred.device.type, enabled=False):
            ms_ssim = piq.multi_scale_ssim(
                pred.float().clamp(0.0, 1.0), target.float(), data_range=1.0
            )
        return self.gamma * l1 + (1.0 - self.gamma) * (1.0 - ms_ssim)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, use_ms_ssim={self.use_ms_ssim}"


def build_loss(name: str, gamma: float) -> JointLoss:
    """The loss a variant declares: ``"l1"`` or ``"l1+ms-ssim"`` (L1 weighted by ``gamma``)."""
    known = get_args(Loss)
    if name not in known:
        raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(known)}")
    return JointLoss(gamma=gamma, use_ms_ssim=name == "l1+ms-ssim")


def _check_ms_ssim_size(images: torch.Tensor) -> None:
    height, width = images.shape[-2:]
    if min(height, width) >= MS_SSIM_MIN_SIDE:
        return
    sony, fuji = (math.ceil(MS_SSIM_MIN_SIDE / upscale) for upscale in (2, 3))
    raise ValueError(
        f"MS-SSIM with {MS_SSIM_SCALES} scales and an {MS_SSIM_WINDOW} px window needs output "
        f"images of at least {MS_SSIM_MIN_SIDE} x {MS_SSIM_MIN_SIDE} px, got {height} x {width}; "
        f"train on packed-raw patches of at least {sony} px (Sony, x2 upscale) or {fuji} px "
        "(Fuji, x3 upscale), or use the plain 'l1' loss"
    )
