"""How training patches are cut: the two crop policies a variant declares.

Sizes are in packed pixels (the network input's); the ground truth's crop is ``upscale``
times larger. The side is drawn per batch, so that multi-size patches stack.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class _Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class FixedCrops(_Part):
    """Square training patches of ``patch`` packed pixels (SID's code: 512)."""

    kind: Literal["fixed"]
    patch: Annotated[int, Field(ge=1)]

    @property
    def sides(self) -> tuple[int, int]:
        return self.patch, self.patch


class MultiSizeCrops(_Part):
    """The paper's multi-size crops (section 3.5): side ``a * b``, ``b`` drawn uniformly from
    ``[b[0], b[1]]`` once per batch (paper: a = 32, b in [16, 32])."""

    kind: Literal["multi-size"]
    a: Annotated[int, Field(ge=1)]
    b: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]

    @property
    def sides(self) -> tuple[int, int]:
        return self.a * self.b[0], self.a * self.b[1]


def crop_side(crops: FixedCrops | MultiSizeCrops, rng: np.random.Generator) -> int:
    """A training crop's side in packed pixels: the fixed patch (nothing drawn), or ``a * b``
    with ``b`` drawn uniformly from ``crops.b`` (inclusive) for multi-size crops."""
    if crops.kind == "fixed":
        return crops.patch
    low, high = crops.b
    return crops.a * int(rng.integers(low, high + 1))
