"""The joint L1 + MS-SSIM loss: values, gradients, size rule, and the variant loss names."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from torch import nn

from gianet.training.losses import (
    MS_SSIM_EXPONENTS,
    MS_SSIM_MIN_SIDE,
    PIQ_SCALE_EXPONENTS,
    JointLoss,
    build_loss,
    ms_ssim,
)
from gianet.training.recipe import JointLoss as JointLossSpec
from gianet.training.recipe import L1Loss
from gianet.variants import VARIANTS

SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003
# 176 = 11 * 16 and 192 = 12 * 16: every scale halves exactly, so no padding is involved.
HEIGHT, WIDTH = 176, 192


def joint(**changes) -> JointLoss:
    """The joint loss of the paper's Eq. 1 with piq's MS-SSIM exponents, as these tests
    state it (``changes`` override)."""
    arguments = {"gamma": 0.84, "use_ms_ssim": True, "exponents": PIQ_SCALE_EXPONENTS}
    return JointLoss(**(arguments | {"gamma_term": "l1"} | changes))


def local_mean(image: np.ndarray) -> np.ndarray:
    """11-tap Gaussian (sigma 1.5) local mean of an ``(H, W)`` image, valid region only."""
    return gaussian_filter(image, sigma=1.5, truncate=3.5)[5:-5, 5:-5]


def reference_ms_ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """MS-SSIM of two ``(C, H, W)`` images in [0, 1], written out from Wang et al. (2003).

    Per channel: contrast-structure at the four finer scales, full SSIM at the coarsest, each
    a valid-region mean under an 11-tap Gaussian (sigma 1.5), negative terms set to zero,
    combined as a weighted geometric product; then averaged over channels.
    """
    c1, c2 = 0.01**2, 0.03**2
    per_channel = []
    for x, y in zip(pred, target, strict=True):
        terms = []
        for scale in range(len(SCALE_WEIGHTS)):
            if scale > 0:
                x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
                y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
            mu_x, mu_y = local_mean(x), local_mean(y)
            var_x = local_mean(x * x) - mu_x**2
            var_y = local_mean(y * y) - mu_y**2
            cov = local_mean(x * y) - mu_x * mu_y
            cs = (2 * cov + c2) / (var_x + var_y + c2)
            luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
            last = scale == len(SCALE_WEIGHTS) - 1
            terms.append((luminance * cs).mean() if last else cs.mean())
        per_channel.append(
            np.prod([max(t, 0.0) ** w for t, w in zip(terms, SCALE_WEIGHTS, strict=True)])
        )
    return float(np.mean(per_channel))


def smooth_image(seed: int) -> torch.Tensor:
    """A ``(1, 3, HEIGHT, WIDTH)`` float64 image in [0, 1] with structure at every scale."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(1, 3, HEIGHT // 8, WIDTH // 8, generator=generator)
    coarse = F.interpolate(noise, size=(HEIGHT, WIDTH), mode="bilinear", align_corners=False)
    fine = torch.rand(1, 3, HEIGHT, WIDTH, generator=generator)
    return (0.8 * coarse + 0.2 * fine).double()


@pytest.mark.parametrize("gamma", [0.84, 0.5])
def test_joint_loss_matches_direct_computation(gamma: float) -> None:
    target = smooth_image(0)
    noise = torch.randn(
        target.shape, generator=torch.Generator().manual_seed(1), dtype=target.dtype
    )
    pred = target + 0.15 * noise  # leaves [0, 1] in places: L1 sees that, MS-SSIM sees it clamped
    assert pred.min() < 0 and pred.max() > 1

    loss = joint(gamma=gamma)(pred, target).item()

    l1 = (pred - target).abs().mean().item()
    ms_ssim = reference_ms_ssim(pred.clamp(0, 1)[0].numpy(), target[0].numpy())
    assert 0.3 < ms_ssim < 0.99  # the pair exercises the formula
    assert loss == pytest.approx(gamma * l1 + (1 - gamma) * (1 - ms_ssim), abs=1e-5)


