"""How training patches are cut: the two crop policies a variant declares, and the check
that they fit the frames they are cut from.

Sizes are in packed pixels (the network input's); the ground truth's crop is ``upscale``
times larger. The side is drawn per batch, so that multi-size patches stack.
``gianet check-params`` checks the crops against the configured frames for the workflow;
:func:`check_crops_fit` checks them against the frames actually in the cache when a training
starts, so that ``gianet train`` run by hand refuses too (a larger crop would silently shrink
to the frame, while the checkpoint records the patch it was asked for).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from gianet.errors import GianetError


class CropsTooLarge(GianetError, ValueError):
    """A training crop is larger than the frames it is cut from."""


class _Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class FixedCrops(_Part):
    """Square training patches of ``patch`` packed pixels (SID's code: 512)."""

    kind: Literal["fixed"]
    patch: Annotated[int, Field(ge=1)]

    @property
    def sides(self) -> tuple[int, int]:
        return self.patch, self.patch

    @property
    def setting(self) -> str:
        """The params.yaml key that sets the crops' sides."""
        return "train.patch"


class MultiSizeCrops(_Part):
    """The paper's multi-size crops (section 3.5): side ``a * b``, ``b`` drawn uniformly from
    ``[b[0], b[1]]`` once per batch (paper: a = 32, b in [16, 32])."""

    kind: Literal["multi-size"]
    a: Annotated[int, Field(ge=1)]
    b: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]

    @property
    def sides(self) -> tuple[int, int]:
        return self.a * self.b[0], self.a * self.b[1]

    @property
    def setting(self) -> str:
        """The params.yaml keys that set the crops' sides."""
        return "train.multi_size_a x train.multi_size_b"


def crop_side(crops: FixedCrops | MultiSizeCrops, rng: np.random.Generator) -> int:
    """A training crop's side in packed pixels: the fixed patch (nothing drawn), or ``a * b``
    with ``b`` drawn uniformly from ``crops.b`` (inclusive) for multi-size crops."""
    if crops.kind == "fixed":
        return crops.patch
    low, high = crops.b
    return crops.a * int(rng.integers(low, high + 1))


def check_crops_fit(
    crops: FixedCrops | MultiSizeCrops, frames: Iterable[tuple[int, int]], where: str
) -> None:
    """Refuse crops larger than the smallest of ``frames``.

    Args:
        crops: the training's crop policy.
        frames: (height, width) in packed pixels of every frame crops are cut from.
        where: how to name those frames in the message.

    Raises:
        CropsTooLarge: naming the setting, the crop, the frame size and the fix.
    """
    height, width = min(frames, key=min)
    largest = crops.sides[1]
    if largest > min(height, width):
        raise CropsTooLarge(
            f"{crops.setting}: crops of up to {largest} packed pixels, larger than {where} "
            f"(the smallest is {height} x {width} packed pixels); make the crops at most "
            f"{min(height, width)} (gianet check-params checks this for the workflow)"
        )
