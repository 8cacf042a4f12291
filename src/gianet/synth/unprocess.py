"""sRGB image -> linear camera-space raw mosaic (Brooks et al., "Unprocessing Images for
Learned Raw Denoising", CVPR 2019), with the conventions LibRaw uses to render it back.

Steps: inverse sRGB gamma, inverse colour matrix, inverse white balance, mosaic. The colour
matrix follows LibRaw's ``cam_xyz_coeff``: camera <- sRGB is ``xyz_to_camera @ srgb_to_xyz``
with each row scaled to sum to 1, so sRGB white maps to camera (1, 1, 1) before white balance;
LibRaw renders with the inverse of that same matrix, which makes the round trip exact.
"""

from __future__ import annotations

import numpy as np

# Linear sRGB (D65) -> CIE XYZ, IEC 61966-2-1.
SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)

# Plausible daylight-to-tungsten white balance gains of a Sony-like camera (red and blue gain
# relative to green), the ranges Brooks et al. sample. Both stay >= 1, as real cameras' do,
# so LibRaw's normalisation of the multipliers to the smallest one keeps green at 1.
RED_GAIN_RANGE = (1.9, 2.4)
BLUE_GAIN_RANGE = (1.5, 1.9)


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer curve; any shape, float values in [0, 1] -> float32 in [0, 1]."""
    srgb = np.clip(srgb, 0.0, 1.0).astype(np.float32)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(
        np.float32
    )


def srgb_to_camera_matrix(xyz_to_camera: np.ndarray) -> np.ndarray:
    """(3, 3) camera <- linear sRGB, rows normalised to sum 1 (LibRaw's cam_xyz_coeff)."""
    camera_from_srgb = xyz_to_camera @ SRGB_TO_XYZ
    return camera_from_srgb / camera_from_srgb.sum(axis=1, keepdims=True)


def sample_white_balance_gains(rng: np.random.Generator) -> np.ndarray:
    """(3,) float64 gains (red, 1, blue) that the camera would apply to neutralise the light."""
    red = rng.uniform(*RED_GAIN_RANGE)
    blue = rng.uniform(*BLUE_GAIN_RANGE)
    return np.array([red, 1.0, blue])


def as_shot_neutral(white_balance_gains: np.ndarray) -> np.ndarray:
    """(3,) DNG AsShotNeutral: the camera response to neutral, 1 / gains, green = 1."""
    neutral = 1.0 / np.asarray(white_balance_gains, dtype=np.float64)
    return neutral / neutral[1]


def cfa_colour_map(cfa_pattern: np.ndarray, height: int, width: int) -> np.ndarray:
    """(height, width) colour index of every pixel: ``cfa_pattern`` (P, P) tiled from (0, 0)."""
    period_h, period_w = cfa_pattern.shape
    reps = (-(-height // period_h), -(-width // period_w))
    return np.tile(cfa_pattern, reps)[:height, :width]


def mosaic(image: np.ndarray, cfa_pattern: np.ndarray) -> np.ndarray:
    """Sample a (H, W, 3) image through a colour filter array.

    ``cfa_pattern`` is (P, P) colour indices (0 = R, 1 = G, 2 = B): 2 x 2 Bayer or 6 x 6
    X-Trans alike. Returns (H, W) with the dtype of ``image``.
    """
    height, width, _ = image.shape
    colours = cfa_colour_map(cfa_pattern, height, width)
    return np.take_along_axis(image, colours[..., None].astype(np.intp), axis=2)[..., 0]


def srgb_to_camera_raw(
    srgb: np.ndarray, xyz_to_camera: np.ndarray, white_balance_gains: np.ndarray
) -> np.ndarray:
    """(H, W, 3) sRGB in [0, 1] -> (H, W, 3) float32 linear camera values before white balance.

    A neutral sRGB value v comes out as ``linear(v) / gain`` in each channel, so white stays
    within [0, 1] (gains >= 1); every channel stays >= 0 for these cameras' matrices.
    """
    camera = srgb_to_linear(srgb) @ srgb_to_camera_matrix(xyz_to_camera).T.astype(np.float32)
    return camera / np.asarray(white_balance_gains, dtype=np.float32)


def unprocess(
    srgb: np.ndarray,
    xyz_to_camera: np.ndarray,
    white_balance_gains: np.ndarray,
    cfa_pattern: np.ndarray,
) -> np.ndarray:
    """(H, W, 3) sRGB in [0, 1] -> (H, W) float32 linear camera mosaic (white <= 1)."""
    return mosaic(srgb_to_camera_raw(srgb, xyz_to_camera, white_balance_gains), cfa_pattern)