def test_identical_images_give_zero_loss() -> None:
    target = smooth_image(2)
    assert joint()(target, target).item() == pytest.approx(0.0, abs=1e-6)


def test_without_ms_ssim_the_loss_is_plain_l1_on_any_size() -> None:
    pred, target = torch.randn(2, 3, 20, 30), torch.rand(2, 3, 20, 30)
    loss = joint(gamma=0.3, use_ms_ssim=False)(pred, target)
    assert loss.item() == pytest.approx((pred - target).abs().mean().item(), rel=1e-6)


@pytest.mark.parametrize("height, width", [(MS_SSIM_MIN_SIDE - 1, 400), (400, 100)])
def test_too_small_images_raise_a_value_error_naming_the_patch_size(
    height: int, width: int
) -> None:
    image = torch.rand(1, 3, height, width)
    with pytest.raises(ValueError, match=r"at least 161 x 161 px.*at least 81 px \(Sony"):
        joint()(image, image)


def test_smallest_allowed_size_is_accepted() -> None:
    assert MS_SSIM_MIN_SIDE == 161
    image = torch.rand(1, 3, MS_SSIM_MIN_SIDE, MS_SSIM_MIN_SIDE)
    assert joint()(image, image).item() == pytest.approx(0.0, abs=1e-6)


