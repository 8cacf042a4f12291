"""Render a clean camera-space image to 16-bit sRGB the way SID renders its ground truth.

SID's ground truth is ``rawpy.postprocess(use_camera_wb=True, half_size=False,
no_auto_bright=True, output_bps=16)``. For a camera whose DNG LibRaw cannot render that way
(X-Trans), the generator renders the known clean image with the same arithmetic instead:
scale by the white point (with LibRaw's ``adjust_maximum_thr = 0.75`` rule), clip, white
balance with the multipliers normalised to the smallest, clip, camera -> sRGB matrix, clip,
and LibRaw's default output curve ``gamma = (2.222, 4.5)`` (a BT.709-shaped curve, not the
sRGB curve). Only the demosaicking differs from what rawpy gives for a Bayer file.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

LIBRAW_ADJUST_MAXIMUM_THRESHOLD = 0.75
LIBRAW_GAMMA = (2.222, 4.5)  # rawpy's default: (1 / power, toe slope)


def libraw_white_point(mosaic: np.ndarray, black: int, white: int) -> float:
    """The white point in DN above black that LibRaw scales a raw by.

    LibRaw replaces the file's white level with the data maximum when that maximum lies
    between 0.75 and 1 times it. ``mosaic`` is the (H, W) uint16 raw file content.
    """
    full_range = float(white - black)
    data_max = float(mosaic.max()) - black
    if full_range * LIBRAW_ADJUST_MAXIMUM_THRESHOLD < data_max < full_range:
        return data_max
    return full_range


@lru_cache(maxsize=4)
def _gamma_curve_params(power: float, toe_slope: float) -> tuple[float, float]:
    """Breakpoint and offset of LibRaw's ``gamma_curve`` (port of its bisection)."""
    bounds = [0.0, 1.0] if toe_slope >= 1 else [1.0, 0.0]
    toe_end = 0.0
    for _ in range(48):
        toe_end = (bounds[0] + bounds[1]) / 2
        above = ((toe_end / toe_slope) ** -power - 1) / power - 1 / toe_end > -1
        bounds[int(above)] = toe_end
    return toe_end / toe_slope, toe_end * (1 / power - 1)


def libraw_output_curve(linear: np.ndarray) -> np.ndarray:
    """LibRaw's default output curve; float in [0, 1] (any shape) -> uint16 in [0, 65535]."""
    power, toe_slope = 1 / LIBRAW_GAMMA[0], LIBRAW_GAMMA[1]
    breakpoint, offset = _gamma_curve_params(power, toe_slope)
    linear = np.clip(linear, 0.0, 1.0)
    curved = np.where(
        linear < breakpoint,
        linear * toe_slope,
        np.power(linear, power) * (1 + offset) - offset,
    )
    return np.minimum(np.floor(curved * 65536), 65535).astype(np.uint16)


def render_like_libraw(
    camera_raw: np.ndarray,
    white_balance_gains: np.ndarray,
    srgb_to_camera: np.ndarray,
) -> np.ndarray:
    """Render a full-colour camera image as LibRaw renders the equivalent raw.

    Args:
        camera_raw: (H, W, 3) float camera-space values before white balance, in units of
            the white point (1.0 = the level LibRaw scales to full range; see
            :func:`libraw_white_point`).
        white_balance_gains: (3,) camera white balance gains (the file's 1 / AsShotNeutral).
        srgb_to_camera: (3, 3) camera <- linear sRGB matrix, rows summing to 1
            (:func:`gianet.synth.unprocess.srgb_to_camera_matrix`).

    Returns:
        (H, W, 3) uint16 sRGB-primaries image with LibRaw's output curve.
    """
    gains = np.asarray(white_balance_gains, dtype=np.float32)
    balanced = np.minimum(np.minimum(camera_raw, 1.0) * (gains / gains.min()), 1.0)
    camera_to_srgb = np.linalg.inv(srgb_to_camera).astype(np.float32)
    return libraw_output_curve(balanced @ camera_to_srgb.T)
