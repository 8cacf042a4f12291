"""PSNR and SSIM against scikit-image, the reference the metrics module promises to match."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gianet.evaluation import metrics

TOLERANCE = 1e-4


def reference_ssim(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> float:
    """scikit-image SSIM with the settings documented in :func:`gianet.evaluation.metrics.ssim`."""
    return structural_similarity(
        pred,
        target,
        data_range=data_range,
        channel_axis=-1,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """``(N, H, W, C)`` or ``(H, W, C)`` numpy -> ``(N, C, H, W)`` tensor, dtype kept."""
    if images.ndim == 3:
        images = images[None]
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def noisy_pair(rng: np.random.Generator, height: int, width: int, noise: float = 0.1):
    target = rng.random((height, width, 3))
    pred = np.clip(target + noise * rng.standard_normal(target.shape), 0.0, 1.0)
    return pred, target


def structured_pair(height: int, width: int):
    """A smooth colour gradient with a bright disc and a checkerboard vs a shifted, dimmed copy."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    disc = (rows - height / 2) ** 2 + (cols - width / 3) ** 2 < (min(height, width) / 4) ** 2
    checker = ((rows // 4 + cols // 4) % 2) * 0.3
    target = np.stack(
        [cols / width, rows / height, 0.5 + 0.5 * disc - 0.2 * checker], axis=-1
    ).clip(0.0, 1.0)
    pred = 0.8 * np.roll(target, shift=(1, 2), axis=(0, 1)) + 0.05
    return pred, target


@pytest.mark.parametrize("height, width", [(11, 11), (37, 53), (64, 64), (129, 300), (200, 13)])
def test_ssim_matches_skimage_on_random_images(height: int, width: int) -> None:
    pred, target = noisy_pair(np.random.default_rng(height * width), height, width)
    ours = metrics.ssim(to_tensor(pred), to_tensor(target)).item()
    assert ours == pytest.approx(reference_ssim(pred, target), abs=TOLERANCE)


@pytest.mark.parametrize("height, width", [(96, 128), (101, 77)])
def test_ssim_matches_skimage_on_structured_images(height: int, width: int) -> None:
    pred, target = structured_pair(height, width)
    expected = reference_ssim(pred, target)
    assert 0.2 < expected < 0.95  # a pair that actually exercises the formula
    ours = metrics.ssim(to_tensor(pred), to_tensor(target)).item()
    assert ours == pytest.approx(expected, abs=TOLERANCE)


def test_ssim_is_independent_of_row_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    pred, target = structured_pair(70, 45)
    whole = metrics.ssim(to_tensor(pred), to_tensor(target)).item()
    monkeypatch.setattr(metrics, "CHUNK_ROWS", 7)  # 60 output rows: 8 full bands and a partial
    chunked = metrics.ssim(to_tensor(pred), to_tensor(target)).item()
    assert chunked == pytest.approx(whole, abs=1e-12)
    assert chunked == pytest.approx(reference_ssim(pred, target), abs=TOLERANCE)


def test_ssim_of_float32_input_matches_float64_reference() -> None:
    pred, target = noisy_pair(np.random.default_rng(1), 48, 40, noise=0.02)
    ours = metrics.ssim(to_tensor(pred).float(), to_tensor(target).float()).item()
    assert ours == pytest.approx(reference_ssim(pred, target), abs=TOLERANCE)


def test_ssim_on_uint8_with_data_range_255() -> None:
    pred, target = noisy_pair(np.random.default_rng(2), 40, 50)
    pred8, target8 = (np.round(a * 255).astype(np.uint8) for a in (pred, target))
    ours = metrics.ssim(to_tensor(pred8), to_tensor(target8), data_range=255).item()
    assert ours == pytest.approx(reference_ssim(pred8, target8, data_range=255), abs=TOLERANCE)


def test_ssim_reductions_over_a_batch() -> None:
    rng = np.random.default_rng(3)
    pairs = [noisy_pair(rng, 32, 36, noise) for noise in (0.02, 0.3)]
    pred = to_tensor(np.stack([p for p, _ in pairs]))
    target = to_tensor(np.stack([t for _, t in pairs]))
    expected = [reference_ssim(p, t) for p, t in pairs]
    per_image = metrics.ssim(pred, target, reduction="none")
    assert per_image.shape == (2,)
    assert per_image.dtype == torch.float64
    assert per_image.tolist() == pytest.approx(expected, abs=TOLERANCE)
    assert metrics.ssim(pred, target).item() == pytest.approx(np.mean(expected), abs=TOLERANCE)
    assert metrics.ssim(pred, target, reduction="sum").item() == pytest.approx(
        sum(expected), abs=TOLERANCE
    )


def test_ssim_of_identical_images_is_one() -> None:
    _, target = noisy_pair(np.random.default_rng(4), 30, 30)
    assert metrics.ssim(to_tensor(target), to_tensor(target)).item() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("height, width", [(1, 1), (23, 41), (256, 129)])
def test_psnr_matches_skimage(height: int, width: int) -> None:
    pred, target = noisy_pair(np.random.default_rng(height + width), height, width, noise=0.05)
    expected = peak_signal_noise_ratio(target, pred, data_range=1.0)
    ours = metrics.psnr(to_tensor(pred), to_tensor(target)).item()
    assert ours == pytest.approx(expected, abs=TOLERANCE)


def test_psnr_is_independent_of_row_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    pred, target = noisy_pair(np.random.default_rng(5), 50, 20)
    whole = metrics.psnr(to_tensor(pred), to_tensor(target)).item()
    monkeypatch.setattr(metrics, "CHUNK_ROWS", 3)
    assert metrics.psnr(to_tensor(pred), to_tensor(target)).item() == pytest.approx(whole, abs=1e-9)


def test_psnr_known_value_and_data_range() -> None:
    target = torch.zeros(1, 3, 4, 4, dtype=torch.float64)
    pred = torch.full((1, 3, 4, 4), 0.1, dtype=torch.float64)  # MSE 0.01 -> 20 dB
    assert metrics.psnr(pred, target).item() == pytest.approx(20.0, abs=1e-9)
    assert metrics.psnr(pred * 255, target, data_range=255).item() == pytest.approx(20.0, abs=1e-9)


def test_psnr_of_identical_images_is_infinite() -> None:
    image = torch.rand(2, 3, 8, 8)
    per_image = metrics.psnr(image, image, reduction="none")
    assert per_image.tolist() == [math.inf, math.inf]
    assert metrics.psnr(image, image).item() == math.inf


def test_psnr_reductions_over_a_batch() -> None:
    rng = np.random.default_rng(6)
    pairs = [noisy_pair(rng, 16, 16, noise) for noise in (0.01, 0.2, 0.05)]
    pred = to_tensor(np.stack([p for p, _ in pairs]))
    target = to_tensor(np.stack([t for _, t in pairs]))
    expected = [peak_signal_noise_ratio(t, p, data_range=1.0) for p, t in pairs]
    assert metrics.psnr(pred, target, reduction="none").tolist() == pytest.approx(expected)
    assert metrics.psnr(pred, target).item() == pytest.approx(np.mean(expected))
    assert metrics.psnr(pred, target, reduction="sum").item() == pytest.approx(sum(expected))


@pytest.mark.parametrize("metric", [metrics.psnr, metrics.ssim])
@pytest.mark.parametrize(
    "pred, target, message",
    [
        (torch.rand(1, 3, 16, 16) + 0.5, torch.rand(1, 3, 16, 16), "must lie in"),
        (torch.rand(1, 3, 16, 16) - 0.5, torch.rand(1, 3, 16, 16), "must lie in"),
        (torch.rand(1, 3, 16, 16), torch.full((1, 3, 16, 16), math.nan), "must lie in"),
        (torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 17), "shapes differ"),
        (torch.rand(3, 16, 16), torch.rand(3, 16, 16), r"\(N, C, H, W\)"),
        (torch.rand(0, 3, 16, 16), torch.rand(0, 3, 16, 16), "at least one image"),
    ],
)
def test_invalid_inputs_raise_value_error(metric, pred, target, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metric(pred, target)


@pytest.mark.parametrize("metric", [metrics.psnr, metrics.ssim])
def test_unknown_reduction_raises(metric) -> None:
    image = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="reduction"):
        metric(image, image, reduction="max")


def test_ssim_rejects_images_smaller_than_its_window() -> None:
    image = torch.rand(1, 3, 10, 64)
    with pytest.raises(ValueError, match="at least 11 x 11"):
        metrics.ssim(image, image)