def assert_finite_gradient(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    pred = pred.float().detach().requires_grad_(True)
    loss = joint()(pred, target.float())
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(pred.grad).all()
    return pred.grad


def test_gradients_are_finite_at_the_start_of_training() -> None:
    """A freshly initialised conv head on a dark input: outputs near zero, many negative."""
    torch.manual_seed(0)
    head = nn.Sequential(nn.Conv2d(4, 16, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(16, 3, 1))
    dark_input = 0.01 * torch.rand(1, 4, HEIGHT, WIDTH)
    target = 0.2 * smooth_image(3).float()
    pred = head(dark_input)
    assert (pred < 0).float().mean() > 0.2

    joint()(pred, target).backward()
    gradients = [p.grad for p in head.parameters()]
    assert all(torch.isfinite(g).all() for g in gradients)
    assert any(g.abs().sum() > 0 for g in gradients)


@pytest.mark.parametrize(
    "case",
    ["all negative", "all zero", "anticorrelated", "anticorrelated fine detail", "constant"],
)
def test_gradients_are_finite_where_contrast_structure_is_negative_or_degenerate(
    case: str,
) -> None:
    target = smooth_image(4)
    detail = target - F.avg_pool2d(target, 5, stride=1, padding=2, count_include_pad=False)
    preds = {
        "all negative": -0.1 - target,
        "all zero": torch.zeros_like(target),
        "anticorrelated": 1 - target,
        "anticorrelated fine detail": (target - 2 * detail).clamp(0, 1),
        "constant": torch.full_like(target, 0.5),
    }
    grad = assert_finite_gradient(preds[case], target)
    assert grad.abs().sum() > 0  # L1 always contributes


def test_loss_is_float32_with_finite_gradients_under_bfloat16_autocast() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 3, 3, padding=1)
    target = smooth_image(5).float()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        pred = conv(target)
        assert pred.dtype == torch.bfloat16
        loss = joint()(pred, target)
    assert loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(conv.weight.grad).all()


def spec(**changes) -> JointLossSpec:
    fields = {"kind": "l1+ms-ssim", "gamma": 0.84, "gamma_term": "l1", "exponents": "paper"}
    return JointLossSpec(**(fields | changes))


def test_build_loss_covers_every_declared_loss_name() -> None:
    assert {v.loss for v in VARIANTS.values()} == {"l1", "l1+ms-ssim"}
    plain, joined = build_loss(L1Loss(kind="l1")), build_loss(spec())
    assert not plain.use_ms_ssim
    assert joined.use_ms_ssim and joined.gamma == 0.84


def test_a_joint_loss_refuses_a_gamma_out_of_range() -> None:
    with pytest.raises(ValueError, match="gamma"):
        joint(gamma=1.5)
    with pytest.raises(ValueError):  # the recipe's own bounds
        spec(gamma=1.5)


def piq_ms_ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The former implementation of the loss's MS-SSIM term."""
    import piq

    return piq.multi_scale_ssim(pred, target, data_range=1.0)


def noisy_pair(height: int, width: int, dtype: torch.dtype, batch: int = 1):
    generator = torch.Generator().manual_seed(height * width)
    noise = torch.rand(batch, 3, height // 8, width // 8, generator=generator)
    coarse = F.interpolate(noise, size=(height, width), mode="bilinear", align_corners=False)
    target = 0.8 * coarse + 0.2 * torch.rand(batch, 3, height, width, generator=generator)
    pred = (target + 0.1 * torch.randn(target.shape, generator=generator)).clamp(0, 1)
    return pred.to(dtype), target.to(dtype)


# Odd sides exercise piq's replicate padding before a 2 x 2 average (161: every scale odd).
@pytest.mark.parametrize("height, width, batch", [(161, 161, 1), (200, 171, 2), (176, 192, 1)])
def test_ms_ssim_is_piqs_formula_in_value_and_gradient(height, width, batch) -> None:
    """In float64 the separable filtering gives piq's value and gradient to rounding."""
    pred, target = noisy_pair(height, width, torch.float64, batch)
    ours_input, piq_input = pred.clone().requires_grad_(), pred.clone().requires_grad_()
    ours, former = ms_ssim(ours_input, target), piq_ms_ssim(piq_input, target)
    assert abs(ours.item() - former.item()) < 1e-12
    ours.backward()
    former.backward()
    torch.testing.assert_close(ours_input.grad, piq_input.grad, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("height, width", [(512, 512), (384, 640)])
def test_ms_ssim_in_float32_equals_piq_within_1e_6_at_training_sizes(height, width) -> None:
    """At the sizes the paper trains on (outputs of 1024 px and more; 384-640 here, for
    time) both float32 values agree within 1e-6. At the demo's smallest outputs (192 px)
    they differ by up to 1.2e-6, float32 rounding of piq's own value, which lies 2.5e-6 from
    the float64 one at 161 px (measured)."""
    pred, target = noisy_pair(height, width, torch.float32)
    assert abs(ms_ssim(pred, target).item() - piq_ms_ssim(pred, target).item()) < 1e-6


def test_joint_loss_equals_the_piq_based_loss() -> None:
    pred, target = noisy_pair(256, 384, torch.float32)
    pred = pred + 0.05  # leaves [0, 1]: the L1 sees it, MS-SSIM the clamped prediction
    former = 0.84 * F.l1_loss(pred, target) + 0.16 * (1 - piq_ms_ssim(pred.clamp(0, 1), target))
    assert joint()(pred, target).item() == pytest.approx(former.item(), abs=1e-6)


def test_ms_ssim_exponents_are_a_parameter() -> None:
    """With all exponents 1, as the paper's Eq. 3 sets them, MS-SSIM is a product of the five
    terms."""
    pred, target = noisy_pair(176, 192, torch.float64)
    weighted, plain = ms_ssim(pred, target), ms_ssim(pred, target, exponents=(1.0,) * 5)
    assert 0 < plain < weighted < 1
    loss = joint(gamma=0.5, exponents=(1.0,) * 5)(pred, target)
    assert loss.item() == pytest.approx(0.5 * F.l1_loss(pred, target).item() + 0.5 * (1 - plain))


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The 2-D Gaussian window ``(size, size)`` in float64, summing to 1."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    grid = coords[:, None] ** 2 + coords[None, :] ** 2
    window = torch.exp(-grid / (2 * sigma**2))
    return window / window.sum()


def eq_3_to_5(x: torch.Tensor, y: torch.Tensor, scales: int = 5) -> torch.Tensor:
    """MS-SSIM in Wang et al.'s downsampling form with the paper's alpha = beta_j = 1,
    written out directly (Eq. 3-5's per-pixel Gaussian levels are not what is computed:
    docs/readings.md, MS-SSIM exponents).

    For ``(1, C, H, W)`` float64 images with H and W divisible by 2**(scales - 1): at scale j
    (the image averaged over 2**(j-1) x 2**(j-1) blocks) the local statistics under an 11 x 11
    Gaussian window (sigma 1.5, valid positions), Eq. 4 ``l = (2 mu_x mu_y + C1) / (mu_x^2 +
    mu_y^2 + C1)`` and Eq. 5 ``cs = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)``; Eq. 3,
    ``MS-SSIM = l_M^alpha * prod_j cs_j^beta_j``, with l_M and cs_M taken at the same pixels
    and every other factor averaged over its scale's pixels; then the mean over channels.
    """
    c1, c2 = 0.01**2, 0.03**2
    window = gaussian_window()[None, None]
    per_channel = []
    for channel in range(x.shape[1]):
        a, b = x[:, channel : channel + 1], y[:, channel : channel + 1]
        product = torch.ones((), dtype=torch.float64)
        for j in range(1, scales + 1):
            if j > 1:
                a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
            mu_x, mu_y = F.conv2d(a, window), F.conv2d(b, window)
            sigma_xx = F.conv2d(a * a, window) - mu_x**2
            sigma_yy = F.conv2d(b * b, window) - mu_y**2
            sigma_xy = F.conv2d(a * b, window) - mu_x * mu_y
            cs = (2 * sigma_xy + c2) / (sigma_xx + sigma_yy + c2)  # Eq. 5
            if j < scales:
                product = product * cs.mean()
            else:
                luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)  # Eq. 4
                product = product * (luminance * cs).mean()  # Eq. 3, alpha = beta_M = 1
        per_channel.append(product)
    return torch.stack(per_channel).mean()


def test_paper_exponent_ms_ssim_is_eq_3_to_5_written_directly() -> None:
    pred, target = noisy_pair(HEIGHT, WIDTH, torch.float64)
    direct = eq_3_to_5(pred, target)
    ours = ms_ssim(pred, target, MS_SSIM_EXPONENTS["paper"])
    assert 0.1 < direct.item() < 0.99
    assert abs(ours.item() - direct.item()) < 1e-12
    wang = ms_ssim(pred, target, MS_SSIM_EXPONENTS["wang"])
    assert abs(wang.item() - reference_ms_ssim(pred[0].numpy(), target[0].numpy())) < 1e-9
    assert abs(wang.item() - direct.item()) > 0.05  # the two readings differ


@pytest.mark.parametrize("exponents", ["paper", "wang"])
def test_build_loss_uses_the_configured_exponents_and_gamma_term(exponents) -> None:
    pred, target = noisy_pair(176, 192, torch.float64)
    similarity = ms_ssim(pred, target, MS_SSIM_EXPONENTS[exponents]).item()
    l1 = F.l1_loss(pred, target).item()
    on_l1 = build_loss(spec(exponents=exponents, gamma_term="l1"))
    on_ms_ssim = build_loss(spec(exponents=exponents, gamma_term="ms-ssim"))
    assert on_l1(pred, target).item() == pytest.approx(0.84 * l1 + 0.16 * (1 - similarity))
    assert on_ms_ssim(pred, target).item() == pytest.approx(0.16 * l1 + 0.84 * (1 - similarity))
    plain = build_loss(L1Loss(kind="l1"))
    assert plain(pred, target).item() == pytest.approx(l1)  # L1 variants have neither
    with pytest.raises(ValueError):
        spec(exponents="zhao")
    with pytest.raises(ValueError):
        spec(gamma_term="both")
