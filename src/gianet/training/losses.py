"""Training losses: L1, or the paper's joint L1 + MS-SSIM loss (Eq. 1 and 6).

``build_loss`` maps a recipe's loss (:mod:`gianet.training.recipe`) to a module.

MS-SSIM (:func:`ms_ssim`) is piq's ``multi_scale_ssim`` computed faster and without host
synchronisation, equal to it within 1e-6 (tested): the 11 x 11 Gaussian window is applied as
two 11-tap passes (the 2-D window is the outer product of the 1-D one), the five local
statistics of each scale are filtered in one grouped convolution per pass, piq's input-range
assertions (four device-to-host reads per call) and its per-call weight tensor are dropped,
and its replicate padding of odd sizes is a concatenation, whose backward needs no atomic
additions. The per-scale exponents are an argument (default: piq's; ``train.msssim_exponents``
chooses them, :data:`MS_SSIM_EXPONENTS`), and so is the term the loss's ``gamma`` weights.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gianet.domain.metrics import (
    MS_SSIM_MIN_SIDE,
    MS_SSIM_SCALES,
    SSIM_K1,
    SSIM_K2,
    SSIM_SIGMA,
    SSIM_WINDOW,
)
from gianet.training.recipe import JointLoss as JointLossSpec
from gianet.training.recipe import L1Loss

#: piq's MS-SSIM defaults, which the paper's loss uses: 5 scales, SSIM's 11 px Gaussian
#: window of sigma 1.5 (Wang et al. 2004; the same window as :mod:`gianet.evaluation.metrics`).
MS_SSIM_WINDOW = SSIM_WINDOW
#: piq's default per-scale exponents (Wang, Simoncelli and Bovik 2003), finest scale first.
PIQ_SCALE_EXPONENTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: MS-SSIM's per-scale exponents by ``train.msssim_exponents``: ``paper``, alpha = beta_j = 1 as
#: the GIA-Net paper's Eq. 3 sets them (a plain product of the five terms; the terms are Wang
#: et al.'s downsampled scales, not Eq. 3-5's per-pixel Gaussian levels: docs/readings.md,
#: MS-SSIM exponents); ``wang``, Wang et al.'s weights, piq's default.
MS_SSIM_EXPONENTS: dict[str, tuple[float, ...]] = {
    "paper": (1.0,) * MS_SSIM_SCALES,
    "wang": PIQ_SCALE_EXPONENTS,
}
#: Which term ``gamma`` weights (``train.loss_gamma_term``): ``l1``, the paper's Eq. 1,
#: ``gamma * L1 + (1 - gamma) * (1 - MS-SSIM)``; ``ms-ssim``, Zhao et al.'s mix (the paper's
#: [30]), ``gamma * (1 - MS-SSIM) + (1 - gamma) * L1``.
GAMMA_TERMS = ("l1", "ms-ssim")


def gaussian_taps(
    size: int, sigma: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """The normalised 1-D Gaussian window ``(size,)``, computed on ``device`` (no host-to-device
    copy, which a captured training step could not contain) and kept per device and dtype."""
    if torch.compiler.is_compiling():
        return _gaussian_taps(size, sigma, device, dtype)  # a constant of the compiled graph
    return _cached_gaussian_taps(size, sigma, device, dtype)


def _gaussian_taps(
    size: int, sigma: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    taps = torch.exp(-(coords**2) / (2 * sigma**2))
    return (taps / taps.sum()).to(dtype)


_cached_gaussian_taps = functools.lru_cache(maxsize=16)(_gaussian_taps)


def _separable_filter(stats: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Correlate each channel of ``stats (N, K, H, W)`` with ``taps`` along W, then along H,
    keeping the valid region ``(N, K, H - k + 1, W - k + 1)``."""
    channels, size = stats.shape[1], taps.numel()
    rows = F.conv2d(stats, taps.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
    return F.conv2d(rows, taps.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)


def _pad_first_row_and_column(images: torch.Tensor) -> torch.Tensor:
    """Repeat the first row and the first column of ``images (N, C, H, W)``: piq's
    ``F.pad(pad=[1, 0, 1, 0], mode="replicate")``, as concatenations."""
    images = torch.cat([images[..., :1, :], images], dim=-2)
    return torch.cat([images[..., :1], images], dim=-1)


def ms_ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    exponents: Sequence[float] = PIQ_SCALE_EXPONENTS,
) -> torch.Tensor:
    """Multi-scale SSIM of images in ``[0, 1]``, as ``piq.multi_scale_ssim(pred, target,
    data_range=1.0)`` computes it, averaged over the batch.

    Per scale (finest first; each next scale is a 2 x 2 average of the previous, after
    repeating the first row and column when a side is odd, as piq does): the local statistics
    under an 11-tap Gaussian window (sigma 1.5) over the valid region, the mean
    contrast-structure term at every scale but the coarsest, where the full SSIM is used; the
    terms are clipped at 0, raised to ``exponents`` and multiplied; then averaged over
    channels and images.

    Args:
        pred, target: ``(N, C, H, W)`` in ``[0, 1]`` (not checked: no host synchronisation),
            with ``H, W >= (11 - 1) * 2 ** (len(exponents) - 1) + 1``.
        exponents: one per scale, finest first (piq's default weights; the number of scales
            is their count).

    Returns:
        scalar tensor, in ``pred``'s dtype.
    """
    taps = gaussian_taps(MS_SSIM_WINDOW, SSIM_SIGMA, pred.device, pred.dtype)
    channels = pred.shape[1]
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    x, y = pred, target
    terms = []
    for scale in range(len(exponents)):
        if scale > 0:
            if x.shape[-2] % 2 or x.shape[-1] % 2:
                x, y = _pad_first_row_and_column(x), _pad_first_row_and_column(y)
            x, y = F.avg_pool2d(x, kernel_size=2), F.avg_pool2d(y, kernel_size=2)
        stats = _separable_filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), taps)
        mu_x, mu_y, mean_xx, mean_yy, mean_xy = stats.split(channels, dim=1)
        mu_xx, mu_yy, mu_xy = mu_x**2, mu_y**2, mu_x * mu_y
        cs = (2.0 * (mean_xy - mu_xy) + c2) / ((mean_xx - mu_xx) + (mean_yy - mu_yy) + c2)
        if scale == len(exponents) - 1:
            cs = (2.0 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs
        terms.append(cs.mean(dim=(-1, -2)))
    product = math.prod(
        torch.relu(term) ** exponent for term, exponent in zip(terms, exponents, strict=True)
    )
    return product.mean()


class JointLoss(nn.Module):
    """``gamma * L1 + (1 - gamma) * (1 - MS-SSIM)`` (the paper's Eq. 1; with ``gamma_term=
    "ms-ssim"``, ``gamma * (1 - MS-SSIM) + (1 - gamma) * L1``, Zhao et al.'s), or plain L1 when
    ``use_ms_ssim`` is False.

    L1 is the mean absolute error on the raw prediction, so it also pulls values outside
    ``[0, 1]`` back in. MS-SSIM is :func:`ms_ssim` (piq's ``multi_scale_ssim``: 5 scales,
    11 px window, sigma 1.5, ``data_range=1.0``) on the prediction clamped to ``[0, 1]``,
    computed in float32 with autocast disabled. Its gradients stay finite at the start of
    training: clamping keeps inputs in range, and a ReLU on each scale's contrast-structure
    term before the fractional powers makes a negative term give a zero (not NaN) gradient.

    Args:
        gamma: weight of the ``gamma_term``, in ``[0, 1]``; the paper uses 0.84.
        use_ms_ssim: add the MS-SSIM term; False gives plain L1 and ignores ``gamma``.
        exponents: MS-SSIM's per-scale exponents, finest scale first.
        gamma_term: the term ``gamma`` weights, ``"l1"`` or ``"ms-ssim"``.
    """

    def __init__(
        self, gamma: float, use_ms_ssim: bool, exponents: Sequence[float], gamma_term: str
    ) -> None:
        super().__init__()
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        if gamma_term not in GAMMA_TERMS:
            known = ", ".join(GAMMA_TERMS)
            raise ValueError(f"gamma_term must be one of {known}, got {gamma_term!r}")
        self.gamma = gamma
        self.use_ms_ssim = use_ms_ssim
        self.exponents = tuple(exponents)
        self.gamma_term = gamma_term

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
            similarity = ms_ssim(pred.float().clamp(0.0, 1.0), target.float(), self.exponents)
        l1_weight = self.gamma if self.gamma_term == "l1" else 1.0 - self.gamma
        return l1_weight * l1 + (1.0 - l1_weight) * (1.0 - similarity)

    def extra_repr(self) -> str:
        return (
            f"gamma={self.gamma} on {self.gamma_term}, use_ms_ssim={self.use_ms_ssim}, "
            f"exponents={self.exponents}"
        )


def build_loss(spec: L1Loss | JointLossSpec) -> JointLoss:
    """The loss a recipe declares (:mod:`gianet.training.recipe`): L1, or the paper's joint
    loss with its ``gamma``, the term it weights and MS-SSIM's per-scale exponents."""
    if spec.kind == "l1":
        return JointLoss(
            gamma=1.0, use_ms_ssim=False, exponents=MS_SSIM_EXPONENTS["paper"], gamma_term="l1"
        )
    return JointLoss(
        gamma=spec.gamma,
        use_ms_ssim=True,
        exponents=MS_SSIM_EXPONENTS[spec.exponents],
        gamma_term=spec.gamma_term,
    )


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
