"""Full-reference image metrics: PSNR and SSIM, piq-style, exact and memory-bounded.

Both functions take ``pred`` and ``target`` of shape ``(N, C, H, W)`` (RGB: ``C = 3``) with
values in ``[0, data_range]``, any real dtype, on any device, and return a float64 tensor:
one value per image with ``reduction="none"`` (shape ``(N,)``), or their mean or sum
(shape ``()``). Work is done one image and one band of :data:`CHUNK_ROWS` rows at a time in
float64, so SSIM on a full 12 MP frame (4240 x 2832) needs about 350 MB beyond its inputs
(measured on CPU), and PSNR far less.

Evaluation clips the network output to ``[0, 1]`` before calling these (docs/reference.md, Metrics);
values outside ``[0, data_range]`` are an error here, never silently clipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import torch

from gianet.domain.metrics import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW

#: Rows of output handled at once; bounds peak memory (5 local statistics per channel in
#: float64: about 65 MB per buffer for a 4240 px wide RGB frame).
CHUNK_ROWS = 128

_REDUCTIONS = ("none", "mean", "sum")


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` per image, in dB.

    The MSE of an image is the mean over all its channels and pixels, accumulated in float64.
    No epsilon is added (unlike ``piq.psnr``, which adds 1e-8 and so reports 80 dB for
    identical images): an image identical to its target has PSNR ``inf``, and then the
    ``"mean"`` and ``"sum"`` reductions are ``inf`` too.

    Args:
        pred: ``(N, C, H, W)`` in ``[0, data_range]``.
        target: same shape as ``pred``, in ``[0, data_range]``.
        data_range: the largest possible value (1.0 for float images, 255 for 8-bit).
        reduction: ``"none"`` (shape ``(N,)``), ``"mean"`` or ``"sum"`` (shape ``()``).

    Returns:
        float64 tensor of PSNR values in dB.
    """
    check_inputs(pred, target, data_range, reduction, min_side=1)
    mse = torch.stack(
        [_squared_error_sum(p, t) / p.numel() for p, t in zip(pred, target, strict=True)]
    )
    return reduce_values(10.0 * torch.log10(data_range**2 / mse), reduction)


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Structural similarity of Wang et al. (2004), averaged over the valid region and channels.

    Settings: an 11 x 11 Gaussian window with sigma 1.5 (applied separably), ``K1 = 0.01``,
    ``K2 = 0.03``, population (not sample) covariances, each channel filtered on its own; the
    SSIM map is averaged over the positions where the window lies fully inside the image
    (``(H - 10) x (W - 10)``), then over channels. This equals, to float64 rounding,
    ``skimage.metrics.structural_similarity(a, b, data_range=data_range, channel_axis=-1,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`` on ``(H, W, C)`` arrays,
    which the tests check.

    Relation to SID's numbers: SID's authors report MATLAB defaults. MATLAB's ``ssim`` uses the
    same window and constants but pads the image by replication and averages the map over the
    whole image, and it treats an ``H x W x 3`` array as one 3-D volume rather than three
    channels; Wang's reference ``ssim.m`` also downsamples large images first. Those choices
    move SSIM by small amounts, so our values follow the paper's protocol but are not
    bit-comparable with the paper's; we match scikit-image, a public and testable reference.

    Args:
        pred: ``(N, C, H, W)`` in ``[0, data_range]``, with ``H, W >= 11``.
        target: same shape as ``pred``, in ``[0, data_range]``.
        data_range: the largest possible value (1.0 for float images, 255 for 8-bit).
        reduction: ``"none"`` (shape ``(N,)``), ``"mean"`` or ``"sum"`` (shape ``()``).

    Returns:
        float64 tensor of SSIM values in ``[-1, 1]``.
    """
    check_inputs(pred, target, data_range, reduction, min_side=SSIM_WINDOW)
    window = _gaussian_window()
    values = [_ssim_one_image(p, t, data_range, window) for p, t in zip(pred, target, strict=True)]
    return reduce_values(torch.stack(values), reduction)


def check_inputs(
    pred: torch.Tensor, target: torch.Tensor, data_range: float, reduction: str, min_side: int
) -> None:
    """Raise a ValueError unless both are (N, C, H, W) alike, in [0, data_range], with H and W
    at least ``min_side`` and a known ``reduction`` (shared by every metric of gianet)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    if pred.dim() != 4:
        raise ValueError(f"expected tensors of shape (N, C, H, W), got {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
        )
    if pred.device != target.device:
        raise ValueError(f"pred is on {pred.device} but target is on {target.device}")
    if pred.shape[0] == 0 or pred.shape[1] == 0:
        raise ValueError(f"expected at least one image and one channel, got {tuple(pred.shape)}")
    if min(pred.shape[-2:]) < min_side:
        size = tuple(pred.shape[-2:])
        raise ValueError(f"images must be at least {min_side} x {min_side} pixels, got {size}")
    # One read-back for all four extremes (NaN propagates into both of its tensor's).
    extremes = [torch.stack(tensor.aminmax()).double() for tensor in (pred, target)]
    for name, (low, high) in zip(("pred", "target"), torch.stack(extremes).tolist(), strict=True):
        if math.isnan(low) or low < 0 or high > data_range:
            raise ValueError(
                f"{name} values must lie in [0, {data_range}], found [{low}, {high}]; "
                "clip the prediction before measuring"
            )


def reduce_values(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Per-image values (N,) reduced by ``"mean"``, ``"sum"`` or ``"none"``."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _row_bands(height: int, overlap: int) -> Iterator[slice]:
    """Slices of input rows yielding ``CHUNK_ROWS`` output rows each after a valid filter."""
    for first in range(0, height - overlap, CHUNK_ROWS):
        yield slice(first, min(first + CHUNK_ROWS + overlap, height))


def _squared_error_sum(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum of squared differences of two ``(C, H, W)`` images, accumulated in float64."""
    total = torch.zeros((), dtype=torch.float64, device=pred.device)
    for rows in _row_bands(pred.shape[-2], overlap=0):
        diff = pred[:, rows].double() - target[:, rows].double()
        total += diff.square().sum()
    return total


def _gaussian_window() -> tuple[float, ...]:
    """Normalised 1-D Gaussian of ``SSIM_WINDOW`` taps, built as scipy.ndimage builds it."""
    radius = SSIM_WINDOW // 2
    weights = [math.exp(-0.5 * (offset / SSIM_SIGMA) ** 2) for offset in range(-radius, radius + 1)]
    total = math.fsum(weights)
    return tuple(weight / total for weight in weights)


def _valid_filter(values: torch.Tensor, window: tuple[float, ...], dim: int) -> torch.Tensor:
    """Correlate ``values`` with ``window`` along ``dim``, keeping only full overlaps."""
    length = values.shape[dim] - len(window) + 1
    out = values.narrow(dim, 0, length) * window[0]
    for offset, weight in enumerate(window[1:], start=1):
        out.add_(values.narrow(dim, offset, length), alpha=weight)
    return out


def _ssim_one_image(
    pred: torch.Tensor, target: torch.Tensor, data_range: float, window: tuple[float, ...]
) -> torch.Tensor:
    """Mean SSIM of two ``(C, H, W)`` images over the valid region and channels; float64."""
    channels, height, width = pred.shape
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2

    map_sum = torch.zeros(channels, dtype=torch.float64, device=pred.device)
    for rows in _row_bands(height, overlap=SSIM_WINDOW - 1):
        x = pred[:, rows].double()
        y = target[:, rows].double()
        stats = torch.stack([x, y, x * x, y * y, x * y])
        stats = _valid_filter(_valid_filter(stats, window, dim=-2), window, dim=-1)
        mu_x, mu_y, mean_xx, mean_yy, mean_xy = stats
        var_x = mean_xx - mu_x * mu_x
        var_y = mean_yy - mu_y * mu_y
        cov_xy = mean_xy - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / (
            (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
        )
        map_sum += ssim_map.sum(dim=(-2, -1))
    valid_positions = (height - SSIM_WINDOW + 1) * (width - SSIM_WINDOW + 1)
    return (map_sum / valid_positions).mean()


def build_psnr(torch_home: Path, device: torch.device, lpips_backbone: str):
    """PSNR as the metric registry builds it (no weights, no options)."""
    return psnr


def build_ssim(torch_home: Path, device: torch.device, lpips_backbone: str):
    """SSIM as the metric registry builds it (no weights, no options)."""
    return ssim
