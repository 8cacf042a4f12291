"""Where the figure grids zoom in: the crops shown under each test image.

The paper's Fig. 5 and 6 show zoomed crops in which the differences between the models are
visible. By default a crop is the square where two chosen outputs (GIA-Net's and SID-Net's:
the last and first of the figure's variants) differ most: the largest mean absolute
difference over the square, found for every position at once from an integral image; further
crops are the next largest that do not overlap those taken. A setting can place the crops of
an image by hand instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Most crops per image (``report.crops_per_image``; params.yaml's comment gives the choice).
MAX_CROPS_PER_IMAGE = 4


@dataclass(frozen=True)
class CropChoice:
    """How crops are chosen (``report.crop_size``, ``report.crops_per_image``,
    ``report.figure_crops``).

    Attributes:
        size: the side of every crop, a fraction in (0, 1] of the frame's shorter side.
        per_image: crops per image found automatically, 1 to :data:`MAX_CROPS_PER_IMAGE`.
        corners: image stem -> its crops' top-left corners, (top, left) as fractions of the
            frame's height and width in [0, 1] (clamped so the crop stays inside); an image
            not named here gets automatic crops.
    """

    size: float
    per_image: int
    corners: Mapping[str, tuple[tuple[float, float], ...]]

    def __post_init__(self) -> None:
        if not 0 < self.size <= 1:
            raise ValueError(f"crop size {self.size} must be in (0, 1]")
        if not 1 <= self.per_image <= MAX_CROPS_PER_IMAGE:
            raise ValueError(f"crops per image {self.per_image} must be 1 to {MAX_CROPS_PER_IMAGE}")
        for stem, corners in self.corners.items():
            if not corners or any(not (0 <= v <= 1) for corner in corners for v in corner):
                raise ValueError(f"figure crops of {stem}: give (top, left) fractions in [0, 1]")


@dataclass(frozen=True)
class Crop:
    """A square of an image in pixels: rows ``top:top + side``, columns ``left:left + side``."""

    top: int
    left: int
    side: int

    def of(self, image: np.ndarray) -> np.ndarray:
        """The crop of an (H, W, ...) array."""
        return image[self.top : self.top + self.side, self.left : self.left + self.side]


def crop_side(shape: tuple[int, ...], size: float) -> int:
    """A crop's side in pixels for an (H, W, ...) frame: ``size`` of the shorter side, >= 8
    pixels and at most the shorter side."""
    shorter = min(shape[0], shape[1])
    return max(min(shorter, 8), min(shorter, round(size * shorter)))


def most_different(a: np.ndarray, b: np.ndarray, side: int, count: int = 1) -> list[Crop]:
    """The ``count`` non-overlapping squares of ``side`` pixels where ``a`` and ``b`` differ
    most (largest mean absolute difference over the square and the channels), largest first.

    Args:
        a, b: (H, W, C) or (H, W) images of one size, any numeric type (8-bit sRGB here).
        side: the squares' side in pixels, 1 to min(H, W).
        count: how many squares, >= 1; fewer when no other square fits without overlap.

    Ties go to the topmost, then leftmost square.
    """
    if a.shape != b.shape:
        raise ValueError(f"images of shapes {a.shape} and {b.shape} cannot be compared")
    height, width = a.shape[:2]
    if not 1 <= side <= min(height, width):
        raise ValueError(f"a crop of {side} pixels does not fit a {height} x {width} frame")
    # 8-bit frames in int16 (a 12-megapixel pair: 0.1 GB, not float64's 0.6 GB).
    wide = np.int16 if a.dtype == np.uint8 and b.dtype == np.uint8 else np.float32
    difference = np.abs(a.astype(wide) - b.astype(wide))
    if difference.ndim == 3:
        difference = difference.sum(axis=2, dtype=np.float64) / difference.shape[2]
    integral = np.zeros((height + 1, width + 1))
    integral[1:, 1:] = difference.cumsum(axis=0).cumsum(axis=1)
    sums = (
        integral[side:, side:]
        - integral[:-side, side:]
        - integral[side:, :-side]
        + integral[:-side, :-side]
    )
    crops = []
    for _ in range(count):
        if not np.isfinite(sums).any():
            break
        top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
        crops.append(Crop(int(top), int(left), side))
        # No later square may overlap this one.
        sums[max(0, top - side + 1) : top + side, max(0, left - side + 1) : left + side] = -np.inf
    return crops


def placed(
    shape: tuple[int, ...], side: int, corners: tuple[tuple[float, float], ...]
) -> list[Crop]:
    """Crops at given corners: (top, left) fractions of an (H, W, ...) frame, clamped so that
    each square of ``side`` pixels stays inside."""
    height, width = shape[:2]
    return [
        Crop(
            min(max(0, round(top * height)), height - side),
            min(max(0, round(left * width)), width - side),
            side,
        )
        for top, left in corners
    ]
