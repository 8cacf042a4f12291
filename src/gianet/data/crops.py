"""How training patches are cut, and the check that they fit the frames they are cut from.

Fixed crops (``train.patch``) or the paper's multi-size crops (section 4.2: side ``a * b``,
``b`` uniform in ``[b_low, b_high]``), in packed pixels. ``gianet check-params`` checks the
crops against the configured frames for the workflow; :func:`check_crops_fit` checks them
against the frames actually in the cache when a training starts, so that ``gianet train``
run by hand refuses too (a larger crop would silently shrink to the frame, while the
checkpoint records the patch it was asked for).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from gianet.errors import GianetError


class CropsTooLarge(GianetError, ValueError):
    """A training crop is larger than the frames it is cut from."""


@dataclass(frozen=True)
class CropPolicy:
    """How training patches are cut, in packed pixels.

    ``kind="fixed"`` cuts ``patch x patch``; ``kind="multi-size"`` cuts ``a*b x a*b`` with
    ``b`` drawn uniformly from ``[b_low, b_high]`` once per batch (paper: a = 32, b in [16, 32]).
    """

    kind: str
    patch: int
    a: int = 32
    b_low: int = 16
    b_high: int = 32

    def side(self, rng: np.random.Generator) -> int:
        if self.kind == "fixed":
            return self.patch
        return self.a * int(rng.integers(self.b_low, self.b_high + 1))

    @property
    def largest(self) -> int:
        """The largest side this policy cuts, in packed pixels."""
        return self.patch if self.kind == "fixed" else self.a * self.b_high

    @property
    def setting(self) -> str:
        """The params.yaml key(s) that set :attr:`largest`."""
        if self.kind == "fixed":
            return "train.patch"
        return "train.multi_size_a x train.multi_size_b"


def check_crops_fit(crops: CropPolicy, frames: Iterable[tuple[int, int]], where: str) -> None:
    """Refuse crops larger than the smallest of ``frames``.

    Args:
        crops: the training's crop policy.
        frames: (height, width) in packed pixels of every frame crops are cut from.
        where: how to name those frames in the message.

    Raises:
        CropsTooLarge: naming the setting, the crop, the frame size and the fix.
    """
    height, width = min(frames, key=min)
    if crops.largest > min(height, width):
        raise CropsTooLarge(
            f"{crops.setting}: crops of up to {crops.largest} packed pixels, larger than "
            f"{where} (the smallest is {height} x {width} packed pixels); make the crops at "
            f"most {min(height, width)} (gianet check-params checks this for the workflow)"
        )
